"""Executing changes: carrying a plan's changes out on a target, batch by batch.

Catalog changes run in batches of one phase and kind (`batches`), deployment rollouts in
batches of whole deployments (`roll_batches`), each batch with bounded parallelism. A
change whose dependency failed or was skipped is skipped in turn, while the rest continue.
A composition is the unit of a rollout: each one records its new version and runtime
configuration as it completes, so a deployment half rolled when something failed shows
exactly which compositions moved, and one whose rollout fails is put back on the version
and configuration it ran. What lands is recorded in the catalog and deployments the
`Executor` was given, so whatever its caller persists between batches is what the target
holds.

Not here: locking, reading and writing state, when to persist and when to stop (engine.py);
what to change (planning/diff.py); the manifests themselves (targets/manifests.py,
planning/workloads.py).
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from reconciler import errors
from reconciler.addresses import composition_address, image_of, name_of
from reconciler.model import Composition, Deployment, Kind, Resource
from reconciler.planning import ceiling, workloads
from reconciler.planning.plan import Action, Change, DeploymentChange
from reconciler.targets import Target, manifests


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch of catalog changes did: `applied` landed, `failed` (with the error)
    did not, `skipped` were not tried because a change they depend on failed."""

    applied: tuple[Change, ...]
    failed: tuple[tuple[Change, errors.ReconcilerError], ...]
    skipped: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class RolloutResult:
    """What a batch of deployment changes did, per composition as (change, experiment id):
    `rolled`, `failed` (with the error), `skipped` (a catalog change it needs failed) and
    `not_attempted` (upgrades not started once `max_failures` rollouts had failed).
    `recorded` counts the compositions now recorded as running."""

    rolled: tuple[tuple[DeploymentChange, str], ...]
    failed: tuple[tuple[DeploymentChange, str, errors.ReconcilerError], ...]
    skipped: tuple[tuple[DeploymentChange, str], ...]
    recorded: int
    not_attempted: tuple[tuple[DeploymentChange, str], ...] = ()


def batches(changes: Sequence[Change], *, size: int) -> Iterator[list[Change]]:
    """Runs of changes that may execute in parallel: same phase and kind, ≤ `size`."""
    batch: list[Change] = []
    key = None
    for change in changes:
        this = (change.action is Action.DELETE, change.kind)
        if batch and (this != key or len(batch) >= size):
            yield batch
            batch = []
        key = this
        batch.append(change)
    if batch:
        yield batch


def roll_batches(
    changes: Sequence[DeploymentChange], *, size: int
) -> Iterator[list[DeploymentChange]]:
    """Whole deployment changes, about `size` compositions at a time."""
    batch: list[DeploymentChange] = []
    count = 0
    for change in changes:
        compositions = len(change.compositions_to_write())
        if batch and count + compositions > size:
            yield batch
            batch, count = [], 0
        batch.append(change)
        count += compositions
    if batch:
        yield batch


