"""The target contract: the Protocol every target implements.

A target stores, reads back and removes one manifest per address; it knows nothing of
plans or state. Every target offers the same operations, and one conformance suite
(tests/test_target_conformance.py) runs against all of them; a memory target ships
beside the real ones so that SDK users can test their own code.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol, runtime_checkable

DEFAULT_DIR = "state/cluster"
DEFAULT_TARGET = f"dir:{DEFAULT_DIR}"  # where the CLI and the SDK apply by default


# Runtime-checkable so the SDK can tell a driver from a mistyped argument.
@runtime_checkable
class Target(Protocol):
    """Where the objects of a catalog and its deployments live. `name` says where.

    Addresses are the state's (`workspaces/<ws>/runtimes/<id>`, compositions under
    `.../deployments/<id>/compositions/<experiment>`). Calls for different addresses may run
    in parallel threads. Every failure is a `TargetError` (library and OS errors wrapped),
    and a failed call leaves the object as it was or as asked, never half written.
    """

    name: str

    def put(self, address: str, manifest: Mapping[str, Any]) -> None:
        """Create or replace the object at `address` with `manifest`.

        When it returns, `get(address)` gives `manifest` back; the target keeps its own copy,
        so changing `manifest` afterwards changes nothing stored.
        """
        ...

    def get(self, address: str) -> dict[str, Any] | None:
        """The object held at `address` (a fresh copy), or None if there is none."""
        ...

    def delete(self, address: str) -> None:
        """Remove the object at `address`; nothing to remove is not an error."""
        ...

    def roll(self, address: str, manifest: Mapping[str, Any], *, timeout: float | None) -> None:
        """`put` a composition's manifest and return once it serves: on a cluster, when its
        rolling update has finished (every replica updated and available).

        A rollout that fails, or does not finish within `timeout` seconds (None: the
        target's own limit), raises `TargetError`; the object is then left as written, for
        the caller to roll back with another `roll`. Targets that run nothing return as
        soon as the manifest is stored.
        """
        ...

    def remove_leftovers(self) -> int:
        """Remove what a killed writer of this target left half-done (temporary files),
        and nothing else; how many were removed. Called under the state lock, when no
        other writer of the target runs."""


@runtime_checkable
class Observable(Protocol):
    """A target that can be read whole cheaply, for refreshing: the kubernetes target.

    Targets that are not (a directory, memory) are planned from state alone.
    `force_conflicts` says whether its writes take over fields another field manager owns
    (server-side apply's force) instead of being refused.
    """

    force_conflicts: bool

    def observe(self, expected: Collection[str] = ()) -> dict[str, dict[str, Any]]:
        """Every object of the tool's the target holds, by address, as `get` reads it back
        but with every field the target holds (what others added included).

        `expected` are the addresses the caller expects to find: kinds a target does not
        read everywhere (a cluster's Secrets, read only in the namespaces where one is
        expected, so the tool needs no right to read every Secret) are read where they say.
        A handful of requests whatever the number of objects (paged lists, never one read
        per object); objects not labelled as the tool's are not read. Failures are
        `TargetError`s.
        """
        ...
