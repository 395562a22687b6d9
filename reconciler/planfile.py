"""Saved plan files: write a plan for review, read it back for `apply PLANFILE`.

A plan file is the plan's JSON form (plan_codec.py, `schemas/plan.schema.json`) plus a
`digest`: the sha256 of the rest of the file as canonical JSON. Reading one checks its
format version, its digest (a plan edited or truncated after it was saved is refused,
whatever the edit) and its shape. Whether it still fits the state is the engine's check,
done under the lock at apply time (engine.check_fresh). The digest catches accidents and
hand edits, not forgery: anyone who can write the file can recompute it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from reconciler import errors, files
from reconciler.inputs import schema
from reconciler.planning import plan_codec
from reconciler.planning.plan import FORMAT_VERSION, Plan

DIGEST_PREFIX = "sha256:"


def content_digest(data: dict[str, Any]) -> str:
    """The digest of a plan's JSON form without its own `digest` entry."""
    body = {key: value for key, value in data.items() if key != "digest"}
    return (
        DIGEST_PREFIX + hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    )


def save(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write atomically, so a reader never sees half a plan."""
    target = Path(path)
    data = plan_codec.to_dict(plan)
    data["digest"] = content_digest(data)
    encoded = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write(target, encoded)
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
    if not isinstance(version, int) or isinstance(version, bool):
        raise errors.PlanFileError(
            "not a plan file: no format version",
            source=source,
            hint="save plans with `reconciler plan --out FILE`",
        )
    if version != FORMAT_VERSION:
        newer = version > FORMAT_VERSION
        raise errors.PlanFileError(
            f"plan format {version} is {'newer' if newer else 'older'} than this tool's "
            f"({FORMAT_VERSION})",
            source=source,
            hint="apply it with the version of the tool that made it"
            if newer
            else "plan again with this version of the tool",
        )
    recorded = data.get("digest")
    if not isinstance(recorded, str):
        raise errors.PlanFileError(
            "the plan file has no integrity digest",
            source=source,
            hint="save plans with `reconciler plan --out FILE`, and apply them unedited",
        )
    if recorded != content_digest(data):
        raise errors.PlanFileError(
            "the plan file was modified after it was saved",
            source=source,
            detail="its content no longer matches the digest recorded when it was saved",
            hint="plan again (`reconciler plan --out FILE`): a saved plan is applied as "
            "reviewed or not at all",
        )
    schema.validate(data, "plan.schema.json", source=source, error=errors.PlanFileError)
    return plan_codec.from_dict(data)
