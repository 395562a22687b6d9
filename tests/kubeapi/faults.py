"""Injected faults and the request log.

Owns what the tests can make the API server do wrong on purpose (the next N writes answer
409, 429 with Retry-After, or 500; the next continue token is expired; the next watch is
dropped) and the count of requests per verb and resource the benchmarks assert on.
Applying them to a request is the server's job.
"""

from __future__ import annotations

import collections
import dataclasses
import threading

from tests.kubeapi import errors

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclasses.dataclass(kw_only=True)
class Fault:
    """`count` more requests matching `verbs` (and `resource`, when set) fail with `error`."""

    kind: str  # conflict | throttle | error
    count: int
    verbs: frozenset[str]
    resource: str | None = None
    code: int = 500
    retry_after: int = 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class Request:
    """One request as the log records it."""

    method: str
    path: str
    query: str
    verb: str
    resource: str
    user: str


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []
        self.drop_watches = 0
        self.log: list[Request] = []
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def inject(
        self,
        kind: str,
        count: int = 1,
        *,
        verbs: frozenset[str] | set[str] | list[str] | None = None,
        resource: str | None = None,
        code: int = 500,
        retry_after: int = 1,
    ) -> None:
        if kind not in ("conflict", "throttle", "error"):
            raise ValueError(f"unknown fault {kind!r}: conflict, throttle or error")
        chosen = frozenset(verbs) if verbs else WRITE_VERBS
        with self._lock:
            self._pending.append(
                Fault(
                    kind=kind,
                    count=count,
                    verbs=chosen,
                    resource=resource,
                    code=code,
                    retry_after=retry_after,
                )
            )

    def conflict_next_writes(self, count: int = 1, *, resource: str | None = None) -> None:
        self.inject("conflict", count, resource=resource)

    def throttle_next(
        self, count: int = 1, *, retry_after: int = 1, verbs=None, resource: str | None = None
    ) -> None:
        self.inject("throttle", count, retry_after=retry_after, verbs=verbs, resource=resource)

    def fail_next(
        self, count: int = 1, *, code: int = 500, verbs=None, resource: str | None = None
    ) -> None:
        self.inject("error", count, code=code, verbs=verbs, resource=resource)

    def drop_next_watch(self, count: int = 1) -> None:
        with self._lock:
            self.drop_watches += count

    def take_watch_drop(self) -> bool:
        with self._lock:
            if self.drop_watches:
                self.drop_watches -= 1
                return True
            return False

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self.drop_watches = 0

    def record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)
            self.counts[(request.verb, request.resource)] += 1

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()
            self.counts.clear()

    def check(self, *, verb: str, plural: str, group: str, name: str) -> None:
        """Raise the ApiError of the first pending fault this request matches."""
        with self._lock:
            for fault in self._pending:
                if verb in fault.verbs and fault.resource in (None, plural):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._pending.remove(fault)
                    break
            else:
                return
        if fault.kind == "conflict":
            raise errors.conflict(plural, group, name or "")
        if fault.kind == "throttle":
            raise errors.too_many_requests(fault.retry_after)
        raise errors.ApiError(
            fault.code, "InternalError", "Internal error occurred: injected fault"
        )
