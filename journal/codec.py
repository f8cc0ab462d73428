"""Codec: frozen attrs objects <-> JSON-able dicts tagged by class name.

The journal stores events and effects as `{"type": "ClassName", ...fields}`. The codec is
handed the classes it may meet (it imports nothing from `election`), and it is strict on
the way in: a journal is evidence, so a field of the wrong type is an error, never
coerced (`"5"` does not become `5`, `true` does not become `1`).
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

__all__ = ["TYPE_KEY", "Codec", "CodecError"]

TYPE_KEY = "type"
"""The key naming an object's class in its encoded form; always the first key."""


class CodecError(ValueError):
    """An encoded object could not be decoded (or an object could not be encoded)."""


class _StrictTypeError(TypeError):
    """Raised by the codec's own hooks; its message is already short and readable."""


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _structure_int(value: object, _: type) -> int:
    # bool is an int subclass in Python; in a journal `true` is never a number.
    if type(value) is not int:
        raise _StrictTypeError(f"expected int, got {_type_name(value)}")
    return value


def _structure_float(value: object, _: type) -> float:
    # JSON writers may drop the ".0" of a whole float, so an int is a fine float.
    if type(value) is not float and type(value) is not int:
        raise _StrictTypeError(f"expected float, got {_type_name(value)}")
    return float(value)


def _structure_str(value: object, _: type) -> str:
    if type(value) is not str:
        raise _StrictTypeError(f"expected str, got {_type_name(value)}")
    return value


def _structure_bool(value: object, _: type) -> bool:
    if type(value) is not bool:
        raise _StrictTypeError(f"expected bool, got {_type_name(value)}")
    return value


def _structure_enum(value: object, cls: type[enum.Enum]) -> enum.Enum:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise _StrictTypeError(f"{value!r} is not a {cls.__name__} ({allowed})") from None


class _Missing:
    """Marks a field absent from the input (None is a value)."""


_MISSING = _Missing()


def _fast_check(type_: Any, var: str) -> list[str] | None:
    """Source lines that check (and, for a float, convert) `var` exactly as the
    converter's hooks would accept it, `return None` when they would not (or might
    not); None when the type needs the converter (nested classes, tuples, ...)."""
    if type_ is int:
        return [f"if type({var}) is not int: return None"]
    if type_ is float:
        return [
            f"if type({var}) is not float:",
            f"    if type({var}) is not int: return None",
            f"    {var} = float({var})",
        ]
    if type_ is str:
        return [f"if type({var}) is not str: return None"]
    if type_ is bool:
        return [f"if type({var}) is not bool: return None"]
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        # A subset of what `cls(value)` accepts: a value of one of its members.
        return [
            f"if type({var}) is not str and type({var}) is not int: return None",
            f"{var} = {var}_members.get({var})",
            f"if {var} is None: return None",
        ]
    if get_origin(type_) in (Union, types.UnionType):
        args = get_args(type_)
        if len(args) == 2 and type(None) in args:
            inner = _fast_check(next(a for a in args if a is not type(None)), var)
            if inner is not None:
                return [f"if {var} is not None:", *(f"    {line}" for line in inner)]
    return None


FastDecoder = Callable[[dict[str, Any], dict[str, Any]], object]


def _field_check(field: Any, var: str, namespace: dict[str, Any]) -> list[str] | None:
    """`_fast_check`'s lines for an attrs field held in `var`, with what they refer to
    put in `namespace`; None when the field needs the converter."""
    check = _fast_check(field.type, var)
    if check is None or not field.init:
        return None
    if isinstance(field.type, type) and issubclass(field.type, enum.Enum):
        namespace[f"{var}_members"] = field.type._value2member_map_
    return check


def _fast_decoder(cls: type, omit: tuple[str, ...]) -> FastDecoder | None:
    """A decoder generated for a class whose fields are all scalars (int, float, str,
    bool, enums, optionals of them): as strict as the converter, without it. It returns
    None whenever the input is not plainly valid; the caller then asks the converter,
    whose error message is the one to give.

    Its first path takes the usual case, as the codec encodes it: every field in `data`
    but the omitted ones, which are exactly `extra`; the fields go straight into the
    constructor's call. Anything else (a default left out, say) takes the second path.
    """
    general = _general_decoder(cls)
    if general is None:
        return None
    fields = list(attrs.fields(cls))
    omitted = [f for f in fields if f.name in omit]
    namespace: dict[str, Any] = {"cls": cls, "_MISSING": _MISSING, "general": general}
    body = [
        "def decode(data, extra):",
        f"    if len(data) != {len(fields) - len(omitted) + 1} or len(extra) != {len(omitted)}:",
        "        return general(data, extra)",
        "    try:",  # a missing key: the general path (subscripts are cheaper than .get)
        "        pass",
    ]
    for index, field in enumerate(fields):
        source = "extra" if field in omitted else "data"
        body.append(f"        v{index} = {source}[{field.alias!r}]")
    body += ["    except KeyError:", "        return general(data, extra)"]
    for index, field in enumerate(fields):
        check = _field_check(field, f"v{index}", namespace)
        assert check is not None  # as `general` exists
        body += [f"    {line}" for line in check]
    arguments = ", ".join(f"{f.alias}=v{i}" for i, f in enumerate(fields))
    body.append(f"    return cls({arguments})")
    exec("\n".join(body), namespace)  # the way attrs and cattrs generate their code
    decode: FastDecoder = namespace["decode"]
    return decode


