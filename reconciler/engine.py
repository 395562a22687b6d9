"""The engine: the only place that orchestrates side effects.

plan:  read state → desired catalog (values, overrides, prior intents) → desired
       deployments (new ones, requested upgrades) → compute_plan.
apply: lock → read state → (saved plan: staleness check) → confirm → execute catalog
       changes in dependency order, then roll deployment compositions, all with bounded
       parallelism → persist state in batches → unlock.

A failed change skips what depends on it while the rest continues; every batch that
completes is persisted, so a crash or SIGTERM leaves a valid state and a re-run
converges. A composition is the unit of a rollout: each one records its new version as
it completes, so a deployment half rolled when something failed shows exactly which
compositions moved. The state write is a compare-and-swap on the etag read under the
lock, so even a writer that lost its lock cannot overwrite a newer state.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from reconciler import __version__, bootstrap, ceiling, deployments, errors, manifests, state
from reconciler.backends import Backend, Blob, utc_now
from reconciler.desired import build_desired
from reconciler.model import (
    GLOBAL_WORKSPACE,
    Composition,
    Deployment,
    Kind,
    Resource,
    check_id,
    composition_address,
    image_of,
)
from reconciler.overrides import Overrides, UpgradeRequest
from reconciler.plan import Action, Change, DeploymentChange, Plan, compute_plan
from reconciler.targets import Target
from reconciler.values import Values

TOOL_VERSION = __version__
# A long apply persists state every PERSIST_EVERY changes or PERSIST_SECONDS, whichever
# comes first: often enough that a crash loses little, rarely enough that rewriting a
# large state document does not dominate the apply.
PERSIST_EVERY = 5000
PERSIST_SECONDS = 10.0
CHUNK = 500  # changes handed to the worker pool at once (and checked for a stop request)
DEFAULT_PARALLELISM = 10


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything a plan is computed from. `values` None: the platform source is unchanged.

    `upgrades` are requested on the command line; they follow the overrides' own.
    """

    values: Values | None = None
    overrides: Overrides | None = None
    upgrades: tuple[UpgradeRequest, ...] = ()

    @property
    def digest(self) -> str:
        parts = [
            f"values:{self.values.digest if self.values else '-'}",
            f"overrides:{self.overrides.digest if self.overrides else '-'}",
        ]
        if self.upgrades:
            requests = repr([(r.deployment, r.targets, r.single) for r in self.upgrades])
            parts.append(f"upgrades:{hashlib.sha256(requests.encode()).hexdigest()}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass
class ApplyResult:
    """What an apply did. `state` is the state persisted last (None if nothing was written).

    Catalog changes are reported whole (`applied`, `failed`, `skipped`); deployment
    changes per composition, as (change, experiment id): `rolled`, `roll_failed` (with the
    error) and `roll_skipped` (a catalog change it needs failed).
    """

    plan: Plan
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, errors.ReconcilerError]] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)
    rolled: list[tuple[DeploymentChange, str]] = field(default_factory=list)
    roll_failed: list[tuple[DeploymentChange, str, errors.ReconcilerError]] = field(
        default_factory=list
    )
    roll_skipped: list[tuple[DeploymentChange, str]] = field(default_factory=list)
    state: state.StateDocument | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not (
            self.failed or self.skipped or self.roll_failed or self.roll_skipped or self.interrupted
        )


# Reading --------------------------------------------------------------------------------


def read_state(backend: Backend) -> tuple[state.StateDocument | None, Blob | None]:
    blob = backend.read()
    if blob is None:
        return None, None
    return state.decode(blob.data, source=backend.name), blob


