"""Values files are read the way Helm 3 reads them (go-yaml v2 through sigs.k8s.io/yaml),
not as a YAML 1.2 parser would, and the fast path never changes what a file means."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.catalog import generate_values, write_values
from reconciler.errors import OverridesError, ValuesError
from reconciler.inputs import goyaml, yamlio
from reconciler.inputs.yamlio import dump_yaml, load_yaml


def value_of(scalar: str) -> object:
    return load_yaml(f"key: {scalar}\n", source="values.yaml")["key"]


def typed(data: object) -> object:
    """`data` with every scalar tagged by its type, so that 1, 1.0 and True differ."""
    if isinstance(data, dict):
        return {key: typed(value) for key, value in data.items()}
    if isinstance(data, list):
        return [typed(value) for value in data]
    if isinstance(data, float) and math.isnan(data):
        return ("float", "nan")
    return (type(data).__name__, data)


# Plain scalars ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scalar", ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"]
)
def test_yaml_1_1_true_spellings_are_true(scalar: str) -> None:
    assert value_of(scalar) is True


@pytest.mark.parametrize(
    "scalar", ["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"]
)
def test_yaml_1_1_false_spellings_are_false(scalar: str) -> None:
    assert value_of(scalar) is False


@pytest.mark.parametrize("scalar", ["tRUE", "yES", "oN", "nO", "Yes please", "no_proxy", "N/A"])
def test_other_spellings_stay_strings(scalar: str) -> None:
    assert value_of(scalar) == scalar


@pytest.mark.parametrize("scalar", ["~", "null", "Null", "NULL", ""])
def test_null_spellings_are_null(scalar: str) -> None:
    assert value_of(scalar) is None


@pytest.mark.parametrize(
    ("scalar", "number"),
    [
        ("0777", 511),  # a leading zero means octal
        ("-0777", -511),
        ("0o17", 15),
        ("0x1F", 31),
        ("0X1f", 31),
        ("-0x1F", -31),
        ("0b101", 5),
        ("-0b101", -5),
        ("1_000", 1000),
        ("0x_1F", 31),
        ("+12", 12),
        ("0", 0),
        ("-0", 0),
        ("18446744073709551615", 2**64 - 1),  # go-yaml falls back to uint64
    ],
)
def test_integers_resolve_like_go_parseint(scalar: str, number: int) -> None:
    value = value_of(scalar)
    assert type(value) is int
    assert value == number


@pytest.mark.parametrize(
    ("scalar", "number"),
    [
        ("08", 8.0),  # not octal, so go-yaml reads it as a decimal float
        ("09.5", 9.5),
        ("1e3", 1000.0),
        ("1.5", 1.5),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1_0.5", 10.5),
        ("18446744073709551616", 18446744073709551616.0),
    ],
)
def test_floats_resolve_like_go_parsefloat(scalar: str, number: float) -> None:
    value = value_of(scalar)
    assert type(value) is float
    assert value == number


@pytest.mark.parametrize(
    "scalar",
    ["1e999", "2001-12-14", "2001-12-14T21:59:43.10-05:00", "1:20", "=", "0x", "._5", "1.2.3"],
)
def test_overflowing_floats_timestamps_and_sexagesimals_stay_strings(scalar: str) -> None:
    assert value_of(scalar) == scalar


@pytest.mark.parametrize(
    "text",
    ["'yes'", '"on"', "'0777'", '"0x1F"', "'~'", "'1_000'", '"true"', "|\n  yes\n"],
)
def test_quoted_and_block_scalars_are_always_strings(text: str) -> None:
    assert isinstance(value_of(text), str)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!!str 0777", "0777"),
        ("!!int '0777'", 511),
        ("!!float 1", 1.0),
        ("!!bool yes", True),
        ("!!null ~", None),
        ("!!binary aGVsbG8=", "hello"),
        ("!custom yes", "yes"),
    ],
)
def test_explicit_tags_resolve_as_go_yaml_does(text: str, expected: object) -> None:
    assert typed(value_of(text)) == typed(expected)


def test_a_tag_that_does_not_fit_the_value_names_the_line() -> None:
    with pytest.raises(
        ValuesError, match=r"line 2, column 6: cannot decode !!str `abc` as a !!int"
    ):
        load_yaml("a: 1\nb:   !!int abc\n", source="values.yaml")


@pytest.mark.parametrize("scalar", [".inf", "-.Inf", ".NaN", "!!float .inf"])
def test_infinities_and_nans_are_refused_as_values(scalar: str) -> None:
    # Helm's JSON conversion fails on them; refusing here gives the line instead.
    with pytest.raises(ValuesError, match="is not a JSON number"):
        value_of(scalar)


# Keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("on", "true"),
        ("yes", "true"),
        ("n", "false"),
        ("1", "1"),
        ("0777", "511"),
        ("1.5", "1.5"),
        ("3.0", "3"),
        ("1e6", "1e+06"),
        ("0.00001", "1e-05"),
        (".inf", ".inf"),
        ("'on'", "on"),
    ],
)
def test_map_keys_become_the_strings_sigs_k8s_yaml_writes(key: str, name: str) -> None:
    assert load_yaml(f"{key}: x\n", source="values.yaml") == {name: "x"}


@pytest.mark.parametrize("key", ["~", "null", "? [a, b]", "? {a: b}"])
def test_null_list_and_map_keys_are_refused(key: str) -> None:
    with pytest.raises(ValuesError, match=r"values\.yaml: line 1"):
        load_yaml(f"{key}: x\n", source="values.yaml")


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    text = "a:\n  b: 1\n  c: 2\n  b: 3\n"
    with pytest.raises(
        ValuesError, match=r"line 4, column 3: duplicate key 'b' \(first defined at line 2\)"
    ):
        load_yaml(text, source="values.yaml")


def test_keys_that_helm_converts_to_the_same_string_are_duplicates() -> None:
    with pytest.raises(ValuesError, match="duplicate key 'true'"):
        load_yaml("on: 1\ntrue: 2\n", source="values.yaml")


def test_merge_keys_copy_a_mapping_and_explicit_keys_after_them_win() -> None:
    text = "base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  b: 3\n"
    data = load_yaml(text, source="values.yaml")
    assert data["derived"] == {"a": 1, "b": 3}
    assert data["base"] == {"a": 1, "b": 2}


def test_merge_key_lists_give_earlier_mappings_precedence() -> None:
    text = "x: &x {a: 1}\ny: &y {a: 2, b: 2}\nz:\n  <<: [*x, *y]\n"
    assert load_yaml(text, source="values.yaml")["z"] == {"a": 1, "b": 2}


def test_aliases_are_copies() -> None:
    data = load_yaml("a: &a {b: [1]}\nc: *a\n", source="values.yaml")
    assert data["c"] == {"b": [1]}
    assert data["c"] is not data["a"]


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(ValuesError, match="contains an alias to itself"):
        load_yaml("a: &a [1, *a]\n", source="values.yaml")


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    with pytest.raises(ValuesError, match="excessive aliasing"):
        load_yaml("\n".join(lines) + "\n", source="values.yaml")


# Documents ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n", "~\n", b""])
def test_an_empty_document_is_an_empty_mapping(text: str | bytes) -> None:
    assert load_yaml(text, source="values.yaml") == {}


def test_only_the_first_document_counts() -> None:
    assert load_yaml("a: 1\n---\nb: [unclosed\n", source="values.yaml") == {"a": 1}


def test_a_byte_order_mark_is_ignored() -> None:
    assert load_yaml("\ufeffa: 1\n".encode(), source="values.yaml") == {"a": 1}


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("hello\n", "scalar")])
def test_a_top_level_that_is_not_a_mapping_is_refused(text: str, kind: str) -> None:
    with pytest.raises(ValuesError, match=f"values.yaml: the top level must be a mapping.*{kind}"):
        load_yaml(text, source="values.yaml")


def test_the_caller_chooses_the_error_class() -> None:
    with pytest.raises(OverridesError, match=r"overrides\.yaml: line 2"):
        load_yaml("a: [1\n", source="overrides.yaml", error=OverridesError)


# The fast path ------------------------------------------------------------------------


def test_a_large_block_style_catalog_takes_the_fast_path(tmp_path) -> None:
    path = tmp_path / "values.yaml"
    write_values(path, generate_values(images=50, versions=3, runtimes=200, seed=1))
    text = path.read_text()
    assert yamlio._fast_load(text) is not yamlio._NOT_TAKEN
    assert typed(load_yaml(text, source="values.yaml")) == typed(goyaml.load(text))


def test_inline_maps_in_the_designs_layout_take_the_fast_path() -> None:
    text = (
        "versions:\n"
        '  - image: {registry: "", repository: "h2oai-h2o3mojo-scorer", tag: "v1.5.4"}\n'
        "    environmentVariables: {LOG_LEVEL: INFO}\n"
    )
    assert yamlio._fast_load(text) is not yamlio._NOT_TAKEN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: |\n", {"a": ""}),  # yaml_rs reads an empty block scalar as "\n"
        ("a: >+\n  6", {"a": "6"}),  # ... and invents a final line break
        ("a:\n  b: |\nc: 1\n", {"a": {"b": ""}, "c": 1}),
        ("x: 1\ny: 2\n", {"x": 1, "true": 2}),
        ("a: 'x'\nb: 0777\n", {"a": "x", "b": 511}),
        ('{"a":0777}\n', {"a": 511}),
        ("a: 1\ryes: 2\r", {"a": 1, "true": 2}),  # old Mac line breaks
        ("a: [b:]\n", {"a": ["b:"]}),  # go-yaml ends a plain scalar at ":" only before a blank
    ],
)
def test_documents_yaml_1_2_reads_differently_get_helms_meaning(text: str, expected: dict) -> None:
    assert typed(load_yaml(text, source="values.yaml")) == typed(expected)


@pytest.mark.parametrize(
    "text",
    [
        "a: {'multi\n  line key': 1}\n",  # libyaml refuses what yaml_rs accepts
        "a: [|]\n",
        "a: {b: |x}\n",
        "a: {b: :x}\n",
        "a: [x\n",
    ],
)
def test_syntax_libyaml_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValuesError, match=r"values\.yaml: line"):
        load_yaml(text, source="values.yaml")


WORDS = [
    *("y", "Yes", "no", "ON", "off", "true", "False", "null", "~", "0777", "08", "0x1F"),
    *("0o17", "0b101", "1_000", "1e3", "1e999", ".5", ".inf", "-.inf", "+12", "-0", "0"),
    *("12345678901234567890", "1.5", "2001-12-14", "1:20", "v1.2.3", "scorer-0001"),
    *("a b", "x: y", "a #b", "http://h/p", "é", "_1", "<<", "=", "-", "a,b", "[a]"),
]
SAFE_WORD = st.one_of(
    st.from_regex(r"[a-zA-Z][a-zA-Z0-9_./\-]{0,8}", fullmatch=True),
    st.from_regex(r"[1-9][0-9]{0,4}(\.[0-9]{1,2})?", fullmatch=True),
)
# Mostly words the fast path accepts, so that it is exercised; some that send a document
# to the slow path, so that the scan is.
WORD = st.one_of(
    *[SAFE_WORD] * 8,
    st.sampled_from(WORDS),
    st.from_regex(r"[a-zA-Z0-9_.+\-][a-zA-Z0-9_.+\-/ ]{0,6}", fullmatch=True),
)
KEY = st.one_of(*[st.from_regex(r"[a-zA-Z][a-zA-Z0-9_\-]{1,8}", fullmatch=True)] * 4, WORD)


@st.composite
def scalars(draw: st.DrawFn, indent: int) -> str:
    word = draw(WORD)
    style = draw(st.sampled_from(["plain", "plain", "single", "double", "literal", "flow"]))
    if style == "single":
        return "'" + word.replace("'", "''") + "'"
    if style == "double":
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style == "literal":
        return draw(st.sampled_from(["|", ">-", "|+"])) + "\n" + " " * (indent + 2) + word
    if style == "flow":
        return "[" + ", ".join(draw(st.lists(WORD, max_size=3))) + "]"
    return word


@st.composite
def documents(draw: st.DrawFn, indent: int = 0, depth: int = 0) -> str:
    lines = []
    for key in draw(st.lists(KEY, min_size=1, max_size=3, unique=True)):
        prefix = " " * indent + key + ":"
        if depth < 2 and draw(st.booleans()):
            lines.append(prefix + "\n" + draw(documents(indent + 2, depth + 1)))
        else:
            lines.append(prefix + " " + draw(scalars(indent)))
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(documents(), st.sampled_from(["\n", "", "\r\n"]))
def test_the_fast_path_reads_every_document_it_takes_as_libyaml_does(
    text: str, ending: str
) -> None:
    text = text.replace("\n", ending or "\n") + ending
    fast = yamlio._fast_load(text)
    if fast is yamlio._NOT_TAKEN:
        return
    assert typed(fast) == typed(goyaml.load(text))


# Dumping ------------------------------------------------------------------------------


def test_strings_yaml_1_1_readers_would_misread_are_quoted_and_read_back_unchanged() -> None:
    tricky = ["yes", "y", "N", "on", "off", "0777", "08", "1e3", "0o17", "+.5", "1_000"]
    tricky += ["~", "null", "true", "2001-12-14", "<<", "", "x: y", "- a", "#c"]
    doc = {"data": {word: word for word in tricky}}
    assert load_yaml(dump_yaml(doc), source="manifest.yaml") == doc


def test_dump_keeps_insertion_order_in_block_style_without_anchors() -> None:
    shared = {"name": "x"}
    text = dump_yaml({"kind": "Runtime", "apiVersion": "v1", "a": shared, "b": shared})
    assert text == "kind: Runtime\napiVersion: v1\na:\n  name: x\nb:\n  name: x\n"


def test_multi_line_strings_are_literal_blocks() -> None:
    text = dump_yaml({"script": "line one\nline two\n"})
    assert text == "script: |\n  line one\n  line two\n"
    assert load_yaml(text, source="manifest.yaml") == {"script": "line one\nline two\n"}
