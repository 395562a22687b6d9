"""The target contract: the Protocol every target implements.

A target stores and removes one manifest per address; it knows nothing of plans or
state. Every target offers the same two operations; a memory target ships beside the
real ones so that SDK users can test their own code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

DEFAULT_DIR = "state/cluster"
DEFAULT_TARGET = f"dir:{DEFAULT_DIR}"  # where the CLI and the SDK apply by default


class Target(Protocol):
    """`put` creates or replaces the object at `address`; `delete` removes it if present."""

    name: str

    def put(self, address: str, manifest: Mapping[str, Any]) -> None: ...

    def delete(self, address: str) -> None: ...
