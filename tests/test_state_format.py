"""The state document's format: its committed schema, and states of older formats.

Format 2 added deployments; format 3 pins each composition to its runtime's configuration;
format 4 records the environment variables users marked sensitive. A state of an older
format is upgraded when read, so existing state files keep working; the next write stores
format 4. A format 2 composition whose workload was written before
its runtime last changed is upgraded as running an older configuration, so the first plan
after the upgrade says so instead of "No changes".
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import orjson

from reconciler.apply import engine
from reconciler.backends.local import LocalBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.upgrade_specs import parse_spec
from reconciler.inputs.values import load_values
from reconciler.planning import state
from reconciler.targets.memory import MemoryTarget
from tests.runner import EXAMPLES, REPO

SCHEMA = REPO / "schemas/state.schema.json"

FORMAT_1 = {
    "version": 1,
    "tool_version": "0.1.0",
    "serial": 3,
    "lineage": "0b1f3c52-6f7e-4a55-9d0e-2f8a1d2c3b4a",
    "workspaces": ["fraud-team"],
    "resources": [
        {
            "address": "workspaces/global/runtimeImages/h2o3-scorer",
            "kind": "RuntimeImage",
            "spec": {"display_name": "H2O-3 MOJO Scorer", "description": ""},
            "managed_by_bootstrap": True,
            "platform": {"state": "ACTIVE", "reason": ""},
            "user": None,
            "uid": "7d2c1f3e-0000-4000-8000-000000000001",
            "created_time": "2026-01-05T10:00:00Z",
            "last_modified_time": "2026-01-05T10:00:00Z",
            "state_updated_time": "2026-01-05T10:00:00Z",
            "last_applied": "0f3a",
        }
    ],
}

DEPLOYMENT = {
    "workspaces": {
        "prod": {
            "deployments": {
                "fraud": {
                    "compositions": [
                        {"experimentId": "exp-1", "modelType": "h2o3_mojo", "replicas": 2}
                    ]
                }
            }
        }
    }
}


def test_the_committed_schema_is_generated_from_the_model() -> None:
    committed = json.loads(SCHEMA.read_text())
    assert committed == state.json_schema(), (
        "schemas/state.schema.json is out of date: write state.json_schema() to it"
    )


def test_a_format_1_state_is_upgraded_on_read() -> None:
    document = state.decode(orjson.dumps(FORMAT_1), source="old.json")
    assert document.version == state.FORMAT_VERSION == 4
    assert document.deployments == ()
    assert document.serial == 3 and document.lineage == FORMAT_1["lineage"]
    assert document.by_address["workspaces/global/runtimeImages/h2o3-scorer"].uid.startswith("7d2c")
    assert orjson.loads(state.encode(document))["version"] == 4


def test_a_format_1_state_file_keeps_working_and_is_rewritten_in_the_current_format(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reconciler.state.json"
    backend = LocalBackend(path)
    values = load_values([EXAMPLES / "values.yaml"])
    assert engine.apply(backend, MemoryTarget(), inputs=engine.Inputs(values=values)).ok
    old = json.loads(path.read_text())
    del old["deployments"]
    old["version"] = 1
    path.write_text(json.dumps(old))
    assert not engine.plan(backend, engine.Inputs(values=values)).has_changes
    inputs = engine.Inputs(overrides=parse_overrides(DEPLOYMENT, source="deploy.yaml"))
    assert engine.apply(backend, MemoryTarget(), inputs=inputs).ok
    rewritten = json.loads(path.read_text())
    assert rewritten["version"] == state.FORMAT_VERSION
    assert [d["address"] for d in rewritten["deployments"]] == ["workspaces/prod/deployments/fraud"]


def test_a_state_with_deployments_matches_its_schema(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "reconciler.state.json")
    inputs = engine.Inputs(
        values=load_values([EXAMPLES / "values.yaml"]),
        overrides=parse_overrides(DEPLOYMENT, source="deploy.yaml"),
    )
    result = engine.apply(backend, MemoryTarget(), inputs=inputs)
    assert result.ok and result.state is not None
    written = json.loads((tmp_path / "reconciler.state.json").read_text())
    jsonschema.validate(written, json.loads(SCHEMA.read_text()))
    (deployment,) = written["deployments"]
    (composition,) = deployment["compositions"]
    assert composition["image_version"] == (
        "workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer/versions/v1.6.0"
    )
    assert composition["replicas"] == 2 and composition["last_applied"]
    assert deployment["uid"] and deployment["created_time"]
    assert state.decode(state.encode(result.state), source="again") == result.state


def _as_format_2(path: Path) -> None:
    """Rewrite a state file as format 2 wrote it: compositions without a configuration."""
    old = json.loads(path.read_text())
    old["version"] = 2
    for deployment in old["deployments"]:
        for composition in deployment["compositions"]:
            del composition["configuration"]
    path.write_text(json.dumps(old))


def _values_with_log_level(tmp_path: Path, level: str) -> Path:
    path = tmp_path / f"values-{level}.yaml"
    text = (EXAMPLES / "values.yaml").read_text()
    assert "LOG_LEVEL: INFO" in text
    path.write_text(text.replace("LOG_LEVEL: INFO", f"LOG_LEVEL: {level}", 1))
    return path


def test_a_format_2_composition_on_its_runtimes_configuration_is_pinned_to_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reconciler.state.json"
    backend = LocalBackend(path)
    inputs = engine.Inputs(
        values=load_values([EXAMPLES / "values.yaml"]),
        overrides=parse_overrides(DEPLOYMENT, source="deploy.yaml"),
    )
    assert engine.apply(backend, MemoryTarget(), inputs=inputs).ok
    pinned = json.loads(path.read_text())["deployments"][0]["compositions"][0]["configuration"]
    _as_format_2(path)
    document = state.decode(path.read_bytes(), source="old.json")
    (deployment,) = document.deployments
    assert document.version == 4 and deployment.compositions[0].configuration == pinned
    plan = engine.plan(backend, engine.Inputs(values=load_values([EXAMPLES / "values.yaml"])))
    assert not plan.has_changes and plan.outdated == ()


def test_a_format_2_composition_written_before_its_runtime_changed_runs_an_older_one(
    tmp_path: Path,
) -> None:
    """The state an earlier version left after a runtime's environment changed: its
    Deployments kept the old environment. Upgraded, the plan lists them, and an upgrade
    rolls them to the runtime's configuration."""
    path = tmp_path / "reconciler.state.json"
    backend, target = LocalBackend(path), MemoryTarget()
    first = engine.Inputs(
        values=load_values([EXAMPLES / "values.yaml"]),
        overrides=parse_overrides(DEPLOYMENT, source="deploy.yaml"),
    )
    assert engine.apply(backend, target, inputs=first).ok
    debug = engine.Inputs(values=load_values([_values_with_log_level(tmp_path, "DEBUG")]))
    assert engine.apply(backend, target, inputs=debug).ok
    _as_format_2(path)

    (composition,) = state.decode(path.read_bytes(), source="old.json").deployments[0].compositions
    assert composition.configuration == ""
    plan = engine.plan(backend, debug)
    assert not plan.has_changes
    assert [(o.deployment, o.experiment_id) for o in plan.outdated] == [
        ("workspaces/prod/deployments/fraud", "exp-1")
    ]
    upgrade = engine.Inputs(upgrades=(parse_spec("prod/fraud"),))
    result = engine.apply(backend, target, inputs=upgrade)
    assert result.ok and [e for _, e in result.rolled] == ["exp-1"]
    manifest = target.objects["workspaces/prod/deployments/fraud/compositions/exp-1"]
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert {"name": "LOG_LEVEL", "value": "DEBUG"} in container["env"]
    again = engine.plan(backend, debug)
    assert not again.has_changes and again.outdated == ()
