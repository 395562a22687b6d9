"""Local state backend: the state document as a file, its lock as a file beside it.

Owns, for `state/reconciler.state.json` and any other path: reading the file with its
etag (the sha256 of its bytes); compare-and-swap writes that keep the previous content in
`<path>.backup` and replace the file atomically (temp file in the same directory, fsync,
rename, fsync of the directory: reconciler/files.py); the lock file `<path>.lock`, taken
and released with the lock document, waits and heartbeat that every backend shares
(locking.py). It does not own the state format (planning/state.py) nor when to lock
(apply/engine.py).

Every compare-and-swap and every change to the lock file happens under flock(2) on the
sidecar `<path>.flock`, so two writers on one host with the same etag cannot both win, and
lock takeover cannot race. flock makes this backend POSIX-only.

A run leaves nothing of its own behind: taking the lock removes the temporary files a killed
predecessor left beside the state (`.<state>.XXXXXXXX.tmp`, files.py names them), and
releasing it after a run that wrote no state removes the sidecars and the directories the
run created, so a failed first apply leaves the file system as it found it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from reconciler import settings
from reconciler.backends.base import Blob, LockInfo
from reconciler.backends.locking import (
    LOCK_TTL_VARIABLE,
    Heartbeat,
    check_unlock,
    content_etag,
    corrupt_lock_error,
    decode_lock,
    encode_lock,
    held_error,
    lost_lock_error,
    mismatch,
    precise_now,
    wait_for_lock,
)
from reconciler.errors import BackendError, ConflictError, LockError, UsageError
from reconciler.files import NEW_FILE_MODE, atomic_write, create_exclusive, remove_leftovers

log = logging.getLogger(__name__)

LOCK_POLL_FIRST_DELAY = 0.05  # a local lock costs a syscall to test, so poll briskly
LOCK_POLL_MAX_DELAY = 1.0


class LocalBackend:
    """State in a file. With `lock_ttl` (seconds) the lock carries a heartbeat and expires.

    Without `lock_ttl` (argument, else RECONCILER_LOCK_TTL), a lock is taken over only when
    its holder ran on this host and its process has exited. Set it when the directory is
    shared between hosts (NFS, a volume that pods mount one after another),
    where a process id cannot be checked.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_ttl: float | None = None) -> None:
        if lock_ttl is None:
            lock_ttl = settings.seconds(LOCK_TTL_VARIABLE)
        if lock_ttl is not None and not lock_ttl > 0:
            raise UsageError(
                "the lock TTL must be positive",
                detail=f"{path}: lock_ttl={lock_ttl!r}",
                hint="give the seconds after which a silent holder's lock may be taken over",
            )
        self.path = Path(path)
        self.name = str(self.path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self._guard_path = self.path.with_name(self.path.name + ".flock")
        self._made_dirs: list[Path] = []  # created by this backend, deepest first
        self.lock_ttl = lock_ttl
        self._mutex = threading.Lock()  # guards the two fields below, not the files
        self._held: LockInfo | None = None
        self._heartbeat: Heartbeat | None = None

    def __repr__(self) -> str:
        return f"LocalBackend({self.name!r}, lock_ttl={self.lock_ttl!r})"

    def read(self) -> Blob | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._os_error("cannot read the state file", self.path, exc) from exc
        return Blob(data=data, etag=content_etag(data))

    def write(self, data: bytes, *, if_match: str | None) -> str:
        self._raise_if_lock_lost()
        try:
            with self._guarded():
                previous = _read_or_none(self.path)
                found = None if previous is None else content_etag(previous)
                if found != if_match:
                    raise ConflictError(
                        "the state changed since it was read",
                        detail=f"{self.path}: {mismatch(expected=if_match, found=found)}",
                    )
                if previous is not None:
                    atomic_write(self.backup_path, previous)
                atomic_write(self.path, data)
        except OSError as exc:
            raise self._os_error("cannot write the state file", self.path, exc) from exc
        return content_etag(data)

    def lock(self, *, operation: str, timeout: float = 0.0) -> LockInfo:
        return wait_for_lock(
            lambda: self._try_lock(operation),
            timeout=timeout,
            first_delay=LOCK_POLL_FIRST_DELAY,
            max_delay=LOCK_POLL_MAX_DELAY,
        )

    def unlock(self, lock_id: str) -> None:
        self._stop_heartbeat(lock_id)  # before the guard: a beat in flight needs it
        try:
            with self._guarded():
                raw = _read_or_none(self.lock_path)
                if raw is None:
                    raise LockError(
                        "the state is not locked",
                        detail=f"{self.lock_path} does not exist (asked to release ID {lock_id})",
                    )
                check_unlock(raw, lock_id, where=str(self.lock_path))
                self.lock_path.unlink()
                if not self.path.exists() and not self.backup_path.exists():
                    # Nothing was ever stored here: leave no trace of this run. Safe while
                    # we hold the guard, since `_guarded` re-checks the file it locked.
                    self._guard_path.unlink(missing_ok=True)
                    for directory in self._made_dirs:
                        with contextlib.suppress(OSError):  # not empty: someone uses it
                            directory.rmdir()
                    self._made_dirs = []
        except OSError as exc:
            raise self._os_error("cannot remove the lock file", self.lock_path, exc) from exc
        with self._mutex:
            if self._held is not None and self._held.id == lock_id:
                self._held = None

    def _try_lock(self, operation: str) -> LockInfo:
        info = dataclasses.replace(LockInfo.new(operation), heartbeat=precise_now())
        document = encode_lock(info, ttl=self.lock_ttl)
        try:
            with self._guarded():
                try:
                    create_exclusive(self.lock_path, document)
                except FileExistsError:
                    raw = _read_or_none(self.lock_path)
                    if raw is None:  # removed by hand between our two calls
                        create_exclusive(self.lock_path, document)
                    else:
                        self._take_over(raw, document)
                names = (self.path.name, self.backup_path.name, self.lock_path.name)
                removed = remove_leftovers(self.path.parent, names)
                if removed:
                    log.warning("removed %d temporary file(s) a killed run left", removed)
        except OSError as exc:
            raise self._os_error("cannot create the lock file", self.lock_path, exc) from exc
        self._start_holding(info)
        return info

    def _take_over(self, raw: bytes, document: bytes) -> None:
        """Replace the lock in `raw` by `document` if its holder is gone; else raise."""
        decoded = decode_lock(raw)
        if decoded is None:
            raise corrupt_lock_error(raw, where=str(self.lock_path))
        holder, ttl = decoded
        reason = _dead_holder(holder) or _expired(holder, ttl)
        if reason is None:
            raise held_error(holder, where=str(self.lock_path))
        # Safe: we hold the guard, so no other contender is between its read and its
        # replace; and a holder judged gone cannot write the state behind our back,
        # because every state write is a compare-and-swap anyway.
        log.warning("taking over the state lock %s (%s): %s", holder.id, self.lock_path, reason)
        atomic_write(self.lock_path, document)

    def _start_holding(self, info: LockInfo) -> None:
        heartbeat = None
        if self.lock_ttl is not None:
            heartbeat = Heartbeat(
                lambda: self._refresh(info),
                interval=self.lock_ttl / 4,
                name=f"lock heartbeat {self.lock_path}",
            )
        with self._mutex:
            self._held, self._heartbeat = info, heartbeat
        if heartbeat is not None:
            heartbeat.start()

    def _refresh(self, info: LockInfo) -> bool:
        with self._guarded():
            decoded = decode_lock(_read_or_none(self.lock_path) or b"")
            if decoded is None or decoded[0].id != info.id:
                return False
            fresh = dataclasses.replace(info, heartbeat=precise_now())
            atomic_write(self.lock_path, encode_lock(fresh, ttl=self.lock_ttl))
        return True

    def _stop_heartbeat(self, lock_id: str) -> None:
        with self._mutex:
            ours = self._held is not None and self._held.id == lock_id
            heartbeat = self._heartbeat if ours else None
            if ours:
                self._heartbeat = None
        if heartbeat is not None:
            heartbeat.stop()

    def _raise_if_lock_lost(self) -> None:
        with self._mutex:
            held, heartbeat = self._held, self._heartbeat
        if held is not None and heartbeat is not None and heartbeat.lost:
            raise lost_lock_error(held, where=str(self.lock_path))

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        fd = self._open_guard()
        try:
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _open_guard(self) -> int:
        """The guard file's descriptor, flocked. The guard may be removed by a holder
        (`unlock`), so a flock counts only on the file still at the guard's path."""
        while True:
            self._make_parent()
            try:
                fd = os.open(self._guard_path, os.O_RDWR | os.O_CREAT, NEW_FILE_MODE)
            except FileNotFoundError:
                continue  # its directory was removed between the two calls
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self._guard_path)
            except FileNotFoundError:
                current = None
            if current is not None and current.st_ino == os.fstat(fd).st_ino:
                return fd
            os.close(fd)

    def _make_parent(self) -> None:
        missing = []
        directory = self.path.parent
        while not directory.exists() and directory != directory.parent:
            missing.append(directory)
            directory = directory.parent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._made_dirs = [*missing, *(d for d in self._made_dirs if d not in missing)]

    @staticmethod
    def _os_error(summary: str, path: Path, exc: OSError) -> BackendError:
        return BackendError(
            summary,
            detail=f"{path}: {exc.strerror or exc}",
            hint="check that the directory exists and is writable, and the disk is not full",
        )


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _dead_holder(holder: LockInfo) -> str | None:
    """Why the holder is certainly gone: its process on this very host has exited."""
    if holder.host != socket.gethostname() or holder.pid == os.getpid():
        return None  # a pid means nothing on another host; our own pid is alive
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return f"its process {holder.pid} on this host has exited"
    except PermissionError:
        pass  # alive, owned by another user
    # Alive, or its pid was reused by another process: both keep the lock, erring safe.
    return None


def _expired(holder: LockInfo, ttl: float | None) -> str | None:
    # Only the holder's own TTL counts: a holder that promised none sends no heartbeats.
    if ttl is None:
        return None
    try:
        beat = datetime.fromisoformat(holder.heartbeat or holder.created)
    except ValueError:
        return None
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - beat).total_seconds()
    return f"no heartbeat for {age:.1f} s (TTL {ttl:g} s)" if age > ttl else None
