"""Views of plans, apply results, state and errors: human text, JSON and markdown.

Human output reads like Terraform's: one line per change led by its symbol, field
diffs beneath, state moves naming the deciding source (and both intents when the
ceiling holds one), one `⇡` line per composition that rolls, then what reviewers should
know (what changed outside the tool, conflicts with other field managers, warnings,
upgrades the plan makes available, compositions left on an older configuration of their
runtime, skipped compositions) and a `Plan: …` summary line. A
plan with nothing to apply says "No changes" only when every workload runs what its
runtime and version say. Colour only when asked (the CLI asks on a terminal). Nothing here
prints secrets: environment values and errors go through sensitive.py's rule, with the
names the caller's `Sensitivity` adds.

Views only: no decisions. What changes is planning/diff.py's; what is printed where is cli.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from reconciler import errors, sensitive
from reconciler.addresses import image_of, name_of
from reconciler.model import Deployment, Kind, Resource
from reconciler.planning import ceiling, plan_codec
from reconciler.planning import review as review_module
from reconciler.planning.plan import (
    Action,
    AvailableUpgrade,
    Change,
    CompositionUpgrade,
    DeploymentChange,
    OutdatedConfiguration,
    Plan,
    Summary,
)
from reconciler.planning.review import DisabledInUse, Review, Roll
from reconciler.planning.state import StateDocument

_COLOURS = {
    Action.CREATE: "32",
    Action.UPDATE: "33",
    Action.REPLACE: "35",
    Action.DELETE: "31",
    Action.HOLD: "36",
    Action.UPGRADE: "34",
}
AVAILABLE_HEADING = (
    "Upgrades available after this plan (information: nothing rolls until upgraded):"
)
OUTDATED_HEADING = (
    "Deployments on an older configuration of their runtime after this plan "
    "(information: nothing rolls until upgraded):"
)
NO_CHANGES = "No changes. The catalog matches the configuration."


class Style:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def bold(self, text: str) -> str:
        return self.paint(text, "1")


REDACTED = sensitive.REDACTED
Sensitivity = sensitive.Sensitivity


def _value(value: Any) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, int | float) else str(value)


def _with_marks(sensitivity: Sensitivity, *records: Any) -> Sensitivity:
    """`sensitivity` with the names the state records as marked for these resources (or
    their JSON forms): a run that does not mark them still never shows their values."""
    names: list[str] = []
    for record in records:
        if isinstance(record, Resource):
            names += record.sensitive_environment
        elif isinstance(record, dict):
            names += record.get("sensitive_environment") or ()
    return sensitivity.with_names(names) if names else sensitivity


def _redact_resource(record: dict[str, Any] | None, sensitivity: Sensitivity) -> None:
    spec = (record or {}).get("spec", {})
    if spec.get("environment_variables"):
        hidden = _with_marks(sensitivity, record)
        spec["environment_variables"] = hidden.redact_env(spec["environment_variables"])


def _redact_changes(changes: list[dict[str, Any]], sensitivity: Sensitivity) -> None:
    """Redact the sensitive values of changes in their JSON form, in place."""
    for change in changes:
        marked = _with_marks(sensitivity, change["before"], change["after"])
        _redact_resource(change["before"], marked)
        _redact_resource(change["after"], marked)
        for item in change["fields"]:
            path = item["path"]
            if marked.hides(path, item["before"]) or marked.hides(path, item["after"]):
                item["before"] = item["after"] = REDACTED
            else:
                item["before"] = marked.redact_data(item["before"])
                item["after"] = marked.redact_data(item["after"])


def summary_line(summary: Summary, *, drifted: int = 0) -> str:
    """The `Plan: …` line; objects changed outside the tool, when a refresh found any, are
    counted at its end (they make a plan one with changes, like the rest)."""
    correct = f", {drifted} changed outside the tool to write again" if drifted else ""
    return (
        f"Plan: {summary.add} to add, {summary.change} to change, {summary.replace} to replace, "
        f"{summary.delete} to delete, {summary.held} held, {summary.roll} deployments to roll"
        f"{correct}."
    )


def _headline(change: Change) -> str:
    """What to show after the address on a change's first line."""
    if change.action is Action.REPLACE:
        return f"({change.reason})"
    if change.action is Action.DELETE:
        return f"({change.reason})" if change.reason else ""
    if change.action is Action.HOLD and change.hold is not None:
        hold = change.hold
        return (
            f"held at {hold.state} by {hold.by.label} "
            f"(Helm values: {hold.platform}, user: {hold.user})"
        )
    if change.action is Action.CREATE and change.after is not None:
        return _describe(change.after)
    return ""


