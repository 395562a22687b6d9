"""Server-side apply in the emulator: who owns which field, and what an apply may change.

The cases the product meets on a real cluster: the tool applying whole objects under
`runtime-reconciler`, an operator running `kubectl apply --server-side` under another
manager, and `kubectl edit` (an Update) taking a field over.
"""

from __future__ import annotations

import copy
import json
import random

import pytest

from tests.kubeapi import ssa
from tests.test_kubeapi_patch_oracle import deployment

TOOL = "runtime-reconciler"
OPERATOR = "kubectl"
EDITOR = "kubectl-edit"


def model(image: str = "registry.example/model:1", replicas: int = 2, **labels: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "model", "namespace": "ml", "labels": {"app": "model", **labels}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "model"}},
            "template": {
                "metadata": {"labels": {"app": "model"}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": image,
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "env": [{"name": "MODEL", "value": "resnet"}],
                        }
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {}}],
                },
            },
        },
    }


def apply(live: dict | None, applied: dict, manager: str = TOOL, *, force: bool = False) -> dict:
    return ssa.apply(live, applied, manager=manager, force=force, kind=applied["kind"], now="T0")


def owned(obj: dict, manager: str, operation: str = "Apply") -> set[str]:
    for entry in obj["metadata"].get("managedFields", []):
        if entry["manager"] == manager and entry["operation"] == operation:
            return {ssa.path_string(p) for p in ssa.decode_fields(entry["fieldsV1"])}
    return set()


def managers(obj: dict) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


CONTAINER = '.spec.template.spec.containers[name="server"]'


def test_first_apply_records_the_fields_in_the_api_servers_encoding() -> None:
    created = apply(None, model())
    (entry,) = created["metadata"]["managedFields"]
    assert entry["manager"] == TOOL
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "apps/v1"
    assert entry["fieldsType"] == "FieldsV1"
    pod = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
    assert pod["f:containers"]['k:{"name":"server"}'] == {
        ".": {},
        "f:env": {'k:{"name":"MODEL"}': {".": {}, "f:name": {}, "f:value": {}}},
        "f:image": {},
        "f:name": {},
        "f:ports": {
            'k:{"containerPort":8080,"protocol":"TCP"}': {
                ".": {},
                "f:containerPort": {},
                "f:protocol": {},
            }
        },
    }
    assert pod["f:volumes"] == {'k:{"name":"cache"}': {".": {}, "f:emptyDir": {}, "f:name": {}}}
    # The selector is an atomic map: owned whole, as one leaf.
    assert entry["fieldsV1"]["f:spec"]["f:selector"] == {}
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}}


def test_server_set_fields_are_never_owned() -> None:
    live = apply(None, model())
    live["metadata"].update(uid="u-1", resourceVersion="7", generation=3)
    live["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    live["status"] = {"replicas": 2, "readyReplicas": 2}
    config = model()
    config["status"] = {"replicas": 99}
    result = apply(live, config)
    fields = owned(result, TOOL)
    assert not {f for f in fields if f.startswith((".metadata.name", ".metadata.uid", ".status"))}
    assert (
        not {".apiVersion", ".kind", ".metadata.resourceVersion", ".metadata.generation"} & fields
    )
    assert result["status"] == {"replicas": 2, "readyReplicas": 2}, "apply wrote status"
    assert result["metadata"]["uid"] == "u-1"


def test_applying_the_same_object_again_changes_nothing() -> None:
    first = apply(None, model())
    again = ssa.apply(first, model(), manager=TOOL, force=False, kind="Deployment", now="T9")
    assert again == first


def test_another_manager_applying_the_same_value_shares_the_field() -> None:
    live = apply(None, model(replicas=3))
    both = apply(live, {**model(replicas=3), "spec": {"replicas": 3}}, OPERATOR)
    assert ".spec.replicas" in owned(both, TOOL)
    assert ".spec.replicas" in owned(both, OPERATOR)
    assert both["spec"] == live["spec"]


def test_changing_a_field_another_applier_owns_is_refused_with_the_servers_message() -> None:
    live = apply(None, model(replicas=2))
    before = copy.deepcopy(live)
    with pytest.raises(ssa.ApplyConflict) as caught:
        apply(
            live, {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 5}}, OPERATOR
        )
    assert caught.value.conflicts == [(TOOL, ".spec.replicas")]
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "runtime-reconciler": .spec.replicas'
    )
    assert live == before, "a refused apply changed the live object"


