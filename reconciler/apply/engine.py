"""The engine: the only place that orchestrates side effects.

plan:  read state → desired catalog (values, overrides, prior intents) → desired
       deployments (new ones, requested upgrades) → compute_plan.
apply: lock → read state → (saved plan: staleness check) → refuse a plan whose writes
       conflict with other field managers (unless forced) → remove what a killed
       predecessor left on the target → confirm → hand the catalog
       changes, then the deployment rollouts, to the executor batch by batch → persist
       state in batches → unlock.

Every batch that completes is persisted, and a stop request is honoured between batches,
so a crash or SIGTERM leaves a valid state and a re-run converges. The state write is a
compare-and-swap on the etag read under the lock, so even a writer that lost its lock
cannot overwrite a newer state. How each change is carried out on the target (parallelism,
skipping what depends on a failure, rolling back a failed rollout) is executor.py's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler import __version__, errors, sensitive
from reconciler.addresses import Address, check_id, parse_composition
from reconciler.backends import Backend, Blob, LockInfo, utc_now
from reconciler.inputs import bootstrap
from reconciler.inputs.requests import Overrides, UpgradeRequest
from reconciler.inputs.values import Values
from reconciler.model import GLOBAL_WORKSPACE, Resource
from reconciler.planning import deployments, state, workloads
from reconciler.planning.desired import build_desired
from reconciler.planning.diff import compute_plan
from reconciler.planning.plan import Change, DeploymentChange, Plan
from reconciler.planning.upgrades import Resolver
from reconciler.targets import Observable, Target, conflicts, drift

TOOL_VERSION = __version__


@dataclass(frozen=True, slots=True, kw_only=True)
class Batching:
    """How an apply cuts its work: `size` changes (or compositions) are handed to the
    executor at once and a stop request is checked between batches; state is persisted
    every `persist_every` changes or `persist_seconds`, whichever comes first.

    The defaults persist often enough that a crash loses little, and rarely enough that
    rewriting a large state document does not dominate the apply.
    """

    size: int = 500
    persist_every: int = 5000
    persist_seconds: float = 10.0


DEFAULT_PARALLELISM = 10


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything a plan is computed from. `values` None: the platform source is unchanged.

    `upgrades` are requested on the command line; they follow the overrides' own.
    """

    values: Values | None = None
    overrides: Overrides | None = None
    upgrades: tuple[UpgradeRequest, ...] = ()
    # Names the user marked sensitive (beside the values' `sensitiveNames`): their values
    # are kept in Secrets from now on.
    sensitivity: sensitive.Sensitivity = sensitive.DEFAULT


