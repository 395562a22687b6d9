"""The SDK's entry point: `Client`, its workspaces, and the cross-workspace listings.

    client = reconciler.Client(state="state/reconciler.state.json", target="dir:state/cluster")
    workspace = client.workspaces.get("fraud-team")
    workspace.runtimes.list()

A client works on one state (a path, `s3://bucket/key`, or a Backend) and one target
(`dir:PATH`, `memory://`, or a Target), the same drivers and engine the CLI uses, so
`reconciler plan` shows no changes after SDK calls. Left out, they follow the CLI:
`RECONCILER_STATE` and `RECONCILER_TARGET`, else `state/reconciler.state.json` and
`dir:state/cluster`.

Owns the workspace objects and wiring; catalog objects live in images.py and runtimes.py,
deployments in deployments.py.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import ClassVar

from reconciler import errors
from reconciler.backends import Backend
from reconciler.sdk.deployments import Deployments
from reconciler.sdk.handles import Entity
from reconciler.sdk.images import RuntimeImages
from reconciler.sdk.runtimes import AllRuntimes, Runtimes
from reconciler.sdk.session import Session
from reconciler.sdk.tables import Table
from reconciler.targets import Target


class Workspace(Entity):
    """A workspace: its own runtimes and images, the bootstrap-managed ones it sees, and
    its model deployments."""

    FIELDS: ClassVar[tuple[str, ...]] = ("name",)

    def __init__(self, session: Session, name: str) -> None:
        self.name = name
        self.runtimes = Runtimes(session, name)
        self.deployments = Deployments(session, name)

    @property
    def runtime_images(self) -> RuntimeImages:
        """The same as `workspace.runtimes.images`."""
        return self.runtimes.images

    def _identity(self) -> tuple[str, ...]:
        return (self.name,)


class Workspaces:
    def __init__(self, session: Session) -> None:
        self._session = session

    def create(self, name: str) -> Workspace:
        """Record a new workspace (an id: lowercase letters, digits, '-' and '_')."""
        if name in self._session.snapshot().workspace_names:
            # The engine knows only workspaces recorded by name; one that exists because it
            # holds resources (from an overrides file) already exists too.
            raise errors.ConflictError(
                f"workspace {name} already exists", hint=f"use client.workspaces.get({name!r})"
            )
        self._session.create_workspace(name)
        return Workspace(self._session, name)

    def get(self, name: str) -> Workspace:
        """A workspace that was created, holds resources, or is `global`."""
        if name not in self._session.snapshot().workspace_names:
            raise errors.NotFoundError(
                f"workspace {name!r} does not exist",
                hint=f"create it with client.workspaces.create({name!r}); "
                "client.workspaces.list() shows the existing ones",
            )
        return Workspace(self._session, name)

    def list(self) -> Table[Workspace]:
        names = self._session.snapshot().workspace_names
        return Table(
            columns=Workspace.FIELDS,
            rows=[(name,) for name in names],
            entries=[Workspace(self._session, name) for name in names],
        )

    def count(self) -> int:
        return len(self._session.snapshot().workspace_names)


class Client:
    """A connection to one state and one target (see module docstring).

    `lock_timeout` is how many seconds a change waits for the state lock held by another
    run (an SDK call or a CLI apply) before failing with LockHeldError; 0, like the CLI's
    default, fails at once. `sensitive_names` adds names (or patterns such as
    `MY_PLATFORM_*`) whose values errors never show, beside the built-in ones
    (`*TOKEN*`, `*PASS*`, `*SECRET*`, …). A wrong type for any of them is a
    ClientTypeError (a UsageError and a TypeError), a bad value a UsageError.
    """

    def __init__(
        self,
        *,
        state: str | os.PathLike[str] | Backend | None = None,
        target: str | os.PathLike[str] | Target | None = None,
        lock_timeout: float = 0.0,
        sensitive_names: Iterable[str] = (),
    ) -> None:
        self._session = Session.open(
            state=state,
            target=target,
            lock_timeout=lock_timeout,
            sensitive_names=sensitive_names,
        )
        self.workspaces = Workspaces(self._session)
        self.runtimes = AllRuntimes(self._session)

    @property
    def backend(self) -> Backend:
        return self._session.backend

    @property
    def target(self) -> Target:
        return self._session.target

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """`with client.batch():` the changes made inside the block are applied together,
        as one locked apply when it ends (rollouts in parallel), or not at all if it raises.
        """
        return self._session.batch()

    def __repr__(self) -> str:
        return f"<Client state={self.backend.name} target={self.target.name}>"
