"""Several `-f` files and `--set` flags combine exactly as `helm install` combines them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.inputs.values import load_values, merge

COMPOSITION = "config.deployer.composition"


def runtime(values, runtime_id: str = "r1") -> dict:
    return values.data["config"]["deployer"]["composition"]["runtimes"][runtime_id]


BASE = """\
config:
  deployer:
    composition:
      registry: registry.example.com
      runtimeImages:
        scorer:
          state: ACTIVE
          versions:
            - image: {repository: scorer, tag: v1.0.0}
            - image: {repository: scorer, tag: v1.1.0}
      runtimes:
        r1:
          modelType: sklearn
          runtimeImage: scorer
          environmentVariables: {LOG_LEVEL: INFO, WORKERS: "2"}
other:
  chart: keeps its own values
"""


# Files --------------------------------------------------------------------------------


def test_maps_merge_recursively_and_the_later_file_wins(write) -> None:
    override = write(
        "prod.yaml",
        "config:\n  deployer:\n    composition:\n      runtimes:\n        r1:\n"
        "          environmentVariables: {LOG_LEVEL: DEBUG}\n          state: DEPRECATED\n",
    )
    values = load_values([write("values.yaml", BASE), override])
    assert runtime(values) == {
        "modelType": "sklearn",
        "runtimeImage": "scorer",
        "environmentVariables": {"LOG_LEVEL": "DEBUG", "WORKERS": "2"},
        "state": "DEPRECATED",
    }
    assert values.data["other"] == {"chart": "keeps its own values"}


def test_files_apply_in_the_order_given(write) -> None:
    first = write("a.yaml", "other: {x: first}\n")
    second = write("b.yaml", "other: {x: second}\n")
    assert load_values([first, second]).data["other"] == {"x": "second"}
    assert load_values([second, first]).data["other"] == {"x": "first"}


def test_lists_replace_the_whole_list(write) -> None:
    override = write(
        "one-version.yaml",
        "config:\n  deployer:\n    composition:\n      runtimeImages:\n        scorer:\n"
        "          versions:\n            - image: {repository: scorer, tag: v2.0.0}\n",
    )
    values = load_values([write("values.yaml", BASE), override])
    image = values.data["config"]["deployer"]["composition"]["runtimeImages"]["scorer"]
    assert image["versions"] == [{"image": {"repository": "scorer", "tag": "v2.0.0"}}]


def chart_with(write, values: str) -> str:
    """A chart directory whose values.yaml is `values`."""
    chart = Path(write("Chart.yaml", "apiVersion: v2\nname: platform\nversion: 0.1.0\n")).parent
    (chart / "values.yaml").write_text(values)
    return str(chart)


def test_null_deletes_a_chart_default_and_a_later_file_can_set_it_again(write) -> None:
    delete = write(
        "delete.yaml",
        "config:\n  deployer:\n    composition:\n      runtimes:\n        r1:\n"
        "          environmentVariables: {WORKERS: null}\nother: null\n",
    )
    chart = chart_with(write, BASE)
    values = load_values([delete], chart=chart)
    assert runtime(values)["environmentVariables"] == {"LOG_LEVEL": "INFO"}
    assert "other" not in values.data
    again = write("again.yaml", "other: {x: 1}\n")
    assert load_values([delete, again], chart=chart).data["other"] == {
        "x": 1,
        "chart": "keeps its own values",
    }


def test_null_without_a_chart_default_stays_null_as_in_helm(write) -> None:
    chart = chart_with(write, "a: 1\n")
    user = write("user.yaml", "{a: null, b: null, c: {d: null}}\n")
    assert load_values([user], chart=chart).data == {"b": None, "c": {"d": None}}
    # Between -f files a null replaces like any value; only chart defaults are deleted.
    assert load_values([write("base.yaml", "a: 1\n"), user]).data == {
        "a": None,
        "b": None,
        "c": {"d": None},
    }


def test_set_applies_to_the_user_layer_before_the_chart_defaults(write) -> None:
    chart = chart_with(write, "l: [1, 2, 3]\nm: ''\n")
    values = load_values([], ["l[1]=x", "m[1]=true"], chart=chart)
    assert values.data == {"l": [None, "x"], "m": [None, True]}
    from_file = load_values([write("user.yaml", "l: [1, 2, 3]\n")], ["l[1]=x"], chart=chart)
    assert from_file.data["l"] == [1, "x", 3]


def test_a_map_replaces_a_scalar_and_a_scalar_replaces_a_map(write) -> None:
    scalar = write("a.yaml", "other: text\n")
    mapping = write("b.yaml", "other: {x: 1}\n")
    assert load_values([scalar, mapping]).data["other"] == {"x": 1}
    assert load_values([mapping, scalar]).data["other"] == "text"


def test_no_inputs_give_empty_values() -> None:
    values = load_values([])
    assert values.data == {}
    assert values.sources == ()


# --set --------------------------------------------------------------------------------


def set_values(*sets: str, set_strings: tuple[str, ...] = ()) -> dict:
    return load_values([], list(sets), list(set_strings)).data


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("a.b=c", {"a": {"b": "c"}}),
        ("a=1,b=2", {"a": 1, "b": 2}),
        ("a.b[0]=x", {"a": {"b": ["x"]}}),
        ("a.b[1].c=y", {"a": {"b": [None, {"c": "y"}]}}),
        ("a[0][1]=x", {"a": [[None, "x"]]}),
        ("a={x,y}", {"a": ["x", "y"]}),
        ("a={}", {"a": [""]}),
        (r"a\.b=c", {"a.b": "c"}),
        (r"a=b\,c", {"a": "b,c"}),
        ("a=b=c", {"a": "b=c"}),
        ("a=", {"a": ""}),
        ("a={1,true}", {"a": [1, True]}),
        ("a=1,", {"a": 1}),
    ],
)
def test_set_syntax(flag: str, expected: dict) -> None:
    assert set_values(flag) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("FALSE", False),
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("007", "007"),  # a leading zero keeps the string
        ("1.5", "1.5"),  # Helm never makes floats from --set
        ("yes", "yes"),  # nor YAML 1.1 booleans
        ("9223372036854775808", "9223372036854775808"),  # beyond int64
        ("v1.2.3", "v1.2.3"),
    ],
)
def test_set_types_values_as_helm_does(text: str, value: object) -> None:
    result = set_values(f"a={text}")["a"]
    assert type(result) is type(value)
    assert result == value


def test_set_string_keeps_every_value_a_string() -> None:
    assert set_values(set_strings=("a=true,b=42,c={1,null}",)) == {
        "a": "true",
        "b": "42",
        "c": ["1", "null"],
    }


def test_set_null_deletes_a_chart_default(write) -> None:
    values = load_values(
        [],
        [f"{COMPOSITION}.runtimes.r1.environmentVariables.WORKERS=null"],
        chart=chart_with(write, BASE),
    )
    assert runtime(values)["environmentVariables"] == {"LOG_LEVEL": "INFO"}


def test_set_overrides_files_and_set_string_overrides_set(write) -> None:
    values = load_values(
        [write("values.yaml", BASE)],
        [f"{COMPOSITION}.runtimes.r1.modelType=xgboost"],
        [f"{COMPOSITION}.runtimes.r1.modelType=onnx"],
    )
    assert runtime(values)["modelType"] == "onnx"


def test_later_set_flags_win() -> None:
    assert set_values("a=1", "a=2") == {"a": 2}


def test_set_can_patch_one_item_of_a_list_from_a_file(write) -> None:
    values = load_values(
        [write("values.yaml", BASE)],
        [f"{COMPOSITION}.runtimeImages.scorer.versions[1].image.tag=v1.2.0"],
    )
    image = values.data["config"]["deployer"]["composition"]["runtimeImages"]["scorer"]
    assert image["versions"] == [
        {"image": {"repository": "scorer", "tag": "v1.0.0"}},
        {"image": {"repository": "scorer", "tag": "v1.2.0"}},
    ]


def test_set_leaves_the_files_it_patched_as_they_were(write) -> None:
    path = write("values.yaml", BASE)
    before = load_values([path]).data
    load_values([path], [f"{COMPOSITION}.runtimes.r1.environmentVariables.NEW=x"])
    assert load_values([path]).data == before


# What Values records -------------------------------------------------------------------


def test_sources_list_files_then_flags_in_the_order_applied(write) -> None:
    path = write("values.yaml", BASE)
    values = load_values([path], ["other.x=1"], ["other.y=2"])
    assert values.sources == (path, "--set other.x=1", "--set-string other.y=2")


def test_origin_names_the_last_source_that_set_a_path(write) -> None:
    base = write("values.yaml", BASE)
    prod = write("prod.yaml", "other: {chart: prod}\n")
    values = load_values([base, prod], [f"{COMPOSITION}.runtimes.r1.state=DISABLED"])
    assert values.origin(("other", "chart")) == prod
    assert values.origin(("config", "deployer", "composition", "registry")) == base
    assert values.origin(("config", "deployer", "composition", "runtimes", "r1", "state")) == (
        f"--set {COMPOSITION}.runtimes.r1.state=DISABLED"
    )


def test_the_digest_depends_on_content_not_on_key_order(write) -> None:
    one = load_values([write("one.yaml", "a: 1\nb: [x, y]\n")])
    two = load_values([write("two.yaml", "b: [x, y]\na: 1\n")])
    three = load_values([write("three.yaml", "a: 1\nb: [y, x]\n")])
    assert one.digest == two.digest
    assert one.digest != three.digest
    assert len(one.digest) == 64


# Laws of merging -----------------------------------------------------------------------

scalars = st.one_of(st.integers(), st.text(max_size=3), st.booleans(), st.lists(st.integers()))
# Keys starting with "m" always hold mappings, the others never do: documents that agree on
# the shape, as values files for one chart do.
map_keys = st.sampled_from(["m1", "m2", "m3"])
leaf_keys = st.sampled_from(["a", "b", "c"])
documents = st.recursive(
    st.dictionaries(leaf_keys, scalars, max_size=3),
    lambda inner: st.builds(
        lambda leaves, maps: {**leaves, **maps},
        st.dictionaries(leaf_keys, scalars, max_size=3),
        st.dictionaries(map_keys, inner, max_size=2),
    ),
    max_leaves=12,
)


@given(documents)
def test_merging_with_nothing_changes_nothing(doc: dict) -> None:
    assert merge(doc, {}) == doc
    assert merge({}, doc) == doc


@given(documents, documents, documents)
def test_merging_is_associative(a: dict, b: dict, c: dict) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@given(documents, documents)
def test_every_leaf_of_the_later_document_survives(a: dict, b: dict) -> None:
    merged = merge(a, b)

    def leaves(doc: dict, prefix: tuple = ()):
        for key, value in doc.items():
            if isinstance(value, dict):
                yield from leaves(value, (*prefix, key))
            else:
                yield (*prefix, key), value

    for path, value in leaves(b):
        node = merged
        for key in path:
            node = node[key]
        assert node == value


@given(documents, documents)
def test_merging_leaves_its_inputs_untouched(a: dict, b: dict) -> None:
    a_before, b_before = repr(a), repr(b)
    merge(a, b)
    assert (repr(a), repr(b)) == (a_before, b_before)