def _describe(resource: Resource) -> str:
    effective = ceiling.effective(resource.platform, resource.user)
    parts = []
    if resource.kind is Kind.VERSION:
        parts.append(resource.spec["image"])
    elif resource.kind is Kind.RUNTIME:
        parts.append(f"model type {resource.spec['model_type']}")
    if effective.state.value != "ACTIVE":
        parts.append(str(effective.state))
    return f"({', '.join(parts)})" if parts else ""


def _change_lines(change: Change, style: Style, sensitivity: Sensitivity) -> list[str]:
    """A change as the human plan shows it: its symbol, address and headline, then its
    details, indented."""
    symbol = style.paint(f"{change.action.value:>3}", _COLOURS[change.action])
    head = _headline(change)
    first = f"  {symbol} {style.bold(change.address)}" + (f"  {head}" if head else "")
    return [first, *(f"        {detail}" for detail in _details(change, sensitivity))]


def _details(change: Change, sensitivity: Sensitivity) -> Iterable[str]:
    sensitivity = _with_marks(sensitivity, change.before, change.after)
    for item in change.fields:
        if sensitivity.hides(item.path, item.before) or sensitivity.hides(item.path, item.after):
            yield f"{item.path}: {REDACTED} changed"
            continue
        before, after = sensitivity.redact_data(item.before), sensitivity.redact_data(item.after)
        if before is None:
            yield f"{item.path}: + {_value(after)}"
        elif after is None:
            yield f"{item.path}: - {_value(before)}"
        else:
            yield f"{item.path}: {_value(before)} → {_value(after)}"
    if change.move is not None:
        move = change.move
        source = move.source.label if move.source else "default"
        because = f": {move.reason}" if move.reason else ""
        line = f"state: {move.before} → {move.after} ({source}{because})"
        if change.hold is not None:
            line += f"; Helm values: {change.hold.platform}, user: {change.hold.user}"
        yield line


def _version_move(upgrade: CompositionUpgrade) -> str:
    """`v1.5.4 → v1.6.0`, naming the images when the composition changes image; `v1.5.4`
    when it stays on its version."""
    before, after = name_of(upgrade.before), name_of(upgrade.after)
    if upgrade.before == upgrade.after:
        return before
    if image_of(upgrade.before) != image_of(upgrade.after):
        before = f"{name_of(image_of(upgrade.before))} {before}"
        after = f"{name_of(image_of(upgrade.after))} {after}"
    return f"{before} → {after}"


def _rollout(upgrade: CompositionUpgrade) -> str:
    """`exp-1: v1.5.4 → v1.6.0 (image registry/repo:v1.6.0)`; a composition that keeps its
    version and moves to its runtime's configuration: `exp-1: v1.5.4 (configuration of
    RUNTIME)`."""
    extra = f"; {upgrade.reason}" if upgrade.reason else ""
    configuration = f"configuration of {upgrade.configuration}" if upgrade.configuration else ""
    if upgrade.before == upgrade.after:
        details = configuration + extra
    else:
        details = f"image {upgrade.image}" + (f"; {configuration}" if configuration else "") + extra
    return f"{upgrade.experiment_id}: {_version_move(upgrade)} ({details})"


def _composition_lines(deployment: Deployment) -> list[str]:
    return [
        f"{c.experiment_id}: {name_of(c.runtime)} on {name_of(c.image_version)} "
        f"of {name_of(image_of(c.image_version))}, "
        f"{c.replicas} replica{'s' if c.replicas != 1 else ''}"
        for c in deployment.compositions
    ]


