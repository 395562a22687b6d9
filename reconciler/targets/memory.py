"""An in-memory target: manifests in a dict, for tests of code built on the engine or SDK."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any


class MemoryTarget:
    def __init__(self, name: str = "memory://") -> None:
        self.name = name
        self.objects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put(self, address: str, manifest: Mapping[str, Any]) -> None:
        with self._lock:
            self.objects[address] = copy.deepcopy(dict(manifest))

    def get(self, address: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.objects.get(address)
            return None if found is None else copy.deepcopy(found)

    def delete(self, address: str) -> None:
        with self._lock:
            self.objects.pop(address, None)

    def roll(self, address: str, manifest: Mapping[str, Any], *, timeout: float | None) -> None:
        self.put(address, manifest)  # nothing runs here: stored is served

    def remove_leftovers(self) -> int:
        return 0  # a dict update is never half-done
