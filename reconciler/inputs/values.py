"""Helm values: the platform source, read the way `helm install -f ... --set ...` reads it.

Owns reading the `-f` files, merging them with Helm's rules (maps merge recursively, later
files win, lists and scalars replace, `null` deletes), applying `--set`/`--set-string`
flags with Helm's strvals syntax, validating the result against
`schemas/values.schema.json`, and remembering which file or flag set each value so errors
name it. Does not interpret the catalog: bootstrap.py turns values into resources.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from reconciler.addresses import dotted
from reconciler.errors import ValuesError
from reconciler.inputs import schema, yamlio

JsonPath = tuple[str | int, ...]

SCHEMA_NAME = "values.schema.json"
# Helm's strvals limits: a list index above this, or names nested deeper, are refused.
MAX_INDEX = 65536
MAX_NESTED_NAME_LEVEL = 30
SET_HINT = (
    "write key.path=value, several separated by commas, list items as key[0]=value and lists "
    "as key={a,b}; escape '.', ',', '[' or '=' inside a key or value with a backslash"
)


@dataclass(frozen=True)
class _Layer:
    """One `-f` file or `--set` flag: what it set, for finding who set a value."""

    label: str
    doc: dict[str, Any]
    from_flag: bool

    def defines(self, path: JsonPath) -> bool:
        """Whether this layer set `path`, or replaced one of its ancestors with a scalar."""
        node: Any = self.doc
        for step in path:
            if isinstance(node, dict) and isinstance(step, str):
                if step not in node:
                    return False
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int):
                if step >= len(node):
                    return False
                node = node[step]
                if node is None and self.from_flag:
                    return False  # `a[2]=x` pads a[0] and a[1] without setting them
            else:
                return True
        return True


@dataclass(frozen=True)
class Values:
    """Merged Helm values.

    `data` is the merged document in plain JSON types, with no null-valued keys left
    (treat it as read-only). `sources` names the `-f` files and `--set`/`--set-string` flags
    in the order they were applied. `origin(path)` is the source that set the value at
    `path` (or the nearest ancestor a source set). `digest` is the sha256 of `data` as
    canonical JSON, for noticing that a saved plan's inputs changed.
    """

    data: dict[str, Any]
    sources: tuple[str, ...] = ()
    _layers: tuple[_Layer, ...] = field(default=(), repr=False, compare=False)

    def origin(self, path: JsonPath) -> str:
        for depth in range(len(path), -1, -1):
            for layer in reversed(self._layers):
                if layer.defines(path[:depth]):
                    return layer.label
        return "values"

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(orjson.dumps(self.data, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def __hash__(self) -> int:
        return hash((self.digest, self.sources))


def load_values(
    files: Sequence[str | os.PathLike[str]],
    sets: Sequence[str] = (),
    set_strings: Sequence[str] = (),
) -> Values:
    """Read, merge, apply flags and validate, as Helm does for `-f`, `--set`, `--set-string`.

    Helm applies every `--set` before any `--set-string`, whatever their order on the
    command line. Raises ValuesError naming the file or flag and the dotted path at fault.
    """
    documents = []
    for file in files:
        name = os.fspath(file)
        documents.append((name, yamlio.load_yaml(_read(name), source=name)))
    return build_values(documents, sets, set_strings)


def build_values(
    documents: Sequence[tuple[str, Mapping[str, Any]]],
    sets: Sequence[str] = (),
    set_strings: Sequence[str] = (),
) -> Values:
    """`load_values` for documents already parsed: (name, mapping) pairs in `-f` order."""
    layers: list[_Layer] = []
    merged: dict[str, Any] = {}
    for name, doc in documents:
        layers.append(_Layer(name, dict(doc), from_flag=False))
        merged = merge(merged, doc)
    for flag, expressions, typed in (("--set", sets, True), ("--set-string", set_strings, False)):
        for expression in expressions:
            assignments = parse_set(expression, typed=typed, flag=flag)
            label = f"{flag} {expression}"
            merged = _assign_all(merged, assignments, label=label)
            layers.append(_Layer(label, _assign_all({}, assignments, label=label), from_flag=True))
    merged = _without_nulls(merged)
    values = Values(
        data=merged, sources=tuple(layer.label for layer in layers), _layers=tuple(layers)
    )
    schema.validate(
        merged,
        SCHEMA_NAME,
        source=values.sources[-1] if values.sources else "values",
        error=ValuesError,
        origin=values.origin,
    )
    return values


def _read(name: str) -> bytes:
    try:
        if name == "-":
            return sys.stdin.buffer.read()
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ValuesError(
            f"cannot read values file: {exc.strerror or exc}",
            source=name,
            hint="check the path given to -f/--values",
        ) from None


# Merging ------------------------------------------------------------------------------


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of two values files: maps merge recursively, anything else in
    `override` (lists, scalars, null) replaces what `base` had. Shares unchanged subtrees."""
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = merge(current, value)
        else:
            out[key] = value
    return out


def _without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """Drop null-valued keys from every map (not inside lists), as Helm's coalescing does."""
    # A null value always serializes as `:null`; most documents have none to drop.
    if b":null" not in orjson.dumps(data):
        return data
    return _drop_nulls(data)


def _drop_nulls(node: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _drop_nulls(value) if isinstance(value, dict) else value
        for key, value in node.items()
        if value is not None
    }


# --set --------------------------------------------------------------------------------


def _typed(text: str) -> Any:
    """How Helm types a `--set` value: true/false/null in any case, int64 integers without
    a leading zero, and strings for everything else (floats too)."""
    folded = text.lower()
    if folded in ("true", "false"):
        return folded == "true"
    if folded == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0":
        digits = text[1:] if text[0] in "+-" else text
        if digits.isascii() and digits.isdigit():
            number = int(text)
            if -(2**63) <= number < 2**63:
                return number
    return text


