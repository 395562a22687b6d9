"""The catalog's CustomResourceDefinitions accept exactly what the tool writes.

The CRDs are generated (reconciler/targets/crds.py); the shipped files must be what the
generator renders, every CRD must be a valid Kubernetes 1.37 object, its schema must be
structural, and every custom resource the examples produce must validate against it, with
no field the API server would prune.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from reconciler.inputs import schema, yamlio
from reconciler.targets import crds, manifests
from tests.runner import EXAMPLES, reconciler

CRD_DIR = EXAMPLES / "crds"
REGENERATE = "regenerate them with: python -m reconciler.targets.crds examples/crds"
KUBERNETES_VERSION = "1.37"
# Keywords a structural schema may carry besides type-specific ones; `$ref`, `anyOf` at a
# node without a type, and `additionalProperties` beside `properties` are not structural.
NOT_STRUCTURAL = ("$ref", "definitions", "$defs", "oneOf", "anyOf", "allOf", "not")


def by_kind() -> dict[str, dict[str, Any]]:
    return {crd["spec"]["names"]["kind"]: crd for crd in crds.definitions()}


def openapi_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (served,) = crd["spec"]["versions"]
    return served["schema"]["openAPIV3Schema"]


def closed(node: dict[str, Any]) -> dict[str, Any]:
    """The schema with every known-properties object closed: what the API server would
    prune from an object (a field the CRD does not declare) becomes a validation error."""
    node = copy.deepcopy(node)
    stack = [node]
    while stack:
        current = stack.pop()
        if "properties" in current and current is not node:
            current.setdefault("additionalProperties", False)
        stack.extend(v for v in current.get("properties", {}).values())
        if isinstance(current.get("items"), dict):
            stack.append(current["items"])
        if isinstance(current.get("additionalProperties"), dict):
            stack.append(current["additionalProperties"])
    node["properties"]["spec"]["additionalProperties"] = False
    return node


def catalog_manifests(tmp_path: Path) -> list[dict[str, Any]]:
    """Every custom resource the examples put on the dir target."""
    applied = reconciler(
        "apply",
        "-f",
        str(EXAMPLES / "values.yaml"),
        "--overrides",
        str(EXAMPLES / "overrides.yaml"),
        "--auto-approve",
        cwd=tmp_path,
    )
    assert applied.code == 0, applied.err
    documents = [
        yaml.safe_load(path.read_text())
        for path in sorted((tmp_path / "state/cluster").rglob("*"))
        if path.suffix == ".yaml"
    ]
    return [doc for doc in documents if doc["apiVersion"] == manifests.API_VERSION]


def test_shipped_files_are_what_the_generator_renders() -> None:
    expected = {crds.file_name(crd): crd for crd in crds.definitions()}
    shipped = {path.name for path in CRD_DIR.glob("*.yaml")}
    assert shipped == set(expected), REGENERATE
    for name, crd in expected.items():
        text = (CRD_DIR / name).read_text()
        assert text == yamlio.dump_yaml(crd), f"{name} is out of date: {REGENERATE}"
    rendered = list(yaml.safe_load_all(crds.render_yaml()))
    assert rendered == list(expected.values())


def test_the_crds_serve_the_group_the_manifests_use() -> None:
    assert crds.API_VERSION == manifests.API_VERSION
    assert set(by_kind()) == {"RuntimeImage", "RuntimeImageVersion", "Runtime"}


@pytest.mark.parametrize("crd", crds.definitions(), ids=lambda crd: crd["metadata"]["name"])
def test_every_crd_is_a_valid_kubernetes_object(crd: dict[str, Any]) -> None:
    assert kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION
    assert crd["spec"]["scope"] == "Namespaced"
    names = crd["spec"]["names"]
    assert crd["metadata"]["name"] == f"{names['plural']}.{crds.GROUP}"
    assert names["shortNames"] and names["categories"] == ["runtime-catalog"]
    (served,) = crd["spec"]["versions"]
    assert served["subresources"] == {"status": {}}


def test_a_broken_crd_is_refused_by_the_validator() -> None:
    broken = crds.definition(crds.Kind.RUNTIME)
    broken["spec"]["scope"] = ["Namespaced"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("crd", crds.definitions(), ids=lambda crd: crd["metadata"]["name"])
def test_every_schema_is_structural(crd: dict[str, Any]) -> None:
    stack = [("", openapi_schema(crd))]
    while stack:
        where, node = stack.pop()
        assert not set(NOT_STRUCTURAL) & set(node), where
        # Kubernetes' rule: every node is typed, but for one open to any value (a runtime's
        # environment value is a string or a Secret reference).
        open_node = node.get("x-kubernetes-preserve-unknown-fields") is True
        assert "type" in node or open_node, f"{where} has no type"
        assert not ("properties" in node and "additionalProperties" in node), where
        for name, child in node.get("properties", {}).items():
            stack.append((f"{where}.{name}", child))
        if "items" in node:
            stack.append((f"{where}[]", node["items"]))
        if isinstance(node.get("additionalProperties"), dict):
            stack.append((f"{where}.*", node["additionalProperties"]))


@pytest.mark.parametrize("crd", crds.definitions(), ids=lambda crd: crd["metadata"]["name"])
def test_printer_columns_name_fields_the_schema_has(crd: dict[str, Any]) -> None:
    (served,) = crd["spec"]["versions"]
    columns = {column["name"]: column["jsonPath"] for column in served["additionalPrinterColumns"]}
    assert {"State", "Age"} <= set(columns)
    assert columns["Age"] == ".metadata.creationTimestamp"
    spec = openapi_schema(crd)["properties"]["spec"]["properties"]
    for path in columns.values():
        if path.startswith(".spec."):
            assert path.removeprefix(".spec.") in spec, path
    kind = crd["spec"]["names"]["kind"]
    expected = {"RuntimeImageVersion": {"Version", "Image"}, "Runtime": {"Model Type", "Image"}}
    assert expected.get(kind, set()) <= set(columns)


def test_every_custom_resource_of_the_examples_validates_against_its_crd(
    tmp_path: Path,
) -> None:
    resources = catalog_manifests(tmp_path)
    assert {doc["kind"] for doc in resources} == {"RuntimeImage", "RuntimeImageVersion", "Runtime"}
    assert len(resources) == 27
    definitions = by_kind()
    for doc in resources:
        validator = jsonschema.Draft7Validator(closed(openapi_schema(definitions[doc["kind"]])))
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, f"{doc['kind']} {doc['metadata']['name']}: {errors}"


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("Runtime", "state", "BOGUS"),
        ("Runtime", "runtimeImage", "h2oai-h2o3mojo-scorer"),  # a values reference, not an address
        ("Runtime", "dataVolumeReadOnly", "yes"),
        ("Runtime", "unknownField", "pruned by the API server"),
        ("RuntimeImageVersion", "version", "1.2"),
        ("RuntimeImageVersion", "readinessProbePath", "readyz"),
    ],
)
def test_what_the_tool_never_writes_is_refused(kind: str, field: str, value: Any) -> None:
    valid = {
        "Runtime": {
            "modelType": "h2o3_mojo",
            "runtimeImage": "workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer/versions/v1.6.0",
            "state": "ACTIVE",
        },
        "RuntimeImageVersion": {
            "runtimeImage": "h2oai-h2o3mojo-scorer",
            "version": "v1.6.0",
            "image": "docker.io/h2oai/h2oai-h2o3mojo-scorer:v1.6.0",
            "state": "ACTIVE",
        },
    }[kind]
    doc = {"apiVersion": crds.API_VERSION, "kind": kind, "metadata": {"name": "x"}}
    validator = jsonschema.Draft7Validator(closed(openapi_schema(by_kind()[kind])))
    assert validator.is_valid({**doc, "spec": valid})
    assert not validator.is_valid({**doc, "spec": {**valid, field: value}})


def test_every_field_of_the_values_schema_has_a_place_in_the_crds() -> None:
    """A field added to the values schema but not to the specs would be lost on a cluster."""
    definitions = schema.load_schema("values.schema.json")["definitions"]
    kinds = {"runtimeImage": "RuntimeImage", "runtimeImageVersion": "RuntimeImageVersion"}
    kinds["runtime"] = "Runtime"
    crd_by_kind = by_kind()
    for values_name, kind in kinds.items():
        spec = openapi_schema(crd_by_kind[kind])["properties"]["spec"]["properties"]
        # Versions are objects of their own; a version's image is written as one reference.
        fields = set(definitions[values_name]["properties"]) - {"versions"}
        assert fields <= set(spec), f"{kind} lacks {fields - set(spec)}"
        for field in fields:
            values_type = definitions[values_name]["properties"][field].get("type")
            if values_type in ("string", "boolean", "array") and field != "image":
                assert spec[field]["type"] == values_type, f"{kind}.{field}"
    state = openapi_schema(crd_by_kind["Runtime"])["properties"]["spec"]["properties"]["state"]
    assert state["enum"] == definitions["state"]["enum"]


def test_the_crds_command_prints_what_ships(tmp_path: Path) -> None:
    run = reconciler("crds", cwd=tmp_path)
    assert run.code == 0, run.err
    printed = [doc for doc in yaml.safe_load_all(run.out) if doc]
    shipped = [yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml"))]
    key = lambda crd: crd["metadata"]["name"]  # noqa: E731
    assert sorted(printed, key=key) == sorted(shipped, key=key)