class Executor:
    """Runs changes on `target`, at most `parallelism` at once, until the `with` block ends.

    `resources` and `running` are the state's catalog and deployments by address; they are
    updated in place as changes land. `prior` is the catalog before any change landed and
    `retained` the older configurations the state keeps (default: none of either): a
    failed rollout goes back to the configuration it ran (workloads.pinned_configuration).
    A failure blocks what depends on it for the executor's
    lifetime, so deployments that need a failed catalog change are skipped too.
    Once `max_failures` upgrade rollouts have failed (None: no limit), no further upgrade
    is started: one bad image should not roll back every deployment. `on_rollout(event,
    composition address)` hears each rollout "started", then "rolled" or "failed".
    """

    def __init__(
        self,
        target: Target,
        *,
        resources: dict[str, Resource],
        running: dict[str, Deployment],
        parallelism: int,
        retained: Mapping[str, Mapping[str, Any]] | None = None,
        prior: Mapping[str, Resource] | None = None,
        max_failures: int | None = None,
        on_rollout: Callable[[str, str], None] | None = None,
    ) -> None:
        self.target = target
        self.resources = resources
        self.running = running
        self.retained = retained or {}
        self.prior = prior or {}
        self.max_failures = max_failures
        self.on_rollout = on_rollout or (lambda _event, _address: None)
        self._failures = 0
        self._count = threading.Lock()
        self._blocked: set[str] = set()  # addresses whose change failed or was skipped
        self._pool = ThreadPoolExecutor(max_workers=max(1, parallelism))

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.shutdown(wait=True)

    def run(self, batch: Sequence[Change], *, now: str) -> BatchResult:
        """Carry out a batch of catalog changes in parallel; `now` stamps what they record."""
        runnable, skipped = [], []
        for change in batch:
            if _dependencies(change) & self._blocked:
                skipped.append(change)
                self._blocked.add(change.address)
            else:
                runnable.append(change)
        outcomes = self._pool.map(functools.partial(_run, target=self.target, now=now), runnable)
        applied, failed = [], []
        for change, outcome in zip(runnable, outcomes, strict=True):
            if isinstance(outcome, errors.ReconcilerError):
                failed.append((change, outcome))
                self._blocked.add(change.address)
                continue
            if outcome is None:
                self.resources.pop(change.address, None)
            else:
                self.resources[change.address] = outcome
            applied.append(change)
        return BatchResult(tuple(applied), tuple(failed), tuple(skipped))

    def roll(self, changes: Sequence[DeploymentChange], *, now: str) -> RolloutResult:
        """Write the compositions of `changes` in parallel and record in `running` each
        deployment whose compositions landed; `now` stamps what they record."""
        tasks: list[tuple[DeploymentChange, Deployment, Composition]] = []
        skipped = []
        for change in changes:
            after = change.after
            if change.action is Action.CREATE and not after.uid:
                after = after.with_(uid=str(uuid.uuid4()))
            for composition in change.compositions_to_write():
                needs = {composition.runtime, composition.image_version}
                if (needs | {image_of(composition.image_version)}) & self._blocked:
                    skipped.append((change, composition.experiment_id))
                else:
                    tasks.append((change, after, composition))
        outcomes = self._pool.map(self._attempt, tasks)
        rolled, failed, not_attempted = [], [], []
        landed: dict[str, dict[str, Composition]] = defaultdict(dict)
        for (change, _, composition), outcome in zip(tasks, outcomes, strict=True):
            if outcome is None:
                not_attempted.append((change, composition.experiment_id))
            elif isinstance(outcome, errors.ReconcilerError):
                failed.append((change, composition.experiment_id, outcome))
            else:
                rolled.append((change, composition.experiment_id))
                landed[change.address][composition.experiment_id] = outcome
        recorded = 0
        afters = {change.address: after for change, after, _ in tasks}
        for change in changes:
            done = landed.get(change.address)
            if not done:
                continue
            if change.action is Action.CREATE:
                if len(done) < len(change.after.compositions):
                    continue  # recorded once whole: a re-run writes the missing ones again
                base = afters[change.address].with_(created_time=now)
            else:
                base = self.running[change.address]
            compositions = tuple(done.get(c.experiment_id, c) for c in base.compositions)
            self.running[change.address] = base.with_(
                compositions=compositions, last_modified_time=now
            )
            recorded += len(done)
        return RolloutResult(
            tuple(rolled), tuple(failed), tuple(skipped), recorded, tuple(not_attempted)
        )

    @property
    def stopped(self) -> bool:
        """True once `max_failures` upgrade rollouts have failed."""
        return self.max_failures is not None and self._failures >= self.max_failures

    def _attempt(
        self, task: tuple[DeploymentChange, Deployment, Composition]
    ) -> Composition | errors.ReconcilerError | None:
        """Roll one composition, or None when upgrades have stopped after failures."""
        upgrade = task[0].action is Action.UPGRADE
        if upgrade and self.stopped:
            return None
        address = composition_address(task[1].address, task[2].experiment_id)
        self.on_rollout("started", address)
        outcome = _roll(
            task,
            target=self.target,
            resources=self.resources,
            retained=self.retained,
            prior=self.prior,
        )
        failed = isinstance(outcome, errors.ReconcilerError)
        self.on_rollout("failed" if failed else "rolled", address)
        if upgrade and failed:
            with self._count:
                self._failures += 1
        return outcome


def _dependencies(change: Change) -> set[str]:
    """Addresses whose failure must skip this change."""
    if change.action is Action.DELETE:
        return set()  # children are deleted first; a parent whose child failed still goes
    if change.kind is Kind.VERSION:
        return {image_of(change.address)}
    if change.kind is Kind.RUNTIME:
        assert change.after is not None
        target = change.after.spec["runtime_image"]
        return {target, image_of(target)}
    return set()


def _run(change: Change, *, target: Target, now: str) -> Resource | errors.ReconcilerError | None:
    """Carry out one change on the target; the resource to record, or None when deleted."""
    try:
        if change.action is Action.DELETE:
            target.delete(change.address)
            _remove_secret(change.before, target=target)
            return None
        record = _recorded(change, now)
        document = manifests.manifest(record)
        secret = manifests.runtime_secret(record)
        applied = manifests.digest(document)
        if change.action is Action.REPLACE:
            target.delete(change.address)
        if applied != record.last_applied:  # a held change may leave the manifest as it is
            if secret is not None:
                target.put(workloads.secret_address(change.address), secret)
            else:
                _remove_secret(change.before, target=target)
            target.put(change.address, document)
        return record.with_(last_applied=applied)
    except errors.ReconcilerError as exc:
        return exc


def _remove_secret(before: Resource | None, *, target: Target) -> None:
    """Remove the Secret a runtime had, when it had one (a deleted runtime, or one whose
    secret values are gone)."""
    if before is not None and manifests.runtime_secret(before) is not None:
        target.delete(workloads.secret_address(before.address))