def _deployment_lines(change: DeploymentChange) -> Iterable[tuple[str, str, list[str]]]:
    """(symbol, headline, details) lines of a deployment change."""
    if change.action is Action.CREATE:
        count = len(change.after.compositions)
        yield (
            "+",
            f"({count} composition{'s' if count != 1 else ''})",
            _composition_lines(change.after),
        )
        return
    for upgrade in change.upgrades:
        yield change.action.value, _rollout(upgrade), []


def _available(item: AvailableUpgrade) -> str:
    current = name_of(item.current)
    if item.available is None:
        move = f"no version to move to ({item.reason})"
    else:
        target = name_of(item.available)
        if image_of(item.available) != image_of(item.current):
            target = f"{item.available}"
        move = f"{current} → {target}" + (f" ({item.reason})" if item.reason else "")
    return f"{item.deployment}  {item.experiment_id}: {move}"


def _outdated(item: OutdatedConfiguration) -> str:
    return f"{item.deployment}  {item.experiment_id}: runs an older configuration of {item.runtime}"


def _nothing_to_apply(plan: Plan) -> str:
    """The headline of a plan without changes: "No changes" only when no workload differs
    from what its runtime says."""
    if not plan.outdated:
        return NO_CHANGES
    count = len(plan.outdated)
    if count == 1:
        return (
            "Nothing to apply, but 1 composition runs an older configuration of its runtime: "
            "an upgrade rolls it out."
        )
    return (
        f"Nothing to apply, but {count} compositions run an older configuration of their "
        "runtime: an upgrade rolls them out."
    )


def _information(plan: Plan, style: Style) -> list[str]:
    lines: list[str] = []
    if plan.warnings:
        lines += ["", style.paint("Warnings:", "33")]
        lines += [f"  - {warning}" for warning in plan.warnings]
    if plan.available:
        lines += ["", AVAILABLE_HEADING]
        lines += [f"  - {_available(item)}" for item in plan.available]
    if plan.outdated:
        lines += ["", OUTDATED_HEADING]
        lines += [f"  - {_outdated(item)}" for item in plan.outdated]
    if plan.notes:
        lines += ["", "Notes:"]
        lines += [f"  - {note}" for note in plan.notes]
    return lines


DRIFT_HEADING = "Changed outside the tool (apply writes them again):"


def _drift_hides(path: str, value: Any, sensitivity: Sensitivity) -> bool:
    # A Deployment's env entries carry their names apart from their values: hide them all.
    return ".env[" in path or sensitivity.hides(path, value)


def _drift_value(path: str, value: Any, sensitivity: Sensitivity) -> str:
    if _drift_hides(path, value, sensitivity):
        return REDACTED
    return "(removed)" if value is None else _value(sensitivity.redact_data(value))


def _drift_items(plan: Plan, sensitivity: Sensitivity) -> list[tuple[str, str, list[str]]]:
    """(symbol, address, details) for each object drifted on the target."""
    items = []
    contested = {conflict.address for conflict in plan.conflicts}
    for item in plan.drift:
        if item.deleted:
            items.append(("-", item.address, ["deleted outside the tool"]))
            continue
        details = [
            f"{f.path}: {_drift_value(f.path, f.after, sensitivity)} → "
            f"{_drift_value(f.path, f.before, sensitivity)}"
            for f in item.fields
        ]
        if item.address not in contested:  # else the conflicts say it, as the server does
            details += [
                f"{path} is owned by {manager}: apply takes it back only with --force-conflicts"
                for path, manager in item.owned_elsewhere
            ]
        items.append(("~", item.address, details))
    return items


def _drift_lines(plan: Plan, style: Style, sensitivity: Sensitivity) -> list[str]:
    if not plan.drift:
        return []
    lines = ["", style.paint(DRIFT_HEADING, "33")]
    for symbol, address, details in _drift_items(plan, sensitivity):
        lines.append(f"  {symbol:>3} {style.bold(address)}")
        lines.extend(f"        {detail}" for detail in details)
    return lines


CONFLICTS_REFUSED = (
    "Conflicts with other field managers (apply will refuse these unless --force-conflicts):"
)
CONFLICTS_FORCED = (
    "Conflicts with other field managers (--force-conflicts: apply will take these over):"
)


