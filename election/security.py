"""Security settings of `election run`: the ZooKeeper credential, TLS files, file mode.

Pure parsing and filesystem checks (no kazoo): `election.config` calls these from
`build_settings`, so a bad value ends in the usual one-line refusal and exit 2. No message
built here ever contains a credential: they name the flag, the file and the rule broken.
"""

from __future__ import annotations

import os
import re
import ssl
import stat
from pathlib import Path
from typing import Final

import attrs

__all__ = [
    "CREDENTIAL_MAX",
    "FILE_MODE_FORBIDDEN",
    "TlsFiles",
    "ZkAuth",
    "check_ca",
    "check_cert_file",
    "check_secret_file_mode",
    "check_tls_files",
    "format_file_mode",
    "parse_file_mode",
    "parse_zk_auth",
    "read_auth_file",
]

CREDENTIAL_MAX: Final = 1024
_SCHEME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
# Leader files are data: no execute bits, and nobody but the owner may change them.
FILE_MODE_FORBIDDEN: Final = 0o133
_OCTAL: Final = re.compile(r"(?:0o|0)?([0-7]{1,4})", re.IGNORECASE)
# A secret file may be group-readable (a service group), never world-accessible nor
# group-writable (then someone else could swap the credential or the key).
_SECRET_FORBIDDEN: Final = stat.S_IRWXO | stat.S_IWGRP


@attrs.frozen(kw_only=True)
class ZkAuth:
    """A ZooKeeper credential, `scheme:credential` (for digest, `user:password`).

    The credential is kept out of `repr` and of `redacted`: logs and the journal header
    only ever see `digest:user:***`.
    """

    scheme: str
    credential: str = attrs.field(repr=False)

    @property
    def user(self) -> str | None:
        """The digest user name (None for other schemes)."""
        return self.credential.split(":", 1)[0] if self.scheme == "digest" else None

    @property
    def redacted(self) -> str:
        user = self.user
        return f"{self.scheme}:{user}:***" if user is not None else f"{self.scheme}:***"


@attrs.frozen(kw_only=True)
class TlsFiles:
    """PEM files for TLS to ZooKeeper: the CA to verify the server (None: the system's),
    and our client certificate and key (both or neither)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


def parse_zk_auth(text: str) -> ZkAuth:
    """`SCHEME:CREDENTIAL`, e.g. `digest:election:s3cret`. Messages never quote the text."""
    scheme, colon, credential = text.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise ValueError("want SCHEME:CREDENTIAL, as in digest:user:password")
    if not credential:
        raise ValueError(f"the {scheme} credential is empty")
    if len(credential) > CREDENTIAL_MAX:
        raise ValueError(f"the credential is longer than {CREDENTIAL_MAX} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in credential):
        raise ValueError("the credential contains a control character (a stray newline?)")
    if scheme == "digest":
        user, colon, password = credential.partition(":")
        if not colon or not user or not password:
            raise ValueError("a digest credential is user:password, both non-empty")
    return ZkAuth(scheme=scheme, credential=credential)


def _regular_file(path: Path) -> os.stat_result:
    """The stat of `path`, which must be a regular file (ValueError otherwise)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{str(path)!r} is not a regular file")
    return info


def check_secret_file_mode(path: Path) -> None:
    """Refuse a secret file others could read or change (as ssh does with its keys)."""
    mode = stat.S_IMODE(_regular_file(path).st_mode)
    if mode & _SECRET_FORBIDDEN:
        raise ValueError(
            f"{str(path)!r} has mode {mode:04o}: a secret must not be accessible to others "
            "or writable by the group (chmod 0600 or 0640)"
        )


def read_auth_file(path: Path) -> ZkAuth:
    """The credential on the first line of `path` (which must be private)."""
    check_secret_file_mode(path)
    try:
        with open(path, "rb") as handle:
            first = handle.readline(CREDENTIAL_MAX + 64)
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        line = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)!r}: the first line is not UTF-8") from None
    if not line:
        raise ValueError(f"{str(path)!r}: the first line is empty")
    try:
        return parse_zk_auth(line)
    except ValueError as exc:
        raise ValueError(f"{str(path)!r}: {exc}") from None


def _pem_file(path: Path) -> None:
    _regular_file(path)
    if not os.access(path, os.R_OK):
        raise ValueError(f"{str(path)!r} is not readable")


def check_ca(path: Path) -> None:
    """A readable PEM bundle of CA certificates."""
    _pem_file(path)
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"{str(path)!r} holds no usable PEM CA certificate ({exc})") from None


def check_tls_files(files: TlsFiles) -> None:
    """The client certificate and its key load together; the key file is private."""
    if files.cert is None or files.key is None:
        return
    check_secret_file_mode(files.key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(str(files.cert), str(files.key))
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise ValueError(f"certificate and key do not load together ({reason})") from None


def check_cert_file(path: Path) -> None:
    """A readable regular file (whether it is a certificate shows with its key)."""
    _pem_file(path)


def parse_file_mode(text: str) -> int:
    """An octal mode for leader files (`0644`, `644`, `0o640`): no execute bits and no
    write for group or others."""
    match = _OCTAL.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"want an octal mode such as 0644; got {text!r}")
    mode = int(match.group(1), 8)
    if mode > 0o777:
        raise ValueError(f"only permission bits (at most 0777); got {text!r}")
    if mode & FILE_MODE_FORBIDDEN:
        raise ValueError(
            f"leader files must not be executable nor writable by group or others; got {text!r}"
        )
    return mode


def format_file_mode(mode: int) -> str:
    return f"{mode:04o}"
