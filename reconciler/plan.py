"""Plans: the changes that move a prior state to a desired catalog.

`compute_plan` compares the desired resources with the prior state's and returns a
`Plan`: creates, field-level updates, replaces (an immutable field changed), state
moves naming the deciding source, resources held by the ceiling, and deletes (only of
API-managed resources explicitly asked for). Deployments are compared the same way:
new ones, and compositions rolling to another image version (`⇡`). For reviewers, a
plan that changes images or versions also lists the deployments it gives an upgrade
(`available`): information only, since nothing rolls unless asked. A plan is
serializable (`to_dict` / `from_dict`, `schemas/plan.schema.json`) so it can be saved,
reviewed and applied later; it records the prior state's lineage and serial and a digest
of its inputs so a stale plan is refused.

Pure: no files, no network, no clock. Applying lives in engine.py; views in render.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler import ceiling, errors
from reconciler.model import (
    IMMUTABLE_FIELDS,
    Composition,
    Deployment,
    Kind,
    Resource,
    Source,
    State,
    dotted,
    image_of,
    version_key,
)
from reconciler.upgrades import AvailableUpgrade, Resolver, newly_available, version_label

FORMAT_VERSION = 1


class Action(StrEnum):
    """What a change does; the values are the symbols printed in plans."""

    CREATE = "+"
    UPDATE = "~"
    REPLACE = "-/+"
    DELETE = "-"
    HOLD = "!"
    UPGRADE = "⇡"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One spec field that changes: `path` is dotted (`environment_variables.LOG_LEVEL`).

    `before` is None for an added field, `after` is None for a removed one.
    """

    path: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class StateMove:
    """The effective state changes from `before` to `after`, decided by `source`."""

    before: State
    after: State
    source: Source | None
    reason: str


@dataclass(frozen=True, slots=True)
class Hold:
    """The intents disagree and `by` holds the resource at its (more restrictive) state."""

    by: Source
    state: State
    platform: State
    user: State


