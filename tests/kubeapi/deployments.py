"""The Deployment controller, simulated on the emulator's clock.

Owns what kube-controller-manager does for `apps/v1` Deployments as far as clients watch
it: a ReplicaSet per pod template, pods that become ready `pod_ready_seconds` after they
are created (never, for an image marked failing), rolling updates stepping by maxSurge and
maxUnavailable, status (observedGeneration, replicas, updated/ready/available/unavailable
replicas) and the Progressing and Available conditions with the real reasons and messages,
including ProgressDeadlineExceeded. ReplicaSet and Pod objects are not materialised.
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
from typing import TYPE_CHECKING, Any

import orjson

from tests.kubeapi import errors

if TYPE_CHECKING:
    from tests.kubeapi.emulator import Emulator
    from tests.kubeapi.registry import ResourceType

DEFAULT_PROGRESS_DEADLINE = 600
DEFAULT_POD_READY_SECONDS = 1.0


def template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(orjson.dumps(template, option=orjson.OPT_SORT_KEYS)).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the pod-template-hash alphabet: no vowels
    return "".join(alphabet[int(digest[i : i + 2], 16) % len(alphabet)] for i in range(0, 20, 2))


def _resolve(value: Any, replicas: int, *, round_up: bool, default: str) -> int:
    value = default if value is None else value
    if isinstance(value, str) and value.endswith("%"):
        exact = replicas * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


class DeploymentController:
    def __init__(
        self, emulator: Emulator, *, pod_ready_seconds: float = DEFAULT_POD_READY_SECONDS
    ) -> None:
        self.emulator = emulator
        self.pod_ready_seconds = pod_ready_seconds
        self.failing_images: set[str] = set()
        self._lock = threading.RLock()
        # (namespace, name) → {template hash → {"pods": [creation times], "images": [...]}}
        self._replica_sets: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._active: set[tuple[str, str]] = set()
        # When each rolling Deployment next needs the controller: ticks skip the others, so
        # thousands of rollouts in flight cost little between their pods' ready times.
        self._due: dict[tuple[str, str], float] = {}

    # Events -----------------------------------------------------------------------------

    def on_change(self, rtype: ResourceType, event: str, old: dict | None, new: dict) -> None:
        if rtype.storage != ("apps", "deployments"):
            return
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        if event == "DELETED":
            with self._lock:
                self._replica_sets.pop(key, None)
                self._active.discard(key)
                self._due.pop(key, None)
            return
        if old is not None and old["metadata"].get("generation") == new["metadata"].get(
            "generation"
        ):
            return
        with self._lock:
            self._active.add(key)
            self._due.pop(key, None)
        self.sync(key)

    def tick(self) -> None:
        with self._lock:
            now = self.emulator.clock.now()
            keys = [k for k in self._active if self._due.get(k, 0.0) <= now]
        for key in keys:
            self.sync(key)

    def fail_image(self, image: str) -> None:
        with self._lock:
            self.failing_images.add(image)

    def heal_image(self, image: str) -> None:
        with self._lock:
            self.failing_images.discard(image)
            self._active.update(self._replica_sets)
            self._due.clear()

    # The controller ---------------------------------------------------------------------

    def _ready(self, rs: dict[str, Any], now: float) -> int:
        if any(image in self.failing_images for image in rs["images"]):
            return 0
        return sum(1 for created in rs["pods"] if now >= created + self.pod_ready_seconds)

    def sync(self, key: tuple[str, str]) -> None:
        emulator = self.emulator
        rtype = emulator.registry.lookup("apps", "v1", "deployments")
        with self._lock:
            obj = emulator.store.find(("apps", "deployments"), *key)
            if obj is None or rtype is None:
                self._active.discard(key)
                return
            now = emulator.clock.now()
            spec = obj.get("spec", {})
            replicas = int(spec.get("replicas", 1))
            strategy = spec.get("strategy") or {}
            if strategy.get("type") == "Recreate":
                surge, unavailable = 0, replicas
            else:
                rolling = strategy.get("rollingUpdate") or {}
                surge = _resolve(rolling.get("maxSurge"), replicas, round_up=True, default="25%")
                unavailable = _resolve(
                    rolling.get("maxUnavailable"), replicas, round_up=False, default="25%"
                )
                if surge == 0 and unavailable == 0:
                    unavailable = 1
            template = spec.get("template", {})
            new_hash = template_hash(template)
            rs_name = f"{key[1]}-{new_hash}"
            sets = self._replica_sets.setdefault(key, {})
            created_new = new_hash not in sets
            if created_new:
                images = [
                    c.get("image", "") for c in template.get("spec", {}).get("containers", [])
                ]
                sets[new_hash] = {"pods": [], "images": images}
            new_rs = sets[new_hash]
            olds = [rs for h, rs in sets.items() if h != new_hash]
            before = self._counts(sets, new_rs, now)
            # Unready pods of old ReplicaSets are removed at once (they serve nobody).
            for rs in olds:
                ready = self._ready(rs, now)
                rs["pods"] = sorted(rs["pods"])[:ready] if ready < len(rs["pods"]) else rs["pods"]
            available = sum(self._ready(rs, now) for rs in sets.values())
            can_remove = available - (replicas - unavailable)
            for rs in olds:
                take = min(len(rs["pods"]), max(0, can_remove))
                if take:
                    del rs["pods"][:take]
                    can_remove -= take
            total = sum(len(rs["pods"]) for rs in sets.values())
            if len(new_rs["pods"]) < replicas:
                room = replicas + surge - total
                add = max(0, min(replicas - len(new_rs["pods"]), room))
                new_rs["pods"].extend([now] * add)
            elif len(new_rs["pods"]) > replicas:
                del new_rs["pods"][replicas:]
            for h in [h for h, rs in sets.items() if h != new_hash and not rs["pods"]]:
                sets.pop(h)
            after = self._counts(sets, new_rs, now)
            status = self._status(
                obj,
                replicas=replicas,
                unavailable=unavailable,
                counts=after,
                rs_name=rs_name,
                created_new=created_new,
                progressed=after != before,
                now=now,
            )
            if (
                after["updated"] == replicas
                and after["replicas"] == replicas
                and after["available"] == replicas
            ):
                self._active.discard(key)
            self._due[key] = self._next_due(sets, status, obj, now)
            if status == obj.get("status"):
                return
            try:
                emulator.store.commit(
                    rtype,
                    key[0],
                    key[1],
                    lambda live: {**live, "status": status},
                    subresource="status",
                )
            except errors.ApiError:
                return

    def _next_due(
        self,
        sets: dict[str, dict[str, Any]],
        status: dict[str, Any],
        obj: dict[str, Any],
        now: float,
    ) -> float:
        pending = [
            created + self.pod_ready_seconds
            for rs in sets.values()
            if not any(image in self.failing_images for image in rs["images"])
            for created in rs["pods"]
            if created + self.pod_ready_seconds > now
        ]
        if pending:
            return min(pending)
        stuck = any(
            rs["pods"] and any(image in self.failing_images for image in rs["images"])
            for rs in sets.values()
        )
        if not stuck:
            return now
        progressing = {c["type"]: c for c in status.get("conditions", [])}.get("Progressing")
        if progressing is None or progressing["reason"] == "ProgressDeadlineExceeded":
            return float("inf")  # until its spec changes or the image heals
        deadline = obj.get("spec", {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
        return _seconds(progressing["lastUpdateTime"]) + deadline + 1

    def _counts(
        self, sets: dict[str, dict[str, Any]], new_rs: dict[str, Any], now: float
    ) -> dict[str, int]:
        ready = sum(self._ready(rs, now) for rs in sets.values())
        return {
            "replicas": sum(len(rs["pods"]) for rs in sets.values()),
            "updated": len(new_rs["pods"]),
            "ready": ready,
            "available": ready,
        }

    def _status(
        self,
        obj: dict[str, Any],
        *,
        replicas: int,
        unavailable: int,
        counts: dict[str, int],
        rs_name: str,
        created_new: bool,
        progressed: bool,
        now: float,
    ) -> dict[str, Any]:
        stamp = self.emulator.clock.rfc3339()
        old_status = obj.get("status") or {}
        conditions = {c["type"]: c for c in copy.deepcopy(old_status.get("conditions", []))}

        def set_condition(
            kind: str, status: str, reason: str, message: str, *, touch: bool = True
        ) -> None:
            current = conditions.get(kind)
            changed = current is None or current["status"] != status
            conditions[kind] = {
                "type": kind,
                "status": status,
                "lastUpdateTime": stamp if touch or current is None else current["lastUpdateTime"],
                "lastTransitionTime": stamp if changed else current["lastTransitionTime"],
                "reason": reason,
                "message": message,
            }

        if counts["available"] >= replicas - unavailable:
            set_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                touch=conditions.get("Available", {}).get("status") != "True",
            )
        else:
            set_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                touch=conditions.get("Available", {}).get("status") != "False",
            )
        complete = (
            counts["updated"] == replicas
            and counts["replicas"] == replicas
            and counts["available"] == replicas
        )
        progressing = conditions.get("Progressing")
        deadline = obj.get("spec", {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
        if complete:
            if not progressing or progressing["reason"] != "NewReplicaSetAvailable":
                set_condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                )
        elif created_new:
            set_condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{rs_name}"',
            )
        elif progressed or progressing is None:
            set_condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
            )
        elif progressing["reason"] != "ProgressDeadlineExceeded":
            last = _seconds(progressing["lastUpdateTime"])
            if now - last > deadline:
                set_condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                )
        status: dict[str, Any] = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": counts["replicas"],
            "updatedReplicas": counts["updated"],
            "readyReplicas": counts["ready"],
            "availableReplicas": counts["available"],
            "conditions": [conditions[k] for k in ("Available", "Progressing") if k in conditions],
        }
        missing = counts["replicas"] - counts["available"]
        if missing > 0:
            status["unavailableReplicas"] = missing
        # Zero counts are omitted on the wire, as the real API server's omitempty does.
        return {k: v for k, v in status.items() if v != 0}


def _seconds(stamp: str) -> float:
    from tests.kubeapi.tables import parse_time

    return parse_time(stamp).timestamp()
