"""Server-side apply: field ownership in `metadata.managedFields`, by structured-merge-diff rules.

Owns what an apply or an update does to an object and its managed fields: the field sets
(FieldsV1, with `f:` fields, `k:{...}` items of associative lists, `v:` items of set lists and
`.` for an item itself), the merge of an applied configuration into the live object, conflicts
with other managers (refused, or taken over with `force`), sharing when two managers apply the
same value, and the removal of fields a manager stops applying that nobody else owns. List and
map semantics come from the kind's schema (patchmeta.py) or, for custom resources, from the
CRD's openAPIV3Schema; without one, lists are atomic. Pure: no HTTP, no store, the clock only
through `now`. Patches live in patch.py.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterator
from typing import Any

from tests.kubeapi import patchmeta

# Set by the server, never owned by a manager: tracking them would report a conflict with
# whoever created the object on every apply that names it.
UNTRACKED = (
    ("apiVersion",),
    ("kind",),
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("metadata", "uid"),
    ("metadata", "resourceVersion"),
    ("metadata", "creationTimestamp"),
    ("metadata", "generation"),
    ("metadata", "managedFields"),
    ("metadata", "selfLink"),
    ("metadata", "deletionTimestamp"),
    ("metadata", "deletionGracePeriodSeconds"),
)

Path = tuple[tuple[str, Any], ...]


class ApplyConflict(Exception):
    """An apply that would change fields other managers own.

    `conflicts` lists (manager, field path) pairs, paths written as the API server writes
    them (`.spec.replicas`, `.spec.template.spec.containers[name="c"].image`). The message is
    the API server's: an Update manager is named with the version it wrote and when
    (`"kubectl-edit" using apps/v1 at 2026-01-01T00:00:00Z`), an Apply manager by name alone.
    """

    def __init__(self, conflicts: list[tuple[str, str]], message: str) -> None:
        super().__init__(message)
        self.conflicts = conflicts


def _manager_text(entry: dict) -> str:
    text = json.dumps(entry["manager"])
    if entry.get("operation") != "Update":
        return text
    text += f" using {entry.get('apiVersion', '')}"
    return f"{text} at {entry['time']}" if entry.get("time") else text


def _conflict(found: list[tuple[dict, Path]]) -> ApplyConflict:
    """`found`: (managedFields entry, path) per conflict, managers sorted, paths in order."""
    pairs = [(entry["manager"], path_string(path)) for entry, path in found]
    if len(found) == 1:
        entry, _ = found[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_manager_text(entry)}: {pairs[0][1]}"
        )
        return ApplyConflict(pairs, message)
    lines: list[str] = []
    previous = None
    for entry, path in found:
        if (entry["manager"], entry.get("operation")) != previous:
            previous = (entry["manager"], entry.get("operation"))
            lines.append(f"conflicts with {_manager_text(entry)}:")
        lines.append(f"- {path_string(path)}")
    return ApplyConflict(pairs, f"Apply failed with {len(found)} conflicts: " + "\n".join(lines))


# --- the type of each node -----------------------------------------------------------------


class _Type:
    """How one node merges: `kind` is struct/map (granular), atomic, or a list kind."""

    def __init__(
        self,
        schema: patchmeta.Schema | None,
        *,
        list_type: str | None = None,
        map_keys: tuple[str, ...] = (),
        atomic_map: bool = False,
        builtin: bool,
    ) -> None:
        self.schema = schema
        self.list_type = list_type
        self.map_keys = map_keys
        self.atomic_map = atomic_map
        self.builtin = builtin

    def child(self, key: str) -> _Type:
        if self.schema is None:
            return _Type(None, builtin=self.builtin)
        try:
            field = self.schema.field(key)
        except patchmeta.UnknownField:
            return _Type(None, builtin=self.builtin)
        return _field_type(field, builtin=self.builtin)

    def item(self) -> _Type:
        items = self.schema.items() if self.schema is not None else None
        if items is None:
            return _Type(None, builtin=self.builtin)
        return _Type(items, atomic_map=items.map_type() == "atomic", builtin=self.builtin)


def _field_type(field: patchmeta.Field, *, builtin: bool) -> _Type:
    list_type, keys = field.list_type, field.map_keys
    if list_type is None and builtin and field.merge_key and "merge" in field.strategies:
        # Built-in lists that predate list-type markers merge by their patch merge key.
        list_type, keys = "map", (field.merge_key,)
    schema = field.schema
    atomic = field.map_type == "atomic" or (schema is not None and schema.map_type() == "atomic")
    return _Type(schema, list_type=list_type, map_keys=keys, atomic_map=atomic, builtin=builtin)


def _root_type(kind: str, api_version: str | None, schema: dict | None) -> _Type:
    builtin = patchmeta.kind_schema(kind, api_version)
    if builtin is not None:
        return _Type(builtin, builtin=True)
    return _Type(patchmeta.Schema(schema) if schema else None, builtin=False)


def _has_status(root: _Type) -> bool:
    return root.schema is not None and "status" in root.schema.node.get("properties", {})


# --- field sets ----------------------------------------------------------------------------


def _item_key(item: Any, t: _Type) -> tuple[str, Any]:
    if t.list_type == "set" or not isinstance(item, dict):
        return ("v", json.dumps(item, sort_keys=True, separators=(",", ":")))
    key = tuple((k, item.get(k)) for k in sorted(t.map_keys) if k in item)
    return ("k", key)


def _members(value: Any, t: _Type, path: Path = ()) -> Iterator[tuple[Path, Any, bool]]:
    """Every path a configuration sets: (path, value, is_leaf). List items are members too."""
    if isinstance(value, dict) and not t.atomic_map:
        if not value and path:
            yield path, value, True
        for key, child in value.items():
            if child is not None:
                yield from _members(child, t.child(key), (*path, ("f", key)))
        return
    if isinstance(value, list) and t.list_type in ("map", "set"):
        item_type = t.item()
        if not value:
            yield path, value, True
        for item in value:
            item_path = (*path, _item_key(item, t))
            yield item_path, item, False
            if t.list_type == "map" and isinstance(item, dict):
                for key, child in item.items():
                    if child is not None:
                        yield from _members(child, item_type.child(key), (*item_path, ("f", key)))
        return
    yield path, value, True


def _tracked(path: Path, ignore_status: bool) -> bool:
    names = tuple(name for kind, name in path[:2] if kind == "f")
    if ignore_status and names[:1] == ("status",):
        return False
    return not any(names[: len(u)] == u and len(names) >= len(u) for u in UNTRACKED)


def _field_values(obj: dict, root: _Type, ignore_status: bool) -> dict[Path, tuple[Any, bool]]:
    return {p: (v, leaf) for p, v, leaf in _members(obj, root) if p and _tracked(p, ignore_status)}


def path_string(path: Path) -> str:
    """A path as the API server prints it in conflicts."""
    out = []
    for kind, value in path:
        if kind == "f":
            out.append(f".{value}")
        elif kind == "k":
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in value) + "]")
        elif kind == "v":
            out.append(f"[={value}]")
        else:
            out.append(f"[{value}]")
    return "".join(out)


def encode_fields(paths: set[Path]) -> dict:
    """A field set as FieldsV1."""
    tree: dict = {}
    for path in sorted(paths, key=len):
        node = tree
        for element in path:
            node = node.setdefault(_encode_element(element), {})
    for path in paths:
        node = tree
        for element in path:
            node = node[_encode_element(element)]
        if node and "." not in node:
            node["."] = {}
    return _sorted(tree)


def _sorted(tree: dict) -> dict:
    # The API server writes FieldsV1 keys in order; so do we, so equal sets encode equally.
    return {key: _sorted(tree[key]) for key in sorted(tree)}


def _encode_element(element: tuple[str, Any]) -> str:
    kind, value = element
    if kind == "f":
        return f"f:{value}"
    if kind == "k":
        return "k:" + json.dumps(dict(value), separators=(",", ":"))
    return f"{kind}:{value}"


def decode_fields(fields: dict, prefix: Path = ()) -> set[Path]:
    """FieldsV1 as a set of paths: leaves, and nodes marked with `.`."""
    out: set[Path] = set()
    for key, child in fields.items():
        if key == ".":
            out.add(prefix)
            continue
        kind, _, text = key.partition(":")
        if kind == "k":
            value: Any = tuple(sorted(json.loads(text).items()))
        elif kind == "i":
            value = int(text)
        else:
            value = text
        path = (*prefix, (kind, value))
        if child:
            out |= decode_fields(child, path)
        else:
            out.add(path)
    return out


# --- managed fields on the object ----------------------------------------------------------

Managers = dict[tuple[str, str], set[Path]]


def _managers(obj: dict | None) -> Managers:
    out: Managers = {}
    for entry in (obj or {}).get("metadata", {}).get("managedFields") or []:
        if entry.get("subresource"):
            continue
        out[(entry["manager"], entry.get("operation", "Update"))] = decode_fields(
            entry.get("fieldsV1", {})
        )
    return out


def _write_managers(
    obj: dict, managers: Managers, previous: dict | None, touched: tuple[str, str], now: str
) -> None:
    """Write the entries; only the touched manager's entry gets `now`, and only when its
    field set changed (an apply that changes nothing leaves managedFields as they were)."""
    before = _managers(previous)
    if before.get(touched) == managers.get(touched):
        touched = ("", "")
    times = {
        (e["manager"], e.get("operation")): e.get("time")
        for e in (previous or {}).get("metadata", {}).get("managedFields") or []
    }
    subresource_entries = [
        e
        for e in (previous or {}).get("metadata", {}).get("managedFields") or []
        if e.get("subresource")
    ]
    entries = []
    for (manager, operation), paths in managers.items():
        if not paths:
            continue
        entries.append(
            {
                "manager": manager,
                "operation": operation,
                "apiVersion": obj.get("apiVersion", ""),
                "time": now
                if (manager, operation) == touched
                else times.get((manager, operation), now),
                "fieldsType": "FieldsV1",
                "fieldsV1": encode_fields(paths),
            }
        )
    obj.setdefault("metadata", {})["managedFields"] = entries + subresource_entries


def _now(now: str | None) -> str:
    if now is not None:
        return now
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _present(obj: dict, root: _Type, ignore_status: bool) -> set[Path]:
    return set(_field_values(obj, root, ignore_status))


def _changed(old: dict, new: dict, root: _Type, ignore_status: bool) -> tuple[set[Path], set[Path]]:
    """(paths whose value changed or appeared, paths that disappeared)."""
    before = _field_values(old, root, ignore_status)
    after = _field_values(new, root, ignore_status)
    changed = {
        p
        for p, (value, leaf) in after.items()
        if p not in before or (leaf and before[p][1] and before[p][0] != value)
    }
    return changed, set(before) - set(after)


# --- merging an applied configuration ------------------------------------------------------


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _merge(live: Any, applied: Any, t: _Type) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict) and not t.atomic_map:
        out = dict(live)
        for key, value in applied.items():
            out[key] = _merge(live[key], value, t.child(key)) if key in live else value
        return out
    if isinstance(live, list) and isinstance(applied, list) and t.list_type in ("map", "set"):
        return _merge_items(live, applied, t)
    return applied


def _merge_items(live: list, applied: list, t: _Type) -> list:
    """structured-merge-diff's list order: the two lists walked together; live-only items stay
    where they were, applied items come in the applied order, shared items where the applied
    list puts them relative to each other."""
    item_type = t.item()
    live_keys = [_item_key(i, t) for i in live]
    applied_keys = [_item_key(i, t) for i in applied]
    live_by = dict(zip(live_keys, live, strict=True))
    applied_by = dict(zip(applied_keys, applied, strict=True))
    shared = [k for k in applied_keys if k in live_by]
    next_shared = shared.pop(0) if shared else None

    def item(key: tuple[str, Any]) -> Any:
        if key in live_by and key in applied_by and t.list_type == "map":
            return _merge(live_by[key], applied_by[key], item_type)
        return applied_by[key] if key in applied_by else live_by[key]

    out = []
    i = j = 0
    while i < len(live_keys) or j < len(applied_keys):
        if i < len(live_keys) and j < len(applied_keys):
            key = live_keys[i]
            if key == applied_keys[j]:
                out.append(item(key))
                i, j = i + 1, j + 1
                next_shared = shared.pop(0) if shared else None
                continue
            if key in applied_by and next_shared is not None and next_shared != key:
                i += 1
                continue
        if i < len(live_keys) and live_keys[i] not in applied_by:
            out.append(live[i])
            i += 1
            continue
        if j < len(applied_keys):
            key = applied_keys[j]
            out.append(item(key))
            j += 1
            if next_shared == key:
                next_shared = shared.pop(0) if shared else None
            continue
        i += 1  # a live item the applied list already placed
    return out


def _remove(obj: Any, path: Path, t: _Type) -> None:
    """Remove the field or item at `path`; nothing happens when it is already gone."""
    node, node_type = obj, t
    for depth, element in enumerate(path):
        last = depth == len(path) - 1
        kind, value = element
        if kind == "f" and isinstance(node, dict) and value in node:
            if last:
                del node[value]
                return
            node, node_type = node[value], node_type.child(value)
        elif kind in ("k", "v") and isinstance(node, list):
            at = next(
                (n for n, item in enumerate(node) if _item_key(item, node_type) == element), None
            )
            if at is None:
                return
            if last:
                del node[at]
                return
            node, node_type = node[at], node_type.item()
        else:
            return


def _prunable(last_applied: set[Path], owned: set[Path]) -> list[Path]:
    """What the applier dropped and nobody owns, outermost first: a removed item takes its
    fields with it; an item that stays (someone owns part of it) keeps its key fields."""
    candidates = {
        path for path in last_applied - owned if not any(p[: len(path)] == path for p in owned)
    }
    out = []
    for path in sorted(candidates, key=len):
        if any(path[:n] in candidates for n in range(1, len(path))):
            continue
        key_field = len(path) >= 2 and path[-1][0] == "f" and path[-2][0] == "k"
        if key_field and path[-1][1] in dict(path[-2][1]):
            continue
        out.append(path)
    return out


# --- the two operations --------------------------------------------------------------------


def apply(
    live: dict | None,
    applied: dict,
    *,
    manager: str,
    force: bool,
    kind: str,
    schema: dict | None = None,
    now: str | None = None,
) -> dict:
    """The object after `manager` applies `applied` to `live` (None: apply creates it).

    Fields whose value would change and that another manager owns raise ApplyConflict,
    unless `force` moves them to `manager`. The same value applied by two managers is shared.
    Fields `manager` applied last time and leaves out now are removed unless another manager
    owns them. `schema` is a custom resource's openAPIV3Schema.
    """
    if not manager:
        raise ValueError(
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
            "is required for apply patch"
        )
    api_version = applied.get("apiVersion", "")
    root = _root_type(kind, api_version, schema)
    ignore_status = _has_status(root)
    base = copy.deepcopy(live) if live is not None else {}
    config = _strip_nulls(copy.deepcopy(applied))
    config.get("metadata", {}).pop("managedFields", None)
    if ignore_status:
        config.pop("status", None)
    managers = _managers(live)
    key = (manager, "Apply")
    last_applied = managers.get(key, set())
    applied_paths = _present(config, root, ignore_status)

    merged = _merge(base, config, root)
    changed, _gone = _changed(base, merged, root, ignore_status)
    conflicts = []
    for other in sorted(managers):
        if other[0] == manager:
            continue
        for path in sorted(managers[other] & changed, key=path_string):
            conflicts.append((other, path))
    if conflicts and not force:
        entries = {
            (e["manager"], e.get("operation", "Update")): e
            for e in (live or {}).get("metadata", {}).get("managedFields") or []
            if not e.get("subresource")
        }
        raise _conflict([(entries[other], path) for other, path in conflicts])
    for other, path in conflicts:
        managers[other].discard(path)
    # An Update by the same manager hands its fields to the apply that now names them.
    if (manager, "Update") in managers:
        managers[(manager, "Update")] -= applied_paths
    managers[key] = applied_paths

    for path in _prunable(last_applied, set().union(*managers.values())):
        _remove(merged, path, root)

    present = _present(merged, root, ignore_status)
    for name in managers:
        managers[name] &= present
    _write_managers(merged, managers, live, key, _now(now))
    return merged


def record_update(
    old: dict | None,
    new: dict,
    *,
    manager: str,
    kind: str,
    schema: dict | None = None,
    now: str | None = None,
) -> dict:
    """`new` with its managed fields after an Update (create, PUT or PATCH) by `manager`:
    fields whose value changed or appeared become its own and leave other managers' sets."""
    root = _root_type(kind, new.get("apiVersion"), schema)
    ignore_status = _has_status(root)
    result = copy.deepcopy(new)
    managers = _managers(old)
    before = copy.deepcopy(old) if old is not None else {}
    changed, _gone = _changed(before, result, root, ignore_status)
    key = (manager, "Update")
    for name in managers:
        if name != key:
            managers[name] -= changed
    managers[key] = managers.get(key, set()) | changed
    present = _present(result, root, ignore_status)
    for name in managers:
        managers[name] &= present
    _write_managers(result, managers, old, key, _now(now))
    return result