@dataclass
class ApplyResult:
    """What an apply did. `state` is the state persisted last (None if nothing was written),
    `persisted` how many of the changes carried out it records.

    Catalog changes are reported whole (`applied`, `failed`, `skipped`); deployment
    changes per composition, as (change, experiment id): `rolled`, `roll_failed` (with the
    error), `roll_skipped` (a catalog change it needs failed) and `roll_not_attempted`
    (upgrades not started: the canaries or `max_failures` rollouts failed; a re-run
    continues with them).
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
    roll_not_attempted: list[tuple[DeploymentChange, str]] = field(default_factory=list)
    state: state.StateDocument | None = None
    persisted: int = 0
    interrupted: bool = False
    corrected: list[str] = field(default_factory=list)  # drifted objects written again

    @property
    def ok(self) -> bool:
        return not (
            self.failed
            or self.skipped
            or self.roll_failed
            or self.roll_skipped
            or self.roll_not_attempted
            or self.interrupted
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
    sensitivity = inputs.sensitivity
    if values is not None:
        sensitivity = sensitivity.with_names(sensitive.names_from_values(values.data))
    desired = workloads.marked(desired, sensitivity, prior=resources)
    running = prior.deployments_by_address if prior else {}
    resolver = Resolver(desired)  # one per plan: requests and diff share what it finds
    wanted = deployments.build_deployments(
        running,
        catalog=desired,
        overrides=inputs.overrides,
        upgrades=inputs.upgrades,
        resolver=resolver,
    )
    return compute_plan(
        resources,
        desired,
        tool_version=TOOL_VERSION,
        prior_lineage=prior.lineage if prior else None,
        prior_serial=prior.serial if prior else 0,
        prior_deployments=running,
        desired_deployments=wanted.deployments,
        warnings=wanted.warnings,
        notes=wanted.notes,
        resolver=resolver,
    )


def plan(
    backend: Backend, inputs: Inputs, *, target: Target | None = None, refresh: bool = True
) -> Plan:
    """Plan without locking: a plan only reads, and apply re-checks it under the lock.

    With a `target` that can be observed and `refresh`, the plan also lists the objects
    changed or deleted there outside the tool (`Plan.drift`), and the fields its writes
    would take from other field managers there (`Plan.conflicts`).
    """
    prior, _ = read_state(backend)
    found = plan_from(prior, inputs)
    if refresh and target is not None:
        found = with_drift(found, prior, target)
    return found


def with_drift(the_plan: Plan, prior: state.StateDocument | None, target: Target) -> Plan:
    """`the_plan` with the drift a refresh of `target` finds against `prior`, and the
    conflicts with other field managers its writes would meet there (`Plan.conflicts`,
    from the same refresh); unchanged when the target cannot be observed."""
    if prior is None or not isinstance(target, Observable):
        return the_plan
    expected = drift.written(
        prior.by_address, prior.deployments_by_address, configurations=prior.configurations
    )
    observed = target.observe(expected)
    found = drift.compare(expected, observed)
    with_found = dataclasses.replace(the_plan, drift=found) if found else the_plan
    contested = conflicts.contested(observed)
    clashes = (
        conflicts.find(
            conflicts.writes(with_found, prior.by_address, expected=expected, among=contested),
            observed,
        )
        if contested
        else ()
    )
    if not clashes:
        return with_found
    return dataclasses.replace(
        with_found, conflicts=clashes, force_conflicts=target.force_conflicts
    )


def refuse_conflicts(the_plan: Plan, target: Target) -> None:
    """Refuse, before anything is written, a plan whose writes meet fields other field
    managers own, unless `target` takes them over (`--force-conflicts`): one error that
    lists them all, rather than an apply stopped halfway by the first one."""
    if not the_plan.conflicts or (isinstance(target, Observable) and target.force_conflicts):
        return
    listed = [f"{c.address}: {c.path} (owned by {c.manager})" for c in the_plan.conflicts]
    count = len(listed)
    made_forced = (
        ["The plan was made with --force-conflicts; its apply must be given it too."]
        if the_plan.force_conflicts
        else []
    )
    raise errors.ApplyError(
        f"apply refused: {count} field{'s' if count != 1 else ''} the plan writes "
        f"{'are' if count != 1 else 'is'} owned by another field manager; nothing was written",
        detail="\n".join([*listed, *made_forced]),
        hint="take them over with --force-conflicts, or have that manager give them up "
        "(or set the values the plan sets), then plan again",
    )


def check_fresh(
    saved: Plan, prior: state.StateDocument | None, *, source: str = "saved plan"
) -> None:
    """Refuse a saved plan whose prior state, or tool, is no longer the current one, or
    whose changes do not start from that state; errors are prefixed with `source`.

    The consistency check is what makes applying a plan safe even when its file was
    rewritten with a valid digest, or the state edited without a new serial: every change
    must start exactly where the state is (`before` equal to the state's entry, a create
    only where nothing is), so no change lands on something its reviewer did not see.
    """
    lineage = prior.lineage if prior else None
    serial = prior.serial if prior else 0
    if saved.tool_version != TOOL_VERSION:
        raise errors.StalePlanError(
            f"{source}: saved plan is stale: it was made by another version of the tool",
            detail=f"plan made by {saved.tool_version}, this is {TOOL_VERSION}",
        )
    if saved.prior_lineage is not None and saved.prior_lineage != lineage:
        raise errors.StalePlanError(
            f"{source}: saved plan is stale: it was made from a different state",
            detail=f"plan lineage {saved.prior_lineage}, state lineage {lineage}",
        )
    if saved.prior_serial != serial:
        raise errors.StalePlanError(
            f"{source}: saved plan is stale: the state changed since it was made",
            detail=f"plan made at serial {saved.prior_serial}, state is now at serial {serial}",
        )
    resources = prior.by_address if prior else {}
    for change in saved.changes:
        problem = _misfit(change, resources.get(change.address))
        if problem:
            raise _inconsistent(source, change.address, problem)
    running = prior.deployments_by_address if prior else {}
    for rolled in saved.deployments:
        current = running.get(rolled.address)
        if rolled.after.address != rolled.address:
            problem = f"its result is {rolled.after.address}"
        elif rolled.before != current:
            problem = _expected(rolled.before is None, current is None)
        else:
            continue
        raise _inconsistent(source, rolled.address, problem)


def _misfit(change: Change, current: Resource | None) -> str:
    """Why `change` cannot start from `current` (the state's entry at its address), or ""."""
    try:
        parsed = Address.parse(change.address)
    except errors.InputError:
        return "it is not a resource address"
    if str(parsed) != change.address or parsed.kind is not change.kind:
        return f"a {change.kind.value} cannot have this address"
    for side in (change.before, change.after):
        if side is not None and (side.address != change.address or side.kind is not change.kind):
            return f"it carries {side.kind.value} {side.address}"
    if change.before != current:
        return _expected(change.before is None, current is None)
    return ""


def _expected(creates: bool, absent: bool) -> str:
    if creates:
        return "the plan creates it, but the state already has it"
    if absent:
        return "the plan changes it, but the state has no such resource"
    return "the plan starts from another version of it than the state holds"


def _inconsistent(source: str, address: str, problem: str) -> errors.StalePlanError:
    return errors.StalePlanError(
        f"{source}: saved plan does not fit the state it was made from",
        detail=f"{address}: {problem}",
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


def only_refresh(the_plan: Plan) -> Plan:
    """What of `the_plan` a refresh-only run shows: the drift, with the conflicts of
    writing those objects back, and the information about the state as it is; none of the
    changes, rollouts or notes of the inputs."""
    drifted = {d.address for d in the_plan.drift}
    return dataclasses.replace(
        the_plan,
        changes=(),
        deployments=(),
        available=(),
        notes=(),
        conflicts=tuple(c for c in the_plan.conflicts if c.address in drifted),
    )


def refresh_only(
    backend: Backend, target: Target, *, lock_timeout: float = 0.0
) -> tuple[Plan, state.StateDocument | None]:
    """Record in state what a refresh of `target` found changed outside the tool, and
    change nothing on the target: (the plan listing that drift, the state written).

    Each drifted object's recorded digest becomes that of what the target holds (none for
    an object deleted there; a Secret's is its owner's), so later plans no longer report it
    as drift; an apply that changes the object writes the tool's version again. Nothing is
    written when nothing drifted, or when the target cannot be observed.
    """
    lock = backend.lock(operation="refresh", timeout=lock_timeout)
    try:
        prior, blob = read_state(backend)
        found = only_refresh(plan_from(prior, Inputs()))
        if prior is None or not isinstance(target, Observable):
            return found, None
        expected = drift.written(
            prior.by_address, prior.deployments_by_address, configurations=prior.configurations
        )
        observed = target.observe(expected)
        found = dataclasses.replace(found, drift=drift.compare(expected, observed))
        if not found.drift:
            return found, None
        resources = dict(prior.by_address)
        running = dict(prior.deployments_by_address)
        for item in found.drift:
            live = observed.get(item.address)
            digest = "" if live is None else workloads.digest(live)
            owner = workloads.owner_of_secret(item.address)
            if owner is not None:
                # The state keeps no digest of a Secret: its owner's stands for both, and
                # one that is not the owner's manifest's stops both being compared.
                digest = workloads.digest({"secret": digest})
            composition = parse_composition(owner or item.address)
            if composition is None:
                if (owner or item.address) in resources:
                    at = owner or item.address
                    resources[at] = resources[at].with_(last_applied=digest)
                continue
            address, experiment = composition
            deployment = running[address]
            running[address] = deployment.with_(
                compositions=tuple(
                    c.with_(last_applied=digest) if c.experiment_id == experiment else c
                    for c in deployment.compositions
                )
            )
        new = state.successor(prior, resources, tool_version=TOOL_VERSION, deployments=running)
        state.check_successor(prior, new)
        backend.write(state.encode(new), if_match=blob.etag if blob else None)
        return found, new
    finally:
        backend.unlock(lock.id)


# Applying -------------------------------------------------------------------------------


def apply(
    backend: Backend,
    target: Target,
    *,
    inputs: Inputs | None = None,
    saved: Plan | None = None,
    saved_source: str = "saved plan",
    confirm: Callable[[Plan], bool] = lambda _plan: True,
    lock_timeout: float = 0.0,
    parallelism: int = DEFAULT_PARALLELISM,
    stop: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
    batching: Batching = Batching(),
    refresh: bool = True,
    canary: int = 0,
    max_failures: int | None = None,
    on_rollout: Callable[[str, str], None] | None = None,
) -> ApplyResult:
    """Apply a saved plan, or plan from `inputs` and apply that, under the state lock.

    `saved_source` names the saved plan (its file) in the errors about it.

    Planning from `inputs` refreshes an observable target first (unless `refresh` is
    False), and the objects found changed outside the tool are written again before the
    plan's changes; a saved plan corrects the drift it lists. A plan whose writes conflict
    with other field managers (`Plan.conflicts`) is refused before anything is written,
    unless the target forces conflicts.

    Rollouts: the first `canary` deployment changes roll first, and the rest start only
    when all of those succeeded; once `max_failures` upgrade rollouts failed (None: no
    limit), no further upgrade starts. What did not start is `roll_not_attempted`.
    `on_rollout(event, composition address)` hears each rollout start and end.

    `progress(done, total)` is called after each batch, counting the catalog changes and
    deployments carried out (whether they landed, failed or were skipped) of the plan's.
    """
    if (saved is None) == (inputs is None):
        raise errors.UsageError("apply needs either inputs or a saved plan, not both")
    if canary < 0 or (max_failures is not None and max_failures < 1):
        raise errors.UsageError(
            f"canary {canary} and max_failures {max_failures} are out of range",
            hint="canary is zero or more deployments; max_failures is 1 or more, or None",
        )
    lock = backend.lock(operation="apply", timeout=lock_timeout)
    try:
        result = _apply_locked(
            backend,
            target,
            inputs=inputs,
            saved=saved,
            saved_source=saved_source,
            confirm=confirm,
            parallelism=parallelism,
            stop=stop,
            progress=progress,
            batching=batching,
            refresh=refresh,
            canary=canary,
            max_failures=max_failures,
            on_rollout=on_rollout,
        )
    except errors.ReconcilerError as failure:
        # The first failure is what the user must see; the lock's fate is part of it, and
        # an unlock failing after it (the storage is gone) must not take its place.
        _release_after(failure, backend, lock)
        raise
    except BaseException:
        with contextlib.suppress(errors.ReconcilerError):
            backend.unlock(lock.id)
        raise
    backend.unlock(lock.id)
    return result


def _release_after(failure: errors.ReconcilerError, backend: Backend, lock: LockInfo) -> None:
    """Release the lock after `failure`, and say in it what became of the lock."""
    try:
        backend.unlock(lock.id)
    except errors.ReconcilerError as unlock_error:
        fate = (
            f"The state lock (ID {lock.id}) could not be released either "
            f"({unlock_error.summary}); it is still held."
        )
        failure.detail = "\n".join(part for part in (failure.detail, fate) if part)
        release = (
            f"once {backend.name} is reachable again, release the lock with "
            f"`reconciler state force-unlock {lock.id}`, or let a run with --lock-timeout "
            "take it over after its TTL"
        )
        failure.hint = f"{failure.hint}; {release}" if failure.hint else release
        return
    if isinstance(failure, errors.ApplyStoppedError):
        failure.detail = "\n".join(
            part for part in (failure.detail, "The state lock was released.") if part
        )


def _apply_locked(
    backend: Backend,
    target: Target,
    *,
    inputs: Inputs | None,
    saved: Plan | None,
    saved_source: str,
    confirm: Callable[[Plan], bool],
    parallelism: int,
    stop: threading.Event | None,
    progress: Callable[[int, int], None] | None,
    batching: Batching,
    refresh: bool,
    canary: int,
    max_failures: int | None,
    on_rollout: Callable[[str, str], None] | None,
) -> ApplyResult:
    """Everything `apply` does while it holds the lock."""
    prior, blob = read_state(backend)
    if saved is not None:
        check_fresh(saved, prior, source=saved_source)
        the_plan = saved
    else:
        assert inputs is not None
        the_plan = plan_from(prior, inputs)
        if refresh:
            the_plan = with_drift(the_plan, prior, target)
    refuse_conflicts(the_plan, target)
    # Under the lock no other writer runs: what a killed one left half-done can go.
    target.remove_leftovers()
    result = ApplyResult(plan=the_plan)
    if not the_plan.has_changes or not confirm(the_plan):
        return result
    if the_plan.drift and prior is not None:
        # Before the plan's changes, and apart from them: correcting changes no state.
        _correct(the_plan, target=target, prior=prior)
        result.corrected += [d.address for d in the_plan.drift]
    try:
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
            progress=progress or (lambda _done, _total: None),
            batching=batching,
            canary=canary,
            max_failures=max_failures,
            on_rollout=on_rollout,
        )
    except errors.ReconcilerError as exc:
        raise _stopped(exc, result, backend=backend, target=target) from exc
    return result


def _stopped(
    exc: errors.ReconcilerError, result: ApplyResult, *, backend: Backend, target: Target
) -> errors.ApplyStoppedError:
    """The error of an apply that could not record what it did (the state write failed)."""
    carried = len(result.applied) + len(result.rolled)
    if result.state is None:
        recorded = f"the state records none of them: {backend.name} is as before this apply"
    else:
        recorded = (
            f"the state records {result.persisted} of them "
            f"(serial {result.state.serial} on {backend.name})"
        )
    return errors.ApplyStoppedError(
        f"apply stopped: {exc.summary}",
        detail="\n".join(
            part
            for part in (
                exc.detail,
                f"{carried} change(s) were carried out on {target.name}; {recorded}.",
            )
            if part
        ),
        hint="plan and apply again once the state storage works: the target already "
        "holds what was carried out, so the next apply converges",
    )


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
    progress: Callable[[int, int], None],
    batching: Batching,
    canary: int = 0,
    max_failures: int | None = None,
    on_rollout: Callable[[str, str], None] | None = None,
) -> None:
    # Imported here so that plans, which never execute, do not pay for the executor's
    # thread pool machinery at startup.
    from reconciler.apply import executor

    resources = dict(document.by_address)
    running = dict(document.deployments_by_address)
    # The catalog and retained configurations as they were before anything lands: a
    # composition pinned to a runtime's configuration that this apply changes can still
    # be put back on it, and the state keeps it while a composition runs it.
    prior, retained = document.by_address, document.configurations
    pending = 0
    last_persist = time.monotonic()

    def persist() -> None:
        nonlocal document, stored, etag, pending, last_persist
        new = state.successor(
            document,
            resources,
            tool_version=TOOL_VERSION,
            deployments=running,
            configurations=workloads.retain(
                running.values(), resources=resources, retained=retained, prior=prior
            ),
        )
        state.check_successor(stored, new)
        etag = backend.write(state.encode(new), if_match=etag)
        document = stored = result.state = new
        result.persisted += pending
        pending = 0
        last_persist = time.monotonic()

    def persist_if_due() -> None:
        if pending and (
            pending >= batching.persist_every
            or time.monotonic() - last_persist >= batching.persist_seconds
        ):
            persist()

    total, done = len(the_plan.changes) + len(the_plan.deployments), 0
    canary_failed = False
    with executor.Executor(
        target,
        resources=resources,
        running=running,
        parallelism=parallelism,
        retained=retained,
        prior=prior,
        max_failures=max_failures,
        on_rollout=on_rollout,
    ) as runner:
        for batch in executor.batches(the_plan.changes, size=batching.size):
            if stop.is_set():
                result.interrupted = True
                break
            ran = runner.run(batch, now=utc_now())
            result.applied += ran.applied
            result.failed += ran.failed
            result.skipped += ran.skipped
            pending += len(ran.applied)
            persist_if_due()
            done += len(batch)
            progress(done, total)
        canaries = list(the_plan.deployments[:canary])
        rest = the_plan.deployments[len(canaries) :]
        groups = [canaries] if canaries else []
        for changes in [*groups, *executor.roll_batches(rest, size=batching.size)]:
            if result.interrupted or stop.is_set():
                result.interrupted = True
                break
            if canary_failed:  # the rest start only once every canary is healthy
                result.roll_not_attempted += [
                    (change, c.experiment_id)
                    for change in changes
                    for c in change.compositions_to_write()
                ]
                done += len(changes)
                progress(done, total)
                continue
            rolled = runner.roll(changes, now=utc_now())
            if changes is canaries:
                canary_failed = bool(rolled.failed or rolled.skipped or rolled.not_attempted)
            result.rolled += rolled.rolled
            result.roll_failed += rolled.failed
            result.roll_skipped += rolled.skipped
            result.roll_not_attempted += rolled.not_attempted
            pending += rolled.recorded
            persist_if_due()
            done += len(changes)
            progress(done, total)
        if pending:
            persist()


def _correct(the_plan: Plan, *, target: Target, prior: state.StateDocument) -> None:
    """Write each drifted object again as the state says it is, before the plan's changes.

    The state does not change (it already records these objects), so a failure stops the
    apply with nothing to persist; a conflict with another field manager is refused here
    as in any write, unless the target forces conflicts.
    """
    expected = drift.written(
        prior.by_address, prior.deployments_by_address, configurations=prior.configurations
    )
    # Secrets first: a workload written again must find the values its pods read.
    secrets_first = sorted(
        the_plan.drift, key=lambda item: workloads.owner_of_secret(item.address) is None
    )
    for item in secrets_first:
        document = expected.get(item.address)
        if document is None:
            continue  # the state no longer records it: the plan's changes handle it
        try:
            if parse_composition(item.address) is not None:
                target.roll(item.address, document, timeout=None)
            else:
                target.put(item.address, document)
        except errors.ReconcilerError as exc:
            raise errors.ApplyError(
                f"correcting {item.address}, changed outside the tool, failed: {exc.summary}",
                detail=exc.detail,
                hint=exc.hint,
            ) from exc
