"""Rollouts on a cluster: when a Deployment's rolling update is done, and the one watch that
tells every rollout in flight as soon as its Deployment moves.

Owns the rules of `kubectl rollout status` (`rollout_status`) and `DeploymentWatch`: one
watch of the tool's Deployments across the cluster, started by the first rollout and
shared by all of them, each taking the events of its own Deployment. A rollout waits on
the watch instead of reading its Deployment again and again, so a thousand rollouts in
flight cost one open request and learn of each step at once. A rollout also reads its
Deployment itself when nothing came for `QUIET_SECONDS` while the watch delivers, and every
`FALLBACK_SECONDS` while it does not (cut, expired (410) or refused, until it is back):
slower, never stuck.

Not here: writing the Deployment (kubernetes.py), the requests (kubeclient.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from reconciler import errors
from reconciler.targets import kubeclient

# How long a rollout waits for an event of its Deployment before reading it itself: while
# the watch delivers events, and while it does not.
QUIET_SECONDS = 10.0
FALLBACK_SECONDS = 1.0
# How long one watch request stays open; the watch stops once none is waiting when it
# ends, so a process that stopped rolling keeps no request open for longer than this.
WATCH_SECONDS = 30
# After a refused or failed watch, how long before watching again.
RETRY_SECONDS = 2.0

Key = tuple[str, str]  # (namespace, name)


class DeploymentWatch:
    """The tool's Deployments (`selector`), watched across `cluster`'s namespaces."""

    def __init__(
        self,
        cluster: kubeclient.Cluster,
        kind: kubeclient.Resource,
        *,
        selector: str,
    ) -> None:
        self._cluster, self._kind, self._selector = cluster, kind, selector
        self._changed = threading.Condition()
        # The newest object each event brought (None: deleted), and how many events came.
        self._latest: dict[Key, dict[str, Any] | None] = {}
        self._seen: dict[Key, int] = {}
        self._waiting = 0
        self._wanted_until = 0.0  # a rollout that follows keeps the watch running till then
        self._resyncs = 0  # times events were lost (410): every waiter reads for itself
        self._version: str | None = None  # where the running watch has got to
        self._running = False
        self._delivering = False  # the open watch has brought an event

    def patience(self) -> float:
        """How long to wait for an event before reading the object oneself."""
        with self._changed:
            return QUIET_SECONDS if self._delivering else FALLBACK_SECONDS

    def position(self, key: Key) -> int:
        """How many events of `key` came so far: what `wait` waits to see grow."""
        with self._changed:
            return self._seen.get(key, 0)

    def follow(self, resource_version: str) -> None:
        """Make sure the watch runs; one not running starts from `resource_version` (that
        of an object just read, so nothing after that read is missed)."""
        with self._changed:
            self._wanted_until = time.monotonic() + FALLBACK_SECONDS
            if self._running:
                return
            self._running, self._version = True, resource_version
        threading.Thread(target=self._run, name="deployment-watch", daemon=True).start()

    def wait(
        self, key: Key, *, after: int, timeout: float
    ) -> tuple[int, dict[str, Any] | None] | None:
        """(position, newest object or None if deleted) once `key` has an event beyond
        `after`; None when `timeout` seconds pass without one, or when events were lost
        meanwhile: the caller then reads the object itself."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiting += 1
            resyncs = self._resyncs
            try:
                while self._seen.get(key, 0) <= after:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._resyncs != resyncs:
                        return None
                    self._changed.wait(remaining)
                return self._seen[key], self._latest.get(key)
            finally:
                self._waiting -= 1

    def _run(self) -> None:
        """Watch, from where the last watch got to, until nobody waits when one ends."""
        while True:
            with self._changed:
                version, self._delivering = self._version, False
            started, events = time.monotonic(), 0
            try:
                for event in self._cluster.watch(
                    self._kind,
                    label_selector=self._selector,
                    resource_version=version or "",
                    seconds=WATCH_SECONDS,
                ):
                    self._take(event)
                    events += 1
                if not events and time.monotonic() - started < 1.0:
                    time.sleep(RETRY_SECONDS / 10)  # cut at once: do not hammer the server
            except kubeclient.Gone:
                # Events were lost: watch on from now, and have every rollout waiting
                # read its Deployment once, for what it missed.
                try:
                    now = self._cluster.list_version(self._kind, label_selector=self._selector)
                except errors.ReconcilerError:
                    now = None
                with self._changed:
                    self._version = now
                    self._resyncs += 1
                    self._changed.notify_all()
                if now is None:
                    time.sleep(RETRY_SECONDS)
            except errors.ReconcilerError:
                time.sleep(RETRY_SECONDS)  # refused, or the cluster away: waiters poll
            with self._changed:
                if not self._waiting and time.monotonic() > self._wanted_until:
                    self._running = False
                    return

    def _take(self, event: Mapping[str, Any]) -> None:
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        with self._changed:
            self._delivering = True
            if meta.get("resourceVersion"):
                self._version = str(meta["resourceVersion"])
            if event.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
                return  # a bookmark: only where the watch has got to
            key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
            self._latest[key] = None if event["type"] == "DELETED" else dict(obj)
            self._seen[key] = self._seen.get(key, 0) + 1
            self._changed.notify_all()


def rollout_status(live: Mapping[str, Any]) -> tuple[bool, str]:
    """(done, failure) for a Deployment, by the rules of `kubectl rollout status`.

    Done when the controller has seen the latest spec and every replica is updated and
    available, with no old replica left; failed when its progress deadline passed.
    """
    spec, status = live.get("spec") or {}, live.get("status") or {}
    generation = live.get("metadata", {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return False, ""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return False, f"ProgressDeadlineExceeded: {condition.get('message', '')}".rstrip(": ")
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    if updated < wanted:
        return False, ""
    if status.get("replicas", 0) > updated:
        return False, ""
    if status.get("availableReplicas", 0) < updated:
        return False, ""
    return True, ""