def _conflicts_heading(plan: Plan) -> str:
    return CONFLICTS_FORCED if plan.force_conflicts else CONFLICTS_REFUSED


def _conflict_items(plan: Plan) -> list[tuple[str, list[tuple[str, str]]]]:
    """(address, its (field path, manager) pairs) per object, in the plan's order. Paths
    and managers only: a conflict never shows a value."""
    items: dict[str, list[tuple[str, str]]] = {}
    for conflict in plan.conflicts:
        items.setdefault(conflict.address, []).append((conflict.path, conflict.manager))
    return list(items.items())


def _conflict_lines(plan: Plan, style: Style) -> list[str]:
    if not plan.conflicts:
        return []
    lines = ["", style.paint(_conflicts_heading(plan), "31" if not plan.force_conflicts else "33")]
    for address, fields in _conflict_items(plan):
        lines.append(f"  {'!':>3} {style.bold(address)}")
        lines.extend(f"        {path} owned by {manager}" for path, manager in fields)
    return lines


def plan_text(
    plan: Plan, *, colour: bool = False, sensitivity: Sensitivity = sensitive.DEFAULT
) -> str:
    style = Style(colour)
    if not plan.has_changes:
        lines = [_nothing_to_apply(plan), *_information(plan, style)]
        return "\n".join(lines) + "\n"
    lines = ["Runtime reconciler will perform the following actions:"]
    if plan.changes or plan.deployments:
        lines.append("")
    for change in plan.changes:
        lines += _change_lines(change, style, sensitivity)
    for deployment in plan.deployments:
        for mark, head, details in _deployment_lines(deployment):
            symbol = style.paint(f"{mark:>3}", _COLOURS[Action(mark)])
            lines.append(f"  {symbol} {style.bold(deployment.address)}  {head}")
            lines.extend(f"        {detail}" for detail in details)
    lines += _drift_lines(plan, style, sensitivity)
    lines += _conflict_lines(plan, style)
    lines += _information(plan, style)
    lines += ["", style.bold(summary_line(plan.summary, drifted=len(plan.drift))), ""]
    return "\n".join(lines)


def plan_json(plan: Plan, *, sensitivity: Sensitivity = sensitive.DEFAULT) -> str:
    """The plan's JSON form with sensitive values redacted (saved plan files keep them)."""
    data = plan_codec.to_dict(plan)
    _redact_changes(data["changes"], sensitivity)
    for item in data.get("drift", ()):
        for entry in item["fields"]:
            if any(_drift_hides(entry["path"], entry[k], sensitivity) for k in ("before", "after")):
                entry["before"] = entry["after"] = REDACTED
            else:
                entry["before"] = sensitivity.redact_data(entry["before"])
                entry["after"] = sensitivity.redact_data(entry["after"])
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


# GitHub refuses pull-request comments over 65,536 characters; the rest is left for what
# the posting step adds around the plan (a marker, a link to the run).
COMMENT_LIMIT = 64000