def plan_from(prior: state.StateDocument | None, inputs: Inputs) -> Plan:
    """The plan from a prior state (None: no state yet) and the inputs. Pure."""
    resources = prior.by_address if prior else {}
    values = inputs.values
    platform = bootstrap.platform_catalog(values) if values is not None else None
    desired = build_desired(
        resources,
        platform=platform,
        overrides=inputs.overrides,
        locate=lambda address: bootstrap.locate(values, address) if values else address,
    )
    running = prior.deployments_by_address if prior else {}
    wanted = deployments.build_deployments(
        running, catalog=desired, overrides=inputs.overrides, upgrades=inputs.upgrades
    )
    return compute_plan(
        resources,
        desired,
        tool_version=TOOL_VERSION,
        prior_lineage=prior.lineage if prior else None,
        prior_serial=prior.serial if prior else 0,
        input_digest=inputs.digest,
        prior_deployments=running,
        desired_deployments=wanted.deployments,
        warnings=wanted.warnings,
        notes=wanted.notes,
    )


def plan(backend: Backend, inputs: Inputs) -> Plan:
    """Plan without locking: a plan only reads, and apply re-checks it under the lock."""
    prior, _ = read_state(backend)
    return plan_from(prior, inputs)


def check_fresh(saved: Plan, prior: state.StateDocument | None) -> None:
    """Refuse a saved plan whose prior state, or tool, is no longer the current one."""
    lineage = prior.lineage if prior else None
    serial = prior.serial if prior else 0
    if saved.tool_version != TOOL_VERSION:
        raise errors.StalePlanError(
            "saved plan is stale: it was made by another version of the tool",
            detail=f"plan made by {saved.tool_version}, this is {TOOL_VERSION}",
        )
    if saved.prior_lineage is not None and saved.prior_lineage != lineage:
        raise errors.StalePlanError(
            "saved plan is stale: it was made from a different state",
            detail=f"plan lineage {saved.prior_lineage}, state lineage {lineage}",
        )
    if saved.prior_serial != serial:
        raise errors.StalePlanError(
            "saved plan is stale: the state changed since it was made",
            detail=f"plan made at serial {saved.prior_serial}, state is now at serial {serial}",
        )


def create_workspace(backend: Backend, name: str, *, lock_timeout: float = 0.0) -> None:
    """Record a workspace in state; an existing one is an error."""
    check_id(name, what="a workspace")
    lock = backend.lock(operation="create workspace", timeout=lock_timeout)
    try:
        prior, blob = read_state(backend)
        document = prior or state.empty(TOOL_VERSION)
        if name == GLOBAL_WORKSPACE or name in document.workspaces:
            raise errors.ConflictError(
                f"workspace {name} already exists", hint=f"use client.workspaces.get({name!r})"
            )
        new = state.successor(
            document,
            document.by_address,
            tool_version=TOOL_VERSION,
            workspaces=(*document.workspaces, name),
        )
        backend.write(state.encode(new), if_match=blob.etag if blob else None)
    finally:
        backend.unlock(lock.id)


# Applying -------------------------------------------------------------------------------