class _SetParser:
    """Helm's strvals grammar (pkg/strvals), producing assignments instead of a map.

    Deliberate differences: an empty key, and `a[0]` with no `=value`, are errors where Helm
    silently ignores them.
    """

    def __init__(self, expression: str, *, typed: bool) -> None:
        self._text = expression
        self._pos = 0
        self._typed = typed
        self.assignments: list[tuple[JsonPath, Any]] = []

    def parse(self) -> list[tuple[JsonPath, Any]]:
        while self._key(()):
            pass
        return self.assignments

    def _until(self, stops: str) -> tuple[str, str | None]:
        """Characters up to one of `stops` (consumed; None at the end), `\\x` escaping x."""
        out: list[str] = []
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            self._pos += 1
            if char == "\\":
                if self._pos >= len(text):
                    return "".join(out), None
                out.append(text[self._pos])
                self._pos += 1
            elif char in stops:
                return "".join(out), char
            else:
                out.append(char)
        return "".join(out), None

    def _key(self, path: JsonPath) -> bool:
        """Parse one `key...=value`; False once the expression is used up."""
        key, last = self._until("=[,.")
        if last is None:
            if not key and not path:
                return False
            raise _SetSyntaxError(f"key {dotted((*path, key))!r} has no value")
        if not key:
            raise _SetSyntaxError(f"empty key after {dotted(path)!r}" if path else "empty key")
        if last == ",":
            raise _SetSyntaxError(f"key {dotted((*path, key))!r} has no value (cannot end with ,)")
        if last == "=":
            self.assignments.append(((*path, key), self._value()))
            return True
        if last == "[":
            return self._list_item((*path, key), self._index())
        if len(path) + 1 > MAX_NESTED_NAME_LEVEL:
            raise _SetSyntaxError(
                f"names may nest at most {MAX_NESTED_NAME_LEVEL} levels deep",
            )
        return self._key((*path, key))

    def _index(self) -> int:
        text, last = self._until("]")
        if last is None or not _INDEX.fullmatch(text):
            raise _SetSyntaxError(f"invalid list index [{text}")
        index = int(text)
        if index < 0:
            raise _SetSyntaxError(f"negative index {index} not allowed")
        if index > MAX_INDEX:
            raise _SetSyntaxError(f"index {index} is above the maximum of {MAX_INDEX}")
        return index

    def _list_item(self, path: JsonPath, index: int) -> bool:
        rest, last = self._until("[.=")
        where = dotted((*path, index))
        if rest:
            raise _SetSyntaxError(f"unexpected {rest!r} after {where}")
        if last is None:
            raise _SetSyntaxError(f"key {where!r} has no value")
        if last == "=":
            self.assignments.append(((*path, index), self._value()))
            return True
        if last == "[":
            return self._list_item((*path, index), self._index())
        return self._key((*path, index))

    def _value(self) -> Any:
        if self._pos >= len(self._text):
            return ""
        if self._text[self._pos] != "{":
            text, _ = self._until(",")
            return self._convert(text)
        self._pos += 1
        items = []
        while True:
            text, last = self._until(",}")
            if last is None:
                raise _SetSyntaxError("a list must end with '}'")
            items.append(self._convert(text))
            if last == "}":
                if self._text.startswith(",", self._pos):
                    self._pos += 1
                return items

    def _convert(self, text: str) -> Any:
        return _typed(text) if self._typed else text


class _SetSyntaxError(Exception):
    pass


_INDEX = re.compile(r"[-+]?[0-9]+")  # strconv.Atoi


def parse_set(
    expression: str, *, typed: bool = True, flag: str = "--set"
) -> list[tuple[JsonPath, Any]]:
    """The assignments in one `--set` (typed) or `--set-string` expression, in order.

    Raises ValuesError (source `flag`) when the expression is malformed.
    """
    try:
        return _SetParser(expression, typed=typed).parse()
    except _SetSyntaxError as exc:
        raise ValuesError(
            f"cannot parse {expression!r}: {exc}", source=flag, hint=SET_HINT
        ) from None


def _assign_all(
    data: dict[str, Any], assignments: list[tuple[JsonPath, Any]], *, label: str
) -> dict[str, Any]:
    for path, value in assignments:
        data = _assign(data, path, value, label=label, done=())
    return data


def _assign(node: Any, path: JsonPath, value: Any, *, label: str, done: JsonPath) -> Any:
    """`node` with `value` set at `path`, copying only what changes (the layers that set the
    rest are kept for `Values.origin`)."""
    step, rest = path[0], path[1:]
    here = (*done, step)
    if isinstance(step, str):
        if node is None:
            node = {}
        if not isinstance(node, dict):
            raise _conflict(label, done, node, "a mapping")
        out = dict(node)
        out[step] = _assign(node.get(step), rest, value, label=label, done=here) if rest else value
        return out
    if node is None:
        node = []
    if not isinstance(node, list):
        raise _conflict(label, done, node, "a list")
    items: list[Any] = list(node)
    items.extend([None] * (step + 1 - len(items)))
    if not rest:
        items[step] = value
        return items
    child = items[step]
    if isinstance(rest[0], str) and not isinstance(child, dict):
        child = None  # Helm replaces a non-map list item when a key is set inside it
    items[step] = _assign(child, rest, value, label=label, done=here)
    return items


def _conflict(label: str, path: JsonPath, found: Any, wanted: str) -> ValuesError:
    kind = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(found), "a number"
    )
    flag, _, expression = label.partition(" ")
    return ValuesError(
        f"cannot apply {expression!r}: {dotted(path)} is {kind} here, not {wanted}",
        source=flag,
        hint="set the whole value instead, or fix the key path",
    )
