"""Memory state backend: the state document and its lock held in this process.

The fake beside the real drivers. It ships in the package so SDK users can test code that
takes a `Backend` without files or a network, and it passes the same conformance suite as
the local and S3 backends: compare-and-swap writes, `LockHeldError` naming the holder,
waiting for a lock up to a timeout; its etags and messages are the local backend's. What
it deliberately does not do: persist anything, share state between processes, or expire
locks (a holder cannot die without its lock).
"""

from __future__ import annotations

import threading
import time

from reconciler.backends.base import Blob, LockInfo
from reconciler.backends.locking import content_etag, mismatch
from reconciler.errors import ConflictError, LockError, LockHeldError


class MemoryBackend:
    """State in a Python object; thread-safe, so concurrent writers can be tested too."""

    def __init__(self, name: str = "memory://") -> None:
        self.name = name
        # One condition guards the blob and the lock, and wakes lock waiters on unlock.
        self._changed = threading.Condition()
        self._blob: Blob | None = None
        self._holder: LockInfo | None = None

    def __repr__(self) -> str:
        return f"MemoryBackend(name={self.name!r})"

    def read(self) -> Blob | None:
        with self._changed:
            return self._blob

    def write(self, data: bytes, *, if_match: str | None) -> str:
        blob = Blob(data=bytes(data), etag=content_etag(data))
        with self._changed:
            found = self._blob.etag if self._blob is not None else None
            if found != if_match:
                raise ConflictError(
                    "the state changed since it was read",
                    detail=f"{self.name}: {mismatch(expected=if_match, found=found)}",
                )
            self._blob = blob
        return blob.etag

    def lock(self, *, operation: str, timeout: float = 0.0) -> LockInfo:
        # Waiting on the condition is what backoff approximates for the other backends:
        # here an unlock can wake the waiter directly.
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._changed:
            while self._holder is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._held_error(waited=timeout)
                self._changed.wait(remaining)
            self._holder = LockInfo.new(operation)
            return self._holder

    def unlock(self, lock_id: str) -> None:
        with self._changed:
            if self._holder is None:
                raise LockError(
                    "the state is not locked",
                    detail=f"{self.name} has no lock to release (asked for ID {lock_id})",
                )
            if self._holder.id != lock_id:
                raise LockError(
                    "the lock ID does not match the lock held",
                    detail=f"{self.name}: {self._holder.describe()}",
                    hint=f"to release that lock anyway, force-unlock ID {self._holder.id}",
                )
            self._holder = None
            self._changed.notify_all()

    def _held_error(self, *, waited: float) -> LockHeldError:
        assert self._holder is not None
        summary = "the state is locked by another run"
        if waited > 0:
            summary += f" (gave up after waiting {waited:g} s)"
        return LockHeldError(
            summary,
            detail=f"{self.name}: {self._holder.describe()}",
            hint=(
                "wait for that run to finish, or if it is gone release it with "
                f"unlock({self._holder.id!r})"
            ),
        )
