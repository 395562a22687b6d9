"""Views of plans, apply results, state and errors: human text, JSON and markdown.

Human output reads like Terraform's: one line per change led by its symbol, field
diffs beneath, state moves naming the deciding source (and both intents when the
ceiling holds one), then a `Plan: …` summary line. Colour only when asked (the CLI
asks on a terminal). Nothing here prints secrets: specs carry none, and errors are
rendered from their own messages.

Views only: no decisions. What changes is plan.py's; what is printed where is cli.py's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from reconciler import ceiling, errors
from reconciler.model import Kind, Resource
from reconciler.plan import Action, Change, Plan, Summary

_COLOURS = {
    Action.CREATE: "32",
    Action.UPDATE: "33",
    Action.REPLACE: "35",
    Action.DELETE: "31",
    Action.HOLD: "36",
}


class Style:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def bold(self, text: str) -> str:
        return self.paint(text, "1")


def _value(value: Any) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, int | float) else str(value)


def summary_line(summary: Summary) -> str:
    return (
        f"Plan: {summary.add} to add, {summary.change} to change, {summary.replace} to replace, "
        f"{summary.delete} to delete, {summary.held} held, 0 deployments to roll."
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


def _details(change: Change) -> Iterable[str]:
    for item in change.fields:
        if item.before is None:
            yield f"{item.path}: + {_value(item.after)}"
        elif item.after is None:
            yield f"{item.path}: - {_value(item.before)}"
        else:
            yield f"{item.path}: {_value(item.before)} → {_value(item.after)}"
    if change.move is not None:
        move = change.move
        source = move.source.label if move.source else "default"
        because = f": {move.reason}" if move.reason else ""
        line = f"state: {move.before} → {move.after} ({source}{because})"
        if change.hold is not None:
            line += f"; Helm values: {change.hold.platform}, user: {change.hold.user}"
        yield line


def plan_text(plan: Plan, *, colour: bool = False) -> str:
    style = Style(colour)
    if not plan.has_changes:
        return "No changes. The catalog matches the configuration.\n"
    lines = ["Runtime reconciler will perform the following actions:", ""]
    for change in plan.changes:
        symbol = style.paint(f"{change.action.value:>3}", _COLOURS[change.action])
        head = _headline(change)
        lines.append(f"  {symbol} {style.bold(change.address)}" + (f"  {head}" if head else ""))
        lines.extend(f"        {detail}" for detail in _details(change))
    if plan.warnings:
        lines += ["", style.paint("Warnings:", "33")]
        lines += [f"  - {warning}" for warning in plan.warnings]
    lines += ["", style.bold(summary_line(plan.summary)), ""]
    return "\n".join(lines)


def plan_json(plan: Plan) -> str:
    return orjson.dumps(plan.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"


def plan_markdown(plan: Plan) -> str:
    """A pull-request comment: the summary, then a table of changes."""
    out = ["### runtime-reconciler plan", "", f"**{summary_line(plan.summary)}**", ""]
    if not plan.has_changes:
        out.append("No changes. The catalog matches the configuration.")
        return "\n".join(out) + "\n"
    out += ["| | resource | details |", "|---|---|---|"]
    for change in plan.changes:
        details = [_headline(change), *_details(change)]
        cell = "<br>".join(d.replace("|", "\\|") for d in details if d)
        out.append(f"| `{change.action.value}` | `{change.address}` | {cell} |")
    if plan.warnings:
        out += ["", "**Warnings**", ""] + [f"- {w}" for w in plan.warnings]
    return "\n".join(out) + "\n"


def apply_text(
    applied: int,
    failed: list[tuple[Change, errors.ReconcilerError]],
    skipped: list[Change],
    *,
    serial: int | None,
    interrupted: bool,
) -> str:
    lines = [f"  x {change.address}: {error.summary}" for change, error in failed]
    lines += [f"  - {change.address}: skipped (depends on a failed change)" for change in skipped]
    outcome = "Apply complete" if not failed and not skipped and not interrupted else "Apply failed"
    if interrupted:
        outcome = "Apply interrupted"
    tail = f" State serial {serial}." if serial is not None else ""
    counts = f"{applied} applied, {len(failed)} failed, {len(skipped)} skipped."
    return "\n".join([*lines, f"{outcome}! {counts}{tail}", ""])


def error_text(error: errors.ReconcilerError, *, colour: bool = False) -> str:
    style = Style(colour)
    lines = [style.paint("Error: ", "31;1") + error.summary]
    lines += [f"  {line}" for line in error.detail.splitlines()]
    if error.hint:
        lines.append(f"  hint: {error.hint}")
    return "\n".join(lines) + "\n"


def state_list(resources: Iterable[Resource]) -> str:
    lines = []
    for resource in resources:
        effective = ceiling.effective(resource.platform, resource.user)
        managed = "bootstrap" if resource.managed_by_bootstrap else "api"
        lines.append(f"{resource.address}  {effective.state}  {managed}")
    return "\n".join(lines) + ("\n" if lines else "")


def resource_json(resource: Resource) -> str:
    data = resource.model_dump(mode="json")
    effective = ceiling.effective(resource.platform, resource.user)
    data["state"] = effective.state.value
    data["state_reason"] = effective.reason
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"
