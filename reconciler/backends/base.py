"""The backend contract: the Protocol every state backend implements, and its values.

A backend moves bytes and an etag, nothing more: it knows nothing of the state format
(that is planning/state.py) nor of plans. Every backend offers the same four operations, and one
conformance suite (tests/test_backend_conformance.py) runs against all of them.

- `read()` returns the current bytes and their etag, or None when no state exists yet.
- `write(data, if_match=etag)` replaces the bytes only if the stored etag is still
  `if_match` (None: only if nothing is stored yet), and returns the new etag; otherwise it
  raises `ConflictError` and stores nothing. This makes a lost update impossible even for
  a writer that does not hold the lock.
- `lock(operation=..., timeout=...)` takes the lock or raises `LockHeldError` naming the
  holder; `unlock(lock_id)` releases it (and is how `state force-unlock ID` works).
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

DEFAULT_STATE = "state/reconciler.state.json"  # where the CLI and the SDK keep state by default


@dataclass(frozen=True, slots=True)
class Blob:
    """Stored state bytes and the etag that identifies exactly this content."""

    data: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a lock. `heartbeat` is refreshed by holders that keep a lock alive."""

    id: str
    who: str
    host: str
    pid: int
    operation: str
    created: str
    heartbeat: str = ""

    @classmethod
    def new(cls, operation: str) -> LockInfo:
        now = utc_now()
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = str(os.getuid())
        return cls(
            id=str(uuid.uuid4()),
            who=who,
            host=socket.gethostname(),
            pid=os.getpid(),
            operation=operation,
            created=now,
            heartbeat=now,
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"ID {self.id}, held by {self.who}@{self.host} (pid {self.pid}) "
            f"for {self.operation} since {self.created}"
        )


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# Runtime-checkable so the SDK can tell a driver from a mistyped argument.
@runtime_checkable
class Backend(Protocol):
    """Storage for one state document. `name` says where, for messages.

    Every failure is a `reconciler.errors` error (library and OS errors are wrapped), and
    none of them leaves a partial document behind: a reader sees the old bytes or the new.
    """

    name: str

    def read(self) -> Blob | None:
        """The stored bytes and their etag, or None when no state was ever written.

        Raises `BackendError` when the storage cannot be read (permissions, network).
        """
        ...

    def write(self, data: bytes, *, if_match: str | None) -> str:
        """Store `data` if the stored etag is still `if_match` (None: if nothing is stored
        yet), and return the etag of `data`.

        Raises `ConflictError` and stores nothing when the stored etag differs, so an update
        made since `read()` is never lost, with or without the lock; `BackendError` when the
        storage fails (the previous bytes are then still stored).
        """
        ...

    def lock(self, *, operation: str, timeout: float = 0.0) -> LockInfo:
        """Take the state's lock for `operation`, waiting up to `timeout` seconds for a holder
        to release it; the returned `LockInfo.id` releases it.

        A lock whose holder is provably gone (a heartbeat older than the backend's TTL, or a
        dead process on this host) is taken over. Raises `LockHeldError` naming the holder
        when the lock stays held past `timeout`; `BackendError` when the storage fails.
        """
        ...

    def unlock(self, lock_id: str) -> None:
        """Release the lock `lock_id`; how `state force-unlock ID` releases anyone's.

        Raises `LockError` when the state is not locked or is locked under another ID (the
        lock is then left as it is).
        """
        ...
