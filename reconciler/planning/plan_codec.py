"""The plan's JSON form: `to_dict` and `from_dict`, in the shape of `schemas/plan.schema.json`.

`reconciler plan --json` prints this form and a saved plan file holds it, so it is the
plan's contract with reviewers and with later applies: it carries every change whole,
and the prior state's lineage and serial by which apply refuses a stale plan.

Pure: dicts in, dicts out. Reading and writing files, the format-version check and schema
validation are reconciler/planfile.py's; what a plan says is plan.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import errors
from reconciler.model import Deployment, Kind, Resource, Source, State
from reconciler.planning.plan import (
    Action,
    AvailableUpgrade,
    Change,
    CompositionUpgrade,
    Conflict,
    DeploymentChange,
    Drift,
    FieldChange,
    Hold,
    OutdatedConfiguration,
    Plan,
    StateMove,
)


def to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data; `from_dict` reads it back."""
    summary = plan.summary
    return {
        "format_version": plan.format_version,
        "tool_version": plan.tool_version,
        "prior": {"lineage": plan.prior_lineage, "serial": plan.prior_serial},
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "replace": summary.replace,
            "delete": summary.delete,
            "held": summary.held,
            "roll": summary.roll,
        },
        "changes": [_change_to_dict(c) for c in plan.changes],
        "deployments": [_deployment_change_to_dict(c) for c in plan.deployments],
        "available": [
            {
                "deployment": a.deployment,
                "experiment_id": a.experiment_id,
                "current": a.current,
                "available": a.available,
                "reason": a.reason,
            }
            for a in plan.available
        ],
        "outdated": [
            {"deployment": o.deployment, "experiment_id": o.experiment_id, "runtime": o.runtime}
            for o in plan.outdated
        ],
        "warnings": list(plan.warnings),
        "notes": list(plan.notes),
        **({"drift": [_drift_to_dict(d) for d in plan.drift]} if plan.drift else {}),
        # Only when there are some, as drift: a plan without conflicts keeps the form
        # that older plan files and their readers know.
        **(
            {
                "conflicts": [
                    {"address": c.address, "path": c.path, "manager": c.manager}
                    for c in plan.conflicts
                ],
                "force_conflicts": plan.force_conflicts,
            }
            if plan.conflicts
            else {}
        ),
    }


def _drift_to_dict(drift: Drift) -> dict[str, Any]:
    return {
        "address": drift.address,
        "deleted": drift.deleted,
        "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in drift.fields],
        "owned_elsewhere": [{"path": p, "manager": m} for p, m in drift.owned_elsewhere],
    }


def from_dict(data: Mapping[str, Any]) -> Plan:
    """A plan from its `to_dict` form; the caller validated it against the schema."""
    return Plan(
        format_version=data["format_version"],
        tool_version=data["tool_version"],
        prior_lineage=data["prior"]["lineage"],
        prior_serial=data["prior"]["serial"],
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
        outdated=tuple(
            OutdatedConfiguration(o["deployment"], o["experiment_id"], o["runtime"])
            for o in data.get("outdated", ())
        ),
        drift=tuple(
            Drift(
                address=d["address"],
                deleted=d["deleted"],
                fields=tuple(FieldChange(f["path"], f["before"], f["after"]) for f in d["fields"]),
                owned_elsewhere=tuple(
                    (o["path"], o["manager"]) for o in d.get("owned_elsewhere", ())
                ),
            )
            for d in data.get("drift", ())
        ),
        conflicts=tuple(
            Conflict(address=c["address"], path=c["path"], manager=c["manager"])
            for c in data.get("conflicts", ())
        ),
        force_conflicts=bool(data.get("force_conflicts", False)),
    )


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
                "configuration": u.configuration,
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
                    experiment_id=u["experiment_id"],
                    before=u["before"],
                    after=u["after"],
                    image=u["image"],
                    reason=u["reason"],
                    configuration=u.get("configuration", ""),
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
