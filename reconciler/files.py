"""Files written so that a reader or a crash sees the old content or the new, never half.

`atomic_write` is the one way the tool replaces a file: a temporary file in the same
directory, fsync, rename over the target, fsync of the directory so the rename itself
survives a crash. The local state backend, saved plan files and the dir target all write
through it. `create_exclusive` creates a file that must not exist yet (a lock file).
Temporary files are named `.<name>.<random>.tmp`, so `leftover_of` can recognise those a
killed writer left behind (and nothing else: a file is ours only if it matches exactly).

OS errors propagate as `OSError`: each caller words them for its own users.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

NEW_FILE_MODE = 0o644
TEMP_SUFFIX = ".tmp"
# mkstemp's random part: eight characters of this alphabet (CPython's tempfile).
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX) + "$")


def leftover_of(filename: str) -> str | None:
    """The name of the file that `filename` was a temporary for, if it is one of ours."""
    match = _TEMP_NAME.match(filename)
    return match["name"] if match else None


def remove_leftovers(directory: Path, names: tuple[str, ...]) -> int:
    """Remove our temporary files for `names` in `directory`; how many were removed.

    Only for callers that know no writer of these files is running (under the lock).
    """
    removed = 0
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return 0
    for entry in entries:
        if leftover_of(entry) in names:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / entry)
                removed += 1
    return removed


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` by `data`; an existing file keeps its permissions."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_directory(path.parent)  # the rename itself must survive a crash


def create_exclusive(path: Path, data: bytes) -> None:
    """Create `path` with `data`; FileExistsError if it exists already."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink()
        raise
    os.close(fd)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
