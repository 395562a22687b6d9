"""Conflicts: the fields a plan's writes would take from other field managers.

Owns which objects a plan writes and with what manifest (each catalog change, each
composition that rolls, each drifted object corrected), and the server-side apply rule
that turns a write into conflicts: applying a field that another field manager owns, to
a value other than the one the object holds, is a conflict (the server refuses it unless
forced, and a forced write takes the field over); applying the value it already has only
shares the field. Ownership is read from the objects' `metadata.managedFields`, which
also tell how each list merges (items keyed `k:`, values `v:`, or atomic), so no schema
is needed: only the tool's own Apply entry is not another manager.

Pure: a plan, the state and an observation in, `Conflict` values out, so a plan finds
its conflicts with the refresh it already made. Observing is the target's; refusing the
apply the engine's.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator, Mapping
from typing import Any

from reconciler.addresses import composition_address
from reconciler.model import Resource
from reconciler.planning import workloads
from reconciler.planning.plan import Action, Conflict, Plan
from reconciler.targets import drift, manifests
from reconciler.targets.kubeclient import FIELD_MANAGER

# Set by the server whoever writes: server-side apply never tracks their ownership.
UNTRACKED_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
# Every kind the tool writes has a status subresource: an apply of the main resource
# leaves status alone, so status fields never conflict with it.
UNTRACKED_TOP = ("apiVersion", "kind", "status")

# A path as structured-merge-diff walks it: ("f", field name), or ("k", {key fields}) for
# an item of a keyed list. Items of atomic lists and of sets are never a conflict's path:
# an atomic list changes whole, and a set item applied is either there already or new.
Element = tuple[str, Any]
Path = tuple[Element, ...]


def contested(observed: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The observed addresses whose object has a field manager besides the tool's
    applier: the only ones a write can conflict on."""
    return {address for address, live in observed.items() if _others(live)}


