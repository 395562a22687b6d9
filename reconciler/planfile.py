"""Saved plan files: write a plan for review, read it back for `apply PLANFILE`.

A plan file is the plan's JSON form (plan_json.py, `schemas/plan.schema.json`), written
atomically. Reading one checks its shape and format version; whether it is still fresh
against the state is the engine's check, done under the lock at apply time.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from reconciler import errors, files
from reconciler.inputs import schema
from reconciler.planning import plan_codec
from reconciler.planning.plan import FORMAT_VERSION, Plan


def save(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write atomically, so a reader never sees half a plan."""
    target = Path(path)
    data = orjson.dumps(
        plan_codec.to_dict(plan), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write(target, data)
    except OSError as exc:
        raise errors.PlanFileError(f"cannot write plan: {exc.strerror}", source=str(path)) from exc


def load(path: str | os.PathLike[str]) -> Plan:
    source = os.fspath(path)
    try:
        data = orjson.loads(Path(source).read_bytes())
    except OSError as exc:
        raise errors.PlanFileError(f"cannot read plan: {exc.strerror}", source=source) from exc
    except orjson.JSONDecodeError as exc:
        raise errors.PlanFileError(
            f"not a plan file: invalid JSON ({exc})",
            source=source,
            hint="save plans with `reconciler plan --out FILE`",
        ) from exc
    version = data.get("format_version") if isinstance(data, dict) else None
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise errors.PlanFileError(
            f"plan format {version} is newer than this tool understands",
            source=source,
            hint="apply it with the version of the tool that made it",
        )
    schema.validate(data, "plan.schema.json", source=source, error=errors.PlanFileError)
    return plan_codec.from_dict(data)
