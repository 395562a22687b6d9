"""Files written so that a reader or a crash sees the old content or the new, never half.

`atomic_write` is the one way the tool replaces a file: a temporary file in the same
directory, fsync, rename over the target, fsync of the directory so the rename itself
survives a crash. The local state backend, saved plan files and the dir target all write
through it. `create_exclusive` creates a file that must not exist yet (a lock file).
Temporary files are named `.<name>.<random>.tmp`, so `leftovers` can find those a killed
writer left behind.

OS errors propagate as `OSError`: each caller words them for its own users.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

NEW_FILE_MODE = 0o644
TEMP_SUFFIX = ".tmp"


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
