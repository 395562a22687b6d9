"""The three PATCH bodies the Kubernetes API server accepts, applied to a stored object.

JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch, with the
results kubectl's own code computes (the oracle tests compare them with `kubectl patch
--local`), including its ordering of merged lists and its quirks: directives left in list
items the patch adds, `$patch: replace` maps dropped where nothing was there before. Pure:
no HTTP, no store; the inputs are never mutated. Merge keys come from patchmeta.py;
server-side apply lives in ssa.py.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.kubeapi import patchmeta

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"


class PatchError(ValueError):
    """A patch that cannot be applied; the message is the API server's (or kubectl's) text."""


# --- JSON merge patch ----------------------------------------------------------------------


def merge_patch(obj: dict, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null removes a key, anything else replaces."""
    return _merge_patch(copy.deepcopy(obj), copy.deepcopy(patch))


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


# --- JSON patch ----------------------------------------------------------------------------


def json_patch(obj: dict, ops: list) -> Any:
    """RFC 6902: the operations in order, all or nothing."""
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc: Any = copy.deepcopy(obj)
    for op in ops:
        doc = _apply_op(doc, op)
    return doc


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError("operation missing path string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'JSON pointer must be empty or start with a "/": {path}')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _missing(op: str, path: str) -> PatchError:
    # The wording of the JSON patch library the API server uses; `add` quotes the path.
    shown = f'"{path}"' if op == "add" else path
    return PatchError(f"{op} operation does not apply: doc is missing path: {shown}: missing value")


def _index(container: list, token: str, path: str, *, allow_end: bool, op: str) -> int:
    if token == "-" and allow_end:
        return len(container)
    index = int(token) if token.isdigit() and not (len(token) > 1 and token[0] == "0") else -1
    limit = len(container) if allow_end else len(container) - 1
    if index < 0 or index > limit:
        if op in ("remove", "move"):
            raise PatchError(
                f"error in {op} for path: '{path}': Unable to access invalid index: "
                f"{token}: invalid index referenced"
            )
        raise _missing(op, path)
    return index


def _parent(doc: Any, tokens: list[str], path: str, op: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _missing(op, path)
    if not isinstance(node, dict | list):
        raise _missing(op, path)
    return node


def _get(doc: Any, path: str, op: str) -> Any:
    node = doc
    for token in _pointer(path):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _missing(op, path)
    return node


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path, op)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent.insert(_index(parent, tokens[-1], path, allow_end=True, op=op), value)
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        return None, doc
    # The library names the whole path for remove, only the last token for move.
    shown = path if op == "remove" else tokens[-1]
    gone = PatchError(
        f"error in {op} for path: '{shown}': Unable to remove nonexistent key: "
        f"{tokens[-1]}: missing value"
    )
    try:
        parent = _parent(doc, tokens, path, op)
    except PatchError:
        raise gone from None
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise gone
        return doc, parent.pop(tokens[-1])
    token = tokens[-1]
    if not token.isdigit() or int(token) >= len(parent):
        raise PatchError(
            f"error in {op} for path: '{shown}': Unable to access invalid index: "
            f"{token}: invalid index referenced"
        )
    return doc, parent.pop(int(token))


def _apply_op(doc: Any, op: Any) -> Any:
    if not isinstance(op, dict) or not isinstance(op.get("op"), str):
        raise PatchError("Unexpected kind: unknown")
    kind, path = op["op"], op.get("path")
    if not isinstance(path, str):
        raise PatchError(f"{kind} operation missing path string")
    if kind in ("add", "replace", "test") and "value" not in op:
        raise PatchError(f"{kind} operation missing value")
    if kind == "add":
        return _add(doc, path, copy.deepcopy(op["value"]))
    if kind == "remove":
        return _remove(doc, path)[0]
    if kind == "replace":
        _get(doc, path, "replace")
        tokens = _pointer(path)
        if not tokens:
            return copy.deepcopy(op["value"])
        parent = _parent(doc, tokens, path, "replace")
        if isinstance(parent, dict):
            parent[tokens[-1]] = copy.deepcopy(op["value"])
        else:
            parent[_index(parent, tokens[-1], path, allow_end=False, op="replace")] = copy.deepcopy(
                op["value"]
            )
        return doc
    if kind in ("move", "copy"):
        source = op.get("from")
        if not isinstance(source, str):
            raise PatchError(f"{kind} operation missing from string")
        if kind == "move":
            if path != source and path.startswith(source + "/"):
                raise PatchError(f"move operation does not apply: {source} is a prefix of {path}")
            doc, value = _remove(doc, source, "move")
        else:
            value = copy.deepcopy(_get(doc, source, "copy"))
        return _add(doc, path, value, kind)
    if kind == "test":
        try:
            current = _get(doc, path, "test")
        except PatchError:
            current = None
            if op["value"] is not None:
                raise PatchError(f"testing value {path} failed: test failed") from None
        if not _json_equal(current, op["value"]):
            raise PatchError(f"testing value {path} failed: test failed")
        return doc
    raise PatchError(f"Unexpected kind: {kind}")


def _json_equal(a: Any, b: Any) -> bool:
    if _kind(a) != _kind(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


# --- strategic merge patch -----------------------------------------------------------------


def strategic_merge_patch(obj: dict, patch: dict, *, kind: str) -> dict:
    """Kubernetes strategic merge patch of a built-in kind.

    Lists merge by the key the kind's schema names (`containers` by `name`, `ports` by
    `containerPort`, ...) and lists without one are replaced; `$patch`, `$retainKeys`,
    `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are honoured; null
    deletes. Custom resources have no merge keys: the API server refuses them, and so do we.
    """
    schema = patchmeta.kind_schema(kind, obj.get("apiVersion"))
    if schema is None:
        raise PatchError(
            f"strategic merge patch format is not supported for {kind}: "
            "use a JSON merge patch or server-side apply"
        )
    if not isinstance(patch, dict):
        raise PatchError(
            f"json: cannot unmarshal {_json_type(patch)} "
            "into Go value of type map[string]interface {}"
        )
    try:
        return _merge_map(copy.deepcopy(obj), copy.deepcopy(patch), schema)
    except patchmeta.UnknownField as exc:
        raise PatchError(str(exc)) from None


def _json_type(value: Any) -> str:
    return {"slice": "array", "map": "object", "nil": "null"}.get(_kind(value), _kind(value))


def _kind(value: Any) -> str:
    """The Go dynamic type of a decoded JSON value (every number is a float64 in Go)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    raise PatchError(f"unknown type: {type(value).__name__}")


def _same(a: Any, b: Any) -> bool:
    """Go's `==` on two interface values holding scalars (merge key values, list items)."""
    return _kind(a) == _kind(b) and _kind(a) not in ("map", "slice") and a == b


def _go(value: Any) -> str:
    """A value as Go's `%v` prints it, for error messages that match kubectl's."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _no_merge_key(item: Any, key: str) -> PatchError:
    return PatchError(f"map: {_go(item)} does not contain declared merge key: {key}")


def _bad_arg(expected: str, actual: Any) -> PatchError:
    return PatchError(f"expected a {expected}, but received a {_json_type(actual)}")


def _strategy(field: patchmeta.Field) -> str:
    """The strategy apart from retainKeys (which only says how to read `$retainKeys`)."""
    others = [s for s in field.strategies if s != "retainKeys"]
    return others[0] if others else ""


def _merge_map(original: dict | None, patch: dict, schema: patchmeta.Schema | None) -> dict:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            del patch[DIRECTIVE]
            return patch
        if directive == "delete":
            return {}
        raise PatchError(f"unknown patch type: {_go(directive)} in map: {_go(patch)}")
    if original is None:
        original = {}
    _retain_keys(original, patch)
    _set_element_orders(original, patch, schema)
    for key, value in list(patch.items()):
        delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if delete_list:
            key = _directive_field(key, DELETE_FROM_PRIMITIVE_LIST)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not delete_list:
                _put(original, key, value)
            continue
        if _kind(original[key]) != _kind(value):
            if not delete_list:
                _put(original, key, value)
            continue
        if isinstance(value, dict):
            field = _lookup(schema, key)
            if _strategy(field) == "replace":
                original[key] = value
            else:
                original[key] = _merge_map(original[key], value, field.schema)
        elif isinstance(value, list):
            field = _lookup(schema, key)
            original[key] = _merge_list_field(original[key], value, field, delete_list=delete_list)
        else:
            _put(original, key, value)
    return original


def _lookup(schema: patchmeta.Schema | None, key: str) -> patchmeta.Field:
    return schema.field(key) if schema is not None else patchmeta.Field(schema=None)


def _put(original: dict, key: str, value: Any) -> None:
    """A value with nothing to merge into: nulls and `$patch` maps inside it are dropped."""
    _discard_nulls(value)
    kept, keep = _remove_directives(value)
    if keep:
        original[key] = kept
    else:
        original.pop(key, None)


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _discard_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _remove_directives(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        for k in list(value):
            kept, keep = _remove_directives(value[k])
            if keep:
                value[k] = kept
            else:
                del value[k]
        return value, True
    if isinstance(value, list):
        out = []
        for v in value:
            kept, keep = _remove_directives(v)
            if keep:
                out.append(kept)
        return out, True
    return value, True


def _directive_field(key: str, prefix: str) -> str:
    head, sep, tail = key.partition("/")
    if not sep or head != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise PatchError("invalid patch format of $deleteFromPrimitiveList")
        raise PatchError("invalid patch format of $setElementOrder")
    return tail


def _retain_keys(original: dict, patch: dict) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise PatchError("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if not any(_same(key, r) for r in retain):
            raise PatchError("invalid patch format of retainKeys")
    for key in [k for k in original if not any(_same(k, r) for r in retain)]:
        del original[key]


def _set_element_orders(original: dict, patch: dict, schema: patchmeta.Schema | None) -> None:
    """`$setElementOrder/<field>`: merge that list now, then order it as the directive says."""
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_arg("[]interface {}", order)
        field_key = _directive_field(key, SET_ELEMENT_ORDER)
        in_original, in_patch = field_key in original, field_key in patch
        original_list = original.get(field_key) if in_original else []
        patch_list = patch.get(field_key) if in_patch else []
        if not isinstance(original_list, list):
            raise _bad_arg("[]interface {}", original_list)
        if not isinstance(patch_list, list):
            raise _bad_arg("[]interface {}", patch_list)
        field = _lookup(schema, field_key)
        merge_key = field.merge_key
        _validate_order(patch_list, order, merge_key)
        if in_original and not in_patch:
            merged = original_list
        elif in_patch and not in_original:
            merged = _remove_directives(patch_list)[0]
        elif in_original and in_patch:
            merged = _merge_list_field(original_list, patch_list, field, delete_list=False)
            original_list = _go_view_after_merge(original_list, patch_list, field)
        else:
            continue
        if merge_key:
            in_order, server_only = _partition_maps(merged, order, merge_key)
        else:
            in_order, server_only = _partition_scalars(merged, order)
        item_kind = _element_kind(original_list, patch_list)
        original[field_key] = _normalize_order(
            in_order, server_only, order, original_list, merge_key, item_kind
        )
        patch.pop(field_key, None)


def _decoded_capacity(length: int) -> int:
    """The capacity Go's encoding/json leaves on a decoded list: it appends one item at a
    time, and for interface slices the growth lands on powers of two."""
    return 0 if length == 0 else 1 << (length - 1).bit_length()


def _go_view_after_merge(original: list, patch: list, field: patchmeta.Field) -> list:
    """The live list as kubectl still sees it after merging `patch` into it.

    Go's merge deletes and appends within the live list's backing array, and kubectl then
    reads the old slice (same length, changed contents) as the live order when it applies
    `$setElementOrder`. Where items were deleted and others added, that decides where
    live-only items land, so the oracle's results depend on it.
    """
    if _strategy(field) != "merge" or (not original and not patch):
        return original
    size = len(original)
    backing = list(original) + [None] * (_decoded_capacity(size) - size)
    if _element_kind(original, patch) != "map":
        total = size + len(patch)
        if total > len(backing):
            return original
        backing[size:total] = patch
        last, i = total - 1, 0
        while i < last:
            j = i + 1
            while j <= last:
                if _same(backing[i], backing[j]):
                    backing[j] = backing[last]
                    last -= 1
                    j -= 1
                j += 1
            i += 1
        return backing[:size]
    key = field.merge_key
    length, plain, replaced = size, [], False
    for item in patch:
        directive = item.get(DIRECTIVE) if isinstance(item, dict) else None
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            while (at := _find(backing[:length], key, item.get(key))) >= 0:
                backing[at : length - 1] = backing[at + 1 : length]
                length -= 1
        elif directive == "replace":
            replaced = True
    if replaced:
        return backing[:size]
    for item in plain:
        if _find(backing[:length], key, item.get(key)) >= 0:
            continue
        if length == len(backing):
            break
        backing[length] = item
        length += 1
    return backing[:size]


def _validate_order(patch_list: list, order: list, merge_key: str) -> None:
    if not order or not patch_list:
        return
    items = _split_deletes(patch_list)[0] if merge_key else patch_list
    p = o = 0
    while p < len(items) and o < len(order):
        if isinstance(items[p], dict) and DIRECTIVE in items[p]:
            p += 1
            continue
        if _merge_key_equal(items[p], order[o], merge_key):
            p += 1
        o += 1
    if p < len(items) and o >= len(order):
        raise PatchError(
            f"the order in patch list:\n{_go(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{_go(order)}"
        )


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise _bad_arg("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
    return _same(left[merge_key], right[merge_key])


def _merge_list_field(
    original: Any, patch: Any, field: patchmeta.Field, *, delete_list: bool
) -> list:
    if not isinstance(original, list) or not isinstance(patch, list):
        raise _bad_arg("[]interface {}", patch)
    if _strategy(field) != "merge":
        return patch
    return _merge_list(original, patch, field.schema, field, delete_list=delete_list)


def _element_kind(*lists: list) -> str:
    kind = None
    for items in lists:
        for item in items:
            current = _kind(item)
            if kind is None:
                if current == "slice":
                    raise PatchError("lists of lists are not supported")
                kind = current
            elif kind != current:
                raise PatchError(f"list element types are not identical: {_go(list(lists))}")
    if kind is None:
        raise PatchError("no elements in any of the given slices")
    return kind


def _merge_list(
    original: list,
    patch: list,
    schema: patchmeta.Schema | None,
    field: patchmeta.Field,
    *,
    delete_list: bool,
) -> list:
    if not original and not patch:
        return original
    item_kind = _element_kind(original, patch)
    merge_key = field.merge_key
    items_schema = schema.items() if schema is not None else None
    if item_kind != "map":
        if delete_list:
            return [v for v in original if not any(_same(v, d) for d in patch)]
        merged = _dedup_scalars(original + patch)
    else:
        if not merge_key:
            raise PatchError(
                f"cannot merge lists without merge key for {schema.name if schema else ''}"
            )
        original, patch = _special_elements(original, patch, merge_key)
        merged = _merge_by_key(original, patch, merge_key, items_schema)
    if merge_key:
        in_patch, server_only = _partition_maps(merged, patch, merge_key)
    else:
        in_patch, server_only = _partition_scalars(merged, patch)
    return _normalize_order(in_patch, server_only, patch, original, merge_key, item_kind)


def _special_elements(original: list, patch: list, merge_key: str) -> tuple[list, list]:
    """List items carrying `$patch`: deletions by merge key, or a replace of the whole list."""
    plain = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            original = [
                o
                for o in original
                if not (
                    isinstance(o, dict) and merge_key in o and _same(o[merge_key], item[merge_key])
                )
            ]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"unknown patch type: {_go(directive)} in map: {_go(item)}")
    if replace:
        return plain, []
    return original, plain


def _find(items: list, merge_key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchError(f"value for key {i} is not a map")
        if merge_key in item and _same(item[merge_key], value):
            return i
    return -1


def _merge_by_key(
    original: list, patch: list, merge_key: str, items_schema: patchmeta.Schema | None
) -> list:
    original = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        at = _find(original, merge_key, item[merge_key])
        if at >= 0:
            original[at] = _merge_map(original[at], item, items_schema)
        else:
            # kubectl appends a new item as the patch wrote it, directives and nulls included.
            original.append(item)
    return original


def _dedup_scalars(items: list) -> list:
    """Go's in-place deduplication, which moves the last item into each duplicate's slot."""
    s = list(items)
    last = len(s) - 1
    i = 0
    while i < last:
        j = i + 1
        while j <= last:
            if _same(s[i], s[j]):
                s[j] = s[last]
                s = s[:last]
                last -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _partition_scalars(items: list, by: list) -> tuple[list, list]:
    inside = [v for v in items if any(_same(v, b) for b in by)]
    outside = [v for v in items if not any(_same(v, b) for b in by)]
    return inside, outside


def _partition_maps(items: list, by: list, merge_key: str) -> tuple[list, list]:
    inside: list = []
    outside: list = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        (inside if _find(by, merge_key, item[merge_key]) >= 0 else outside).append(item)
    return inside, outside


def _position(items: list, value: Any, merge_key: str, item_kind: str) -> int:
    def key(item: Any) -> Any:
        if item_kind == "map":
            return item.get(merge_key) if isinstance(item, dict) else None
        return item

    wanted = key(value)
    for i, item in enumerate(items):
        candidate = key(item)
        if (wanted is None and candidate is None) or _same(wanted, candidate):
            return i
    return -1


def _sort_by(items: list, order: list, merge_key: str, item_kind: str) -> list:
    """Go's sort.SliceStable (an insertion sort at these sizes) with kubectl's comparator,
    which calls an item missing from `order` smaller than anything: such items move first."""
    to_delete: list = []
    if item_kind == "map":
        for item in items + order:
            if not isinstance(item, dict):
                raise _bad_arg("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        items, to_delete = _split_deletes(items)
    s = list(items)

    def less(a: Any, b: Any) -> bool:
        ia = _position(order, a, merge_key, item_kind)
        if ia >= 0:
            ib = _position(order, b, merge_key, item_kind)
            if ib >= 0:
                return ia < ib
        return True

    for i in range(1, len(s)):
        j = i
        while j > 0 and less(s[j], s[j - 1]):
            s[j], s[j - 1] = s[j - 1], s[j]
            j -= 1
    return s + to_delete


def _split_deletes(items: list) -> tuple[list, list]:
    keep: list = []
    delete: list = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg("map[string]interface {}", item)
        (delete if item.get(DIRECTIVE) == "delete" else keep).append(item)
    return keep, delete


def _normalize_order(
    in_patch: list,
    server_only: list,
    patch_order: list,
    server_order: list,
    merge_key: str,
    item_kind: str,
) -> list:
    """Patch items in the patch's order, live-only items in the live order, interleaved by
    where the live list had them."""
    right = _sort_by(in_patch, patch_order, merge_key, item_kind)
    left = _sort_by(server_only, server_order, merge_key, item_kind)
    out = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _position(server_order, left[i], merge_key, item_kind)
            ri = _position(server_order, right[j], merge_key, item_kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