def _general_decoder(cls: type) -> FastDecoder | None:
    """`_fast_decoder`'s second path: any subset of the fields, `extra` merged in."""
    namespace: dict[str, Any] = {"cls": cls, "_MISSING": _MISSING}
    body = [
        "def decode(data, extra):",
        "    if extra:",
        "        for key in extra:",
        "            if key in data: return None",
        "        data = {**data, **extra}",
        f"    seen = 1 if {TYPE_KEY!r} in data else 0",
        "    kwargs = {}",
    ]
    for index, field in enumerate(attrs.fields(cls)):
        var = f"v{index}"
        check = _field_check(field, var, namespace)
        if check is None:
            return None
        body.append(f"    {var} = data.get({field.alias!r}, _MISSING)")
        body.append(f"    if {var} is _MISSING:")
        body.append("        return None" if field.default is attrs.NOTHING else "        pass")
        body.append("    else:")
        body += [f"        {line}" for line in check]
        body.append(f"        kwargs[{field.alias!r}] = {var}")
        body.append("        seen += 1")
    body += ["    if seen != len(data): return None", "    return cls(**kwargs)"]
    exec("\n".join(body), namespace)  # the way attrs and cattrs generate their code
    decode: FastDecoder = namespace["decode"]
    return decode


Matcher = Callable[[object, Any], bool | None]


def _matcher(cls: type, omit: tuple[str, ...], tag: str) -> Matcher | None:
    """A function `match(obj, data)` generated for a class of scalar fields: True when
    `data` is exactly `obj`'s encoding (every field present, of the type the converter
    accepts, equal to obj's), so that decoding it would give back an equal object; a
    false value whenever it is not (or might not be: the caller then decodes)."""
    kept = [(index, f) for index, f in enumerate(attrs.fields(cls)) if f.name not in omit]
    namespace: dict[str, Any] = {}
    body = [
        "def match(obj, data):",
        f"    if type(data) is not dict or len(data) != {len(kept) + 1}: return None",
        f"    if data.get({TYPE_KEY!r}) != {tag!r}: return None",
        "    try:",  # a missing key: no match (subscripts are cheaper than .get)
        "        pass",
    ]
    for index, field in kept:
        body.append(f"        v{index} = data[{field.alias!r}]")
    body += ["    except KeyError:", "        return None"]
    for index, field in kept:
        var = f"v{index}"
        check = _field_check(field, var, namespace)
        if check is None:
            return None
        body += [f"    {line}" for line in check]
        body.append(f"    if {var} != obj.{field.name}: return None")
    body.append("    return True")
    exec("\n".join(body), namespace)
    match: Matcher = namespace["match"]
    return match


def _describe(exc: BaseException, type_: Any) -> str:
    """One short phrase for one leaf error of a cattrs validation error."""
    if isinstance(exc, _StrictTypeError | CodecError):
        return str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        return "unexpected field(s) " + ", ".join(sorted(exc.extra_fields))
    if isinstance(exc, KeyError):
        return "required field missing"
    return format_exception(exc, type_)


def _short_message(exc: Exception, where: str) -> str:
    """Flatten a (possibly nested) cattrs error into `Class.field: problem; ...`."""
    if not isinstance(exc, cattrs.BaseValidationError):
        return f"{where}: {exc}"
    parts = []
    for line in cattrs.transform_error(exc, path=where, format_exception=_describe):
        problem, _, path = line.rpartition(" @ ")
        parts.append(f"{path}: {problem}" if problem else line)
    return "; ".join(parts)


def _same_but_omitted(decoded: object, obj: object, omit: tuple[str, ...]) -> bool:
    """`decoded == obj`, where `decoded` has the omitted fields at their defaults."""
    cls = type(obj)
    if type(decoded) is not cls or not attrs.has(cls):
        return False
    if not omit:
        return decoded == obj
    return all(
        getattr(decoded, f.name) == getattr(obj, f.name)
        for f in attrs.fields(cls)
        if f.name not in omit
    )


