"""The state document: what was applied, both sources' intents, and its identity.

A state records the catalog's resources and the deployments with their pinned
compositions. It has a `lineage` (fixed when the state is first written) and a `serial`
(bumped on every write that changes content); together they let apply refuse a stale plan and
let a writer refuse to replace a newer state. This module encodes and decodes the
document (`schemas/state.schema.json` is generated from `StateDocument`), upgrades
older formats on read, refuses newer ones, and checks that a new state may succeed an
old one.

Pure: bytes in, bytes out. Where the bytes live is a backend's business (backends/).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import orjson
import pydantic
from pydantic import BaseModel, ConfigDict

from reconciler import errors
from reconciler.model import Deployment, Resource

FORMAT_VERSION = 2


def _add_deployments(raw: dict[str, Any]) -> dict[str, Any]:
    """Format 1 → 2: deployments arrived; a format 1 state has none."""
    return {**raw, "version": 2, "deployments": []}


# Upgrades from older formats, keyed by the format they read; each returns the next one.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _add_deployments}


class StateDocument(BaseModel):
    """A state document. `resources` and `deployments` are sorted by address in the file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = FORMAT_VERSION
    tool_version: str
    serial: int = pydantic.Field(ge=0)
    lineage: str
    workspaces: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()
    deployments: tuple[Deployment, ...] = ()

    @cached_property
    def by_address(self) -> dict[str, Resource]:
        return {r.address: r for r in self.resources}

    @cached_property
    def deployments_by_address(self) -> dict[str, Deployment]:
        return {d.address: d for d in self.deployments}


def empty(tool_version: str) -> StateDocument:
    """The state before the first apply: serial 0 and a lineage of its own."""
    return StateDocument(tool_version=tool_version, serial=0, lineage=str(uuid.uuid4()))


def successor(
    prior: StateDocument,
    resources: Mapping[str, Resource],
    *,
    tool_version: str,
    workspaces: tuple[str, ...] | None = None,
    deployments: Mapping[str, Deployment] | None = None,
) -> StateDocument:
    """The next state: same lineage, serial + 1, resources sorted by address.

    `workspaces` are the workspaces created explicitly (SDK); None keeps the prior's.
    `deployments` likewise: None keeps the prior's.
    """
    kept = prior.deployments_by_address if deployments is None else deployments
    return StateDocument(
        tool_version=tool_version,
        serial=prior.serial + 1,
        lineage=prior.lineage,
        workspaces=tuple(sorted(prior.workspaces if workspaces is None else workspaces)),
        resources=tuple(resources[a] for a in sorted(resources)),
        deployments=tuple(kept[a] for a in sorted(kept)),
    )


def check_successor(stored: StateDocument | None, new: StateDocument) -> None:
    """Refuse to replace `stored` with a state of another lineage or a serial not above it."""
    if stored is None:
        return
    if stored.lineage != new.lineage:
        raise errors.ConflictError(
            "refusing to overwrite a state of another lineage",
            detail=f"stored lineage {stored.lineage}, new lineage {new.lineage}",
            hint="check --state: it points at a different state than the one planned from",
        )
    if new.serial <= stored.serial:
        raise errors.ConflictError(
            f"refusing to write serial {new.serial} over serial {stored.serial}",
            detail="the stored state is newer than the one this run started from",
        )


def encode(document: StateDocument) -> bytes:
    return orjson.dumps(
        document.model_dump(mode="json"), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    )


def decode(data: bytes, *, source: str) -> StateDocument:
    """Parse a state document; corruption, unknown formats and bad content are StateErrors."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise errors.StateError(
            f"{source}: the state is not valid JSON ({exc})",
            hint="restore it from its .backup or from bucket versioning",
        ) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("version"), int):
        raise errors.StateError(
            f"{source}: not a state document (no format version)",
            hint="check that --state points at a runtime-reconciler state file",
        )
    version = raw["version"]
    if version > FORMAT_VERSION:
        raise errors.StateError(
            f"{source}: state format {version} is newer than this tool understands "
            f"({FORMAT_VERSION})",
            detail=f"written by runtime-reconciler {raw.get('tool_version', '?')}",
            hint="upgrade runtime-reconciler to read this state",
        )
    while version < FORMAT_VERSION:
        raw = UPGRADES[version](raw)
        version = raw["version"]
    try:
        return StateDocument.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise errors.StateError(
            f"{source}: the state is corrupted at {where}: {first['msg']}",
            detail=f"{exc.error_count()} problem(s) in the state document",
            hint="restore it from its .backup or from bucket versioning",
        ) from exc


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the state document (written to schemas/state.schema.json)."""
    schema = StateDocument.model_json_schema()
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://runtimes.reconciler.dev/schemas/state.schema.json",
        **schema,
    }
