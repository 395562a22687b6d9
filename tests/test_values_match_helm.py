"""Our values are the `.Values` real Helm 4 computes, from the same inputs.

Differential tests: generated YAML documents, multi-document files, `--set` and
`--set-string` expressions, chart defaults coalesced with user values, whole stacks
(chart + several `-f` files + flags, through the `helm` binary) and schema verdicts, each
given to Helm (tests/helm.py) and to us. Wherever Helm accepts the input, our values are
Helm's; wherever Helm refuses it, we refuse it too. The only inputs we refuse and Helm
accepts are the deliberate strictness documented in setvalues.py and goyaml.py, each
named here (`STRICTNESS`) and tested on its own below.

Generation is derandomized (a fixed seed): CI sees the same cases on every run. Set
HELM_DIFF_EXAMPLES to a multiple to explore further locally, and HELM_DIFF_EXPLORE=1 for
fresh random cases on each run.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.errors import ValuesError
from reconciler.inputs import goyaml, schema, setvalues, values, yamlio
from tests import helm
from tests.helm import OracleChart, Refused, normal

SCALE = float(os.environ.get("HELM_DIFF_EXAMPLES", "1"))
ROOT = Path(__file__).parent.parent


def examples(count: int) -> settings:
    return settings(
        max_examples=max(1, int(count * SCALE)),
        derandomize=not os.environ.get("HELM_DIFF_EXPLORE"),
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


# Where we refuse what Helm silently accepts, on purpose (the words our errors use).
STRICTNESS = {
    "duplicate key": "a key given twice in one mapping (go-yaml keeps the last)",
    setvalues.EMPTY_KEY: "an empty --set key (Helm drops the assignment)",
    setvalues.UNFINISHED_KEY: "a --set key without =value at the end (Helm ignores it)",
}


def deliberate(error: str) -> bool:
    return any(words in error for words in STRICTNESS)


def ours(read: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", normal(read())
    except ValuesError as exc:
        return "refused", str(exc)


def theirs(read: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", normal(read())
    except Refused as exc:
        return "refused", str(exc)


def assert_same(our: tuple[str, Any], their: tuple[str, Any], case: object) -> None:
    why = next((words for words in STRICTNESS if our[0] == "refused" and words in our[1]), "")
    event(f"Helm {their[0]}, we {our[0]} {why}")  # --hypothesis-show-statistics shows the mix
    if their[0] == "refused":
        assert our[0] == "refused", f"Helm refuses {case!r} ({their[1]}); we read {our[1]!r}"
        return
    if our[0] == "refused" and deliberate(our[1]):
        return
    assert our == their, f"{case!r}: Helm reads {their[1]!r}, we {our[1]!r}"


@pytest.fixture(scope="module")
def workdir() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


# YAML documents -----------------------------------------------------------------------

PLAIN = st.sampled_from(
    [
        "yes", "No", "on", "OFF", "y", "n", "true", "False", "~", "null", "NULL", "",
        "0777", "-0777", "08", "0o17", "0x1F", "0b101", "1_000", "+12", "-0", "0", "1e3",
        "1.5", ".5", "1e400", "9007199254740993", "18446744073709551615", "x",
        "99999999999999999999", "2001-12-14", "1:20", "a:b", "a?b", "http://x", "-x",
        "a#b", "x y", "=", "v1.2.3", "tRUE", "a:", "é", "a'b", "a\"b", "a b: c",
    ]
)  # fmt: skip
TRICKY = st.sampled_from(
    ["-.inf", ".NaN", "!", "&", "*", "@x", "`x", "%x", "'", '"', "?", "-", "<<", "!!int 1"]
)
RAW = st.text(alphabet="ab01:?#-,[]{}&*!|> '\".", min_size=1, max_size=5)
ESCAPES = st.sampled_from(
    [
        r"\/", r"\'", r"\"", r"\\", r"\n", r"\t", r"\x41", r"\u00e9", r"\ud83d", r"\udc00",
        r"\U0001F600", r"\0", r"\ ", r"\_", r"\N", r"\L", r"\q", r"\e", "x", " ", "'",
    ]
)  # fmt: skip
KEYS = st.sampled_from(
    ["a", "b", "c", "d", "e", "on", "y", "1", "1.5", "0x1F", "'k'", '"k"', "k:x", "<<", "~"]
)


@st.composite
def scalars(draw: st.DrawFn, *, flow: bool) -> str:
    style = draw(st.sampled_from(["plain"] * 6 + ["tricky", "raw", "single", "double", "double"]))
    if style == "plain":
        return draw(PLAIN)
    if style == "tricky":
        return draw(TRICKY)
    if style == "raw":
        return draw(RAW)
    if style == "single":
        return "'" + draw(st.text(alphabet="ab '\"\\", max_size=4)).replace("'", "''") + "'"
    return '"' + "".join(draw(st.lists(ESCAPES, max_size=3))) + '"'


@st.composite
def flow_nodes(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["scalar", "scalar", "seq", "map"] if depth < 2 else ["scalar"]))
    if kind == "scalar":
        return draw(scalars(flow=True))
    items = draw(st.lists(flow_nodes(depth + 1), max_size=3))
    if kind == "seq":
        return "[" + ", ".join(items) + "]"
    keys = draw(st.lists(KEYS, min_size=len(items), max_size=len(items)))
    return "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items, strict=True)) + "}"


@st.composite
def block_nodes(draw: st.DrawFn, indent: int = 0, depth: int = 0) -> str:
    """A block mapping or sequence at `indent`, as lines ending in newlines."""
    pad = " " * indent
    anchors = ["x", "y"]
    lines = []
    is_seq = depth > 0 and draw(st.booleans())
    for key in draw(st.lists(KEYS, min_size=1, max_size=4, unique=True)):
        head = f"{pad}- " if is_seq else f"{pad}{key}: "
        kind = draw(
            st.sampled_from(
                ["scalar", "scalar", "flow", "block", "literal", "anchor", "alias"]
                if depth < 3
                else ["scalar", "flow"]
            )
        )
        if kind == "scalar":
            lines.append(head + draw(scalars(flow=False)) + "\n")
        elif kind == "flow":
            lines.append(head + draw(flow_nodes()) + "\n")
        elif kind == "literal":
            body = draw(st.sampled_from(["", "x\n", "x\n\n", " x\n", "a: b\n"]))
            indicator = draw(st.sampled_from(["|", "|-", "|+", ">", ">2"]))
            content = "".join(f"{pad}  {line}\n" for line in body.splitlines())
            lines.append(f"{head}{indicator}\n{content}")
        elif kind == "anchor":
            lines.append(f"{head}&{draw(st.sampled_from(anchors))} {draw(scalars(flow=False))}\n")
        elif kind == "alias":
            lines.append(f"{head}*{draw(st.sampled_from(anchors))}\n")
        else:
            lines.append(head.rstrip() + "\n" + draw(block_nodes(indent + 2, depth + 1)))
    return "".join(lines)


documents = st.one_of(block_nodes(), flow_nodes().map(lambda text: f"{text}\n"))


@examples(1500)
@given(documents)
def test_every_generated_document_reads_as_helm_reads_it(text: str) -> None:
    assert_same(
        ours(lambda: yamlio.load_values_file(text, source="values.yaml")),
        theirs(lambda: helm.read_document(text)),
        text,
    )
    fast = yamlio._fast_load(text, json_numbers=True)
    if fast is not yamlio._NOT_TAKEN:  # the fast path took it: the reference agrees
        assert normal(fast) == normal(goyaml.load(text, json_numbers=True)), text


# Whole files: several documents -------------------------------------------------------

SEPARATORS = st.sampled_from(
    ["---\n", "--- # note\n", "---   \n", "---\n---\n", "--- {a: 1}\n", "---x: 1\n", "...\n"]
)
SMALL_DOCUMENTS = st.sampled_from(
    [
        "a: 1\n", "b: {c: 2}\n", "b: {d: 3}\n", "a: null\n", "- 1\n", "just text\n", "",
        "# only a comment\n", "a: [1, 2]\n", "%YAML 1.1\n", "x: |\n  line", "x: |\n  ",
        "n: 9007199254740993\n", "'a': {b: null}\n",
    ]
)  # fmt: skip


@st.composite
def files(draw: st.DrawFn) -> str:
    parts = [draw(SMALL_DOCUMENTS)]
    for _ in range(draw(st.integers(0, 3))):
        parts += [draw(SEPARATORS), draw(SMALL_DOCUMENTS)]
    text = "".join(parts)
    return text if draw(st.booleans()) else text.rstrip("\n")


@examples(200)
@given(files())
def test_every_generated_file_reads_as_helms_loader_reads_it(workdir: Path, text: str) -> None:
    chart = OracleChart(workdir / "files", values=text)
    assert_same(
        ours(lambda: yamlio.load_values_file(text, source="values.yaml")),
        theirs(chart.defaults),
        text,
    )


# --set and --set-string ---------------------------------------------------------------

SET_KEYS = st.sampled_from(["a", "b", "a.b", "a.c", r"a\.b", "", "x.y.z"])
SET_INDEXES = st.sampled_from(["[0]", "[1]", "[2]", "[-1]", "[x]", "[65537]", "[0][1]", ""])
SET_VALUES = st.sampled_from(
    [
        "1", "-0", "+5", "007", "0", "true", "TRUE", "falſe", "nuLL", "null", "1.5", "",
        "{1,2}", "{}", "{a", "x\\,y", "9223372036854775808", "-9223372036854775808", "a=b",
        "yes", " x ",
    ]
)  # fmt: skip


@st.composite
def set_expressions(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(alphabet="ab.[]=,{}\\01", max_size=10))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        key = draw(SET_KEYS) + draw(SET_INDEXES) + draw(st.sampled_from(["", "", ".c", ".d[0]"]))
        parts.append(key + draw(st.sampled_from(["=", "=", ""])) + draw(SET_VALUES))
    return ",".join(parts) + draw(st.sampled_from(["", "", ","]))


@examples(2000)
@given(set_expressions(), st.booleans())
def test_every_generated_set_expression_parses_as_helm_parses_it(
    expression: str, typed: bool
) -> None:
    assert_same(
        ours(lambda: setvalues.apply_set({}, expression, typed_values=typed)),
        theirs(lambda: helm.parse_set(expression, typed=typed)),
        expression,
    )


# Chart defaults and the user layer ----------------------------------------------------

LEAVES = st.one_of(
    st.none(), st.integers(-3, 3), st.sampled_from(["", "s"]), st.booleans(), st.just([1, None])
)
TREES = st.recursive(
    LEAVES, lambda inner: st.dictionaries(st.sampled_from("abc"), inner, max_size=3), max_leaves=8
)
LAYERS = st.dictionaries(st.sampled_from("abcd"), TREES, max_size=4)


@examples(300)
@given(LAYERS, LAYERS)
def test_coalescing_with_chart_defaults_is_helms(workdir: Path, user: dict, defaults: dict) -> None:
    chart = OracleChart(workdir / "coalesce", values=json.dumps(defaults))
    assert normal(values.coalesce(user, defaults)) == normal(chart.coalesce(user))


STACK_FILES = st.lists(LAYERS.map(json.dumps), max_size=3)
STACK_FLAGS = st.lists(
    st.tuples(st.sampled_from(["--set", "--set-string"]), set_expressions()), max_size=3
)


@examples(60)
@given(LAYERS.map(json.dumps), STACK_FILES, STACK_FLAGS)
def test_whole_stacks_give_the_values_helm_template_renders(
    workdir: Path, defaults: str, files: list[str], flags: list[tuple[str, str]]
) -> None:
    chart = OracleChart(workdir / "stack", values=defaults)
    paths = []
    for index, text in enumerate(files):
        path = workdir / f"stack-{index}.yaml"
        path.write_text(text)
        paths.append(path)
    sets = [expression for flag, expression in flags if flag == "--set"]
    set_strings = [expression for flag, expression in flags if flag == "--set-string"]
    assert_same(
        ours(lambda: values.load_values(paths, sets, set_strings, chart=chart.path).data),
        theirs(lambda: chart.template(files, flags)),
        (defaults, files, flags),
    )


# Schema verdicts ----------------------------------------------------------------------

EXAMPLE_VALUES = yamlio.load_values_file(
    (ROOT / "examples" / "values.yaml").read_text(), source="values.yaml"
)
SCHEMA_TEXT = (ROOT / "schemas" / "values.schema.json").read_text()
REPLACEMENTS = st.sampled_from(
    [None, "", "x", "ACTIVE", "BOGUS", "v1.2.3", "/ready", "Bad_Id", 3, 1.5, True, [], {}, [{}]]
)


def paths_of(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths_of(value, (*prefix, index))
    return found


EXAMPLE_PATHS = paths_of(EXAMPLE_VALUES)[1:]


def mutated(doc: Any, path: tuple, change: str, value: Any) -> Any:
    if not path:
        return value
    out = dict(doc) if isinstance(doc, dict) else list(doc)
    step = path[0]
    if len(path) == 1:
        if change == "delete" and isinstance(out, dict):
            del out[step]
        elif change == "add" and isinstance(out, dict):
            out[f"unknown{len(out)}"] = value
        else:
            out[step] = value
        return out
    out[step] = mutated(out[step], path[1:], change, value)
    return out


@examples(300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(EXAMPLE_PATHS),
            st.sampled_from(["replace", "replace", "delete", "add"]),
            REPLACEMENTS,
        ),
        max_size=2,
    )
)
def test_schema_verdicts_are_helms(workdir: Path, changes: list) -> None:
    doc: Any = EXAMPLE_VALUES
    for path, change, value in changes:
        try:
            doc = mutated(doc, path, change, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced that path
    chart = OracleChart(workdir / "schema", values="", schema=SCHEMA_TEXT)
    try:
        schema.validate(doc, values.SCHEMA_NAME, source="values.yaml", error=ValuesError)
        our_verdict = None
    except ValuesError as exc:
        our_verdict = str(exc)
    their_verdict = chart.schema_verdict(doc)
    event("Helm " + ("passes" if their_verdict is None else "fails"))
    assert (our_verdict is None) == (their_verdict is None), (changes, our_verdict, their_verdict)


def test_the_schema_works_as_the_charts_values_schema_under_helm_lint_strict(
    workdir: Path,
) -> None:
    chart = ROOT / "examples" / "chart"
    assert (chart / "values.schema.json").read_text() == SCHEMA_TEXT
    examples_files = [ROOT / "examples" / "values.yaml", ROOT / "examples" / "values-release.yaml"]
    args = [str(helm.HELM), "lint", "--strict", str(chart)]
    for path in examples_files:
        args += ["-f", str(path)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout
    values.load_values(examples_files, chart=chart)  # and we accept what Helm accepts


def test_helm_lint_strict_refuses_what_the_schema_refuses(workdir: Path) -> None:
    chart = OracleChart(workdir / "lint-bad", values="", schema=SCHEMA_TEXT)
    bad = workdir / "bad.yaml"
    bad.write_text(
        "config:\n  deployer:\n    composition:\n      runtimes:\n        r1: {state: null}\n"
    )
    assert chart.lint([bad]).returncode != 0
    with pytest.raises(ValuesError, match=r"runtimes\.r1\.state: expected a string, got null"):
        values.load_values([bad], chart=chart.path)
