"""The SDK's connection to one state and one target, and its transactions.

Owns three things. Opening the backend and target a `Client` names (specs as the CLI
takes them, or driver instances). Reading the current state as a `Snapshot`, decoded
once per content: an unchanged etag reuses the last decode, so reading a property after
another client's change sees it, while reading ten properties costs ten reads and one
decode. And `commit`: one locked engine apply of the requests an SDK call builds from a
snapshot, started again from a fresh snapshot when another writer got in between, so a
call never acts on a state it did not check (optimistic concurrency on the state's lineage
and serial; the engine's lock and compare-and-swap writes do the rest); `batch` holds
commits back and makes them one apply.

Does not own what the requests are (images.py, runtimes.py), nor the ceiling rule,
reference and collision checks: planning/desired.py runs them inside the engine, under the lock.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from reconciler import errors, sensitive
from reconciler.addresses import workspace_of
from reconciler.apply import engine
from reconciler.backends import Backend, open_backend, state_from_environment
from reconciler.inputs.requests import Overrides
from reconciler.model import GLOBAL_WORKSPACE, Deployment, Kind, Resource
from reconciler.planning import availability, state, upgrades
from reconciler.planning.plan import Plan
from reconciler.targets import Target, open_target, target_from_environment

SOURCE = "sdk"  # how plans and errors name requests made through the SDK
# Each retry follows another writer's successful commit, so this bounds a livelock under
# heavy contention, not a wait: waiting for the lock is `lock_timeout`'s job.
MAX_ATTEMPTS = 25


@dataclass(frozen=True)
class Snapshot:
    """The state as read at one moment. Before the first write: no lineage, serial 0."""

    resources: Mapping[str, Resource]
    workspaces: tuple[str, ...] = ()
    lineage: str | None = None
    serial: int = 0
    deployments: Mapping[str, Deployment] = field(default_factory=dict)

    @cached_property
    def catalog(self) -> availability.Availability:
        return availability.Availability(self.resources)

    @cached_property
    def resolver(self) -> upgrades.Resolver:
        """Upgrade targets against this snapshot's catalog (latest versions found once)."""
        return upgrades.Resolver(self.resources)

    @cached_property
    def workspace_names(self) -> tuple[str, ...]:
        """Every workspace: created through the SDK, `global`, or holding resources."""
        names = {GLOBAL_WORKSPACE, *self.workspaces}
        names.update(workspace_of(address) for address in self.resources)
        names.update(workspace_of(address) for address in self.deployments)
        return tuple(sorted(names))

    def of_kind(self, kind: Kind, workspace: str | None = None) -> list[Resource]:
        """Resources of `kind` in `workspace` (None: every workspace)."""
        return [
            r
            for r in self.resources.values()
            if r.kind is kind and (workspace is None or workspace_of(r.address) == workspace)
        ]

    def uid_owner(self, uid: str) -> Resource | None:
        return self._by_uid.get(uid)

    @cached_property
    def _by_uid(self) -> dict[str, Resource]:
        return {r.uid: r for r in self.resources.values() if r.uid}

    def uid_taken(self, uid: str) -> str | None:
        """The address of whatever (resource or deployment) has this uid, if anything."""
        owner = self.uid_owner(uid)
        if owner is not None:
            return owner.address
        for deployment in self.deployments.values():
            if deployment.uid == uid:
                return deployment.address
        return None


EMPTY = Snapshot(resources={})


