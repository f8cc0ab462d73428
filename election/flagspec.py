"""What an entry of the flag table (`election.flags`) says, and how it becomes a field.

A `Flag` is one flag of `election run`; a `Derived` is a setting computed from the
flags before it. Each is declared as a field of `Settings`, with `flag(...)` or
`derived(...)` giving the field's `attrs.field` arguments: the entry itself rides in the
field's metadata, and the field's validator is its kind's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from election.kinds import Kind

__all__ = [
    "ENTRY",
    "ENV_PREFIX",
    "REQUIRED",
    "Derived",
    "Flag",
    "ToCore",
    "derived",
    "envvar_name",
    "flag",
    "flag_name",
    "to_core",
]

ENV_PREFIX: Final = "ELECTION_"
ENTRY: Final = "election.flag"  # the key of a Settings field's entry in its metadata
# A header key every journal has had since the first: a header without it is refused.
REQUIRED: Final = object()


def flag_name(key: str) -> str:
    """The command-line flag of a settings key: `leader_timeout` -> `--leader-timeout`."""
    return "--" + key.replace("_", "-")


def envvar_name(flag: str) -> str:
    """The variable mirroring a flag: `--leader-timeout` -> `ELECTION_LEADER_TIMEOUT`."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


@attrs.frozen(kw_only=True)
class ToCore:
    """What the core's configuration (`CoreConfig`) takes from one header entry."""

    fields: Callable[[Any], Mapping[str, Any]]  # the entry's JSON value -> CoreConfig fields
    # What a journal written before the entry existed stands for (a header value).
    absent: object = REQUIRED


def to_core(field: str, convert: Callable[[Any], Any], *, absent: object = REQUIRED) -> ToCore:
    """The entry gives CoreConfig's `field`, as `convert(header value)`."""
    return ToCore(fields=lambda value: {field: convert(value)}, absent=absent)


@attrs.frozen(kw_only=True)
class Flag:
    """One flag of `election run` (its field and name are the Settings field's)."""

    kind: Kind
    # As text, parsed like any value typed; a function of the settings before it in the
    # table for a default that depends on the host or process; None: unset.
    default: str | Callable[[Mapping[str, Any]], str] | None
    help: str
    metavar: str = attrs.field(
        default=attrs.Factory(lambda flag: flag.kind.metavar, takes_self=True)
    )
    shown_default: str | None = None  # what --help shows for a default from a function
    check: Callable[[Any], None] | None = None  # a look at the place the value names
    header: str | bool = True  # its key in the journal header: True, the flag's name
    secret: bool = False  # never in the clear: the header gets `kind.redact`'s form
    multiple: bool = False  # the flag may repeat: the parser gets the tuple of texts
    words: bool = False  # also takes the job's words after `--`: the parser gets them
    switch: bool = False  # on when given (`--tui`), or by its variable's 1/0
    core: ToCore | None = None
    name: str = ""  # the settings key when not the field's (`exec` is `exec_command`)
    field: str = ""  # the Settings field: filled in from the class (`named`)

    def __attrs_post_init__(self) -> None:
        if self.kind.parse is None:
            raise TypeError("a flag's kind needs a parser")
        if self.secret and self.kind.redact is None:
            raise TypeError("a secret's kind needs a redacted form")
        if self.core is not None and self.header is False:
            raise TypeError("the core reads its flags from the journal header")

    def named(self, field: str) -> Flag:
        """This entry as the field `field` of Settings."""
        return attrs.evolve(self, field=field, name=self.name or field)

    @property
    def flag(self) -> str:
        """`--exec-grace`."""
        return flag_name(self.name)

    @property
    def envvar(self) -> str:
        """`ELECTION_EXEC_GRACE`."""
        return envvar_name(self.flag)

    @property
    def optional(self) -> bool:
        """No value (None) when not given."""
        return self.default is None and not self.words

    @property
    def header_key(self) -> str | None:
        """Its key in the journal header, None when it is not in the header."""
        if self.header is True:
            return self.name
        return self.header or None

    def header_form(self, value: object) -> object:
        """The value as the journal header records it."""
        if value is None:
            return None
        form = self.kind.redact if self.secret else self.kind.to_json
        assert form is not None  # a secret has its redacted form: checked above
        return form(value)


@attrs.frozen(kw_only=True)
class Derived:
    """A setting computed from the flags before it in the table, not a flag itself."""

    kind: Kind
    compute: Callable[[Mapping[str, Any]], Any]  # the settings so far -> its value
    header: bool = True  # in the journal header, under its name
    core: ToCore | None = None
    optional: bool = False  # may be None
    field: str = ""  # filled in from the class (`named`)

    def named(self, field: str) -> Derived:
        """This entry as the field `field` of Settings."""
        return attrs.evolve(self, field=field)

    @property
    def name(self) -> str:
        return self.field

    @property
    def secret(self) -> bool:
        return False  # computed from flags: a secret would be a flag's

    @property
    def header_key(self) -> str | None:
        return self.field if self.header else None

    def header_form(self, value: object) -> object:
        """The value as the journal header records it."""
        return None if value is None else self.kind.to_json(value)


def _validator(entry: Flag | Derived) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """Refuses a value the entry's parser could not have given (an `attrs.evolve` with a
    bad value, say): a Settings value is always a valid one."""

    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and entry.optional:
            return
        if not entry.kind.valid(value):
            shown = "" if entry.secret else f", got {value!r}"
            raise ValueError(f"{attribute.name} must be {entry.kind.what}{shown}")

    return check


def _field_arguments(entry: Flag | Derived) -> dict[str, Any]:
    return {"validator": _validator(entry), "repr": not entry.secret, "metadata": {ENTRY: entry}}


def flag(kind: Kind, **declared: Any) -> dict[str, Any]:
    """The `attrs.field` arguments of a Settings field that is a flag of `election run`
    (`name: T = attrs.field(**flag(KIND, default=..., help=...))`); `declared` are the
    `Flag` attributes."""
    return _field_arguments(Flag(kind=kind, **declared))


def derived(
    kind: Kind, compute: Callable[[Mapping[str, Any]], Any], **declared: Any
) -> dict[str, Any]:
    """The `attrs.field` arguments of a Settings field computed from the flags before it."""
    return _field_arguments(Derived(kind=kind, compute=compute, **declared))
