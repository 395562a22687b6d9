"""Helm values: the platform source, computed exactly as Helm 4 computes `.Values`.

Owns the layering of `helm upgrade CHART -f A -f B --set ... --set-string ...`: the `-f`
files merge into the user layer (maps merge recursively, later files win, lists and
scalars replace, null replaces too), every `--set` and then every `--set-string` is
applied to that user layer (setvalues.py), and only then is the user layer coalesced with
the chart's own values.yaml (`coalesce`): a null removes a key only where it deletes a
chart default and stays in `.Values` everywhere else. Validates the result against
`schemas/values.schema.json` (and the chart's values.schema.json when it has one), and
remembers which file or flag set each value so errors name it. Does not read YAML
(yamlio.py) or interpret the catalog (bootstrap.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from reconciler.errors import ValuesError
from reconciler.inputs import schema, setvalues, yamlio

JsonPath = tuple[str | int, ...]

SCHEMA_NAME = "values.schema.json"
CHART_VALUES = "values.yaml"
CHART_SCHEMA = "values.schema.json"
# orjson, which writes the canonical JSON of the digest, nests at most this deep; Helm
# reads documents nested up to 10000 levels (a documented limit of ours).
MAX_DEPTH = 254


@dataclass(frozen=True)
class _Layer:
    """The chart's values.yaml, one `-f` file or one `--set` flag: what it set, for
    finding who set a value."""

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


@dataclass(frozen=True, kw_only=True)
class Chart:
    """A chart directory's contribution to values: its values.yaml (`values`, {} when it
    has none) and its values.schema.json (`schema`, None when it has none)."""

    path: str
    values: dict[str, Any]
    schema: dict[str, Any] | None = None

    @property
    def values_label(self) -> str:
        return os.path.join(self.path, CHART_VALUES)


def load_chart(path: str | os.PathLike[str]) -> Chart:
    """The defaults layer of the chart in directory `path`, read as Helm 4 reads them.

    Raises ValuesError when `path` is not a directory, or its values.yaml or
    values.schema.json cannot be read.
    """
    name = os.fspath(path)
    if not os.path.isdir(name):
        raise ValuesError(
            "not a chart directory",
            source=name,
            hint="give --chart the directory holding the chart's Chart.yaml and values.yaml",
        )
    values_file = os.path.join(name, CHART_VALUES)
    values: dict[str, Any] = {}
    if os.path.exists(values_file):
        values = yamlio.load_values_file(_read(values_file), source=values_file)
    schema_file = Path(name) / CHART_SCHEMA
    chart_schema = None
    if schema_file.exists():
        try:
            chart_schema = json.loads(_read(str(schema_file)))
        except ValueError as exc:
            raise ValuesError(
                f"not valid JSON: {exc}", source=str(schema_file), hint="fix the chart's schema"
            ) from None
    return Chart(path=name, values=values, schema=chart_schema)


@dataclass(frozen=True)
class Values:
    """Merged Helm values: what Helm 4 puts in `.Values`.

    `data` is the merged document in plain JSON types (treat it as read-only); a key may
    hold None, as in Helm, where a null did not delete a chart default. `sources` names
    the chart's values.yaml, the `-f` files and `--set`/`--set-string` flags in the order
    they were applied. `origin(path)` is the source that set the value at `path` (or the
    nearest ancestor a source set). `digest` is the sha256 of `data` as canonical JSON,
    for noticing that a saved plan's inputs changed.
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
    *,
    chart: str | os.PathLike[str] | None = None,
) -> Values:
    """`.Values` of `helm upgrade CHART -f FILE... --set ... --set-string ...`.

    `chart` is the chart directory whose values.yaml is the defaults layer (without it,
    there are no defaults). Helm applies every `--set` before any `--set-string`, whatever
    their order on the command line. Raises ValuesError naming the file or flag and the
    dotted path at fault.
    """
    documents = []
    for file in files:
        name = os.fspath(file)
        documents.append((name, yamlio.load_values_file(_read(name), source=name)))
    return build_values(
        documents, sets, set_strings, chart=load_chart(chart) if chart is not None else None
    )


def build_values(
    documents: Sequence[tuple[str, Mapping[str, Any]]],
    sets: Sequence[str] = (),
    set_strings: Sequence[str] = (),
    *,
    chart: Chart | None = None,
) -> Values:
    """`load_values` for documents already parsed: (name, mapping) pairs in `-f` order."""
    layers: list[_Layer] = []
    if chart is not None:
        layers.append(_Layer(chart.values_label, chart.values, from_flag=False))
    user: dict[str, Any] = {}
    for name, doc in documents:
        layers.append(_Layer(name, dict(doc), from_flag=False))
        user = yamlio.merge_maps(user, dict(doc))
    for flag, expressions, typed in (("--set", sets, True), ("--set-string", set_strings, False)):
        for expression in expressions:
            label = f"{flag} {expression}"
            user = setvalues.apply_set(user, expression, typed_values=typed, flag=flag)
            alone = setvalues.apply_set({}, expression, typed_values=typed, flag=flag)
            layers.append(_Layer(label, alone, from_flag=True))
    merged = coalesce(user, chart.values) if chart is not None else user
    values = Values(
        data=merged, sources=tuple(layer.label for layer in layers), _layers=tuple(layers)
    )
    source = values.sources[-1] if values.sources else "values"
    try:
        values.digest  # noqa: B018  # computed now: it is the check that the nesting fits
    except TypeError:
        raise ValuesError(
            f"the values are nested more than {MAX_DEPTH} levels deep",
            source=source,
            hint=f"Helm reads up to 10000 levels; the reconciler reads up to {MAX_DEPTH}",
        ) from None
    if chart is not None and chart.schema is not None:
        schema.validate_against(
            merged,
            chart.schema,
            source=source,
            error=ValuesError,
            origin=values.origin,
        )
    schema.validate(merged, SCHEMA_NAME, source=source, error=ValuesError, origin=values.origin)
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


# Layering -----------------------------------------------------------------------------

merge = yamlio.merge_maps


def coalesce(user: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Helm 4's coalescing of the user layer with a chart's defaults (CoalesceValues):
    user values win; maps merge; a user null deletes the key where the chart has a
    non-null default and stays null where it has none; the chart's own nulls never show.
    A user scalar or list over a chart map, or a map over a chart scalar, wins whole.
    Changes neither argument (unchanged subtrees are shared)."""
    out = dict(user)
    for key, default in defaults.items():
        if key in out:
            value = out[key]
            if value is None:
                del out[key]  # at the top, whatever the default was (even null)
            elif isinstance(value, dict) and isinstance(default, dict):
                out[key] = _coalesce_tables(value, _without_nulls(default))
        elif default is not None:
            out[key] = _without_nulls(default) if isinstance(default, dict) else default
    return out


def _coalesce_tables(user: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """coalesceTablesFullKey below the top: `defaults` holds no nulls, so a user null over
    one of its keys deletes a chart default, and any other user null stays."""
    out = dict(user)
    for key, default in defaults.items():
        if key not in out:
            out[key] = default
            continue
        value = out[key]
        if value is None:
            del out[key]
        elif isinstance(value, dict) and isinstance(default, dict):
            out[key] = _coalesce_tables(value, default)
    return out


def _without_nulls(node: dict[str, Any]) -> dict[str, Any]:
    """A chart default map without its null-valued keys, at every depth (not in lists)."""
    return {
        key: _without_nulls(value) if isinstance(value, dict) else value
        for key, value in node.items()
        if value is not None
    }