def _write_workload(
    address: str,
    deployment: Deployment,
    composition: Composition,
    *,
    runtime: Resource,
    version: Resource,
    target: Target,
    had_secret: bool = False,
) -> dict[str, Any]:
    """Write a composition's Secret (when its configuration has secret values), then roll
    its workload; the workload's manifest. When the composition `had_secret` and its new
    configuration has none, the Secret goes once the rollout is done (pods of the old
    workload read it until they are replaced)."""
    secret = workloads.composition_secret(deployment, composition, runtime=runtime)
    if secret is not None:
        target.put(workloads.secret_address(address), secret)
    document = workloads.composition_manifest(
        deployment, composition, runtime=runtime, version=version
    )
    target.roll(address, document, timeout=None)
    if had_secret and secret is None:
        target.delete(workloads.secret_address(address))
    return document


def _recorded(change: Change, now: str) -> Resource:
    """The resource as state records it after the change: uid and times filled in."""
    after, before = change.after, change.before
    assert after is not None
    if before is None or change.action is Action.REPLACE:
        return after.with_(
            # A replacement is a new object: it gets a uid of its own.
            uid=str(uuid.uuid4()) if before is not None or not after.uid else after.uid,
            created_time=now,
            last_modified_time=now,
            state_updated_time=now,
            last_applied="",
        )
    old = ceiling.effective(before.platform, before.user)
    new = ceiling.effective(after.platform, after.user)
    return after.with_(
        last_modified_time=now if change.fields else before.last_modified_time,
        state_updated_time=now if old != new else before.state_updated_time,
    )


def _roll(
    task: tuple[DeploymentChange, Deployment, Composition],
    *,
    target: Target,
    resources: Mapping[str, Resource],
    retained: Mapping[str, Mapping[str, Any]],
    prior: Mapping[str, Resource],
) -> Composition | errors.ReconcilerError:
    """Write one composition's manifest and wait for it to serve: on a cluster, a
    zero-downtime rolling update. The composition is recorded pinned to the configuration
    it was written with."""
    _, deployment, composition = task
    runtime = resources.get(composition.runtime)
    version = resources.get(composition.image_version)
    if runtime is None or version is None:
        return errors.PlanError(
            f"{deployment.address} {composition.experiment_id}: "
            f"{composition.runtime if runtime is None else composition.image_version} "
            "is not in the state",
            hint="plan again: the catalog changed since this plan was made",
        )
    address = composition_address(deployment.address, composition.experiment_id)
    change = task[0]
    previous = change.before.composition(composition.experiment_id) if change.before else None
    ran = (
        None
        if previous is None
        else _runtime_of(previous, resources=resources, retained=retained, prior=prior)
    )
    try:
        document = _write_workload(
            address,
            deployment,
            composition,
            runtime=runtime,
            version=version,
            target=target,
            had_secret=previous is not None
            and ran is not None
            and workloads.composition_secret(deployment, previous, runtime=ran) is not None,
        )
    except errors.ReconcilerError as exc:
        if previous is None:
            return exc
        return _roll_back(
            exc,
            deployment,
            previous,
            address=address,
            target=target,
            runtime=ran,
            resources=resources,
        )
    return composition.with_(
        configuration=workloads.runtime_configuration(runtime),
        last_applied=workloads.digest(document),
    )


def _runtime_of(
    composition: Composition,
    *,
    resources: Mapping[str, Resource],
    retained: Mapping[str, Mapping[str, Any]],
    prior: Mapping[str, Resource],
) -> Resource | None:
    """The runtime as it gave the configuration `composition` is pinned to. One whose
    configuration is not known (pinned before configurations were, and older than the
    runtime's) can only be written with the runtime's current one."""
    runtime = resources.get(composition.runtime)
    if runtime is None or workloads.runtime_configuration(runtime) == composition.configuration:
        return runtime
    pinned = workloads.pinned_configuration(composition, retained=retained, prior=prior)
    if pinned is None:
        return runtime
    return workloads.as_configured(runtime, pinned)


def _roll_back(
    failure: errors.ReconcilerError,
    deployment: Deployment,
    previous: Composition,
    *,
    address: str,
    target: Target,
    runtime: Resource | None,
    resources: Mapping[str, Resource],
) -> errors.ReconcilerError:
    """Put a composition whose rollout failed back on the image and configuration it ran
    (`runtime`, see `_runtime_of`), wait for that rollout too, and say so.

    The state still records the previous version and configuration, so after this the
    composition runs what the state says; a re-run of the upgrade tries again.
    """
    label = name_of(previous.image_version)
    try:
        if runtime is None:
            raise KeyError(previous.runtime)
        _write_workload(
            address,
            deployment,
            previous,
            runtime=runtime,
            version=resources[previous.image_version],
            target=target,
        )
        outcome = f"rolled back to {label}"
    except (KeyError, errors.ReconcilerError) as exc:
        why = exc.summary if isinstance(exc, errors.ReconcilerError) else f"{exc} is gone"
        outcome = f"rolling back to {label} failed too: {why}"
    return errors.TargetError(
        f"{failure.summary}; {outcome}",
        detail=failure.detail,
        hint=failure.hint or "fix the cause and run the upgrade again",
    )
