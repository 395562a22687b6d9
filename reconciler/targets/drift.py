"""Drift: what a target holds, compared with what the tool last wrote there.

Owns which objects a state says a target holds (each resource and composition the tool
wrote, with the manifest it wrote), and the field-by-field comparison of those manifests
with the objects a refresh observed. Only the fields the tool writes are compared:
whatever a cluster adds (defaults, status, other managers' labels) is not drift.

Pure: manifests and observations in, `Drift` values out. Observing is the target's
(`Observable.observe`), correcting the engine's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.addresses import composition_address, dotted
from reconciler.model import Deployment, Resource
from reconciler.planning.plan import Drift, FieldChange
from reconciler.targets import manifests

_MISSING = object()


def written(
    resources: Mapping[str, Resource], deployments: Mapping[str, Deployment]
) -> dict[str, dict[str, Any]]:
    """The manifest the state says each address holds: the ones whose recorded digest is
    the manifest's own (a write that never happened or was held is not expected there)."""
    out: dict[str, dict[str, Any]] = {}
    for address, resource in resources.items():
        document = manifests.manifest(resource)
        if resource.last_applied and resource.last_applied == manifests.digest(document):
            out[address] = document
    for address, deployment in deployments.items():
        for composition in deployment.compositions:
            runtime = resources.get(composition.runtime)
            version = resources.get(composition.image_version)
            if runtime is None or version is None:
                continue
            document = manifests.composition_manifest(
                deployment, composition, runtime=runtime, version=version
            )
            if composition.last_applied == manifests.digest(document):
                out[composition_address(address, composition.experiment_id)] = document
    return out


def compare(
    expected: Mapping[str, Mapping[str, Any]], observed: Mapping[str, Mapping[str, Any]]
) -> tuple[Drift, ...]:
    """Each expected object that is missing from `observed` or differs in a field it sets."""
    found = []
    for address in sorted(expected):
        live = observed.get(address)
        if live is None:
            found.append(Drift(address=address, deleted=True))
            continue
        fields = tuple(_differences(expected[address], live, ()))
        if fields:
            found.append(Drift(address=address, fields=fields))
    return tuple(found)


def _differences(want: Any, have: Any, path: tuple[str | int, ...]) -> list[FieldChange]:
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
        return [FieldChange(dotted(path), want, None)]
    if want != have:
        return [FieldChange(dotted(path), want, have)]
    return []