class Session:
    """A backend, a target, a lock timeout and the names the user marked sensitive, shared
    by every object of one `Client`."""

    def __init__(
        self,
        *,
        backend: Backend,
        target: Target,
        lock_timeout: float,
        sensitivity: sensitive.Sensitivity = sensitive.DEFAULT,
    ) -> None:
        self.backend = backend
        self.target = target
        self.lock_timeout = lock_timeout
        self.sensitivity = sensitivity
        self._guard = threading.Lock()  # guards the cached decode below
        self._cached: tuple[str, Snapshot] | None = None
        self._batched: list[Callable[[Snapshot], Overrides | None]] | None = None

    @classmethod
    def open(
        cls,
        *,
        state: str | os.PathLike[str] | Backend | None,
        target: str | os.PathLike[str] | Target | None,
        lock_timeout: float,
        sensitive_names: Iterable[str] = (),
    ) -> Session:
        """Open what the specs name; None falls back to the CLI's environment and defaults.

        Checks every argument before anything is opened: a wrong type is a ClientTypeError
        (a UsageError that is also a TypeError), a bad value a UsageError.
        """
        names = _names(sensitive_names)
        if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, int | float):
            raise errors.ClientTypeError(
                f"lock_timeout must be a number of seconds, not {lock_timeout!r}",
                hint="pass lock_timeout=30 to wait up to 30 s for the state lock",
            )
        if not lock_timeout >= 0:  # also refuses NaN
            raise errors.UsageError(
                f"lock_timeout must be zero or more seconds, not {lock_timeout!r}",
                hint="pass lock_timeout=30 to wait up to 30 s for the state lock",
            )
        if state is None:
            state = state_from_environment()
        if target is None:
            target = target_from_environment()
        # Backend and Target are runtime-checkable Protocols: a driver of one's own passes.
        if not isinstance(state, str | os.PathLike | Backend):
            raise errors.ClientTypeError(
                f"state={state!r} is not a state location",
                hint="pass a path, 's3://BUCKET/KEY' or a Backend (e.g. MemoryBackend())",
            )
        if not isinstance(target, str | os.PathLike | Target):
            raise errors.ClientTypeError(
                f"the target {target!r} is not dir:PATH, memory:// or kubernetes[:CONTEXT]",
                hint="pass 'dir:PATH', 'memory://', 'kubernetes' or a Target (e.g. MemoryTarget())",
            )
        backend = open_backend(os.fspath(state)) if isinstance(state, str | os.PathLike) else state
        if isinstance(target, os.PathLike):
            target = f"dir:{os.fspath(target)}"  # a bare path is a directory of manifests
        return cls(
            backend=backend,
            target=open_target(target) if isinstance(target, str) else target,
            lock_timeout=float(lock_timeout),
            sensitivity=sensitive.Sensitivity(names=names),
        )

    def snapshot(self) -> Snapshot:
        blob = self.backend.read()
        if blob is None:
            return EMPTY
        with self._guard:
            if self._cached is not None and self._cached[0] == blob.etag:
                return self._cached[1]
        document = state.decode(blob.data, source=self.backend.name)
        snapshot = Snapshot(
            resources=document.by_address,
            workspaces=document.workspaces,
            lineage=document.lineage,
            serial=document.serial,
            deployments=document.deployments_by_address,
        )
        with self._guard:
            self._cached = (blob.etag, snapshot)
        return snapshot

    def create_workspace(self, name: str) -> None:
        engine.create_workspace(self.backend, name, lock_timeout=self.lock_timeout)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold back every `commit` made inside the block and apply them all at its end,
        as one locked apply (so rollouts run in parallel); nothing if the block raises.

        The calls inside are checked against the state as it is when the block ends, each
        as if it were alone; a call that is not allowed there fails the whole batch.
        """
        if self._batched is not None:
            raise errors.UsageError(
                "a batch is already open on this client", hint="nest the calls in one batch"
            )
        self._batched = []
        try:
            yield
            builds, self._batched = self._batched, None
            if builds:
                self.commit(functools.partial(_together, builds))
        finally:
            self._batched = None

    def commit(self, build: Callable[[Snapshot], Overrides | None]) -> None:
        """Apply what `build` asks for, as checked against the state it is applied to.

        `build` reads a snapshot, raises a typed error if the call is not allowed, and
        returns the requests (None: nothing to do). If the state moved on between the
        read and the lock, nothing is applied and `build` runs again on the new state.
        Inside `batch()`, `build` is held back until the batch ends.
        """
        if self._batched is not None:
            build(self.snapshot())  # refuse a call that is not allowed now, at the call
            self._batched.append(build)
            return
        for _ in range(MAX_ATTEMPTS):
            try:
                snapshot = self.snapshot()
                overrides = build(snapshot)
                if overrides is None:
                    return
                result = engine.apply(
                    self.backend,
                    self.target,
                    inputs=engine.Inputs(overrides=overrides, sensitivity=self.sensitivity),
                    confirm=functools.partial(_planned_from, snapshot=snapshot),
                    lock_timeout=self.lock_timeout,
                )
            except errors.ReconcilerError as exc:
                exc.redacted_with(self.sensitivity)
                raise
            if not _planned_from(result.plan, snapshot=snapshot):
                continue
            if not result.ok:
                raise _apply_error(result).redacted_with(self.sensitivity)
            for warning in result.plan.warnings:
                warnings.warn(warning, UserWarning, stacklevel=3)
            return
        raise errors.ConflictError(
            f"gave up after {MAX_ATTEMPTS} attempts: the state kept changing underneath",
            detail=f"{self.backend.name} is being written by other runs without pause",
            hint="retry the call when the other runs are done",
        )


def _together(
    builds: list[Callable[[Snapshot], Overrides | None]], snapshot: Snapshot
) -> Overrides | None:
    """The requests of every build in a batch, as one set of overrides."""
    parts = [found for build in builds if (found := build(snapshot)) is not None]
    if not parts:
        return None
    return Overrides.of(
        source="SDK batch",
        state_requests=tuple(r for p in parts for r in p.state_requests),
        resources=tuple(r for p in parts for r in p.resources),
        deletes=tuple(d for p in parts for d in p.deletes),
        deployments=tuple(d for p in parts for d in p.deployments),
        upgrades=tuple(u for p in parts for u in p.upgrades),
    )


def _names(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise errors.ClientTypeError(
            f"sensitive_names must be a list of names or patterns, not {names!r}",
            hint='pass sensitive_names=["MY_PLATFORM_KEY", "*_DSN"]',
        )
    return tuple(names)


def _planned_from(plan: Plan, *, snapshot: Snapshot) -> bool:
    return (plan.prior_lineage, plan.prior_serial) == (snapshot.lineage, snapshot.serial)


def _apply_error(result: engine.ApplyResult) -> errors.ApplyError:
    lines = [f"{change.address}: {error.summary}" for change, error in result.failed]
    lines += [
        f"{change.address}: skipped (depends on a failed change)" for change in result.skipped
    ]
    lines += [
        f"{change.address} {experiment}: {error.summary}"
        for change, experiment, error in result.roll_failed
    ]
    lines += [
        f"{change.address} {experiment}: skipped (depends on a failed change)"
        for change, experiment in result.roll_skipped
    ]
    if result.interrupted:
        lines.append("the apply was interrupted before every change ran")
    failed = len(result.failed) + len(result.roll_failed)
    skipped = len(result.skipped) + len(result.roll_skipped)
    applied = len(result.applied) + len(result.rolled)
    return errors.ApplyError(
        f"the call was only partly applied: {failed} failed, {skipped} skipped, {applied} applied",
        detail="\n".join(lines),
        hint="fix the cause above and repeat the call: what was applied is recorded in the "
        "state, so repeating it converges",
    )