def writes(
    the_plan: Plan,
    resources: Mapping[str, Resource],
    *,
    expected: Mapping[str, Mapping[str, Any]],
    among: Container[str] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """(address, manifest) for every object applying `the_plan` writes, in the order the
    engine writes them: the drifted objects corrected to `expected` (the state's
    manifests, drift.written), then the catalog's changes, then the compositions that roll,
    each object after the Secret it reads its secret values from.
    With `among`, only the writes to those addresses (`contested`: a plan of thousands of
    writes builds the manifests of the few that can conflict).

    `resources` is the state's catalog. A replace writes a new object (the old one is
    deleted first: only its Secret is listed) and a change whose manifest is the one
    recorded writes nothing.
    """

    def wanted(address: str) -> bool:
        return among is None or address in among

    out: list[tuple[str, dict[str, Any]]] = []
    for item in the_plan.drift:
        if not item.deleted and item.address in expected and wanted(item.address):
            out.append((item.address, dict(expected[item.address])))
    after = dict(resources)
    for change in the_plan.changes:
        if change.after is None:
            after.pop(change.address, None)
            continue
        after[change.address] = change.after
        document = manifests.manifest(change.after)
        if change.before is not None and change.before.last_applied == manifests.digest(document):
            continue  # a held change may leave the manifest as it is: nothing is written
        secret = manifests.runtime_secret(change.after)
        at = workloads.secret_address(change.address)
        if secret is not None and wanted(at):
            out.append((at, secret))  # a replace keeps the Secret: it is applied over
        if change.action is not Action.REPLACE and wanted(change.address):
            out.append((change.address, document))
    for rolled in the_plan.deployments:
        for composition in rolled.compositions_to_write():
            address = composition_address(rolled.address, composition.experiment_id)
            at = workloads.secret_address(address)
            runtime = after.get(composition.runtime)
            version = after.get(composition.image_version)
            if runtime is None or version is None or not (wanted(address) or wanted(at)):
                continue
            secret = workloads.composition_secret(rolled.after, composition, runtime=runtime)
            if secret is not None and wanted(at):
                out.append((at, secret))
            if wanted(address):
                document = workloads.composition_manifest(
                    rolled.after, composition, runtime=runtime, version=version
                )
                out.append((address, document))
    return out


def find(
    written: list[tuple[str, dict[str, Any]]], observed: Mapping[str, Mapping[str, Any]]
) -> tuple[Conflict, ...]:
    """The conflicts of each (address, manifest) write against the object `observed` there
    (with its managedFields); an address not observed is created, and conflicts with no
    one. Each (address, field, manager) once, in the order written."""
    found: dict[tuple[str, str, str], Conflict] = {}
    for address, manifest in written:
        live = observed.get(address)
        if live is None:
            continue
        others = _others(live)
        if not others:
            continue
        shapes = [e.get("fieldsV1") or {} for e in _entries(live)]
        want, have = _tracked(manifest), dict(live)
        if workloads.owner_of_secret(address) is not None:
            want, have = drift.as_stored(want), drift.as_stored(have)
        for path in _changed(want, have, (), shapes):
            for manager, fields in others:
                if _owned(fields, path):
                    text = path_string(path)
                    found.setdefault(
                        (address, text, manager),
                        Conflict(address=address, path=text, manager=manager),
                    )
    return tuple(found.values())


def _entries(live: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The managedFields entries of the object itself (a status subresource's own entries
    are for fields an apply of the object never sets)."""
    return [
        e
        for e in (live.get("metadata") or {}).get("managedFields") or []
        if not e.get("subresource")
    ]


def _others(live: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(manager, fieldsV1) of every entry but the tool's own Apply: an Update under the
    tool's name is another manager to the server too."""
    return [
        (str(e.get("manager", "")), e.get("fieldsV1") or {})
        for e in _entries(live)
        if not (e.get("manager") == FIELD_MANAGER and e.get("operation") == "Apply")
    ]


def path_string(path: Path) -> str:
    """A path as the API server prints it in a conflict: `.spec.template.spec.containers
    [name="model"].image` (without the break)."""
    out = ""
    for kind, value in path:
        if kind == "f":
            out += f".{value}"
        else:
            out += "[" + ",".join(f"{k}={json.dumps(value[k])}" for k in sorted(value)) + "]"
    return out


def _tracked(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as the server merges it: fields it never tracks left out, and nulls
    (which an apply uses to drop a field, never to set one)."""
    out = {k: _without_nulls(v) for k, v in manifest.items() if k not in UNTRACKED_TOP}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: v for k, v in meta.items() if k not in UNTRACKED_METADATA}
    return out


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _children(shapes: list[Mapping[str, Any]]) -> list[str]:
    return [key for shape in shapes for key in shape if key != "."]


def _below(shapes: list[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    return [shape[key] for shape in shapes if isinstance(shape.get(key), dict)]


def _changed(want: Any, have: Any, path: Path, shapes: list[Mapping[str, Any]]) -> Iterator[Path]:
    """The paths whose value applying `want` over `have` changes, where someone could own
    them. `shapes` are every manager's field sets at `path`: they say whether a map or a
    list merges item by item (someone owns parts of it) or is replaced whole (atomic).
    Fields the apply adds are absent from the object, so nobody owns them: not listed."""
    granular = bool(_children(shapes))
    if isinstance(want, dict) and isinstance(have, dict) and (granular or not shapes):
        for key, value in want.items():
            if key in have:
                yield from _changed(
                    value, have[key], (*path, ("f", key)), _below(shapes, f"f:{key}")
                )
        return
    if isinstance(want, list) and isinstance(have, list) and granular:
        keyed = [json.loads(k[2:]) for k in _children(shapes) if k.startswith("k:")]
        if not keyed:
            return  # a set: an item applied is either there already or new
        names = sorted({name for key in keyed for name in key})
        for item in want:
            if not isinstance(item, dict):
                continue
            match = next(
                (i for i in have if isinstance(i, dict) and _same_key(i, item, names)), None
            )
            if match is None:
                continue
            key = {name: match[name] for name in names if name in match}
            below = [
                shape[k]
                for shape in shapes
                for k in shape
                if k.startswith("k:") and json.loads(k[2:]) == key and isinstance(shape[k], dict)
            ]
            yield from _changed(item, match, (*path, ("k", key)), below)
        return
    if want != have:
        yield path


def _same_key(live: Mapping[str, Any], item: Mapping[str, Any], names: list[str]) -> bool:
    """Whether `item` (applied) names the `live` item: every key field it gives matches.
    A key field the applied item leaves out is one the server defaults (a port's
    protocol), so it does not tell items apart."""
    given = [name for name in names if name in item]
    return bool(given) and all(live.get(name) == item[name] for name in given)


def _owned(fields: Mapping[str, Any], path: Path) -> bool:
    """Whether the field set `fields` (FieldsV1) holds `path`, or anything under it (a
    value replaced whole takes what lies under it too)."""
    node: Any = fields
    for kind, value in path:
        if not isinstance(node, dict):
            return False
        if kind == "f":
            node = node.get(f"f:{value}")
        else:
            node = next(
                (
                    sub
                    for k, sub in node.items()
                    if k.startswith("k:") and json.loads(k[2:]) == value
                ),
                None,
            )
        if node is None:
            return False
    return True