def test_several_conflicts_are_listed_per_manager() -> None:
    live = apply(None, model(replicas=2))
    change = model(image="registry.example/model:2", replicas=4)
    with pytest.raises(ssa.ApplyConflict) as caught:
        apply(live, change, OPERATOR)
    assert sorted(caught.value.conflicts) == [
        (TOOL, ".spec.replicas"),
        (TOOL, f"{CONTAINER}.image"),
    ]
    assert str(caught.value) == (
        'Apply failed with 2 conflicts: conflicts with "runtime-reconciler":\n'
        "- .spec.replicas\n"
        f"- {CONTAINER}.image"
    )


def test_force_moves_ownership_to_the_applier() -> None:
    live = apply(None, model(replicas=2))
    forced = apply(
        live,
        {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 5}},
        OPERATOR,
        force=True,
    )
    assert forced["spec"]["replicas"] == 5
    assert ".spec.replicas" in owned(forced, OPERATOR)
    assert ".spec.replicas" not in owned(forced, TOOL)
    # And now the tool is the one that conflicts.
    with pytest.raises(ssa.ApplyConflict) as caught:
        apply(forced, model(replicas=2))
    assert caught.value.conflicts == [(OPERATOR, ".spec.replicas")]


def test_fields_the_manager_stops_applying_are_removed() -> None:
    live = apply(None, model(tier="gold"))
    dropped = apply(live, model())
    assert "tier" not in dropped["metadata"]["labels"]
    assert ".metadata.labels.tier" not in owned(dropped, TOOL)


def test_dropped_fields_that_another_manager_owns_stay() -> None:
    live = apply(None, model(tier="gold"))
    shared = apply(live, {**model(tier="gold"), "spec": {}}, OPERATOR)
    dropped = apply(shared, model())
    assert dropped["metadata"]["labels"]["tier"] == "gold"
    assert owned(dropped, OPERATOR) >= {".metadata.labels.tier"}


def test_a_dropped_list_item_is_removed_unless_another_manager_owns_part_of_it() -> None:
    two = model()
    sidecar = {"name": "sidecar", "image": "registry.example/proxy:1"}
    two["spec"]["template"]["spec"]["containers"].append(sidecar)
    live = apply(None, two)
    assert [c["name"] for c in apply(live, model())["spec"]["template"]["spec"]["containers"]] == [
        "server"
    ]
    env = {"name": "sidecar", "env": [{"name": "DEBUG", "value": "1"}]}
    operator = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [env]}}},
    }
    shared = apply(live, operator, OPERATOR)
    kept = apply(shared, model())
    containers = {c["name"]: c for c in kept["spec"]["template"]["spec"]["containers"]}
    assert containers["sidecar"]["env"] == [{"name": "DEBUG", "value": "1"}]
    assert "image" not in containers["sidecar"], "the tool's dropped field stayed"


def test_an_edit_takes_the_fields_it_changes_and_apply_then_conflicts_with_it() -> None:
    live = apply(None, model())
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/model:hotfix"
    recorded = ssa.record_update(
        live, edited, manager=EDITOR, kind="Deployment", now="2026-12-02T00:00:00Z"
    )
    assert owned(recorded, EDITOR, "Update") == {f"{CONTAINER}.image"}
    assert f"{CONTAINER}.image" not in owned(recorded, TOOL)
    assert f"{CONTAINER}.name" in owned(recorded, TOOL), "an edit took fields it left alone"
    with pytest.raises(ssa.ApplyConflict) as caught:
        apply(recorded, model())
    assert caught.value.conflicts == [(EDITOR, f"{CONTAINER}.image")]
    # An Update manager is named with the version it wrote and when, as the API server does.
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1 '
        f"at 2026-12-02T00:00:00Z: {CONTAINER}.image"
    )
    taken_back = apply(recorded, model(), force=True)
    assert taken_back["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example/model:1"
    )
    assert (EDITOR, "Update") not in managers(taken_back), "an empty entry was kept"


