"""Table output, as `kubectl get` asks for it
(`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).

Owns the columns per kind (a CRD's additionalPrinterColumns; NAME and AGE otherwise, with
the real columns for Deployments and Jobs) and the rows. Ages are measured on the emulator's
clock.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from tests.kubeapi.registry import ResourceType

_FILTER = re.compile(r"^\[\?\(@\.(\w+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def human_duration(seconds: float) -> str:
    """The short ages kubectl prints (apimachinery's duration.HumanDuration)."""
    seconds = int(max(seconds, 0))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def json_path(obj: Any, path: str) -> Any:
    """The simple JSONPath subset printer columns use: `.a.b`, `[0]`, `[?(@.k=="v")]`."""
    rest = path.strip()
    if rest.startswith("{") and rest.endswith("}"):
        rest = rest[1:-1]
    current = obj
    while rest and current is not None:
        if rest.startswith("."):
            match = re.match(r"^\.([A-Za-z0-9_-]+)", rest)
            if not match:
                return None
            current = current.get(match.group(1)) if isinstance(current, dict) else None
            rest = rest[match.end() :]
        elif rest.startswith("[?"):
            match = _FILTER.match(rest)
            if not match or not isinstance(current, list):
                return None
            key, value = match.groups()
            found = [
                item for item in current if isinstance(item, dict) and str(item.get(key)) == value
            ]
            current = found[0] if found else None
            rest = rest[match.end() :]
        elif rest.startswith("["):
            match = re.match(r"^\[(\d+)\]", rest)
            if not match or not isinstance(current, list):
                return None
            index = int(match.group(1))
            current = current[index] if index < len(current) else None
            rest = rest[match.end() :]
        else:
            return None
    return current


def _age(obj: dict[str, Any], now: datetime.datetime) -> str:
    created = obj["metadata"].get("creationTimestamp")
    return human_duration((now - parse_time(created)).total_seconds()) if created else "<unknown>"


def _columns(rtype: ResourceType) -> list[tuple[dict[str, Any], Any]]:
    """(column definition, cell function(obj, now)) pairs."""
    name_col = (
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
        lambda o, now: o["metadata"]["name"],
    )
    age_col = (
        {"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0},
        _age,
    )
    if not rtype.builtin and rtype.printer_columns:
        cols = [name_col]
        for spec in rtype.printer_columns:
            definition = {
                "name": spec["name"],
                "type": spec.get("type", "string"),
                "format": spec.get("format", ""),
                "description": spec.get("description", ""),
                "priority": spec.get("priority", 0),
            }

            def cell(o, now, spec=spec):
                value = json_path(o, spec["jsonPath"])
                if value is None:
                    return None
                if spec.get("type") == "date":
                    return human_duration((now - parse_time(value)).total_seconds())
                return value

            cols.append((definition, cell))
        return cols
    if rtype.kind == "Deployment":

        def ready(o, now):
            status, spec = o.get("status", {}), o.get("spec", {})
            return f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"

        return [
            name_col,
            (
                {"name": "Ready", "type": "string", "format": "", "description": "", "priority": 0},
                ready,
            ),
            (
                {
                    "name": "Up-to-date",
                    "type": "integer",
                    "format": "",
                    "description": "",
                    "priority": 0,
                },
                lambda o, now: o.get("status", {}).get("updatedReplicas", 0),
            ),
            (
                {
                    "name": "Available",
                    "type": "integer",
                    "format": "",
                    "description": "",
                    "priority": 0,
                },
                lambda o, now: o.get("status", {}).get("availableReplicas", 0),
            ),
            age_col,
        ]
    if rtype.kind == "Job":

        def status(o, now):
            conds = {c["type"]: c["status"] for c in o.get("status", {}).get("conditions", [])}
            if conds.get("Complete") == "True":
                return "Complete"
            if conds.get("Failed") == "True":
                return "Failed"
            return "Running"

        return [
            name_col,
            (
                {
                    "name": "Status",
                    "type": "string",
                    "format": "",
                    "description": "",
                    "priority": 0,
                },
                status,
            ),
            (
                {
                    "name": "Completions",
                    "type": "string",
                    "format": "",
                    "description": "",
                    "priority": 0,
                },
                lambda o, now: (
                    f"{o.get('status', {}).get('succeeded', 0)}"
                    f"/{o.get('spec', {}).get('completions', 1)}"
                ),
            ),
            age_col,
        ]
    if rtype.kind == "ConfigMap":
        return [
            name_col,
            (
                {"name": "Data", "type": "integer", "format": "", "description": "", "priority": 0},
                lambda o, now: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            ),
            age_col,
        ]
    if rtype.kind == "Namespace":
        return [
            name_col,
            (
                {
                    "name": "Status",
                    "type": "string",
                    "format": "",
                    "description": "",
                    "priority": 0,
                },
                lambda o, now: o.get("status", {}).get("phase", "Active"),
            ),
            age_col,
        ]
    return [name_col, age_col]


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rtype: ResourceType,
    items: list[dict[str, Any]],
    *,
    now: datetime.datetime,
    include: str,
    list_meta: dict[str, Any],
) -> dict[str, Any]:
    columns = _columns(rtype)
    rows = []
    for obj in items:
        row: dict[str, Any] = {"cells": [cell(obj, now) for _, cell in columns]}
        partial = _row_object(obj, include)
        if partial is not None:
            row["object"] = partial
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [definition for definition, _ in columns],
        "rows": rows,
    }
