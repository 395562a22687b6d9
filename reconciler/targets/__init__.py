"""Targets: where the catalog materializes (a directory of manifests, or a cluster).

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


def open_target(spec: str) -> Target:
    """The target a `--target` value names: `dir:PATH` or `memory://`."""
    from reconciler import errors

    if spec.startswith("memory://"):
        from reconciler.targets import memory

        return memory.MemoryTarget(name=spec)
    kind, sep, where = spec.partition(":")
    if sep and kind == "dir" and where:
        from reconciler.targets import directory

        return directory.DirTarget(where)
    raise errors.UsageError(
        f"unknown target '{spec}'",
        hint=f"use dir:PATH (default dir:{DEFAULT_DIR}) or memory://",
    )
