"""Drift: what a target holds, compared with what the tool last wrote there.

Owns which objects a state says a target holds (each resource and composition the tool
wrote, with the manifest it wrote), the field-by-field comparison of those manifests
with the objects a refresh observed, and which other field managers own a drifted field
(from the objects' `managedFields`, where a cluster tracks ownership). Only the fields
the tool writes are compared: whatever a cluster adds (defaults, status, other managers'
labels) is not drift.

Pure: manifests and observations in, `Drift` values out. Observing is the target's
(`Observable.observe`), correcting the engine's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler import sensitive
from reconciler.addresses import composition_address, dotted
from reconciler.model import Deployment, Resource
from reconciler.planning import workloads
from reconciler.planning.plan import Drift, FieldChange
from reconciler.targets import manifests
from reconciler.targets.kubeclient import FIELD_MANAGER

_MISSING = object()
Path = tuple[str | int, ...]


def written(
    resources: Mapping[str, Resource],
    deployments: Mapping[str, Deployment],
    *,
    configurations: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The manifest the state says each address holds: the ones whose recorded digest is
    the manifest's own (a write that never happened or was held is not expected there),
    with the Secret of each that has secret values. A composition pinned to an older
    configuration of its runtime is written with it, as the state retains it in
    `configurations`."""
    out: dict[str, dict[str, Any]] = {}
    for address, resource in resources.items():
        document = manifests.manifest(resource)
        if resource.last_applied and resource.last_applied == workloads.digest(document):
            out[address] = document
            secret = manifests.runtime_secret(resource)
            if secret is not None:
                out[workloads.secret_address(address)] = secret
    for address, deployment in deployments.items():
        for composition in deployment.compositions:
            runtime = resources.get(composition.runtime)
            version = resources.get(composition.image_version)
            if runtime is None or version is None:
                continue
            older = (configurations or {}).get(composition.configuration)
            if older is not None:
                runtime = workloads.as_configured(runtime, older)
            document = workloads.composition_manifest(
                deployment, composition, runtime=runtime, version=version
            )
            if composition.last_applied == workloads.digest(document):
                at = composition_address(address, composition.experiment_id)
                out[at] = document
                secret = workloads.composition_secret(deployment, composition, runtime=runtime)
                if secret is not None:
                    out[workloads.secret_address(at)] = secret
    return out


def compare(
    expected: Mapping[str, Mapping[str, Any]], observed: Mapping[str, Mapping[str, Any]]
) -> tuple[Drift, ...]:
    """Each expected object that is missing from `observed` or differs in a field it sets.

    A Secret's values are never part of the result (a plan is shown and saved): its
    drifted keys are listed with their values redacted."""
    found = []
    for address in sorted(expected):
        live = observed.get(address)
        if live is None:
            found.append(Drift(address=address, deleted=True))
            continue
        differences = _differences(expected[address], live, ())
        if not differences:
            continue
        if workloads.owner_of_secret(address) is None:
            owned = tuple(
                (dotted(path), manager) for path, _ in differences for manager in owners(live, path)
            )
            fields = tuple(change for _, change in differences)
        else:
            # A cluster holds (and tracks owners of) `data`; the manifest spells `stringData`.
            stored = as_stored(live)
            owned = tuple(
                (dotted(path), manager)
                for path, _ in differences
                for manager in owners(stored, _stored_path(path))
            )
            fields = tuple(_redacted(change) for _, change in differences)
        found.append(Drift(address=address, fields=fields, owned_elsewhere=owned))
    return tuple(found)


def as_stored(secret: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with its values under `data`, where a cluster keeps them and tracks who owns
    them (the tool's manifests, and a refresh's reading, spell them `stringData`)."""
    out = dict(secret)
    strings = out.pop("stringData", None)
    if strings is not None:
        out["data"] = {**(out.get("data") or {}), **strings}
    return out


def _stored_path(path: Path) -> Path:
    return ("data", *path[1:]) if path[:1] == ("stringData",) else path


def _redacted(change: FieldChange) -> FieldChange:
    hide = sensitive.REDACTED
    return FieldChange(
        change.path,
        None if change.before is None else hide,
        None if change.after is None else hide,
    )


def owners(live: Mapping[str, Any], path: tuple[str | int, ...]) -> list[str]:
    """The field managers other than the tool's applier that own the field at `path`,
    by the object's `metadata.managedFields` (none where the target tracks no ownership)."""
    found = []
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply":
            continue
        if _owns(entry.get("fieldsV1") or {}, live, path):
            found.append(str(entry.get("manager", "")))
    return found


def _owns(fields: Mapping[str, Any], value: Any, path: tuple[str | int, ...]) -> bool:
    """Whether a managed-fields set (fieldsV1) holds `path` in `value`."""
    for key in path:
        if isinstance(key, str):
            if not isinstance(value, dict) or f"f:{key}" not in fields:
                return False
            fields, value = fields[f"f:{key}"], value.get(key)
            continue
        if not isinstance(value, list) or key >= len(value):
            return False
        item = value[key]
        keyed = [
            sub
            for name, sub in fields.items()
            if (name.startswith("k:") and isinstance(item, dict) and _matches(item, name[2:]))
            or (name.startswith("v:") and json.loads(name[2:]) == item)
        ]
        if not keyed:
            return False
        fields, value = keyed[0], item
    return True


def _matches(item: Mapping[str, Any], key: str) -> bool:
    return all(item.get(k) == v for k, v in json.loads(key).items())


def _differences(want: Any, have: Any, path: Path) -> list[tuple[Path, FieldChange]]:
    if isinstance(want, dict) and isinstance(have, dict):
        out = []
        for key, value in want.items():
            out += _differences(value, have.get(key, _MISSING), (*path, key))
        return out
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        out = []
        for index, (a, b) in enumerate(zip(want, have, strict=True)):
            out += _differences(a, b, (*path, index))
        return out
    if have is _MISSING:
        return [(path, FieldChange(dotted(path), want, None))]
    if want != have:
        return [(path, FieldChange(dotted(path), want, have))]
    return []
