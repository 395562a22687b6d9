"""JSON Schema validation of the documents users hand us: values, overrides, state, plans.

Owns loading the schemas in the repository's `schemas/` directory (compiled once per
process, draft-07, with `$ref`s between the files resolved locally), and turning the
violation nearest the top of a document into one error that names the file, the dotted path
and what is wrong in words ("unknown key 'foo'", "expected a string, got 3"). Does not read
documents or decide which error class a caller raises: the caller passes both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

import jsonschema_rs

from reconciler.addresses import dotted
from reconciler.errors import InputError, ReconcilerError

# reconciler/schemas links to the repository's schemas/ in a checkout, and is a copy of it
# in an installed wheel.
SCHEMA_DIR = Path(__file__).parent.parent / "schemas"
# Enough violations to find the one nearest the top of the document without walking a
# catalog that is wrong everywhere.
MAX_ERRORS_CONSIDERED = 1000

JsonPath = tuple[str | int, ...]

# Between violations at the same place, the one about the key itself (unknown, invalid
# name) explains the others; a missing key matters least.
_KIND_RANK = {"PropertyNames": 0, "AdditionalProperties": 0, "Type": 1, "Required": 3}

_KINDS = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@cache
def load_schema(schema_name: str) -> dict[str, Any]:
    """The parsed schema `schemas/<schema_name>` (shared: do not modify it)."""
    path = SCHEMA_DIR / Path(schema_name).name
    with open(path, encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def _retrieve(uri: str) -> dict[str, Any]:
    # `$ref: other.schema.json#/...` resolves against a schema's `$id`; whatever the
    # base, the file name picks the schema shipped beside this one.
    name = uri.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if not (SCHEMA_DIR / name).is_file():
        raise ValueError(f"no schema {name!r} in {SCHEMA_DIR}")
    return load_schema(name)


@cache
def _validator(schema_name: str) -> jsonschema_rs.Draft7Validator:
    return jsonschema_rs.Draft7Validator(load_schema(schema_name), retriever=_retrieve)


def validate_against(
    instance: Any,
    document: Mapping[str, Any],
    *,
    source: str,
    error: type[ReconcilerError],
    origin: Callable[[JsonPath], str] | None = None,
) -> None:
    """`validate` with a schema given as a document (a chart's values.schema.json), in
    the draft its `$schema` names (draft-07 without one). Raises `error` as `validate`
    does, and also when `document` is not a valid schema."""
    try:
        validator = jsonschema_rs.validator_for(dict(document), retriever=_retrieve)
    except (ValueError, jsonschema_rs.ValidationError) as exc:
        raise error(f"the chart's values.schema.json is not a valid schema: {exc}") from None
    _check(validator, instance, "", source=source, error=error, origin=origin)


def validate(
    instance: Any,
    schema_name: str,
    *,
    source: str,
    error: type[ReconcilerError],
    origin: Callable[[JsonPath], str] | None = None,
) -> None:
    """Check `instance` against `schemas/<schema_name>`; raise `error` for the violation
    nearest the top of the document.

    An InputError subclass gets `source` (or `origin(path)`, the file that set the value)
    and the dotted path; any other ReconcilerError gets them in its summary and detail.
    """
    validator = _validator(schema_name)
    _check(validator, instance, schema_name, source=source, error=error, origin=origin)


def _check(
    validator: Any,
    instance: Any,
    schema_name: str,
    *,
    source: str,
    error: type[ReconcilerError],
    origin: Callable[[JsonPath], str] | None,
) -> None:
    if validator.is_valid(instance):
        return
    violations = list(islice(validator.iter_errors(instance), MAX_ERRORS_CONSIDERED))
    order = _DocumentOrder(instance)
    ranked = []
    for violation in violations:
        path, message, hint = _describe(violation, schema_name)
        kind = type(violation.kind).__name__
        # A missing key belongs after the keys that are there.
        missing: Any = violation.kind
        place = (*path, missing.property) if kind == "Required" else path
        ranked.append(((order.position(place), _KIND_RANK.get(kind, 2)), path, message, hint))
    _, path, message, hint = min(ranked, key=lambda entry: entry[0])
    where = origin(path) if origin is not None else source
    if issubclass(error, InputError):
        raise error(message, source=where, path=dotted(path), hint=hint)
    located = f"{dotted(path)}: {message}" if path else message
    raise error(located, detail=f"in {where}", hint=hint)


def _describe(
    violation: jsonschema_rs.ValidationError, schema_name: str
) -> tuple[JsonPath, str, str]:
    """(path, message, hint) for one violation, in the words of the document's author."""
    # The kinds are classes per keyword, each with its own fields, read by name below.
    kind: Any = violation.kind
    name = type(kind).__name__
    path: JsonPath = tuple(violation.instance_path)
    value: Any = violation.instance
    if name == "AdditionalProperties":
        unknown = list(kind.unexpected)
        allowed = sorted(_subschema(violation, schema_name).get("properties", {}))
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else ""
        keys = ", ".join(repr(key) for key in unknown)
        noun = "key" if len(unknown) == 1 else "keys"
        return (*path, unknown[0]), f"unknown {noun} {keys}", hint
    if name == "PropertyNames":
        inner = kind.error
        key = inner.instance
        if type(inner.kind).__name__ == "Pattern":
            return (*path, key), _pattern_message(inner, schema_name, key), ""
        return (*path, key), f"key {key!r}: {inner.message}", ""
    if name == "Type":
        expected = " or ".join(_KINDS.get(t, t) for t in kind.types)
        return path, f"expected {expected}, got {_show(value)}", ""
    if name == "Enum":
        options = ", ".join(str(option) for option in kind.options)
        return path, f"{_show(value)} is not one of {options}", ""
    if name == "Pattern":
        return path, _pattern_message(violation, schema_name, value), ""
    if name == "Required":
        return path, f"missing required key {kind.property!r}", ""
    if name == "MinLength" and kind.limit == 1:
        return path, "must not be empty", ""
    if name == "MinItems":
        items = "item" if kind.limit == 1 else "items"
        return path, f"needs at least {kind.limit} {items}, got {len(value)}", ""
    return path, violation.message, ""


def _pattern_message(violation: jsonschema_rs.ValidationError, schema_name: str, value: Any) -> str:
    subschema = _subschema(violation, schema_name)
    kind: Any = violation.kind
    pattern = kind.pattern
    title = subschema.get("title")
    if not title:
        return f"{_show(value)} does not match the pattern {pattern}"
    explained = subschema.get("description") or f"must match {pattern}"
    return f"{_show(value)} is not a valid {title} ({explained})"


def _subschema(violation: jsonschema_rs.ValidationError, schema_name: str) -> Mapping[str, Any]:
    """The schema object holding the violated keyword, found through its absolute location
    (empty when the schema has no `$id` to locate it by)."""
    resource, _, pointer = (violation.absolute_keyword_location or "").partition("#")
    if not resource:
        return {}
    try:
        node: Any = _retrieve(resource)
        for token in pointer.strip("/").split("/")[:-1]:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
    except (KeyError, IndexError, ValueError, OSError):
        return {}
    return node if isinstance(node, Mapping) else {}


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value)


class _DocumentOrder:
    """Sort keys for paths by where they appear in the document (top to bottom)."""

    def __init__(self, instance: Any) -> None:
        self._instance = instance
        self._indexes: dict[int, dict[str | int, int]] = {}

    def position(self, path: JsonPath) -> tuple[int, ...]:
        node, out = self._instance, []
        for step in path:
            if isinstance(node, Mapping):
                index = self._indexes.get(id(node))
                if index is None:
                    index = self._indexes[id(node)] = {key: i for i, key in enumerate(node)}
                out.append(index.get(step, len(index)))
                node = node.get(step)
            elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
                out.append(step)
                node = node[step]
            else:
                break
        return tuple(out)
