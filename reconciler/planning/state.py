"""The state document: what was applied, both sources' intents, and its identity.

A state records the catalog's resources and the deployments with their pinned
compositions. It has a `lineage` (fixed when the state is first written) and a `serial`
(bumped on every write that changes content); together they let apply refuse a stale plan and
let a writer refuse to replace a newer state. This module encodes and decodes the
document (`schemas/state.schema.json` is generated from `StateDocument`), upgrades
older formats on read (format 3 pins each composition's runtime configuration, format 4
records the environment variables users marked sensitive), refuses
newer ones, and checks that a new state may succeed an old one.

A document is checked whole on read, beyond its schema: addresses valid and unique, each
kind matching its address, specs complete, every reference resolving (a version to its
image, a runtime to its image or version, a composition to its runtime and version), the
serial within range. A state that breaks any of them is refused, never planned from and so
never overwritten: the planner would otherwise build on it and apply would write it back.

Pure: bytes in, bytes out. Where the bytes live is a backend's business (backends/).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

import orjson
import pydantic
from pydantic import BaseModel, ConfigDict

from reconciler import errors
from reconciler.addresses import image_of, is_deployment_address, kind_of
from reconciler.model import SPEC_TYPES, Composition, Deployment, Kind, Resource
from reconciler.planning import workloads

FORMAT_VERSION = 4
MAX_SERIAL = 2**63 - 1  # what every JSON reader (and a signed 64-bit integer) holds exactly
RESTORE_HINT = "restore it from its .backup or from bucket versioning"


def _add_deployments(raw: dict[str, Any]) -> dict[str, Any]:
    """Format 1 → 2: deployments arrived; a format 1 state has none."""
    return {**raw, "version": 2, "deployments": []}


def _pin_configurations(raw: dict[str, Any]) -> dict[str, Any]:
    """Format 2 → 3: compositions pin their runtime's configuration.

    A format 2 composition recorded only the digest of the workload it was written with
    (`last_applied`), from its runtime's spec at that time. Where the workload its runtime
    and version give now has that digest, the composition runs the runtime's current
    configuration and is pinned to it; otherwise it runs an older one, unknown ("").
    Anything unreadable is left for validation to report.
    """
    listed = raw.get("resources")
    resources = {
        r.get("address"): r
        for r in (listed if isinstance(listed, list) else ())
        if isinstance(r, dict)
    }
    if not isinstance(raw.get("deployments"), list):
        return {**raw, "version": 3}
    deployments = []
    for item in raw["deployments"]:
        if not isinstance(item, dict) or not isinstance(item.get("compositions"), list):
            deployments.append(item)
            continue
        compositions = [
            _pinned(item, composition, resources) if isinstance(composition, dict) else composition
            for composition in item["compositions"]
        ]
        deployments.append({**item, "compositions": compositions})
    return {**raw, "version": 3, "deployments": deployments}


def _pinned(
    deployment: dict[str, Any], composition: dict[str, Any], resources: Mapping[Any, Any]
) -> dict[str, Any]:
    runtime, version = (
        resources.get(composition.get("runtime")),
        resources.get(composition.get("image_version")),
    )
    pinned = ""
    try:
        runtime_resource = Resource.model_validate(runtime)
        workload = workloads.composition_manifest(
            Deployment.model_validate({**deployment, "compositions": [composition]}),
            Composition.model_validate(composition),
            runtime=runtime_resource,
            version=Resource.model_validate(version),
        )
        if workloads.digest(workload) == composition.get("last_applied"):
            pinned = workloads.configuration_digest(runtime_resource.spec)
    except (pydantic.ValidationError, KeyError, TypeError):
        pass
    return {**composition, "configuration": pinned}


def _record_marks(raw: dict[str, Any]) -> dict[str, Any]:
    """Format 3 → 4: runtimes record the environment variables the user marked sensitive
    (`sensitive_environment`); a format 3 state kept no marks, so every list is empty."""
    return {**raw, "version": 4}


# Upgrades from older formats, keyed by the format they read; each returns the next one.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _add_deployments,
    2: _pin_configurations,
    3: _record_marks,
}


class StateDocument(BaseModel):
    """A state document. `resources` and `deployments` are sorted by address in the file.

    `configurations` holds, by digest, the older runtime configurations that compositions
    still run (planning/workloads.py): only those their runtime no longer gives, so it is
    empty unless a runtime changed and some of its deployments were not upgraded yet.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = FORMAT_VERSION
    tool_version: str
    serial: int = pydantic.Field(ge=0, le=MAX_SERIAL)
    lineage: str
    workspaces: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    configurations: dict[str, dict[str, Any]] = pydantic.Field(default_factory=dict)

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
    configurations: Mapping[str, Mapping[str, Any]] | None = None,
) -> StateDocument:
    """The next state: same lineage, serial + 1, resources sorted by address.

    `workspaces` are the workspaces created explicitly (SDK); None keeps the prior's.
    `deployments` and `configurations` likewise: None keeps the prior's.
    """
    kept = prior.deployments_by_address if deployments is None else deployments
    if prior.serial >= MAX_SERIAL:
        raise errors.StateError(
            f"the state's serial {prior.serial} cannot grow any further",
            hint="start a new state (a new lineage) from this one's resources",
        )
    return StateDocument(
        tool_version=tool_version,
        serial=prior.serial + 1,
        lineage=prior.lineage,
        workspaces=tuple(sorted(prior.workspaces if workspaces is None else workspaces)),
        resources=tuple(resources[a] for a in sorted(resources)),
        deployments=tuple(kept[a] for a in sorted(kept)),
        configurations={
            key: dict(value)
            for key, value in sorted(
                (prior.configurations if configurations is None else configurations).items()
            )
        },
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
            f"{source}: the state is not valid JSON ({exc})", hint=RESTORE_HINT
        ) from exc
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("version"), int)
        or isinstance(raw["version"], bool)
    ):
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
    if version < min(UPGRADES, default=FORMAT_VERSION):
        raise errors.StateError(
            f"{source}: state format {version} is not one this tool ever wrote",
            detail=f"formats are numbered from 1; this tool writes {FORMAT_VERSION}",
            hint=RESTORE_HINT,
        )
    while version < FORMAT_VERSION:
        raw = UPGRADES[version](raw)
        version = raw["version"]
    try:
        document = StateDocument.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise errors.StateError(
            f"{source}: the state is corrupted at {where}{_naming(raw, first['loc'])}: "
            f"{first['msg']}",
            detail=f"{exc.error_count()} problem(s) in the state document",
            hint=RESTORE_HINT,
        ) from exc
    problem = check(document)
    if problem:
        raise errors.StateError(
            f"{source}: the state is corrupted: {problem}",
            detail="the state breaks a rule every state this tool writes keeps; "
            "nothing was planned or written",
            hint=RESTORE_HINT,
        )
    return document


