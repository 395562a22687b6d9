"""Reviews: what changing the Helm values from a base revision to a head revision would do.

A review is a dry run over two values revisions and one state, read only. The state
gives the user intents and the running deployments; both sides are built from it the way a
plan builds its desired catalog (planning/desired.py, and the overrides' deployments by
planning/deployments.py), so the review answers "if base were applied, what would head
change":

- `catalog`: the plan from the base catalog to the head catalog (planning/diff.py), with
  the upgrades head makes available (planning/upgrades.py's `newly_available`);
- `disabled`: compositions whose running version head makes DISABLED (they keep running);
- `rolls`: what `reconciler upgrade DEPLOYMENT` would then roll for each deployment that
  gets an upgrade available, resolved against the head catalog with the request parsed
  from exactly that spec, or why it would be refused.

Pure: no files, no git, no clock; nothing here writes. Reading the revisions is
inputs/revisions.py's and the CLI's, the views are render.py's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler import errors
from reconciler.addresses import name_of, workspace_of
from reconciler.inputs import bootstrap
from reconciler.inputs.requests import Overrides
from reconciler.inputs.upgrade_specs import parse_spec
from reconciler.inputs.values import Values
from reconciler.model import Deployment, Resource, State
from reconciler.planning import deployments, plan_codec
from reconciler.planning.desired import build_desired
from reconciler.planning.diff import compute_plan
from reconciler.planning.plan import AvailableUpgrade, CompositionUpgrade, Plan
from reconciler.planning.state import StateDocument
from reconciler.planning.upgrades import Resolver

FORMAT_VERSION = 1  # of the review's JSON form, schemas/review.schema.json
_OFF = (State.DISABLED, None)  # a version that is DISABLED, or no longer exists, runs on


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """One values revision: `sources` are its files in merge order (`REV:FILE` for a git
    revision), `absent` the files that revision does not have, `digest` its merged values'."""

    sources: tuple[str, ...]
    digest: str
    absent: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DisabledInUse:
    """Composition `experiment_id` of `deployment` runs `version`, which head makes
    DISABLED because of `reason`. It keeps running; `available` is where an upgrade would
    move it (None: no version of its image is available)."""

    deployment: str
    experiment_id: str
    version: str
    reason: str
    available: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Roll:
    """What `command` (`reconciler upgrade WS/ID`) would roll in `deployment` once head is
    applied.

    `upgrades` are the compositions that would move (empty: every one is on its latest);
    `error` is set instead when the upgrade would be refused (then nothing rolls).
    """

    deployment: str
    command: str
    upgrades: tuple[CompositionUpgrade, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """The review of `base` → `head` against the state at `state_lineage`/`state_serial`
    (None/0: no state yet), with `deployment_count` deployments. See the module doc."""

    tool_version: str
    state_lineage: str | None
    state_serial: int
    deployment_count: int
    base: Side
    head: Side
    catalog: Plan
    disabled: tuple[DisabledInUse, ...]
    rolls: tuple[Roll, ...]

    @property
    def available(self) -> tuple[AvailableUpgrade, ...]:
        """Compositions with an upgrade to move to after head (not the disabled ones
        left with nothing available)."""
        return tuple(a for a in self.catalog.available if a.available is not None)

    @property
    def rolling(self) -> tuple[Roll, ...]:
        return tuple(roll for roll in self.rolls if roll.upgrades)


def compute_review(
    prior: StateDocument | None,
    *,
    base: Values,
    head: Values,
    overrides: Overrides | None = None,
    tool_version: str,
    base_absent: tuple[str, ...] = (),
) -> Review:
    """The review of changing the values from `base` to `head` (module doc).

    `overrides` are the user's intents in a file, applied to both sides as a plan would;
    `base_absent` lists base files its revision does not have.
    """
    resources = prior.by_address if prior else {}
    before = _catalog(resources, base, overrides)
    after = _catalog(resources, head, overrides)
    running = prior.deployments_by_address if prior else {}
    wanted = deployments.build_deployments(running, catalog=before, overrides=overrides)
    catalog = compute_plan(
        before,
        after,
        tool_version=tool_version,
        prior_lineage=prior.lineage if prior else None,
        prior_serial=prior.serial if prior else 0,
        prior_deployments=wanted.deployments,
    )
    was, now = Resolver(before), Resolver(after)
    disabled = tuple(
        DisabledInUse(
            deployment=item.deployment,
            experiment_id=item.experiment_id,
            version=item.current,
            reason=now.disabled_because(item.current),
            available=item.available,
        )
        for item in catalog.available
        if now.availability(item.current) in _OFF and was.availability(item.current) not in _OFF
    )
    affected = dict.fromkeys(item.deployment for item in catalog.available)
    rolls = tuple(_roll(wanted.deployments[address], after) for address in affected)
    return Review(
        tool_version=tool_version,
        state_lineage=prior.lineage if prior else None,
        state_serial=prior.serial if prior else 0,
        deployment_count=len(wanted.deployments),
        base=Side(sources=base.sources, digest=base.digest, absent=base_absent),
        head=Side(sources=head.sources, digest=head.digest),
        catalog=catalog,
        disabled=disabled,
        rolls=rolls,
    )


def _catalog(
    resources: Mapping[str, Resource], values: Values, overrides: Overrides | None
) -> dict[str, Resource]:
    return build_desired(
        resources,
        platform=bootstrap.platform_catalog(values),
        overrides=overrides,
        locate=lambda address: bootstrap.locate(values, address),
    )


def _roll(deployment: Deployment, catalog: Mapping[str, Resource]) -> Roll:
    """`reconciler upgrade WS/ID` against the head catalog: every composition to latest."""
    spec = f"{workspace_of(deployment.address)}/{name_of(deployment.address)}"
    command = f"reconciler upgrade {spec}"
    # No origin: the views print the command above its refusal already.
    request = dataclasses.replace(parse_spec(spec), origin="")
    try:
        resolution = Resolver(catalog).resolve(request, deployment)
    except errors.ReconcilerError as exc:
        return Roll(deployment=deployment.address, command=command, error=exc.summary)
    rolled = compute_plan(
        catalog,
        catalog,
        tool_version="",
        prior_lineage=None,
        prior_serial=0,
        prior_deployments={deployment.address: deployment},
        desired_deployments={deployment.address: resolution.deployment},
    )
    return Roll(
        deployment=deployment.address,
        command=command,
        upgrades=tuple(u for change in rolled.deployments for u in change.upgrades),
        warnings=resolution.warnings,
        notes=resolution.notes,
    )


def to_dict(review: Review) -> dict[str, Any]:
    """The review as JSON-ready data, in the shape of `schemas/review.schema.json`."""
    plan = plan_codec.to_dict(review.catalog)
    summary = plan["summary"]
    del summary["roll"]  # a values change rolls nothing: `rolls` says what an upgrade would
    return {
        "format_version": FORMAT_VERSION,
        "tool_version": review.tool_version,
        "state": {
            "lineage": review.state_lineage,
            "serial": review.state_serial,
            "deployments": review.deployment_count,
        },
        "base": _side(review.base),
        "head": _side(review.head),
        "summary": {
            **summary,
            "deployments_with_upgrades": len({a.deployment for a in review.available}),
            "compositions_with_upgrades": len(review.available),
            "compositions_on_disabled": len(review.disabled),
            "deployments_to_roll": len(review.rolling),
            "compositions_to_roll": sum(len(r.upgrades) for r in review.rolls),
        },
        "changes": plan["changes"],
        "available": [a for a in plan["available"] if a["available"] is not None],
        "disabled": [
            {
                "deployment": d.deployment,
                "experiment_id": d.experiment_id,
                "version": d.version,
                "reason": d.reason,
                "available": d.available,
            }
            for d in review.disabled
        ],
        "rolls": [
            {
                "deployment": r.deployment,
                "command": r.command,
                "upgrades": [dataclasses.asdict(u) for u in r.upgrades],
                "warnings": list(r.warnings),
                "notes": list(r.notes),
                "error": r.error or None,
            }
            for r in review.rolls
        ],
        "warnings": plan["warnings"],
    }


def _side(side: Side) -> dict[str, Any]:
    return {"sources": list(side.sources), "absent": list(side.absent), "digest": side.digest}
