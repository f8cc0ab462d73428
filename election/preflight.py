"""Start-up's looks at the places flags name: file-dir, the journal, the job's program.

Each takes a parsed value and raises ValueError with a short reason when the place cannot
work, so that `election.config` refuses it in one line naming the flag. They look at the
filesystem (and at PATH, for the program), and never create or delete anything.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

__all__ = ["check_file_dir", "check_journal", "check_program", "check_writable_dir"]


def _nearest_existing(path: Path) -> Path:
    current = path.absolute()
    # lexists: a dangling symlink is "there" too, and makedirs could not replace it.
    while not os.path.lexists(current) and current.parent != current:
        current = current.parent
    return current


def check_file_dir(path: Path) -> None:
    """`path` is a directory, or can be made (Init creates it)."""
    try:
        if os.path.lexists(path):
            if not path.is_dir():
                raise ValueError(f"{str(path)!r} exists and is not a directory")
            return
        # Missing is fine (Init creates it), unless a file is in the way of makedirs.
        ancestor = _nearest_existing(path)
        if not ancestor.is_dir():
            raise ValueError(f"cannot be created: {str(ancestor)!r} is not a directory")
    except OSError as exc:  # e.g. a name too long for the filesystem
        raise ValueError(f"cannot be checked: {exc.strerror}") from None


def check_writable_dir(path: Path) -> None:
    """`path` can take our files: the directory, or (when it is missing) the nearest
    existing one above it where Init makes it, lets us add entries, and is not on a
    read-only filesystem. A place that can never work is refused at start-up rather than
    retried for ever (`FileDirChecked failed: EROFS` once a second)."""
    try:
        exists = os.path.lexists(path)
        place = path if exists else _nearest_existing(path)
        if not place.is_dir():
            return  # check_file_dir says what is in the way
        if os.access(place, os.W_OK | os.X_OK):
            return
        why = "read-only file system" if _read_only(place) else "no permission to write"
    except OSError as exc:
        raise ValueError(f"cannot be checked: {exc.strerror}") from None
    if exists:
        raise ValueError(f"{str(path)!r} is not writable ({why})")
    raise ValueError(f"cannot be created: {str(place)!r} is not writable ({why})")


def _read_only(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def check_journal(path: Path) -> None:
    """`path` is a writable file, or can be made with its missing parents."""
    try:
        if path.is_dir():
            raise ValueError(f"{str(path)!r} is a directory")
        if os.path.lexists(path):
            if not os.access(path, os.W_OK):
                raise ValueError(f"{str(path)!r} exists and is not writable")
            return
        # The file and its missing parents get made at start-up: the nearest existing
        # ancestor must let us add entries to it.
        ancestor = _nearest_existing(path.parent)
        if not ancestor.is_dir():
            raise ValueError(f"cannot be created: {str(ancestor)!r} is not a directory")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise ValueError(f"cannot be created: {str(ancestor)!r} is not writable")
    except OSError as exc:
        raise ValueError(f"cannot be checked: {exc.strerror}") from None


def check_program(command: tuple[str, ...]) -> None:
    """The job's program is there and we may run it, found as execvp will find it, so
    that a typo is one line at start-up rather than a job that fails in every term.

    A word with a `/` names a file (relative to our working directory, which the job
    inherits); any other is looked up on our PATH, which the job inherits too.
    """
    if not command:
        return
    program = command[0]
    if not program:
        raise ValueError("the program name is empty")
    if "\0" in program:
        raise ValueError(f"program {program!r} has a NUL character")
    if "/" not in program:
        if shutil.which(program) is None:
            raise ValueError(f"program {program!r} not found on PATH")
        return
    try:
        mode = os.stat(program).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"program {program!r} does not exist") from None
    except OSError as exc:  # e.g. a directory on the way we may not search
        raise ValueError(f"program {program!r} cannot be checked: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"program {program!r} is a directory")
    if not stat.S_ISREG(mode):
        raise ValueError(f"program {program!r} is not a regular file")
    if not os.access(program, os.X_OK):
        raise ValueError(f"program {program!r} is not executable")