def _naming(raw: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """` (address)` of the resource or deployment at `loc`, when it has a readable one."""
    if len(loc) >= 2 and loc[0] in ("resources", "deployments") and isinstance(loc[1], int):
        entries = raw.get(str(loc[0]))
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        address = entry.get("address") if isinstance(entry, dict) else None
        if isinstance(address, str):
            return f" ({address})"
    return ""


# Each kind's spec keys: those without a default must be there, no others may be.
_SPEC_KEYS = {
    kind: (
        frozenset(name for name, f in model.model_fields.items() if f.is_required()),
        frozenset(model.model_fields),
    )
    for kind, model in SPEC_TYPES.items()
}


def check(document: StateDocument) -> str:
    """The first rule `document` breaks, naming the resource, or "" when it keeps them all.

    One pass of dict lookups and one regex per resource: a large state is decoded on every
    plan, so this stays a small part of decoding it.
    """
    by_address = document.by_address
    if len(by_address) != len(document.resources):
        return f"{_first_duplicate(r.address for r in document.resources)}: listed twice"
    for resource in document.resources:
        address, kind, spec = resource.address, resource.kind, resource.spec
        named = kind_of(address)
        if named is None:
            return f"{address!r} is not a resource address"
        if named is not kind:
            return f"{address}: a {named.value} recorded as a {kind.value}"
        required, known = _SPEC_KEYS[kind]
        keys = spec.keys()
        if not required <= keys:
            return f"{address}: spec lacks {', '.join(sorted(required - keys))}"
        if not keys <= known:
            return f"{address}: spec has unknown {', '.join(sorted(keys - known))}"
        if resource.sensitive_environment and (
            kind is not Kind.RUNTIME
            or not isinstance(spec.get("environment_variables"), dict)
            or not set(resource.sensitive_environment) <= spec["environment_variables"].keys()
        ):
            return f"{address}: sensitive_environment names no environment variable of it"
        if kind is Kind.VERSION:
            image = by_address.get(image_of(address))
            if image is None or image.kind is not Kind.IMAGE:
                return f"{address}: its runtime image {image_of(address)} is not in the state"
        elif kind is Kind.RUNTIME:
            uses = spec["runtime_image"]
            used = by_address.get(uses) if isinstance(uses, str) else None
            if used is None or used.kind is Kind.RUNTIME:
                return f"{address}: its runtime image {uses!r} is not in the state"
    deployments = document.deployments_by_address
    if len(deployments) != len(document.deployments):
        return f"{_first_duplicate(d.address for d in document.deployments)}: listed twice"
    for deployment in document.deployments:
        if not is_deployment_address(deployment.address):
            return f"{deployment.address!r} is not a deployment address"
        if len(set(deployment.experiments)) != len(deployment.compositions):
            return f"{deployment.address}: an experiment is listed twice"
        for composition in deployment.compositions:
            for uses, wanted in (
                (composition.runtime, Kind.RUNTIME),
                (composition.image_version, Kind.VERSION),
            ):
                used = by_address.get(uses)
                if used is None or used.kind is not wanted:
                    return (
                        f"{deployment.address} ({composition.experiment_id}): its "
                        f"{wanted.value} {uses} is not in the state"
                    )
    return ""


def _first_duplicate(addresses: Iterable[str]) -> str:
    seen: set[str] = set()
    for address in addresses:
        if address in seen:
            return address
        seen.add(address)
    return "?"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the state document (written to schemas/state.schema.json)."""
    schema = StateDocument.model_json_schema()
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://runtimes.reconciler.dev/schemas/state.schema.json",
        **schema,
    }