def apply(
    backend: Backend,
    target: Target,
    *,
    inputs: Inputs | None = None,
    saved: Plan | None = None,
    confirm: Callable[[Plan], bool] = lambda _plan: True,
    lock_timeout: float = 0.0,
    parallelism: int = DEFAULT_PARALLELISM,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Apply a saved plan, or plan from `inputs` and apply that, under the state lock."""
    if (saved is None) == (inputs is None):
        raise errors.UsageError("apply needs either inputs or a saved plan, not both")
    lock = backend.lock(operation="apply", timeout=lock_timeout)
    try:
        prior, blob = read_state(backend)
        if saved is not None:
            check_fresh(saved, prior)
            the_plan = saved
        else:
            assert inputs is not None
            the_plan = plan_from(prior, inputs)
        result = ApplyResult(plan=the_plan)
        if not the_plan.has_changes or not confirm(the_plan):
            return result
        _execute(
            the_plan,
            prior or state.empty(TOOL_VERSION),
            stored=prior,
            etag=blob.etag if blob else None,
            backend=backend,
            target=target,
            result=result,
            parallelism=parallelism,
            stop=stop or threading.Event(),
        )
        return result
    finally:
        backend.unlock(lock.id)


def _execute(
    the_plan: Plan,
    document: state.StateDocument,
    *,
    stored: state.StateDocument | None,
    etag: str | None,
    backend: Backend,
    target: Target,
    result: ApplyResult,
    parallelism: int,
    stop: threading.Event,
) -> None:
    resources = dict(document.by_address)
    running = dict(document.deployments_by_address)
    blocked: set[str] = set()  # addresses whose change failed or was skipped
    pending = 0
    last_persist = time.monotonic()

    def persist() -> None:
        nonlocal document, stored, etag, pending, last_persist
        new = state.successor(document, resources, tool_version=TOOL_VERSION, deployments=running)
        state.check_successor(stored, new)
        etag = backend.write(state.encode(new), if_match=etag)
        document = stored = result.state = new
        pending = 0
        last_persist = time.monotonic()

    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        for batch in _batches(the_plan.changes):
            if stop.is_set():
                result.interrupted = True
                break
            runnable = []
            for change in batch:
                if _dependencies(change) & blocked:
                    result.skipped.append(change)
                    blocked.add(change.address)
                else:
                    runnable.append(change)
            now = utc_now()
            outcomes = pool.map(functools.partial(_run, target=target, now=now), runnable)
            for change, outcome in zip(runnable, outcomes, strict=True):
                if isinstance(outcome, errors.ReconcilerError):
                    result.failed.append((change, outcome))
                    blocked.add(change.address)
                    continue
                if outcome is None:
                    resources.pop(change.address, None)
                else:
                    resources[change.address] = outcome
                result.applied.append(change)
                pending += 1
            if pending and (
                pending >= PERSIST_EVERY or time.monotonic() - last_persist >= PERSIST_SECONDS
            ):
                persist()
        for changes in _roll_batches(the_plan.deployments):
            if result.interrupted or stop.is_set():
                result.interrupted = True
                break
            pending += _roll_batch(
                changes,
                running=running,
                resources=resources,
                blocked=blocked,
                target=target,
                pool=pool,
                result=result,
            )
            if pending and (
                pending >= PERSIST_EVERY or time.monotonic() - last_persist >= PERSIST_SECONDS
            ):
                persist()
        if pending:
            persist()


def _batches(changes: Sequence[Change]) -> Iterator[list[Change]]:
    """Runs of changes that may execute in parallel: same phase and kind, ≤ CHUNK."""
    batch: list[Change] = []
    key = None
    for change in changes:
        this = (change.action is Action.DELETE, change.kind)
        if batch and (this != key or len(batch) >= CHUNK):
            yield batch
            batch = []
        key = this
        batch.append(change)
    if batch:
        yield batch


def _roll_batches(changes: Sequence[DeploymentChange]) -> Iterator[list[DeploymentChange]]:
    """Whole deployment changes, about CHUNK compositions at a time."""
    batch: list[DeploymentChange] = []
    size = 0
    for change in changes:
        count = len(change.compositions_to_write())
        if batch and size + count > CHUNK:
            yield batch
            batch, size = [], 0
        batch.append(change)
        size += count
    if batch:
        yield batch


def _roll_batch(
    changes: list[DeploymentChange],
    *,
    running: dict[str, Deployment],
    resources: Mapping[str, Resource],
    blocked: set[str],
    target: Target,
    pool: ThreadPoolExecutor,
    result: ApplyResult,
) -> int:
    """Write the compositions of `changes` in parallel and record each one that landed in
    `running`; the number of compositions recorded."""
    now = utc_now()
    tasks: list[tuple[DeploymentChange, Deployment, Composition]] = []
    for change in changes:
        after = change.after
        if change.action is Action.CREATE and not after.uid:
            after = after.with_(uid=str(uuid.uuid4()))
        for composition in change.compositions_to_write():
            needs = {composition.runtime, composition.image_version}
            if (needs | {image_of(composition.image_version)}) & blocked:
                result.roll_skipped.append((change, composition.experiment_id))
            else:
                tasks.append((change, after, composition))
    outcomes = pool.map(functools.partial(_roll, target=target, resources=resources), tasks)
    landed: dict[str, dict[str, Composition]] = defaultdict(dict)
    for (change, _, composition), outcome in zip(tasks, outcomes, strict=True):
        if isinstance(outcome, errors.ReconcilerError):
            result.roll_failed.append((change, composition.experiment_id, outcome))
        else:
            result.rolled.append((change, composition.experiment_id))
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
            base = running[change.address]
        compositions = tuple(done.get(c.experiment_id, c) for c in base.compositions)
        running[change.address] = base.with_(compositions=compositions, last_modified_time=now)
        recorded += len(done)
    return recorded


def _roll(
    task: tuple[DeploymentChange, Deployment, Composition],
    *,
    target: Target,
    resources: Mapping[str, Resource],
) -> Composition | errors.ReconcilerError:
    """Write one composition's manifest: on a cluster, a zero-downtime rolling update."""
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
    try:
        document = manifests.composition_manifest(
            deployment, composition, runtime=runtime, version=version
        )
        target.put(address, document)
    except errors.ReconcilerError as exc:
        change = task[0]
        previous = change.before.composition(composition.experiment_id) if change.before else None
        if previous is None:
            return exc
        return _roll_back(
            exc, deployment, previous, address=address, target=target, resources=resources
        )
    return composition.with_(last_applied=manifests.digest(document))


def _roll_back(
    failure: errors.ReconcilerError,
    deployment: Deployment,
    previous: Composition,
    *,
    address: str,
    target: Target,
    resources: Mapping[str, Resource],
) -> errors.ReconcilerError:
    """Put a composition whose rollout failed back on the image it ran, and say so.

    The state still records the previous version, so after this the composition runs
    exactly what the state says; a re-run of the upgrade tries again.
    """
    label = previous.image_version.rsplit("/", 1)[1]
    try:
        document = manifests.composition_manifest(
            deployment,
            previous,
            runtime=resources[previous.runtime],
            version=resources[previous.image_version],
        )
        target.put(address, document)
        outcome = f"rolled back to {label}"
    except (KeyError, errors.ReconcilerError) as exc:
        why = exc.summary if isinstance(exc, errors.ReconcilerError) else f"{exc} is gone"
        outcome = f"rolling back to {label} failed too: {why}"
    return errors.TargetError(
        f"{failure.summary}; {outcome}",
        detail=failure.detail,
        hint=failure.hint or "fix the cause and run the upgrade again",
    )


def _dependencies(change: Change) -> set[str]:
    """Addresses whose failure must skip this change."""
    if change.action is Action.DELETE:
        return set()  # children are deleted first; a parent whose child failed still goes
    if change.kind is Kind.VERSION:
        return {image_of(change.address)}
    if change.kind is Kind.RUNTIME:
        assert change.after is not None
        target = change.after.spec["runtime_image"]
        return {target, image_of(target)} if "/versions/" in target else {target}
    return set()


def _run(change: Change, *, target: Target, now: str) -> Resource | errors.ReconcilerError | None:
    """Carry out one change on the target; the resource to record, or None when deleted."""
    try:
        if change.action is Action.DELETE:
            target.delete(change.address)
            return None
        record = _recorded(change, now)
        document = manifests.manifest(record)
        applied = manifests.digest(document)
        if change.action is Action.REPLACE:
            target.delete(change.address)
        if applied != record.last_applied:  # a held change may leave the manifest as it is
            target.put(change.address, document)
        return record.with_(last_applied=applied)
    except errors.ReconcilerError as exc:
        return exc


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
