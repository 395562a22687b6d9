"""Creating deployments through the SDK: which runtime serves a composition, which version
it pins, and how deployments list, read and fail.

The catalog comes from Helm values, shaped to give each selection rule a case: model types
with one ACTIVE runtime, with only a DEPRECATED one, with only a DISABLED one, and with two
ACTIVE ones (ambiguous).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler import errors
from reconciler.apply import engine
from reconciler.inputs.values import load_values

SCORER = "workspaces/global/runtimeImages/h2o3-scorer"
GLOBAL_RUNTIMES = "workspaces/global/runtimes"


def runtime(model_type: str, image: str, **extra: Any) -> dict[str, Any]:
    return {"modelType": model_type, "runtimeImage": image, **extra}


VALUES = {
    "config": {
        "deployer": {
            "composition": {
                "registry": "docker.io/h2oai",
                "runtimeImages": {
                    "h2o3-scorer": {
                        "versions": [
                            {"image": {"repository": "h2o3-scorer", "tag": "v1.5.4"}},
                            {"image": {"repository": "h2o3-scorer", "tag": "v1.6.0"}},
                            {
                                "image": {"repository": "h2o3-scorer", "tag": "v1.7.0"},
                                "state": "DISABLED",
                                "stateReason": "broken build",
                            },
                        ],
                    },
                },
                "runtimes": {
                    "h2o3-mojo": runtime("h2o3_mojo", "h2o3-scorer"),
                    "h2o3-old": runtime(
                        "h2o3_mojo", "h2o3-scorer/versions/v1.5.4", state="DEPRECATED"
                    ),
                    "legacy": runtime(
                        "legacy_pojo", "h2o3-scorer", state="DEPRECATED", stateReason="use MOJO"
                    ),
                    "gone": runtime("gone_type", "h2o3-scorer", state="DISABLED"),
                    "twin-a": runtime("twin", "h2o3-scorer"),
                    "twin-b": runtime("twin", "h2o3-scorer/versions/v1.5.4"),
                    "broken-pin": runtime("broken", "h2o3-scorer/versions/v1.7.0"),
                },
            }
        }
    }
}


@pytest.fixture
def workspace(tmp_path: Path) -> Any:
    client = reconciler.Client(
        state=tmp_path / "state/reconciler.state.json", target=f"dir:{tmp_path}/cluster"
    )
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(VALUES))
    inputs = engine.Inputs(values=load_values([values]))
    assert engine.apply(client.backend, client.target, inputs=inputs).ok
    return client.workspaces.create("fraud-team")


def deploy(workspace: Any, **composition: Any) -> Any:
    return workspace.deployments.create(
        "Fraud Detection", compositions=[{"experiment_id": "exp-1", **composition}]
    )


def test_the_active_runtime_for_the_model_type_serves_it_on_its_latest_version(
    workspace: Any, tmp_path: Path
) -> None:
    deployment = deploy(workspace, model_type="h2o3_mojo", replicas=2)
    (composition,) = deployment.compositions
    assert composition.experiment_id == "exp-1"
    assert composition.runtime == f"{GLOBAL_RUNTIMES}/h2o3-mojo", "ACTIVE before DEPRECATED"
    assert composition.runtime_image == f"{SCORER}/versions/v1.6.0", "DISABLED v1.7.0 never"
    assert composition.docker_image == "docker.io/h2oai/h2o3-scorer:v1.6.0"
    assert composition.replicas == 2
    assert composition.runtime_image_upgrade_available is False
    manifest = yaml.safe_load(
        (tmp_path / "cluster" / deployment.address / "compositions/exp-1.yaml").read_text()
    )
    assert manifest["apiVersion"] == "apps/v1" and manifest["kind"] == "Deployment"
    assert manifest["metadata"]["labels"]["runtimes.reconciler.dev/deployment"] == (
        "fraud-detection"
    )
    assert manifest["metadata"]["labels"]["runtimes.reconciler.dev/experiment"] == "exp-1"
    strategy = manifest["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    assert strategy["rollingUpdate"]["maxSurge"] >= 1


def test_a_runtime_on_a_version_pins_that_version(workspace: Any) -> None:
    with pytest.warns(UserWarning, match="h2o3-old is DEPRECATED"):
        deployment = deploy(workspace, runtime="h2o3-old")
    (composition,) = deployment.compositions
    assert composition.runtime_image == f"{SCORER}/versions/v1.5.4"
    assert composition.runtime_image_upgrade_available is True


def test_only_a_deprecated_runtime_is_selected_with_a_warning(workspace: Any) -> None:
    with pytest.warns(UserWarning, match=r"legacy is DEPRECATED \(use MOJO\)"):
        deployment = deploy(workspace, model_type="legacy_pojo")
    assert deployment.compositions[0].runtime == f"{GLOBAL_RUNTIMES}/legacy"


def test_a_disabled_runtime_is_never_selected(workspace: Any) -> None:
    with pytest.raises(errors.NotFoundError, match="no usable runtime serves model type gone"):
        deploy(workspace, model_type="gone_type")
    with pytest.raises(errors.PlanError, match="gone is DISABLED"):
        deploy(workspace, runtime="gone")
    assert workspace.deployments.count() == 0


def test_two_candidates_are_ambiguous_unless_the_runtime_is_named(workspace: Any) -> None:
    with pytest.raises(errors.PlanError, match="2 ACTIVE runtimes serve model type twin") as caught:
        deploy(workspace, model_type="twin")
    assert "twin-a" in caught.value.detail and "twin-b" in caught.value.detail
    assert "name the runtime" in caught.value.hint
    deployment = deploy(workspace, model_type="twin", runtime="twin-b")
    assert deployment.compositions[0].runtime_image == f"{SCORER}/versions/v1.5.4"


def test_a_runtime_pinned_to_a_disabled_version_is_refused(workspace: Any) -> None:
    with pytest.raises(errors.PlanError, match=r"v1\.7\.0, which is DISABLED"):
        deploy(workspace, runtime="broken-pin")


def test_a_named_runtime_must_serve_the_model_type(workspace: Any) -> None:
    with pytest.raises(errors.InputError, match="serves model type h2o3_mojo, not twin"):
        deploy(workspace, runtime="h2o3-mojo", model_type="twin")


def test_deployments_list_and_get(workspace: Any) -> None:
    first = deploy(workspace, model_type="h2o3_mojo")
    with pytest.warns(UserWarning, match="h2o3-old is DEPRECATED"):
        second = workspace.deployments.create(
            "Churn",
            compositions=[
                {"experiment_id": "exp-1", "model_type": "h2o3_mojo"},
                {"experiment_id": "exp-2", "runtime": workspace.runtimes.get("h2o3-old")},
            ],
        )
    listed = workspace.deployments.list()
    assert len(listed) == 2
    assert {dep["uid"] for dep in listed} == {first.uid, second.uid}
    assert {dep["name"] for dep in listed} == {"Fraud Detection", "Churn"}
    assert "Fraud Detection" in repr(listed) and first.uid in repr(listed)
    assert workspace.deployments.get(second.uid) == second
    assert workspace.deployments.get("churn") == second, "the id works too"
    assert [c.experiment_id for c in second.compositions] == ["exp-1", "exp-2"]
    assert second.address == "workspaces/fraud-team/deployments/churn"
    with pytest.raises(errors.NotFoundError, match="no deployment with uid or id"):
        workspace.deployments.get("nope")


@pytest.mark.parametrize(
    ("compositions", "message"),
    [
        ([], "at least one composition"),
        ([{"experiment_id": "exp-1"}], "needs a model_type, a runtime, or both"),
        ([{"experiment_id": "Exp_1", "model_type": "h2o3_mojo"}], "not a valid experiment id"),
        ([{"experiment_id": "exp-1", "model_type": "h2o3_mojo", "gpu": 1}], "unknown key 'gpu'"),
        ([{"experiment_id": "exp-1", "model_type": "h2o3_mojo", "replicas": 0}], "at least 1"),
        (
            [
                {"experiment_id": "exp-1", "model_type": "h2o3_mojo"},
                {"experiment_id": "exp-1", "model_type": "h2o3_mojo"},
            ],
            "exp-1 appears twice",
        ),
    ],
)
def test_bad_compositions_are_refused_before_anything_changes(
    workspace: Any, compositions: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(errors.InputError, match=message):
        workspace.deployments.create("Fraud", compositions=compositions)
    assert workspace.deployments.count() == 0


def test_a_deployment_name_is_taken_once(workspace: Any) -> None:
    deploy(workspace, model_type="h2o3_mojo")
    with pytest.raises(errors.ConflictError, match="already exists"):
        deploy(workspace, model_type="h2o3_mojo")


def test_deleting_what_a_deployment_runs_is_refused(workspace: Any) -> None:
    image = workspace.runtimes.images.create(name="Team Scorer", docker_image="team/s:1.0.0")
    team_runtime = workspace.runtimes.create(
        name="Team Runtime", runtime_image=image, model_type="team"
    )
    deployment = deploy(workspace, model_type="team")
    with pytest.raises(errors.PlanError, match=r"deployment .* runs runtime .*team-runtime"):
        team_runtime.delete()
    assert deployment.compositions[0].runtime == team_runtime.address
