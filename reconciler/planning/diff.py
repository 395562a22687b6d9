"""Diffing: the plan that moves a prior state to a desired catalog.

`compute_plan` compares the desired resources with the prior state's and returns a
`Plan`: creates, field-level updates, replaces (an immutable field changed), state
moves naming the deciding source, resources held by the ceiling, and deletes (only of
API-managed resources explicitly asked for). Deployments are compared the same way:
new ones, and compositions rolling to another image version or to their runtime's current
configuration (`⇡`). For reviewers, a plan that changes images or versions also lists
the deployments it gives an upgrade (`available`), and every plan lists the compositions
that run an older configuration of their runtime once it is applied (`outdated`), whether
this plan changes the runtime or an earlier one did: information only, since nothing
rolls unless asked, but a plan is never silent about a workload that differs from what
its runtime now says. A plan records the
prior state's lineage and serial and a digest of its inputs, so that a plan saved for
later is refused once it is stale.

Pure: no files, no network, no clock. The plan's types are plan.py's and its JSON form
plan_codec.py's; applying lives in apply/engine.py, views in render.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.addresses import dotted, image_of, name_of
from reconciler.model import IMMUTABLE_FIELDS, Deployment, Kind, Resource, State
from reconciler.planning import ceiling
from reconciler.planning.plan import (
    Action,
    AvailableUpgrade,
    Change,
    CompositionUpgrade,
    DeploymentChange,
    FieldChange,
    Hold,
    Plan,
    StateMove,
)
from reconciler.planning.upgrades import Resolver, newly_available, outdated
from reconciler.planning.workloads import MARKED
from reconciler.versions import version_key


def compute_plan(
    prior: Mapping[str, Resource],
    desired: Mapping[str, Resource],
    *,
    tool_version: str,
    prior_lineage: str | None,
    prior_serial: int,
    prior_deployments: Mapping[str, Deployment] | None = None,
    desired_deployments: Mapping[str, Deployment] | None = None,
    warnings: Sequence[str] = (),
    notes: Sequence[str] = (),
    resolver: Resolver | None = None,
) -> Plan:
    """The changes from `prior` to `desired` (both keyed by address).

    Deployments likewise, from `prior_deployments` to `desired_deployments` (None: they
    stay as they are). `warnings` and `notes` of the requests that built the desired side
    are carried into the plan. `resolver` is one over `desired` that the requests used
    already: what it found (latest versions, configurations) is not looked up twice.
    """
    changes: list[Change] = []
    for address, after in desired.items():
        before = prior.get(address)
        if before is after:
            continue  # untouched by either source: the common case at scale
        if before is None:
            changes.append(Change(address, after.kind, Action.CREATE, None, after))
        elif (
            before.spec != after.spec
            or before.platform != after.platform
            or before.user != after.user
            or before.sensitive_environment != after.sensitive_environment
        ):
            changes.append(_change(before, after))
    for address, before in prior.items():
        if address not in desired:
            changes.append(
                Change(address, before.kind, Action.DELETE, before, None, reason="delete requested")
            )
    changes.sort(key=_apply_order)
    running = prior_deployments or {}
    wanted = running if desired_deployments is None else desired_deployments
    resolver = resolver or Resolver(desired)
    rolls = _deployment_changes(running, wanted, resolver) if wanted is not running else []
    available: tuple[AvailableUpgrade, ...] = ()
    if changes and running:
        rolling = frozenset(
            (change.address, upgrade.experiment_id)
            for change in rolls
            for upgrade in change.upgrades
        )
        available = newly_available(
            before=Resolver(prior),
            after=resolver,
            deployments=running.values(),
            changed=(change.address for change in changes),
            rolling=rolling,
        )
    return Plan(
        tool_version=tool_version,
        prior_lineage=prior_lineage,
        prior_serial=prior_serial,
        changes=tuple(changes),
        warnings=(*_warnings(desired, changes), *warnings),
        deployments=tuple(rolls),
        available=available,
        notes=tuple(notes),
        outdated=outdated(wanted.values(), resolver=resolver) if wanted else (),
    )


def _deployment_changes(
    prior: Mapping[str, Deployment],
    desired: Mapping[str, Deployment],
    resolver: Resolver,
) -> list[DeploymentChange]:
    """New deployments, and compositions whose pinned version or configuration moves, in
    address order."""
    changes = []
    catalog = resolver.resources
    for address, after in desired.items():
        before = prior.get(address)
        if before is after:
            continue  # untouched: most deployments, most of the time
        if before is None:
            changes.append(DeploymentChange(address, Action.CREATE, None, after))
            continue
        upgrades = []
        for composition in after.compositions:
            old = before.composition(composition.experiment_id)
            if old is None or (
                old.image_version == composition.image_version
                and old.configuration == composition.configuration
            ):
                continue
            reconfigured = old.configuration != composition.configuration
            upgrades.append(
                CompositionUpgrade(
                    experiment_id=composition.experiment_id,
                    before=old.image_version,
                    after=composition.image_version,
                    image=catalog[composition.image_version].spec["image"],
                    reason=_downgrade_reason(
                        old.image_version, composition.image_version, resolver
                    ),
                    configuration=composition.runtime if reconfigured else "",
                )
            )
        if upgrades:
            changes.append(
                DeploymentChange(address, Action.UPGRADE, before, after, tuple(upgrades))
            )
    return sorted(changes, key=lambda c: c.address)


def _downgrade_reason(before: str, after: str, resolver: Resolver) -> str:
    """Why a composition moves to an older version of its image ("" for a newer one, or
    when it stays on its version)."""
    if before == after:
        return ""
    if image_of(before) != image_of(after):
        return ""
    if version_key(name_of(after)) > version_key(name_of(before)):
        return ""
    if resolver.availability(before) in (State.DISABLED, None):
        because = resolver.disabled_because(before)
        return f"rollback: {name_of(before)} is DISABLED" + (f" ({because})" if because else "")
    return f"older than {name_of(before)}"


def _apply_order(change: Change) -> tuple[int, int, str]:
    """Creates and updates parents first; deletes last, children first."""
    if change.action is Action.DELETE:
        return (1, -change.kind.apply_order, change.address)
    return (0, change.kind.apply_order, change.address)


def _change(before: Resource, after: Resource) -> Change:
    fields = field_changes(before.spec, after.spec)
    if before.sensitive_environment != after.sensitive_environment:
        # Values move into the runtime's Secret: the names are shown, never the values.
        fields = (
            *fields,
            FieldChange(
                MARKED, list(before.sensitive_environment), list(after.sensitive_environment)
            ),
        )
    old = ceiling.effective(before.platform, before.user)
    new = ceiling.effective(after.platform, after.user)
    move = None
    if old.state != new.state:
        move = StateMove(old.state, new.state, new.source, new.reason)
    hold = None
    held_by = ceiling.held_by(after.platform, after.user)
    intents_changed = before.platform != after.platform or before.user != after.user
    if held_by is not None and intents_changed and after.platform and after.user:
        hold = Hold(held_by, new.state, after.platform.state, after.user.state)
    forced = [f for f in IMMUTABLE_FIELDS[after.kind] if before.spec.get(f) != after.spec.get(f)]
    if forced:
        reason = f"{forced[0]} cannot change in place"
        return Change(
            after.address, after.kind, Action.REPLACE, before, after, fields, move, hold, reason
        )
    if old.reason != new.reason and not move and not hold:
        # Same state, new explanation: worth showing, since the target's object changes.
        fields = (*fields, FieldChange("state_reason", old.reason, new.reason))
    action = Action.UPDATE if fields or move or not hold else Action.HOLD
    return Change(after.address, after.kind, action, before, after, fields, move, hold)


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """Field-level differences between two specs, dotted paths, in a stable order."""
    if before == after:
        return ()
    # Costly to import (~0.15 s): only plans with updates pay for it.
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    diff = DeepDiff(before, after, verbose_level=2, view="tree")
    out = []
    for level in diff.values():
        for node in level:
            out.append(
                FieldChange(
                    dotted(node.path(output_format="list")),
                    None if node.t1 is notpresent else node.t1,
                    None if node.t2 is notpresent else node.t2,
                )
            )
    return tuple(sorted(out, key=lambda c: c.path))


def _warnings(desired: Mapping[str, Resource], changes: list[Change]) -> list[str]:
    warnings = []
    for change in changes:
        after = change.after
        if after is None or after.kind is not Kind.RUNTIME:
            continue
        if ceiling.effective(after.platform, after.user).state is State.DISABLED:
            continue  # nothing new can use a disabled runtime: its image's state is moot
        target = desired.get(after.spec["runtime_image"])
        if target is not None:
            state = ceiling.effective(target.platform, target.user).state
            if state is not State.ACTIVE:
                warnings.append(f"runtime {change.address} uses {target.address}, which is {state}")
    return warnings
