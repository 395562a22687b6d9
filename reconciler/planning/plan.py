"""Plans: what a plan is, and what it does to each catalog resource and deployment.

The values a plan is made of: the `Plan` itself with its `Summary`; the `Action` (its
values are the symbols printed in plans); a resource's `Change` with the `FieldChange`s,
`StateMove` and `Hold` that explain it; a deployment's `DeploymentChange` with the
`CompositionUpgrade`s that roll; and, for reviewers, the `AvailableUpgrade`s a catalog
change creates, the `OutdatedConfiguration`s of compositions whose runtime changed, the
`Drift` a refresh found and the `Conflict`s with other field managers the plan's writes meet.

Values only: deciding what changes is diff.py's, writing a plan down plan_codec.py's,
carrying it out apply/executor.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.model import Composition, Deployment, Kind, Resource, Source, State


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


@dataclass(frozen=True, slots=True, kw_only=True)
class CompositionUpgrade:
    """Composition `experiment_id` rolls from version `before` to `after` (addresses), whose
    container image is `image`. `reason` explains a move to an older version.
    `configuration` is the runtime whose current configuration the composition moves to,
    "" when it keeps the one it runs; `before` equals `after` when only that moves."""

    experiment_id: str
    before: str
    after: str
    image: str
    reason: str = ""
    configuration: str = ""


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
class AvailableUpgrade:
    """After a plan, composition `experiment_id` of `deployment` could move from `current`
    to `available` (version addresses; `available` None: no version is available).

    `reason` is set when the composition's own version becomes DISABLED: it keeps running,
    and the upgrade (perhaps to an older version) is the way off it.
    """

    deployment: str
    experiment_id: str
    current: str
    available: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OutdatedConfiguration:
    """After a plan, composition `experiment_id` of `deployment` runs an older configuration
    of its `runtime` than the runtime now gives: it keeps running as it is until upgraded."""

    deployment: str
    experiment_id: str
    runtime: str


# Of the plan's JSON form. 2: the unused input digest gave way to the plan file's integrity
# digest (planfile.py). A plan file of another format is refused: plan again.
FORMAT_VERSION = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Drift:
    """An object the target holds that was changed or deleted outside the tool.

    `address` is the state's; `deleted` says the object is gone; otherwise `fields` lists
    what differs, each `before` what the tool wrote and `after` what the target holds
    (None for a field removed there). `owned_elsewhere` names the drifted fields another
    field manager now owns: apply refuses to take them back unless told to force
    conflicts. Apply writes the object again.
    """

    address: str
    deleted: bool = False
    fields: tuple[FieldChange, ...] = ()
    owned_elsewhere: tuple[tuple[str, str], ...] = ()  # (field path, field manager)


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """A field the plan writes to a value other than the target's, which another field
    manager owns there: server-side apply refuses that write unless conflicts are forced,
    and a forced write takes the field over.

    `address` is the object's (the state's address); `path` names the field as the API
    server does in its conflict errors (`.spec.description`,
    `.spec.template.spec.containers[name="model"].image`); `manager` is the other field
    manager. Values are never recorded: a conflict says whose field, not what it holds.
    """

    address: str
    path: str
    manager: str


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

    `prior_lineage` is None when no state existed. The inputs it was computed from are not
    recorded: a saved plan carries its changes whole, and apply checks them against the
    state itself (engine.check_fresh).
    `changes` are the catalog's, `deployments` the deployments'. `available`, `outdated`
    and `notes` are information for reviewers (upgrades a catalog change makes available,
    compositions that run an older configuration of their runtime after the plan,
    compositions an upgrade request skipped); they change nothing. `drift` lists objects
    changed outside the tool, found by a refresh of the target; apply corrects them.
    `conflicts` lists the fields the plan's writes (changes, rollouts and corrections)
    would take from other field managers, found by the same refresh; `force_conflicts`
    says the plan was made to take them over. Apply refuses a plan with conflicts before
    writing anything unless its target forces them. Conflicts alone are not changes.
    """

    tool_version: str
    prior_lineage: str | None
    prior_serial: int
    changes: tuple[Change, ...]
    warnings: tuple[str, ...] = ()
    deployments: tuple[DeploymentChange, ...] = ()
    available: tuple[AvailableUpgrade, ...] = ()
    notes: tuple[str, ...] = ()
    outdated: tuple[OutdatedConfiguration, ...] = ()
    drift: tuple[Drift, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    force_conflicts: bool = False
    format_version: int = field(default=FORMAT_VERSION)

    @property
    def summary(self) -> Summary:
        counts = {action: 0 for action in Action}
        for change in self.changes:
            counts[change.action] += 1
        for rolled in self.deployments:
            counts[rolled.action] += 1
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
        return bool(self.changes or self.deployments or self.drift)
