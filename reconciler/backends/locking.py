"""What every backend shares about locks and etags.

The lock document (who holds it, since when, its heartbeat and TTL), the errors that
describe a held, lost or corrupted lock, waiting for a lock with backoff and jitter, and
the heartbeat thread that keeps a long-held lock alive. The local, memory and S3
backends all speak this one format, so `reconciler state force-unlock ID` and the
messages read the same wherever the state lives.

Does not own where lock documents are stored, nor how a lock is taken atomically: each
backend does that its own way (an exclusive file, a conditional PUT, a mutex).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from reconciler.backends.base import LockInfo
from reconciler.errors import LockError, LockHeldError

log = logging.getLogger(__name__)

LOCK_TTL_VARIABLE = "RECONCILER_LOCK_TTL"  # seconds after which a silent holder's lock expires


LOCK_FIELDS = tuple(field.name for field in dataclasses.fields(LockInfo))


def content_etag(data: bytes) -> str:
    """The etag of exactly this content, for the local and memory backends."""
    return hashlib.sha256(data).hexdigest()


# The lock document.


def precise_now() -> str:
    # Heartbeats need sub-second precision when the TTL is a few seconds.
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_lock(info: LockInfo, *, ttl: float | None) -> bytes:
    """JSON of `info`; `ttl` is the holder's promise to refresh `heartbeat` within it."""
    document: dict[str, object] = info.to_dict()
    if ttl is not None:
        document["ttl"] = ttl
    return json.dumps(document, indent=2).encode() + b"\n"


def decode_lock(raw: bytes) -> tuple[LockInfo, float | None] | None:
    """The holder and its TTL, or None when `raw` is not a lock document."""
    try:
        document = json.loads(raw)
        info = LockInfo(**{name: document[name] for name in LOCK_FIELDS})
        ttl = document.get("ttl")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    strings = (info.id, info.who, info.host, info.operation, info.created, info.heartbeat)
    well_formed = (
        all(isinstance(value, str) for value in strings)
        and bool(info.id)
        and isinstance(info.pid, int)
        and info.pid > 0
        and (ttl is None or (isinstance(ttl, int | float) and ttl > 0))
    )
    return (info, None if ttl is None else float(ttl)) if well_formed else None


def corrupt_lock_id(raw: bytes) -> str:
    """The ID that force-unlocks an unreadable lock: derived from its bytes, so stable."""
    return "corrupt-" + hashlib.sha256(raw).hexdigest()[:12]


def corrupt_lock_error(raw: bytes, *, where: str) -> LockError:
    lock_id = corrupt_lock_id(raw)
    return LockError(
        "the state lock is corrupted",
        detail=f"{where} does not hold a readable lock document (ID for force-unlock: {lock_id})",
        hint=f"if no other run is active, run `reconciler state force-unlock {lock_id}`",
    )


def held_error(holder: LockInfo, *, where: str) -> LockHeldError:
    return LockHeldError(
        "the state is locked by another run",
        detail=f"{where}: {holder.describe()}",
        hint=(
            "wait for that run to finish (--lock-timeout waits), or if it is gone run "
            f"`reconciler state force-unlock {holder.id}`"
        ),
    )


def lost_lock_error(held: LockInfo, *, where: str) -> LockError:
    return LockError(
        "this run lost the state lock",
        detail=(
            f"{where}: lock {held.id} ({held.operation}) was taken over or force-unlocked "
            "while this run held it"
        ),
        hint="another run may be changing the state; plan again once it has finished",
    )


def check_unlock(raw: bytes, lock_id: str, *, where: str) -> None:
    """Raise unless the lock document `raw` is the one `lock_id` names."""
    decoded = decode_lock(raw)
    if decoded is None:
        if lock_id != corrupt_lock_id(raw):
            raise corrupt_lock_error(raw, where=where)
        return
    holder, _ = decoded
    if holder.id != lock_id:
        raise LockError(
            "the lock ID does not match the lock held",
            detail=f"{where}: asked to release {lock_id}, but {holder.describe()}",
            hint=f"to release that lock anyway, run `reconciler state force-unlock {holder.id}`",
        )


def mismatch(*, expected: str | None, found: str | None) -> str:
    if expected is None:
        return f"expected no state yet, found etag {found}"
    if found is None:
        return f"expected etag {expected}, but the state no longer exists"
    return f"expected etag {expected}, found {found}"


# Waiting and heartbeats.


def wait_for_lock(
    attempt: Callable[[], LockInfo], *, timeout: float, first_delay: float, max_delay: float
) -> LockInfo:
    """Call `attempt` until it stops raising LockHeldError or `timeout` seconds have passed."""
    deadline = time.monotonic() + max(timeout, 0.0)
    delay = first_delay
    while True:
        try:
            return attempt()
        except LockHeldError as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if timeout <= 0:
                    raise
                raise LockHeldError(
                    f"{exc.summary} (gave up after waiting {timeout:g} s)",
                    detail=exc.detail,
                    hint=exc.hint,
                ) from exc
            # Jitter keeps contenders that started together from retrying in lockstep.
            time.sleep(min(remaining, delay * random.uniform(0.5, 1.0)))
            delay = min(delay * 2, max_delay)


class Heartbeat:
    """Keeps a held lock alive by calling `beat()` every `interval` seconds on a thread.

    `beat()` returns False once the lock is no longer ours (taken over or force-unlocked):
    the heartbeat then stops and `lost` becomes True. An exception from `beat()` (say, a
    network blip) is logged and the next interval tries again: a TTL spans several beats.
    """

    def __init__(self, beat: Callable[[], bool], *, interval: float, name: str) -> None:
        self._beat = beat
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.lost = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                alive = self._beat()
            except Exception as exc:
                # A daemon thread has no caller to raise to; the TTL absorbs a missed beat.
                reason = " ".join(str(exc).splitlines())
                log.warning(
                    "%s failed, retrying in %g s: %s", self._thread.name, self._interval, reason
                )
                continue
            if not alive:
                self.lost = True
                return