@dataclass(frozen=True, slots=True)
class Change:
    """One resource's change. `before` is None for a create, `after` is None for a delete.

    `reason` explains a replace (the immutable field) or a delete. `move` is set when the
    effective state changes; `hold` when an intent changed but the other source holds it.
    """

    address: str
    kind: Kind
    action: Action
    before: Resource | None
    after: Resource | None
    fields: tuple[FieldChange, ...] = ()
    move: StateMove | None = None
    hold: Hold | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CompositionUpgrade:
    """Composition `experiment_id` rolls from version `before` to `after` (addresses), whose
    container image is `image`. `reason` explains a move to an older version."""

    experiment_id: str
    before: str
    after: str
    image: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DeploymentChange:
    """A deployment created (`+`: `before` is None) or rolled (`⇡`: `upgrades` lists the
    compositions that move to another image version; the others stay as they run)."""

    address: str
    action: Action
    before: Deployment | None
    after: Deployment
    upgrades: tuple[CompositionUpgrade, ...] = ()

    def compositions_to_write(self) -> tuple[Composition, ...]:
        """The compositions whose manifest apply writes: all of a new deployment's, else
        the rolling ones."""
        if self.action is Action.CREATE:
            return self.after.compositions
        rolling = {u.experiment_id for u in self.upgrades}
        return tuple(c for c in self.after.compositions if c.experiment_id in rolling)


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts of the plan line; `roll` counts deployments with compositions to roll."""

    add: int = 0
    change: int = 0
    replace: int = 0
    delete: int = 0
    held: int = 0
    roll: int = 0

    @property
    def total(self) -> int:
        return self.add + self.change + self.replace + self.delete + self.held + self.roll


@dataclass(frozen=True, slots=True)
class Plan:
    """Changes from the prior state (`prior_lineage`, `prior_serial`) to the desired catalog.

    `prior_lineage` is None when no state existed. `input_digest` identifies every input
    the plan was computed from (merged values, overrides, requested upgrades).
    `changes` are the catalog's, `deployments` the deployments'. `available` and `notes`
    are information for reviewers (upgrades a catalog change makes available, compositions
    an upgrade request skipped); they change nothing.
    """

    tool_version: str
    prior_lineage: str | None
    prior_serial: int
    input_digest: str
    changes: tuple[Change, ...]
    warnings: tuple[str, ...] = ()
    deployments: tuple[DeploymentChange, ...] = ()
    available: tuple[AvailableUpgrade, ...] = ()
    notes: tuple[str, ...] = ()
    format_version: int = field(default=FORMAT_VERSION)

    @property
    def summary(self) -> Summary:
        counts = {action: 0 for action in Action}
        for change in (*self.changes, *self.deployments):
            counts[change.action] += 1
        return Summary(
            add=counts[Action.CREATE],
            change=counts[Action.UPDATE],
            replace=counts[Action.REPLACE],
            delete=counts[Action.DELETE],
            held=counts[Action.HOLD],
            roll=counts[Action.UPGRADE],
        )

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.deployments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "tool_version": self.tool_version,
            "prior": {"lineage": self.prior_lineage, "serial": self.prior_serial},
            "input_digest": self.input_digest,
            "summary": {
                "add": self.summary.add,
                "change": self.summary.change,
                "replace": self.summary.replace,
                "delete": self.summary.delete,
                "held": self.summary.held,
                "roll": self.summary.roll,
            },
            "changes": [_change_to_dict(c) for c in self.changes],
            "deployments": [_deployment_change_to_dict(c) for c in self.deployments],
            "available": [
                {
                    "deployment": a.deployment,
                    "experiment_id": a.experiment_id,
                    "current": a.current,
                    "available": a.available,
                    "reason": a.reason,
                }
                for a in self.available
            ],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """A plan from its `to_dict` form; the caller validated it against the schema."""
        return cls(
            format_version=data["format_version"],
            tool_version=data["tool_version"],
            prior_lineage=data["prior"]["lineage"],
            prior_serial=data["prior"]["serial"],
            input_digest=data["input_digest"],
            changes=tuple(_change_from_dict(c) for c in data["changes"]),
            warnings=tuple(data.get("warnings", ())),
            deployments=tuple(_deployment_change_from_dict(c) for c in data.get("deployments", ())),
            available=tuple(
                AvailableUpgrade(
                    deployment=a["deployment"],
                    experiment_id=a["experiment_id"],
                    current=a["current"],
                    available=a["available"],
                    reason=a["reason"],
                )
                for a in data.get("available", ())
            ),
            notes=tuple(data.get("notes", ())),
        )


def compute_plan(
    prior: Mapping[str, Resource],
    desired: Mapping[str, Resource],
    *,
    tool_version: str,
    prior_lineage: str | None,
    prior_serial: int,
    input_digest: str,
    prior_deployments: Mapping[str, Deployment] | None = None,
    desired_deployments: Mapping[str, Deployment] | None = None,
    warnings: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Plan:
    """The changes from `prior` to `desired` (both keyed by address).

    Deployments likewise, from `prior_deployments` to `desired_deployments` (None: they
    stay as they are). `warnings` and `notes` of the requests that built the desired side
    are carried into the plan.
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
        ):
            changes.append(_change(before, after))
    for address, before in prior.items():
        if address not in desired:
            changes.append(
                Change(address, before.kind, Action.DELETE, before, None, reason="delete requested")
            )
    changes.sort(key=_apply_order)
    before = prior_deployments or {}
    after = before if desired_deployments is None else desired_deployments
    rolls = _deployment_changes(before, after, desired) if after is not before else []
    available: tuple[AvailableUpgrade, ...] = ()
    if changes and before:
        rolling = frozenset(
            (change.address, upgrade.experiment_id)
            for change in rolls
            for upgrade in change.upgrades
        )
        available = newly_available(
            before=Resolver(prior),
            after=Resolver(desired),
            deployments=before.values(),
            changed=(change.address for change in changes),
            rolling=rolling,
        )
    return Plan(
        tool_version=tool_version,
        prior_lineage=prior_lineage,
        prior_serial=prior_serial,
        input_digest=input_digest,
        changes=tuple(changes),
        warnings=(*_warnings(desired, changes), *warnings),
        deployments=tuple(rolls),
        available=available,
        notes=tuple(notes),
    )


def _deployment_changes(
    prior: Mapping[str, Deployment],
    desired: Mapping[str, Deployment],
    catalog: Mapping[str, Resource],
) -> list[DeploymentChange]:
    """New deployments, and compositions whose pinned version moves, in address order."""
    changes = []
    resolver: Resolver | None = None
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
            if old is None or old.image_version == composition.image_version:
                continue
            resolver = resolver or Resolver(catalog)
            upgrades.append(
                CompositionUpgrade(
                    experiment_id=composition.experiment_id,
                    before=old.image_version,
                    after=composition.image_version,
                    image=catalog[composition.image_version].spec["image"],
                    reason=_downgrade_reason(
                        old.image_version, composition.image_version, resolver
                    ),
                )
            )
        if upgrades:
            changes.append(
                DeploymentChange(address, Action.UPGRADE, before, after, tuple(upgrades))
            )
    return sorted(changes, key=lambda c: c.address)


