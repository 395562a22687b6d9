"""Each place where Helm 4's `.Values` was measured to differ from ours, as its minimal
case, checked against real Helm and against us; and each deliberate strictness, with
proof that Helm accepts the input and that we refuse it with a clear error."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import ValuesError
from reconciler.inputs import setvalues, yamlio
from reconciler.inputs.values import MAX_DEPTH, load_values
from tests import helm
from tests.helm import OracleChart, Refused, normal
from tests.runner import EXAMPLES, reconciler

# (chart values.yaml, -f file texts, (flag, expression) pairs, the .Values Helm renders)
ACCEPTED = {
    "a null deletes only a chart default": ("a: 1\n", ["{a: null, b: null}\n"], [], {"b": None}),
    "a null between -f files stays": ("", ["a: 1\n", "a: null\n"], [], {"a": None}),
    "a chart default null never shows": ("a: {b: null, c: 1}\n", [], [], {"a": {"c": 1}}),
    "--set patches the user layer, not the chart's list": (
        "l: [1, 2, 3]\n",
        [],
        [("--set", "l[1]=x")],
        {"l": [None, "x"]},
    ),
    "--set makes a list where the chart has a string": (
        "m: ''\n",
        [],
        [("--set", "m[1]=true")],
        {"m": [None, True]},
    ),
    "--set patches a list from a -f file in place": (
        "",
        ["l: [1, 2, 3]\n"],
        [("--set", "l[1]=x")],
        {"l": [1, "x", 3]},
    ),
    "every document of a file is merged": (
        "",
        ["a: 1\n---\nb: {c: 2}\n---\nb: {d: 3}\n"],
        [],
        {
            "a": 1,
            "b": {"c": 2, "d": 3},
        },
    ),
    "a separator with a comment": (
        "",
        ["--- # first\na: 1\n--- # second\nb: 2\n"],
        [],
        {
            "a": 1,
            "b": 2,
        },
    ),
    "a final block scalar without a line break gets one": (
        "",
        ["x: |\n  line"],
        [],
        {"x": "line\n"},
    ),
    "integers pass through float64": (
        "",
        ["big: 9007199254740993\n"],
        [],
        {"big": 9007199254740992},
    ),
    "--set integers stay int64": (
        "",
        [],
        [("--set", "big=9007199254740993")],
        {"big": 9007199254740993},
    ),
    "Go's case folding: falſe is false": ("", [], [("--set", "t=falſe")], {"t": False}),
    "a[0].b= at the very end drops the new item": ("", [], [("--set", "a[0].b=")], {"a": []}),
    "a[0].b= at the end still sets inside an existing item": (
        "",
        ["a: [{c: 1}]\n"],
        [("--set", "a[0].b=")],
        {"a": [{"c": 1, "b": ""}]},
    ),
    'go-yaml reads "\\\'" as a quote': ("", ['k: "\\\'"\n'], [], {"k": "'"}),
    "an anchor defined twice re-binds": (
        "",
        ["a: &x 1\nb: *x\nc: &x 2\nd: *x\n"],
        [],
        {
            "a": 1,
            "b": 1,
            "c": 2,
            "d": 2,
        },
    ),
    "[a:] is one string": ("", ["k: [a:]\n"], [], {"k": ["a:"]}),
    "{a: a?b} and [a?b] are refused, but a?b in block style is text": (
        "",
        ["k: a?b\n"],
        [],
        {"k": "a?b"},
    ),
    "the non-specific tag makes a string": ("", ["k: ! 12\n"], [], {"k": "12"}),
    "--set-string after --set, whatever the order": (
        "",
        [],
        [("--set-string", "a=x"), ("--set", "a=1")],
        {"a": "x"},
    ),
}

REFUSED = {
    "a later document that is not a mapping": ([], ["a: 1\n---\n- 1\n"], []),
    "a later document that is invalid": ([], ["a: 1\n---\nb: [\n"], []),
    "content after ---": ([], ["--- {a: 1}\n"], []),
    "a %YAML directive": ([], ["%YAML 1.1\n---\na: 1\n"], []),
    "a path through a null from a file": ([], ["a: null\n"], [("--set", "a.b=1")]),
    "a path through a null from --set": ([], [], [("--set", "a=null,a.b=1")]),
    "a list index on a null": ([], ["a: null\n"], [("--set", "a[0]=1")]),
    "a path through a string": ([], ["a: text\n"], [("--set", "a.b=1")]),
    'the escape "\\/"': ([], ['k: "\\/"\n'], []),
    "an escaped surrogate": ([], ['k: "\\ud83d\\ude00"\n'], []),
    "[a?b]": ([], ["k: [a?b]\n"], []),
    "{a: a?b}": ([], ["k: {a: a?b}\n"], []),
    "an infinity": ([], ["k: .inf\n"], []),
}


def stack(workdir: Path, chart_values: str, files: list[str]) -> tuple[OracleChart, list[Path]]:
    chart = OracleChart(workdir / "chart", values=chart_values)
    paths = []
    for index, text in enumerate(files):
        path = workdir / f"values-{index}.yaml"
        path.write_text(text)
        paths.append(path)
    return chart, paths


def ours(chart: OracleChart, paths: list[Path], flags: list[tuple[str, str]]) -> dict[str, Any]:
    sets = [expression for flag, expression in flags if flag == "--set"]
    set_strings = [expression for flag, expression in flags if flag == "--set-string"]
    return load_values(paths, sets, set_strings, chart=chart.path).data


@pytest.mark.parametrize("case", ACCEPTED, ids=list(ACCEPTED))
def test_helm_and_we_give_the_same_values(tmp_path: Path, case: str) -> None:
    chart_values, files, flags, expected = ACCEPTED[case]
    chart, paths = stack(tmp_path, chart_values, files)
    assert normal(chart.template(files, flags)) == normal(expected)
    assert normal(ours(chart, paths, flags)) == normal(expected)


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_helm_and_we_refuse_the_same_inputs(tmp_path: Path, case: str) -> None:
    chart_values, files, flags = REFUSED[case]
    chart, paths = stack(tmp_path, "".join(chart_values), files)
    with pytest.raises(Refused):
        chart.template(files, flags)
    with pytest.raises(ValuesError) as caught:
        ours(chart, paths, flags)
    named = [str(path) for path in paths] + [flag for flag, _ in flags]
    assert caught.value.source in named


def test_errors_in_a_later_document_name_its_line_in_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValuesError, match=r"values\.yaml: line 4, column 5") as caught:
        yamlio.load_values_file("a: 1\n---\nb: 2\nc: x: y\n", source="values.yaml")
    assert "    4 | c: x: y" in caught.value.detail
    with pytest.raises(ValuesError, match=r"line 2, column 4: .*only a comment after"):
        yamlio.load_values_file("a: 1\n--- {b: 2}\n", source="values.yaml")


def test_the_fast_path_refuses_a_surrogate_escape_as_the_reference_does() -> None:
    text = 'k: "\\ud83d"\n'
    assert yamlio._fast_load(text) is yamlio._NOT_TAKEN
    with pytest.raises(ValuesError, match="invalid Unicode character escape"):
        yamlio.load_values_file(text, source="values.yaml")


# Deliberate strictness: Helm accepts these, we refuse them with a named error ---------


def test_duplicate_keys_are_refused_where_helm_keeps_the_last() -> None:
    text = "a: 1\nb: 2\na: 3\n"
    assert helm.read_document(text) == {"a": 3, "b": 2}
    with pytest.raises(ValuesError, match=r"line 3, column 1: duplicate key 'a' \(first defined"):
        yamlio.load_values_file(text, source="values.yaml")


@pytest.mark.parametrize("expression", ["=1", "a=1,=2", "[0]=1"])
def test_an_empty_set_key_is_refused_where_helm_drops_it(expression: str) -> None:
    assert helm.parse_set(expression) in ({}, {"a": 1})
    with pytest.raises(ValuesError, match=setvalues.EMPTY_KEY) as caught:
        setvalues.apply_set({}, expression)
    assert caught.value.source == "--set"
    assert repr(expression) in caught.value.summary


@pytest.mark.parametrize(
    ("expression", "helm_gives"),
    [("a.", {}), ("a[0]", {"a": []}), ("b=1,a[0", {"b": 1}), ("a[0].", {"a": []})],
)
def test_an_unfinished_last_key_is_refused_where_helm_ignores_it(
    expression: str, helm_gives: dict
) -> None:
    assert helm.parse_set(expression) == helm_gives
    with pytest.raises(ValuesError, match=f"key 'a[^']*' {setvalues.UNFINISHED_KEY}"):
        setvalues.apply_set({}, expression)


def test_nesting_beyond_our_limit_is_one_clear_error_where_helm_reads_it(tmp_path: Path) -> None:
    depth = MAX_DEPTH + 46
    text = "a: " + "[" * depth + "]" * depth + "\n"
    chart, paths = stack(tmp_path, "", [text])
    assert "a" in chart.template([text])
    with pytest.raises(ValuesError, match=f"nested more than {MAX_DEPTH} levels deep") as caught:
        ours(chart, paths, [])
    assert caught.value.source == str(paths[0])


# The chart layer through the command line ----------------------------------------------


def test_the_cli_reads_a_charts_values_and_schema_beneath_f_and_set(tmp_path: Path) -> None:
    chart = OracleChart(
        tmp_path / "chart",
        values=(EXAMPLES / "values.yaml").read_text(),
        schema=(EXAMPLES.parent / "schemas" / "values.schema.json").read_text(),
    )
    ok = reconciler("validate", "--chart", str(chart.path), cwd=tmp_path)
    assert ok.code == 0, ok.err
    assert f"Valid: {chart.path}" in ok.out
    runtime = "config.deployer.composition.runtimes.h2o3-mojo"
    # A null over a chart default deletes it (displayName is optional): valid.
    deleting = reconciler(
        "validate", "--chart", str(chart.path), "--set", f"{runtime}.displayName=null", cwd=tmp_path
    )
    assert deleting.code == 0, deleting.err
    # A null where the chart has no default stays null, and Helm's schema check refuses it.
    bad = tmp_path / "bad.yaml"
    bad.write_text("config: {deployer: {composition: {runtimes: {h2o3-mojo: {state: null}}}}}\n")
    refused = reconciler("validate", "--chart", str(chart.path), "-f", str(bad), cwd=tmp_path)
    assert refused.code == 1
    assert f"{bad}:{runtime}.state: expected a string, got null" in refused.err
    assert chart.lint([bad]).returncode != 0


def test_the_shipped_chart_renders_the_composition_we_compute(tmp_path: Path) -> None:
    chart = EXAMPLES / "chart"
    files = [EXAMPLES / "values.yaml", EXAMPLES / "values-release.yaml"]
    runtime = "config.deployer.composition.runtimes.h2o3-mojo"
    flags = ["--set", f"{runtime}.environmentVariables.LOG_LEVEL=null"]
    args = [str(helm.HELM), "template", "r", str(chart), "--show-only", "templates/configmap.yaml"]
    for path in files:
        args += ["-f", str(path)]
    env = {
        "HOME": str(tmp_path),
        "HELM_CONFIG_HOME": str(tmp_path),
        "HELM_CACHE_HOME": str(tmp_path),
    }
    done = subprocess.run([*args, *flags], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(yaml.safe_load(done.stdout)["data"]["values.yaml"])
    ours_values = load_values(files, [flags[1]], chart=chart)
    composition = ours_values.data["config"]["deployer"]["composition"]
    assert normal(rendered["config"]["deployer"]["composition"]) == normal(composition)
    assert "LOG_LEVEL" not in composition["runtimes"]["h2o3-mojo"]["environmentVariables"]


def test_without_a_chart_there_are_no_defaults_to_delete(tmp_path: Path) -> None:
    runtime = "config.deployer.composition.runtimes.h2o3-mojo"
    values = str(EXAMPLES / "values.yaml")
    kept = reconciler(
        "validate", "-f", values, "--set", f"{runtime}.displayName=null", cwd=tmp_path
    )
    assert kept.code == 1
    assert f"--set {runtime}.displayName=null:{runtime}.displayName: expected a string" in kept.err


def test_a_chart_that_is_not_a_directory_or_has_bad_values_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValuesError, match="not a chart directory") as caught:
        load_values([], chart=tmp_path / "missing")
    assert caught.value.source == str(tmp_path / "missing")
    chart = OracleChart(tmp_path / "chart", values="a: 1\n---\n- 2\n")
    with pytest.raises(Refused):
        chart.defaults()
    with pytest.raises(ValuesError, match="top level must be a mapping") as caught:
        load_values([], chart=chart.path)
    assert caught.value.source == str(chart.path / "values.yaml")
