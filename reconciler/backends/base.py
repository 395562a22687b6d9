"""The backend contract: the Protocol every state backend implements, and its values.

A backend moves bytes and an etag, nothing more: it knows nothing of the state format
(that is state.py) nor of plans. Every backend offers the same four operations, and one
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
from typing import Protocol

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


class Backend(Protocol):
    """Storage for one state document. `name` says where, for messages."""

    name: str

    def read(self) -> Blob | None: ...

    def write(self, data: bytes, *, if_match: str | None) -> str: ...

    def lock(self, *, operation: str, timeout: float = 0.0) -> LockInfo: ...

    def unlock(self, lock_id: str) -> None: ...