def _downgrade_reason(before: str, after: str, resolver: Resolver) -> str:
    """Why a composition moves to an older version of its image ("" for a newer one)."""
    if image_of(before) != image_of(after):
        return ""
    if version_key(version_label(after)) > version_key(version_label(before)):
        return ""
    if resolver.availability(before) in (State.DISABLED, None):
        because = resolver.disabled_because(before)
        return f"rollback: {version_label(before)} is DISABLED" + (
            f" ({because})" if because else ""
        )
    return f"older than {version_label(before)}"


def _apply_order(change: Change) -> tuple[int, int, str]:
    """Creates and updates parents first; deletes last, children first."""
    if change.action is Action.DELETE:
        return (1, -change.kind.apply_order, change.address)
    return (0, change.kind.apply_order, change.address)


def _change(before: Resource, after: Resource) -> Change:
    fields = field_changes(before.spec, after.spec)
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
        target = desired.get(after.spec["runtime_image"])
        if target is not None:
            state = ceiling.effective(target.platform, target.user).state
            if state is not State.ACTIVE:
                warnings.append(f"runtime {change.address} uses {target.address}, which is {state}")
    return warnings


# Serialization --------------------------------------------------------------------------


def _resource_to_dict(resource: Resource | None) -> dict[str, Any] | None:
    return None if resource is None else resource.model_dump(mode="json")


def _change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "address": change.address,
        "kind": change.kind.value,
        "action": change.action.value,
        "reason": change.reason,
        "before": _resource_to_dict(change.before),
        "after": _resource_to_dict(change.after),
        "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in change.fields],
        "move": None
        if change.move is None
        else {
            "before": change.move.before.value,
            "after": change.move.after.value,
            "source": change.move.source.value if change.move.source else None,
            "reason": change.move.reason,
        },
        "hold": None
        if change.hold is None
        else {
            "by": change.hold.by.value,
            "state": change.hold.state.value,
            "platform": change.hold.platform.value,
            "user": change.hold.user.value,
        },
    }


def _deployment_change_to_dict(change: DeploymentChange) -> dict[str, Any]:
    return {
        "address": change.address,
        "action": change.action.value,
        "before": None if change.before is None else change.before.model_dump(mode="json"),
        "after": change.after.model_dump(mode="json"),
        "upgrades": [
            {
                "experiment_id": u.experiment_id,
                "before": u.before,
                "after": u.after,
                "image": u.image,
                "reason": u.reason,
            }
            for u in change.upgrades
        ],
    }


def _deployment_change_from_dict(data: Mapping[str, Any]) -> DeploymentChange:
    try:
        return DeploymentChange(
            address=data["address"],
            action=Action(data["action"]),
            before=None if data["before"] is None else Deployment.model_validate(data["before"]),
            after=Deployment.model_validate(data["after"]),
            upgrades=tuple(
                CompositionUpgrade(
                    u["experiment_id"], u["before"], u["after"], u["image"], u["reason"]
                )
                for u in data["upgrades"]
            ),
        )
    except (KeyError, ValueError) as exc:
        raise errors.PlanFileError(
            f"change of {data.get('address', '?')} is malformed: {exc}"
        ) from exc


def _change_from_dict(data: Mapping[str, Any]) -> Change:
    move = data.get("move")
    hold = data.get("hold")
    try:
        return Change(
            address=data["address"],
            kind=Kind(data["kind"]),
            action=Action(data["action"]),
            before=None if data["before"] is None else Resource.model_validate(data["before"]),
            after=None if data["after"] is None else Resource.model_validate(data["after"]),
            fields=tuple(FieldChange(f["path"], f["before"], f["after"]) for f in data["fields"]),
            move=None
            if move is None
            else StateMove(
                State(move["before"]),
                State(move["after"]),
                Source(move["source"]) if move["source"] else None,
                move["reason"],
            ),
            hold=None
            if hold is None
            else Hold(
                Source(hold["by"]),
                State(hold["state"]),
                State(hold["platform"]),
                State(hold["user"]),
            ),
            reason=data.get("reason", ""),
        )
    except (KeyError, ValueError) as exc:
        raise errors.PlanFileError(
            f"change of {data.get('address', '?')} is malformed: {exc}"
        ) from exc