class Codec:
    """Encodes and decodes the given frozen attrs classes as tagged dicts.

    `types` are the concrete classes the journal may hold (events, effects). Fields named
    in `omit` (default `at`: the record keeps it beside the event) are left out when
    encoding, wherever such a class appears, and supplied again by `decode(..., at=...)`.
    A field whose declared type is a base class of some of `types` (e.g.
    `tuple[Effect, ...]`) is encoded tagged too, so subclasses keep their fields.
    A class is tagged with its name, or with the name `tags` gives it (a wire form that
    keeps the tag of the class it stands for).
    """

    def __init__(
        self,
        types: Iterable[type],
        *,
        omit: Iterable[str] = ("at",),
        tags: Mapping[type, str] | None = None,
    ) -> None:
        self._omit = tuple(omit)
        self._types: dict[str, type] = {}
        self._tags: dict[type, str] = {}
        for cls in types:
            if not attrs.has(cls):
                raise TypeError(f"{cls!r} is not an attrs class")
            tag = (tags or {}).get(cls, cls.__name__)
            if tag in self._types and self._types[tag] is not cls:
                raise ValueError(f"two classes named {tag!r}")
            # Resolve string annotations now, so a bad class fails here, not mid-journal.
            attrs.resolve_types(cls)
            self._types[tag] = cls
            self._tags[cls] = tag
        self._converter = self._make_converter()
        # The journal's events and effects are flat: decode them without cattrs.
        self._fast: dict[str, FastDecoder] = {}
        for name, cls in self._types.items():
            fast = _fast_decoder(cls, self._omit)
            if fast is not None:
                self._fast[name] = fast
        self._matchers: dict[type, Matcher] = {}
        for cls in self._types.values():
            match = _matcher(cls, self._omit, self._tags[cls])
            if match is not None:
                self._matchers[cls] = match

    @property
    def types(self) -> Mapping[str, type]:
        """The known classes by their tag (class name)."""
        return dict(self._types)

    @property
    def converter(self) -> cattrs.Converter:
        """The configured cattrs converter (strict scalar hooks, tagged classes)."""
        return self._converter

    def _make_converter(self) -> cattrs.Converter:
        conv = cattrs.Converter(forbid_extra_keys=True)
        conv.register_structure_hook(int, _structure_int)
        conv.register_structure_hook(float, _structure_float)
        conv.register_structure_hook(str, _structure_str)
        conv.register_structure_hook(bool, _structure_bool)
        # Hooks go by MRO and a StrEnum is a str first: register the enum bases explicitly.
        for enum_base in (enum.StrEnum, enum.IntEnum, enum.Enum):
            conv.register_structure_hook(enum_base, _structure_enum)
            conv.register_unstructure_hook(enum_base, lambda member: member.value)
        # Every class hook must exist before any class's code is generated (a generated
        # function binds its fields' hooks), so classes delegate to tables filled last.
        for base in self._bases():
            conv.register_structure_hook(base, self._tagged_structure_hook(base))
            conv.register_unstructure_hook(base, self._tagged_unstructure)
        encoders: dict[type, Callable[[Any], dict[str, Any]]] = {}
        decoders: dict[type, Callable[[Any, Any], Any]] = {}
        for cls in self._types.values():
            conv.register_unstructure_hook(cls, lambda obj: encoders[type(obj)](obj))
            conv.register_structure_hook(cls, lambda data, cls: decoders[cls](data, cls))
        for cls in self._types.values():
            encoders[cls] = self._encoder(conv, cls)
            # Omitted fields are still accepted on the way in: the caller passes them back.
            decoders[cls] = make_dict_structure_fn(cls, conv)
        return conv

    def _encoder(self, conv: cattrs.Converter, cls: type) -> Callable[[Any], dict[str, Any]]:
        names = {f.name for f in attrs.fields(cls)}
        skipped: dict[str, Any] = {n: override(omit=True) for n in self._omit if n in names}
        unstructure: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
            cls, conv, **skipped
        )
        tag = self._tags[cls]

        def encode(obj: Any) -> dict[str, Any]:
            return {TYPE_KEY: tag, **unstructure(obj)}

        return encode

    def _bases(self) -> set[type]:
        """attrs base classes of the known types that are not known types themselves."""
        return {
            base
            for cls in self._types.values()
            for base in cls.__mro__[1:]
            if attrs.has(base) and base not in self._types.values()
        }

    def _tagged_unstructure(self, obj: Any) -> dict[str, Any]:
        # A field declared as a base class: dispatch on the object's own class.
        if type(obj) not in self._types.values():
            raise CodecError(f"cannot encode {type(obj).__name__}: not a known type")
        result: dict[str, Any] = self._converter.unstructure(obj, unstructure_as=type(obj))
        return result

    def _tagged_structure_hook(self, base: type) -> Callable[[Any, Any], Any]:
        def structure(data: Any, _: Any) -> Any:
            cls, fields = self._split(data)
            if not issubclass(cls, base):
                raise CodecError(f"{cls.__name__} is not a {base.__name__}")
            return self._converter.structure(fields, cls)

        return structure

    def _split(self, data: object) -> tuple[type, dict[str, Any]]:
        """The class named by `data["type"]` and the remaining fields."""
        if not isinstance(data, dict):
            raise CodecError(f"expected an object, got {_type_name(data)}")
        tag = data.get(TYPE_KEY)
        if not isinstance(tag, str):
            raise CodecError(f"missing or non-string {TYPE_KEY!r}")
        cls = self._types.get(tag)
        if cls is None:
            raise CodecError(f"unknown type {tag!r}")
        return cls, {k: v for k, v in data.items() if k != TYPE_KEY}

    def encode(self, obj: object) -> dict[str, Any]:
        """`{"type": ClassName, ...fields}` for one object of a known type."""
        if type(obj) not in self._types.values():
            raise CodecError(f"cannot encode {type(obj).__name__}: not a known type")
        try:
            result: dict[str, Any] = self._converter.unstructure(obj)
        except CodecError:
            raise
        except Exception as exc:
            raise CodecError(f"cannot encode {type(obj).__name__}: {exc}") from exc
        return result

    def decode(self, data: object, **extra: Any) -> object:
        """Build the object named by `data["type"]` from its fields plus `extra`.

        `extra` supplies fields the encoding omitted (typically `at=record["at"]`).
        Unknown type, missing, unexpected or ill-typed fields raise `CodecError`.
        """
        if type(data) is dict:
            tag = data.get(TYPE_KEY)
            fast = self._fast.get(tag) if type(tag) is str else None
            if fast is not None:
                obj = fast(data, extra)
                if obj is not None:
                    return obj
        cls, fields = self._split(data)
        clash = sorted(fields.keys() & extra.keys())
        if clash:
            raise CodecError(f"{cls.__name__}: field(s) given twice: {', '.join(clash)}")
        try:
            return self._converter.structure({**fields, **extra}, cls)
        except CodecError as exc:
            raise CodecError(f"{cls.__name__}: {exc}") from None
        except Exception as exc:
            raise CodecError(_short_message(exc, cls.__name__)) from None

    def decoder(self, tag: str) -> Callable[[dict[str, Any], dict[str, Any]], object]:
        """`decode` for objects tagged `tag` only: `decoder(tag)(data, extra)` is
        `decode(data, **extra)` for a `data` whose type is `tag`, without looking the
        class up again (a loop decoding one journal line after another)."""
        if tag not in self._types:
            raise CodecError(f"unknown type {tag!r}")
        fast = self._fast.get(tag)
        decode = self.decode

        def decode_tagged(data: dict[str, Any], extra: dict[str, Any]) -> object:
            if fast is not None:
                obj = fast(data, extra)
                if obj is not None:
                    return obj
            return decode(data, **extra)

        return decode_tagged

    def encode_many(self, objs: Iterable[object]) -> list[dict[str, Any]]:
        """Encode a sequence of tagged objects (e.g. a record's effects)."""
        return [self.encode(obj) for obj in objs]

    def matches_many(self, objs: Sequence[object], data: object) -> bool:
        """True when `data` (a JSON array) decodes to exactly `objs` (omitted fields
        aside), False when it does not or does not decode at all: checking a journal's
        record against a recomputed one without building objects from it, in the usual
        case where it matches."""
        if type(data) is not list or len(data) != len(objs):
            return False
        matchers = self._matchers
        for index, item in enumerate(data):
            obj = objs[index]
            match = matchers.get(type(obj))
            if match is not None and match(obj, item):
                continue
            # Not a flat class, or an unusual encoding (say, a default left out).
            try:
                decoded = self.decode(item)
            except CodecError:
                return False
            if not _same_but_omitted(decoded, obj, self._omit):
                return False
        return True

    def decode_many(self, data: object) -> tuple[object, ...]:
        """Decode a JSON array of tagged objects into a tuple (e.g. a record's effects)."""
        if not isinstance(data, list):
            raise CodecError(f"expected an array, got {_type_name(data)}")
        result = []
        for index, item in enumerate(data):
            try:
                result.append(self.decode(item))
            except CodecError as exc:
                raise CodecError(f"[{index}] {exc}") from None
        return tuple(result)
