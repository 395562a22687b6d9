"""Real Helm 4 as the oracle of the values tests: its Go SDK in-process, and the binary.

`helm-python-sdk` embeds Helm 4's Go SDK: reading one YAML document as `-f` reads it,
parsing a `--set` expression, loading a chart (whose values.yaml Helm reads with every
document merged), coalescing values with a chart's defaults and validating them against
its values.schema.json, all in microseconds. The `helm` binary (installed beside the
interpreter by `make install`) is the oracle for whole stacks, `helm template CHART -f ...
--set ...`, through a chart whose only template is `{{ toJson .Values }}`.

Helm's answers come back as JSON: `normal` puts ours in the same form (numbers compared
as float64 values, booleans kept apart from numbers) so the two compare with ==.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import helm_python

HELM = Path(sys.executable).parent / "helm"
TEMPLATE = "templates/values.txt"
CHART_YAML = "apiVersion: v2\nname: oracle\nversion: 0.1.0\n"


class Refused(Exception):
    """Helm refused the input; the message is Helm's."""


def normal(data: Any) -> Any:
    """`data` as Helm's JSON would carry it, tagged so that 1 and True differ."""
    if isinstance(data, dict):
        return {key: normal(value) for key, value in data.items()}
    if isinstance(data, list):
        return [normal(value) for value in data]
    if isinstance(data, bool):
        return ("bool", data)
    if isinstance(data, int | float):
        number = float(data)
        return ("number", "nan" if math.isnan(number) else number)
    return data


def read_document(text: str) -> dict[str, Any]:
    """One YAML document as Helm reads a values document (sigs.k8s.io/yaml)."""
    try:
        return helm_python.values_from_yaml(text)
    except helm_python.HelmError as exc:
        raise Refused(str(exc)) from None


def parse_set(expression: str, *, typed: bool = True) -> dict[str, Any]:
    """What one `--set` (or, untyped, `--set-string`) expression gives on its own."""
    parse = helm_python.parse_set_string if typed else helm_python.parse_set_string_values
    try:
        return parse(expression)
    except helm_python.HelmError as exc:
        raise Refused(str(exc)) from None


class OracleChart:
    """A chart on disk with a given values.yaml (and values.schema.json), loaded by Helm."""

    def __init__(self, directory: Path, values: str = "", schema: str | None = None) -> None:
        self.path = directory
        (directory / "templates").mkdir(parents=True, exist_ok=True)
        (directory / "Chart.yaml").write_text(CHART_YAML)
        (directory / TEMPLATE).write_text("{{ toJson .Values }}\n")
        (directory / "values.yaml").write_text(values)
        schema_file = directory / "values.schema.json"
        if schema is not None:
            schema_file.write_text(schema)
        elif schema_file.exists():
            schema_file.unlink()

    def defaults(self) -> dict[str, Any]:
        """The chart's values.yaml as Helm's loader reads it."""
        try:
            with helm_python.Chart.load(self.path) as chart:
                return chart.values
        except helm_python.HelmError as exc:
            raise Refused(str(exc)) from None

    def coalesce(self, user: dict[str, Any]) -> dict[str, Any]:
        """The user layer coalesced with the chart's defaults, as an install does."""
        with helm_python.Chart.load(self.path) as chart:
            return chart.merge_values(user)

    def schema_verdict(self, values: dict[str, Any]) -> str | None:
        """None when Helm's schema check passes `values`, else Helm's complaint."""
        with helm_python.Chart.load(self.path) as chart:
            try:
                chart.validate_schema(values)
            except helm_python.HelmError as exc:
                return str(exc)
        return None

    def template(self, files: Sequence[str] = (), sets: Sequence[tuple[str, str]] = ()) -> Any:
        """`.Values` from `helm template` with `-f` files (texts) and flags, in order:
        (flag, expression) pairs such as ("--set", "a=1")."""
        with tempfile.TemporaryDirectory() as tmp:
            args = [str(HELM), "template", "oracle", str(self.path), "--show-only", TEMPLATE]
            for index, text in enumerate(files):
                path = Path(tmp, f"values-{index}.yaml")
                path.write_text(text)
                args += ["-f", str(path)]
            for flag, expression in sets:
                args += [flag, expression]
            done = subprocess.run(
                args,
                capture_output=True,
                text=True,
                env={**os.environ, "HELM_CACHE_HOME": tmp, "HELM_CONFIG_HOME": tmp},
                check=False,
            )
        if done.returncode != 0:
            raise Refused(done.stderr.strip())
        rendered = done.stdout.split(f"# Source: oracle/{TEMPLATE}\n", 1)[1]
        return json.loads(rendered)

    def lint(self, values_files: Sequence[Path] = ()) -> subprocess.CompletedProcess[str]:
        args = [str(HELM), "lint", "--strict", str(self.path)]
        for path in values_files:
            args += ["-f", str(path)]
        return subprocess.run(args, capture_output=True, text=True, check=False)
