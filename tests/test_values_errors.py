"""Bad values produce one clear error naming the file (or flag) and the place at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import StateError, ValuesError
from reconciler.inputs import schema
from reconciler.inputs.values import load_values

COMPOSITION = "config.deployer.composition"
RUNTIME = f"{COMPOSITION}.runtimes.h2o3-mojo"

GOOD = """\
config:
  deployer:
    composition:
      runtimeImages:
        h2oai-h2o3mojo-scorer:
          versions:
            - image: {repository: h2oai-h2o3mojo-scorer, tag: v1.5.4}
      runtimes:
        h2o3-mojo:
          modelType: h2o3_mojo
          runtimeImage: h2oai-h2o3mojo-scorer
"""


def composition_file(write, name: str, body: str) -> str:
    """A values file holding `body` (YAML indented for the composition) under the layout."""
    indented = "".join(f"      {line}\n" for line in body.splitlines())
    return write(name, f"config:\n  deployer:\n    composition:\n{indented}")


def error_of(*args, **kwargs) -> ValuesError:
    with pytest.raises(ValuesError) as caught:
        load_values(*args, **kwargs)
    return caught.value


# Reading and parsing ------------------------------------------------------------------


def test_malformed_yaml_names_the_file_line_and_column(write) -> None:
    path = write("values.yaml", "config:\n  deployer: x: y\n")
    error = error_of([path])
    assert error.source == path
    assert error.summary == (
        f"{path}: line 2, column 14: mapping values are not allowed in this context"
    )
    assert error.detail.splitlines()[0] == "    2 |   deployer: x: y"
    assert "Traceback" not in str(error)


def test_indentation_mistakes_point_at_the_line(write) -> None:
    path = write("values.yaml", "config:\n  deployer:\n    composition: {}\n   x: 1\n")
    error = error_of([path])
    assert "line 4, column 4: did not find expected key" in error.summary


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    error = error_of([missing])
    assert error.source == missing
    assert "cannot read values file" in error.summary


def test_a_directory_is_not_a_values_file(tmp_path: Path) -> None:
    error = error_of([str(tmp_path)])
    assert error.source == str(tmp_path)


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("description: caf\xe9\n".encode("latin-1"))
    error = error_of([str(path)])
    assert error.source == str(path)
    assert "UTF-8" in error.summary


def test_a_list_at_the_top_is_refused(write) -> None:
    error = error_of([write("values.yaml", "- config\n")])
    assert "top level must be a mapping" in error.summary


# Schema violations --------------------------------------------------------------------


def test_a_wrong_type_names_the_file_and_dotted_path(write) -> None:
    path = composition_file(write, "values.yaml", "runtimes:\n  h2o3-mojo: {modelType: 3}")
    error = error_of([path])
    assert error.source == path
    assert error.path == f"{RUNTIME}.modelType"
    assert error.summary.endswith(": expected a string, got 3")


def test_a_yaml_1_1_boolean_where_a_string_belongs_is_caught(write) -> None:
    path = composition_file(
        write,
        "values.yaml",
        "runtimes:\n  h2o3-mojo:\n    modelType: x\n    runtimeImage: img\n"
        "    environmentVariables: {DEBUG: on}",
    )
    error = error_of([path])
    assert error.path == f"{RUNTIME}.environmentVariables.DEBUG"
    assert "expected a string or a mapping, got true" in error.summary


def test_an_unknown_key_under_the_composition_is_refused(write) -> None:
    path = composition_file(write, "values.yaml", "runtimeImagez: {}")
    error = error_of([path])
    assert error.path == f"{COMPOSITION}.runtimeImagez"
    assert "unknown key 'runtimeImagez'" in error.summary
    assert "runtimeImages" in error.hint


def test_an_unknown_key_deep_in_a_version_is_refused(write) -> None:
    path = write("values.yaml", GOOD.replace("tag: v1.5.4}", "tag: v1.5.4, digest: sha}"))
    error = error_of([path])
    assert (
        error.path == f"{COMPOSITION}.runtimeImages.h2oai-h2o3mojo-scorer.versions[0].image.digest"
    )
    assert "unknown key 'digest'" in error.summary


def test_keys_outside_the_composition_are_the_charts_business(write) -> None:
    path = write("values.yaml", GOOD + "replicaCount: 3\nconfig2: {anything: [1, 2]}\n")
    assert load_values([path]).data["replicaCount"] == 3


def test_an_invalid_id_is_named_with_the_rule(write) -> None:
    path = composition_file(
        write, "values.yaml", "runtimes:\n  Bad_Id: {modelType: x, runtimeImage: img}"
    )
    error = error_of([path])
    assert error.path == f"{COMPOSITION}.runtimes.Bad_Id"
    assert ": 'Bad_Id' is not a valid id (lowercase letters" in error.summary


def test_an_unknown_state_lists_the_states(write) -> None:
    path = write("values.yaml", GOOD + "          state: BOGUS\n")
    error = error_of([path])
    assert error.path == f"{RUNTIME}.state"
    assert error.summary.endswith(": 'BOGUS' is not one of ACTIVE, DEPRECATED, DISABLED")


def test_a_missing_required_key_names_the_entry(write) -> None:
    path = write("values.yaml", GOOD.replace("          modelType: h2o3_mojo\n", ""))
    error = error_of([path])
    assert error.path == RUNTIME
    assert error.summary.endswith(": missing required key 'modelType'")


def test_an_image_without_versions_is_refused(write) -> None:
    path = composition_file(write, "values.yaml", "runtimeImages:\n  scorer: {versions: []}")
    error = error_of([path])
    assert error.path == f"{COMPOSITION}.runtimeImages.scorer.versions"
    assert "at least 1 item" in error.summary


@pytest.mark.parametrize(
    ("reference", "ok"),
    [
        ("scorer", True),
        ("scorer/versions/v1.2.3", True),
        ("scorer/versions/1.2.3", True),
        ("scorer/versions/latest", False),
        ("scorer/v1.2.3", False),
        ("Scorer", False),
    ],
)
def test_runtime_image_references_name_an_image_or_a_version(write, reference, ok) -> None:
    path = write(
        "values.yaml",
        GOOD.replace("runtimeImage: h2oai-h2o3mojo-scorer", f"runtimeImage: {reference}"),
    )
    if ok:
        load_values([path])
        return
    error = error_of([path])
    assert error.path == f"{RUNTIME}.runtimeImage"
    assert "is not a valid runtime image reference" in error.summary


def test_the_error_nearest_the_top_of_the_file_is_reported(write) -> None:
    path = composition_file(
        write,
        "values.yaml",
        "runtimes:\n  a: {modelType: 1, runtimeImage: img}\n  b: {modelType: 2, runtimeImage: img}",
    )
    assert error_of([path]).path == f"{COMPOSITION}.runtimes.a.modelType"


# Blame across several inputs ----------------------------------------------------------


def test_the_error_names_the_file_that_introduced_the_bad_value(write) -> None:
    base = write("values.yaml", GOOD)
    bad = write("team.yaml", GOOD.replace("modelType: h2o3_mojo", "modelType: [h2o3]"))
    last = write("prod.yaml", "replicaCount: 2\n")
    error = error_of([base, bad, last])
    assert error.source == bad
    assert error.path == f"{RUNTIME}.modelType"


def test_an_unknown_key_is_blamed_on_the_file_that_added_it(write) -> None:
    base = write("values.yaml", GOOD)
    typo = composition_file(write, "typo.yaml", "runtimes:\n  h2o3-mojo: {modelTyp: x}")
    later = composition_file(write, "later.yaml", "runtimes:\n  h2o3-mojo: {displayName: X}")
    error = error_of([base, typo, later])
    assert error.source == typo
    assert error.path == f"{RUNTIME}.modelTyp"


def test_a_null_that_breaks_an_entry_is_blamed_on_the_file_that_set_it(write) -> None:
    # Between -f files a null stays in .Values, so Helm's schema check sees null there.
    base = write("values.yaml", GOOD)
    deleting = composition_file(write, "delete.yaml", "runtimes:\n  h2o3-mojo: {modelType: null}")
    error = error_of([base, deleting, write("other.yaml", "replicaCount: 1\n")])
    assert error.source == deleting
    assert error.summary.endswith(".modelType: expected a string, got null")


def test_a_null_deleting_a_chart_default_that_breaks_an_entry_is_blamed_on_it(write) -> None:
    chart = Path(write("values.yaml", GOOD)).parent
    deleting = composition_file(write, "delete.yaml", "runtimes:\n  h2o3-mojo: {modelType: null}")
    with pytest.raises(ValuesError) as caught:
        load_values([deleting], chart=chart)
    assert caught.value.source == deleting
    assert caught.value.summary.endswith(": missing required key 'modelType'")


def test_a_bad_value_from_a_set_flag_names_the_flag(write) -> None:
    base = write("values.yaml", GOOD)
    error = error_of([base], [f"{RUNTIME}.state=OFF", "replicaCount=2"])
    assert error.source == f"--set {RUNTIME}.state=OFF"
    assert error.path == f"{RUNTIME}.state"


def test_a_set_flag_patching_a_list_item_is_not_blamed_for_other_items(write) -> None:
    base = write("values.yaml", GOOD.replace("tag: v1.5.4}", "tag: ''}"))
    error = error_of(
        [base], [f"{COMPOSITION}.runtimeImages.h2oai-h2o3mojo-scorer.versions[1].image.tag=v2"]
    )
    assert error.source == base
    assert error.path == f"{COMPOSITION}.runtimeImages.h2oai-h2o3mojo-scorer.versions[0].image.tag"


# Malformed flags ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag",
    ["novalue", "a,b=1", "=1", "a[x]=1", "a[-1]=1", "a[0]b=1", "a={x,y", "a..b=1", "a[70000]=1"],
)
def test_a_malformed_set_flag_is_refused_naming_the_flag(flag: str) -> None:
    error = error_of([], [flag])
    assert error.source == "--set"
    assert repr(flag) in error.summary
    assert error.hint


def test_a_malformed_set_string_flag_names_set_string() -> None:
    assert error_of([], [], ["novalue"]).source == "--set-string"


def test_setting_inside_a_string_is_refused(write) -> None:
    error = error_of([write("values.yaml", GOOD)], [f"{RUNTIME}.modelType.x=1"])
    assert error.source == "--set"
    assert f"{RUNTIME}.modelType is a string here, not a mapping" in error.summary


# Other documents through the same validator -------------------------------------------


def test_errors_without_a_source_field_carry_the_place_in_summary_and_detail() -> None:
    document = {"config": {"deployer": {"composition": {"registry": 5}}}}
    with pytest.raises(StateError) as caught:
        schema.validate(document, "values.schema.json", source="state.json", error=StateError)
    assert caught.value.summary == f"{COMPOSITION}.registry: expected a string, got 5"
    assert "state.json" in caught.value.detail