def plan_markdown(
    plan: Plan, *, sensitivity: Sensitivity = sensitive.DEFAULT, limit: int = COMMENT_LIMIT
) -> str:
    """A pull-request comment: the summary first, then what a reviewer must always see
    (warnings, compositions on an older configuration, resources held by the ceiling
    rule, conflicts with other field managers), then the changes in collapsible
    sections. A plan too large for `limit` characters keeps those and summarises its
    changes by action and kind instead of listing them."""
    head = [
        "### runtime-reconciler plan",
        "",
        f"**{summary_line(plan.summary, drifted=len(plan.drift))}**",
        "",
    ]
    if not plan.has_changes and not plan.outdated:
        return "\n".join([*head, NO_CHANGES]) + "\n"
    always = list(head)
    if not plan.has_changes:
        always += [_nothing_to_apply(plan), ""]
    if plan.conflicts:
        always += [f"**{_conflicts_heading(plan)}**", ""]
        always += [
            f"- `{address}`: "
            + "; ".join(f"`{path}` owned by `{manager}`" for path, manager in fields)
            for address, fields in _conflict_items(plan)
        ] + [""]
    if plan.warnings:
        always += ["**Warnings**", "", *(f"- {w}" for w in plan.warnings), ""]
    if plan.outdated:
        always += [f"**{OUTDATED_HEADING}**", "", *(f"- {_outdated(o)}" for o in plan.outdated)]
        always.append("")
    held = [c for c in plan.changes if c.action is Action.HOLD]
    if held:
        always += ["**Held by the ceiling rule**", ""]
        always += [f"- `{c.address}`: {_headline(c)}" for c in held] + [""]
    rows = ["| | resource | details |", "|---|---|---|"]
    for change in plan.changes:
        details = [_headline(change), *_details(change, sensitivity)]
        rows.append(f"| `{change.action.value}` | `{change.address}` | {_md_cell(details)} |")
    for deployment in plan.deployments:
        for mark, first, more in _deployment_lines(deployment):
            rows.append(f"| `{mark}` | `{deployment.address}` | {_md_cell([first, *more])} |")
    for symbol, address, details in _drift_items(plan, sensitivity):
        rows.append(
            f"| `{symbol}` | `{address}` | {_md_cell(['changed outside the tool', *details])} |"
        )
    sections: list[tuple[str, list[str]]] = []
    if len(rows) > 2:
        sections.append((f"Changes ({len(rows) - 2})", rows))
    if plan.available:
        sections.append((AVAILABLE_HEADING, [f"- {_available(a)}" for a in plan.available]))
    if plan.notes:
        sections.append(("Notes", [f"- {n}" for n in plan.notes]))
    whole = "\n".join([*always, *_collapsible(sections)]) + "\n"
    if len(whole) <= limit:
        return whole
    counts: dict[tuple[str, str], int] = {}
    for change in plan.changes:
        key = (change.action.value, change.kind.value)
        counts[key] = counts.get(key, 0) + 1
    summary = ["| | kind | count |", "|---|---|---|"]
    summary += [f"| `{action}` | {kind} | {n} |" for (action, kind), n in sorted(counts.items())]
    if plan.deployments:
        summary.append(f"| `{Action.UPGRADE.value}` | Deployment | {len(plan.deployments)} |")
    shortened = [
        *always,
        "_The plan is too large for a comment: its changes are summarised below; the "
        "full plan is in the run's log and the saved plan file._",
        "",
        *_collapsible([("Changes by action and kind", summary)]),
    ]
    return "\n".join(shortened)[: limit - 1] + "\n"


def _md_cell(lines: Sequence[str]) -> str:
    return "<br>".join(line.replace("|", "\\|") for line in lines if line)