def test_create_by_update_owns_everything_it_set() -> None:
    created = ssa.record_update(None, model(), manager="kubectl-create", kind="Deployment")
    fields = owned(created, "kubectl-create", "Update")
    assert {".spec.replicas", f"{CONTAINER}.image", ".metadata.labels.app"} <= fields
    with pytest.raises(ssa.ApplyConflict):
        apply(created, model(replicas=9))


def test_set_lists_are_owned_item_by_item() -> None:
    config = model()
    config["metadata"]["finalizers"] = ["example.com/cleanup"]
    fields = owned(apply(None, config), TOOL)
    assert '.metadata.finalizers[="example.com/cleanup"]' in fields


RUNTIME = {
    "apiVersion": "runtimes.reconciler.dev/v1",
    "kind": "Runtime",
    "metadata": {"name": "torch", "namespace": "platform"},
    "spec": {"env": [{"name": "A", "value": "1"}], "modelType": "pytorch"},
}

RUNTIME_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "modelType": {"type": "string"},
                "env": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                    },
                },
            },
        },
        "status": {"type": "object"},
    },
}


def test_custom_resource_lists_are_atomic_without_a_schema() -> None:
    fields = owned(apply(None, RUNTIME), TOOL)
    assert fields == {".spec.env", ".spec.modelType"}


def test_custom_resource_lists_follow_the_crd_schema() -> None:
    created = ssa.apply(
        None, RUNTIME, manager=TOOL, force=False, kind="Runtime", schema=RUNTIME_SCHEMA
    )
    assert owned(created, TOOL) == {
        ".spec.modelType",
        '.spec.env[name="A"]',
        '.spec.env[name="A"].name',
        '.spec.env[name="A"].value',
    }
    other = {**RUNTIME, "spec": {"env": [{"name": "B", "value": "2"}]}}
    merged = ssa.apply(
        created, other, manager=OPERATOR, force=False, kind="Runtime", schema=RUNTIME_SCHEMA
    )
    assert [e["name"] for e in merged["spec"]["env"]] == ["A", "B"]


def test_field_sets_survive_their_encoding() -> None:
    """decode(encode(s)) == s for the field sets of generated Deployments."""
    rng = random.Random(7)
    for index in range(40):
        created = apply(None, deployment(rng, index))
        (entry,) = created["metadata"]["managedFields"]
        paths = ssa.decode_fields(entry["fieldsV1"])
        assert ssa.decode_fields(json.loads(json.dumps(ssa.encode_fields(paths)))) == paths
        assert ssa.encode_fields(paths) == entry["fieldsV1"]


def test_apply_needs_a_field_manager() -> None:
    with pytest.raises(ValueError, match="fieldManager: Required value"):
        ssa.apply(None, model(), manager="", force=False, kind="Deployment")


def test_merged_lists_keep_live_only_items_in_place_and_the_applied_order_otherwise() -> None:
    def env(*names: str) -> dict:
        return {**RUNTIME, "spec": {"env": [{"name": n, "value": n.lower()} for n in names]}}

    def run(live: dict | None, applied: dict, manager: str) -> dict:
        return ssa.apply(
            live, applied, manager=manager, force=False, kind="Runtime", schema=RUNTIME_SCHEMA
        )

    live = run(None, env("A", "B", "C"), TOOL)
    reordered = run(live, env("C", "N", "A"), OPERATOR)
    assert [e["name"] for e in reordered["spec"]["env"]] == ["B", "C", "N", "A"]


def test_conflicts_with_several_managers_are_grouped_by_manager() -> None:
    live = apply(None, model(replicas=2))
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 3
    edited = ssa.record_update(
        live, edited, manager=EDITOR, kind="Deployment", now="2026-12-02T00:00:00Z"
    )
    with pytest.raises(ssa.ApplyConflict) as caught:
        apply(edited, model(image="registry.example/model:2", replicas=4), OPERATOR)
    assert str(caught.value) == (
        "Apply failed with 2 conflicts: "
        'conflicts with "kubectl-edit" using apps/v1 at 2026-12-02T00:00:00Z:\n'
        "- .spec.replicas\n"
        'conflicts with "runtime-reconciler":\n'
        f"- {CONTAINER}.image"
    )
