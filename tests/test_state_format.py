"""The state document's format: its committed schema, and states of older formats.

Format 2 added deployments. A state written in format 1 (before deployments existed) is
upgraded when read, so existing state files keep working; the next write stores format 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import orjson

from reconciler.apply import engine
from reconciler.backends.local import LocalBackend
from reconciler.inputs.overrides import parse_overrides
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
    assert document.version == state.FORMAT_VERSION == 2
    assert document.deployments == ()
    assert document.serial == 3 and document.lineage == FORMAT_1["lineage"]
    assert document.by_address["workspaces/global/runtimeImages/h2o3-scorer"].uid.startswith("7d2c")
    assert orjson.loads(state.encode(document))["version"] == 2


def test_a_format_1_state_file_keeps_working_and_is_rewritten_as_format_2(tmp_path: Path) -> None:
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
    assert rewritten["version"] == 2
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