def _collapsible(sections: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Markdown sections folded in `<details>`; blank lines keep their tables markdown."""
    out: list[str] = []
    for title, body in sections:
        out += ["<details>", f"<summary>{title}</summary>", "", *body, "", "</details>", ""]
    return out


def rollout_text(plan: Plan, *, canary: int, max_failures: int | None, parallelism: int) -> str:
    """How an apply rolls the plan's deployments: in the plan's order, `parallelism`
    compositions at once, the first `canary` deployments before the rest, upgrades no
    longer started after `max_failures` failed. "" when nothing rolls."""
    rolling = [d.address for d in plan.deployments]
    if not rolling:
        return ""
    count = f"{len(rolling)} deployment{'s' if len(rolling) != 1 else ''}"
    lines = [f"Rollout order ({count}, up to {parallelism} rollouts at once):"]
    canaries, rest = rolling[:canary], rolling[canary:]
    if canaries and rest:
        lines.append(f"  1. canaries, first: {', '.join(canaries)}")
        others = f"the other {len(rest)}" if len(rest) > 1 else rest[0]
        lines.append(f"  2. once every canary is healthy: {others}")
    else:
        lines.append("  in the order listed above")
    if max_failures and any(d.action is Action.UPGRADE for d in plan.deployments):
        failures = f"{max_failures} failure{'s' if max_failures != 1 else ''}"
        lines.append(
            f"  no new upgrade rollout starts after {failures} (--max-failures); those not "
            "started are reported as not attempted, and a re-run continues with them"
        )
    return "\n".join(lines) + "\n\n"


def apply_text(
    applied: int,
    failed: list[tuple[Change, errors.ReconcilerError]],
    skipped: list[Change],
    *,
    serial: int | None,
    interrupted: bool,
    rolled: Sequence[tuple[DeploymentChange, str]] = (),
    roll_failed: Sequence[tuple[DeploymentChange, str, errors.ReconcilerError]] = (),
    roll_skipped: Sequence[tuple[DeploymentChange, str]] = (),
    roll_not_attempted: Sequence[tuple[DeploymentChange, str]] = (),
    corrected: Sequence[str] = (),
) -> str:
    """The apply report: objects written again after a change outside the tool, failures,
    then one line per deployment touched, then the totals."""
    lines = [f"  ~ {address}: written again (changed outside the tool)" for address in corrected]
    lines += [f"  x {change.address}: {error.summary}" for change, error in failed]
    lines += [f"  - {change.address}: skipped (depends on a failed change)" for change in skipped]
    deployments, deployment_line = _deployment_report(rolled, roll_failed, roll_skipped)
    lines += deployment_line
    waiting: dict[str, list[str]] = {}
    for change, experiment in roll_not_attempted:
        waiting.setdefault(change.address, []).append(experiment)
    lines += [
        f"  · {address}: not attempted ({', '.join(experiments)}): rollouts stopped after "
        "failures; run again to continue"
        for address, experiments in sorted(waiting.items())
    ]
    if waiting:
        deployments = (deployments or "; deployments: ") + (
            f"{', ' if deployments else ''}{len(waiting)} not attempted"
        )
    bad = failed or skipped or roll_failed or roll_skipped or roll_not_attempted
    outcome = "Apply complete" if not bad and not interrupted else "Apply failed"
    if interrupted:
        outcome = "Apply interrupted"
    tail = f" State serial {serial}." if serial is not None else ""
    counts = f"{applied} applied, {len(failed)} failed, {len(skipped)} skipped"
    if corrected:
        counts += f", {len(corrected)} corrected"
    return "\n".join([*lines, f"{outcome}! {counts}{deployments}.{tail}", ""])


def _deployment_report(
    rolled: Sequence[tuple[DeploymentChange, str]],
    roll_failed: Sequence[tuple[DeploymentChange, str, errors.ReconcilerError]],
    roll_skipped: Sequence[tuple[DeploymentChange, str]],
) -> tuple[str, list[str]]:
    """(`; deployments: …` for the totals line, one line per deployment)."""
    changes: dict[str, DeploymentChange] = {}
    done: dict[str, list[str]] = {}
    trouble: dict[str, list[str]] = {}
    for change, experiment in rolled:
        changes[change.address] = change
        done.setdefault(change.address, []).append(experiment)
    for change, experiment, error in roll_failed:
        changes[change.address] = change
        trouble.setdefault(change.address, []).append(f"{experiment} failed: {error.summary}")
    for change, experiment in roll_skipped:
        changes[change.address] = change
        trouble.setdefault(change.address, []).append(
            f"{experiment} skipped (depends on a failed change)"
        )
    if not changes:
        return "", []
    lines = []
    counts = {"created": 0, "rolled": 0, "failed": 0}
    for address in sorted(changes):
        change = changes[address]
        moved = {u.experiment_id: u for u in change.upgrades}
        parts = [_rolled(moved[e]) if e in moved else e for e in done.get(address, [])]
        if address in trouble:
            counts["failed"] += 1
            done_part = [f"done: {', '.join(parts)}"] if parts else []
            lines.append(f"  x {address}: " + "; ".join([*trouble[address], *done_part]))
        elif change.action is Action.CREATE:
            counts["created"] += 1
            lines.append(f"  + {address}: created " + ", ".join(parts))
        else:
            counts["rolled"] += 1
            lines.append(f"  ⇡ {address}: rolled " + ", ".join(parts))
    totals = ", ".join(f"{n} {word}" for word, n in counts.items() if n)
    return f"; deployments: {totals}", lines


def _rolled(upgrade: CompositionUpgrade) -> str:
    """`exp-1 v1.5.4 → v1.6.0`, and `(new configuration)` when it took its runtime's."""
    extra = " (new configuration)" if upgrade.configuration else ""
    return f"{upgrade.experiment_id} {_version_move(upgrade)}{extra}"


def error_text(
    error: errors.ReconcilerError,
    *,
    colour: bool = False,
    sensitivity: Sensitivity | None = None,
) -> str:
    """The error as the CLI prints it; `sensitivity` adds the names the user marked."""
    style = Style(colour)
    if sensitivity is not None:
        error.redacted_with(sensitivity)
    lines = [style.paint("Error: ", "31;1") + error.summary]
    lines += [f"  {line}" for line in error.detail.splitlines()]
    if error.hint:
        lines.append(f"  hint: {error.hint}")
    return "\n".join(lines) + "\n"


def state_list(resources: Iterable[Resource], deployments: Iterable[Deployment] = ()) -> str:
    lines = []
    for resource in resources:
        effective = ceiling.effective(resource.platform, resource.user)
        managed = "bootstrap" if resource.managed_by_bootstrap else "api"
        lines.append(f"{resource.address}  {effective.state}  {managed}")
    for deployment in deployments:
        runs = ", ".join(
            f"{c.experiment_id} {c.image_version} ×{c.replicas}" for c in deployment.compositions
        )
        lines.append(f"{deployment.address}  {runs}")
    return "\n".join(lines) + ("\n" if lines else "")


def deployment_json(deployment: Deployment) -> str:
    return (
        orjson.dumps(deployment.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
    )


def resource_json(resource: Resource, *, sensitivity: Sensitivity = sensitive.DEFAULT) -> str:
    data = resource.model_dump(mode="json")
    effective = ceiling.effective(resource.platform, resource.user)
    data["state"] = effective.state.value
    data["state_reason"] = effective.reason
    _redact_resource(data, sensitivity)
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


def state_json(document: StateDocument, *, sensitivity: Sensitivity = sensitive.DEFAULT) -> str:
    """The state document as JSON, sensitive values redacted (the file itself keeps them)."""
    data = document.model_dump(mode="json")
    for resource in data["resources"]:
        _redact_resource(resource, sensitivity)
    for configuration in data["configurations"].values():
        if configuration.get("environment_variables"):
            configuration["environment_variables"] = sensitivity.redact_env(
                configuration["environment_variables"]
            )
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


# Reviews of a values change (planning/review.py) -----------------------------------------

REVIEW_TITLE = "Review of a values change (dry run: nothing was written)"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def review_summary_line(review: Review) -> str:
    summary = review.catalog.summary
    upgrades = len({a.deployment for a in review.available})
    return (
        f"Review: {summary.add} to add, {summary.change} to change, "
        f"{summary.replace} to replace, {summary.delete} to delete, {summary.held} held; "
        f"{_count(upgrades, 'deployment')} with an upgrade available, "
        f"{_count(len(review.disabled), 'composition')} on a version becoming DISABLED, "
        f"{_count(len(review.rolling), 'deployment')} to roll on upgrade."
    )


def _sides(review: Review) -> list[str]:
    lines = [
        f"base: {', '.join(review.base.sources) or '(no values)'}",
        f"head: {', '.join(review.head.sources) or '(no values)'}",
    ]
    lines += [
        f"{name}: not in the base revision (a layer this change adds)"
        for name in review.base.absent
    ]
    state = (
        f"state: serial {review.state_serial}, lineage {review.state_lineage}"
        if review.state_lineage
        else "state: none yet"
    )
    lines.append(f"{state}; {_count(review.deployment_count, 'deployment')}")
    return lines


def _disabled(item: DisabledInUse) -> str:
    because = f" ({item.reason})" if item.reason else ""
    where = (
        f"an upgrade moves it to {name_of(item.available)}"
        if item.available and image_of(item.available) == image_of(item.version)
        else f"an upgrade moves it to {item.available}"
        if item.available
        else "no version of its image is available to move to"
    )
    return (
        f"{item.deployment}  {item.experiment_id}: {name_of(item.version)} of "
        f"{name_of(image_of(item.version))} becomes DISABLED{because}; it keeps running, "
        f"{where}"
    )


def _roll_lines(roll: Roll) -> tuple[str, list[str]]:
    """(the command, what it rolls) of one deployment."""
    head = roll.command
    if roll.error:
        return head, [f"refused: {roll.error}"]
    lines = [f"{Action.UPGRADE.value} {_rollout(u)}" for u in roll.upgrades]
    lines += [f"warning: {w}" for w in roll.warnings]
    lines += [f"note: {n}" for n in roll.notes]
    return head, lines or ["nothing to roll"]


def review_text(
    review: Review, *, colour: bool = False, sensitivity: Sensitivity = sensitive.DEFAULT
) -> str:
    style = Style(colour)
    lines = [style.bold(REVIEW_TITLE), *(f"  {line}" for line in _sides(review)), ""]
    plan = review.catalog
    if plan.changes:
        lines.append("Catalog changes from base to head:")
        for change in plan.changes:
            lines += _change_lines(change, style, sensitivity)
    else:
        lines.append("Catalog changes from base to head: none.")
    if plan.warnings:
        lines += ["", style.paint("Warnings:", "33")]
        lines += [f"  - {warning}" for warning in plan.warnings]
    lines += ["", "Upgrades available after the change (nothing rolls until upgraded):"]
    lines += [f"  - {_available(item)}" for item in review.available] or ["  none"]
    lines += ["", "Running versions that become DISABLED:"]
    lines += [f"  - {_disabled(item)}" for item in review.disabled] or ["  none"]
    lines += ["", "What an upgrade would roll once head is applied:"]
    for roll in review.rolls:
        command, details = _roll_lines(roll)
        lines.append(f"  {command}")
        lines += [f"      {detail}" for detail in details]
    if not review.rolls:
        lines.append("  nothing")
    lines += ["", style.bold(review_summary_line(review)), ""]
    return "\n".join(lines)


def review_json(review: Review, *, sensitivity: Sensitivity = sensitive.DEFAULT) -> str:
    """The review's JSON form (`schemas/review.schema.json`), sensitive values redacted."""
    data = review_module.to_dict(review)
    _redact_changes(data["changes"], sensitivity)
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def review_markdown(review: Review, *, sensitivity: Sensitivity = sensitive.DEFAULT) -> str:
    """A pull-request comment: the blast radius first, then the catalog changes."""
    out = ["### runtime-reconciler review", "", f"**{review_summary_line(review)}**", ""]
    out += [f"- {line}" for line in _sides(review)]
    out += ["", "#### Upgrades available after the change", ""]
    out += [f"- {_available(a)}" for a in review.available] or ["None."]
    out += ["", "#### Running versions that become DISABLED", ""]
    out += [f"- {_disabled(d)}" for d in review.disabled] or ["None."]
    out += ["", "#### What an upgrade would roll once head is applied", ""]
    if review.rolls:
        out += ["| command | experiment | roll |", "|---|---|---|"]
    for roll in review.rolls:
        command = f"`{roll.command}`"
        if roll.error:
            out.append(f"| {command} | | refused: {_cell(roll.error)} |")
        for upgrade in roll.upgrades:
            cell = f"{_version_move(upgrade)} (image `{upgrade.image}`)"
            if upgrade.reason:
                cell += f"; {upgrade.reason}"
            out.append(f"| {command} | `{upgrade.experiment_id}` | {_cell(cell)} |")
        if not roll.error and not roll.upgrades:
            out.append(f"| {command} | | nothing to roll |")
        for extra in (*roll.warnings, *roll.notes):
            out.append(f"| {command} | | {_cell(extra)} |")
    if not review.rolls:
        out.append("Nothing.")
    out += ["", "#### Catalog changes from base to head", ""]
    if review.catalog.changes:
        out += ["| | resource | details |", "|---|---|---|"]
        for change in review.catalog.changes:
            details = [_headline(change), *_details(change, sensitivity)]
            cell = "<br>".join(_cell(d) for d in details if d)
            out.append(f"| `{change.action.value}` | `{change.address}` | {cell} |")
    else:
        out.append("None.")
    if review.catalog.warnings:
        out += ["", "**Warnings**", ""] + [f"- {w}" for w in review.catalog.warnings]
    return "\n".join(out) + "\n"
