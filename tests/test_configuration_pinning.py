"""A composition is pinned to its runtime's configuration, visibly, until upgraded.

Changing a runtime's environment, volumes, security context, selector or data-volume mode
never rolls running deployments; every plan lists the compositions that run an older
configuration of their runtime, so it never says "No changes" while a Deployment is out of
date; and every form of upgrade rolls them, on their own version if that is the target,
with the zero-downtime rollout and the rollback of an image upgrade.

Arranged like a team on a platform: Helm values declare the H2O-3 scorer (v1.5.4, v1.6.0);
the team's own runtime `scoring` (API-managed, on the scorer's latest version) serves the
deployment `fraud` with two compositions. Everything goes through the SDK on a local state
and the dir target, and each check reads the manifests a cluster would get.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler import errors, render
from reconciler.apply import engine
from reconciler.inputs.values import load_values
from reconciler.targets.directory import DirTarget

RUNTIME = "workspaces/fraud-team/runtimes/scoring"
FRAUD = "workspaces/fraud-team/deployments/fraud"
V160 = "workspaces/global/runtimeImages/h2o3-scorer/versions/v1.6.0"
ENV = {"LOG_LEVEL": "INFO", "DB_PASSWORD": "first-secret"}
ROTATED = {"LOG_LEVEL": "INFO", "DB_PASSWORD": "rotated-secret"}

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
                        ]
                    }
                },
            }
        }
    }
}


class Team:
    """The platform's values applied, and the team's runtime and deployment on it."""

    def __init__(self, tmp_path: Path, target: object = None) -> None:
        self.cluster = tmp_path / "state/cluster"
        self.state = tmp_path / "state/reconciler.state.json"
        values = tmp_path / "values.yaml"
        values.write_text(yaml.safe_dump(VALUES))
        self.client = reconciler.Client(state=self.state, target=f"dir:{self.cluster}")
        inputs = engine.Inputs(values=load_values([values]))
        assert engine.apply(self.client.backend, self.client.target, inputs=inputs).ok
        self.workspace = self.client.workspaces.create("fraud-team")
        image = self.workspace.runtimes.images.get("h2o3-scorer")
        self.runtime = self.workspace.runtimes.create(
            "scoring", runtime_image=image, model_type="h2o3_mojo", environment_variables=ENV
        )
        self.deployment = self.workspace.deployments.create(
            "fraud",
            compositions=[
                {"experiment_id": "exp-1", "runtime": "scoring"},
                {"experiment_id": "exp-2", "runtime": "scoring", "replicas": 2},
            ],
        )

    def manifest(self, experiment: str) -> dict[str, Any]:
        path = self.cluster / f"{FRAUD}/compositions/{experiment}.yaml"
        loaded: dict[str, Any] = yaml.safe_load(path.read_text())
        return loaded

    def env(self, experiment: str) -> dict[str, str]:
        """The environment the workload's container gets, as a cluster resolves it:
        secret values from the composition's Secret, which is written beside it."""
        (container,) = self.manifest(experiment)["spec"]["template"]["spec"]["containers"]
        secret = self.cluster / f"{FRAUD}/compositions/{experiment}/secret.yaml"
        stored = yaml.safe_load(secret.read_text())["stringData"] if secret.exists() else {}
        env = {}
        for item in container["env"]:
            if "valueFrom" in item:
                ref = item["valueFrom"]["secretKeyRef"]
                assert ref["name"] == f"fraud-{experiment}-env"
                env[item["name"]] = stored[ref["key"]]
            else:
                env[item["name"]] = item["value"]
        return env

    def outdated(self) -> list[str]:
        plan = engine.plan(self.client.backend, engine.Inputs())
        return [f"{o.experiment_id} {o.runtime}" for o in plan.outdated]


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return Team(tmp_path)


def test_a_new_deployment_runs_its_runtimes_configuration(team: Team) -> None:
    assert team.env("exp-1") == ENV
    assert not team.deployment.compositions[0].runtime_configuration_outdated
    assert team.outdated() == []


def test_a_changed_runtime_rolls_nothing_and_every_plan_says_so(team: Team) -> None:
    written = team.manifest("exp-1")
    team.runtime.update(environment_variables=ROTATED)
    assert team.manifest("exp-1") == written, "a running Deployment is never rolled silently"
    assert [c.runtime_configuration_outdated for c in team.deployment.compositions] == [True] * 2
    plan = engine.plan(team.client.backend, engine.Inputs())
    assert not plan.has_changes
    assert team.outdated() == [f"exp-1 {RUNTIME}", f"exp-2 {RUNTIME}"]
    text = render.plan_text(plan)
    assert "No changes" not in text
    assert f"{FRAUD}  exp-2: runs an older configuration of {RUNTIME}" in text
    assert "rotated-secret" not in text and "first-secret" not in text


def test_upgrading_rolls_the_new_configuration_on_the_same_version(team: Team) -> None:
    team.runtime.update(environment_variables=ROTATED)
    team.deployment.upgrade_runtime_image()
    for experiment in ("exp-1", "exp-2"):
        assert team.env(experiment) == ROTATED
        manifest = team.manifest(experiment)
        assert manifest["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1.6.0")
        assert manifest["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert [c.runtime_image for c in team.deployment.compositions] == [V160, V160]
    assert not any(c.runtime_configuration_outdated for c in team.deployment.compositions)
    assert team.outdated() == []
    converged = engine.plan(team.client.backend, engine.Inputs())
    assert render.plan_text(converged).startswith("No changes.")


def test_an_upgrade_of_one_experiment_leaves_the_other_on_its_configuration(team: Team) -> None:
    team.runtime.update(environment_variables=ROTATED)
    team.deployment.upgrade_runtime_image({"exp-1": None})
    assert team.env("exp-1") == ROTATED and team.env("exp-2") == ENV
    assert team.outdated() == [f"exp-2 {RUNTIME}"]


def test_an_upgrade_to_the_version_it_runs_rolls_the_configuration(team: Team) -> None:
    team.runtime.update(environment_variables=ROTATED)
    version = team.workspace.runtimes.images.get("h2o3-scorer").versions.get("v1.6.0")
    team.deployment.upgrade_runtime_image({"*": version})
    assert team.env("exp-1") == ROTATED and team.env("exp-2") == ROTATED


def test_compositions_on_their_version_and_configuration_are_skipped(team: Team) -> None:
    before = {e: team.manifest(e) for e in ("exp-1", "exp-2")}
    serial = engine.read_state(team.client.backend)[0]
    team.deployment.upgrade_runtime_image()
    assert {e: team.manifest(e) for e in ("exp-1", "exp-2")} == before
    assert engine.read_state(team.client.backend)[0] == serial, "nothing to do, nothing written"


@pytest.mark.parametrize(
    ("change", "counts"),
    [
        ({"environment_variables": {"LOG_LEVEL": "DEBUG"}}, True),
        ({"volumes": [{"name": "models", "emptyDir": {}}]}, True),
        ({"security_context": {"runAsNonRoot": True}}, True),
        ({"selector": {"gpu": "a100"}}, True),
        ({"read_only_data_volume": True}, True),
        ({"description": "the team's scorer"}, False),
    ],
)
def test_each_field_that_enters_the_workload_counts_and_no_other(
    team: Team, change: dict[str, Any], counts: bool
) -> None:
    team.runtime.update(**change)
    assert bool(team.outdated()) is counts


class StuckRollout(DirTarget):
    """The dir target, where a rollout of the rotated credential exceeds its progress
    deadline once, as a Deployment whose new pods never become ready would."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.stuck = True
        self.rotated = False

    def put(self, address: str, manifest: Mapping[str, Any]) -> None:
        # The credential is in the workload's Secret, written just before the workload.
        if address.endswith("/exp-2/secret"):
            self.rotated = "rotated-secret" in str(manifest)
        elif self.stuck and address.endswith("/exp-2") and self.rotated:
            self.stuck = False
            raise errors.TargetError("exp-2 exceeded its progress deadline")
        super().put(address, manifest)


def test_a_failed_configuration_rollout_goes_back_to_what_it_ran(team: Team) -> None:
    before = team.manifest("exp-2")
    team.runtime.update(environment_variables=ROTATED)
    flaky = reconciler.Client(state=team.state, target=StuckRollout(team.cluster))
    deployment = flaky.workspaces.get("fraud-team").deployments.get("fraud")
    with pytest.raises(errors.ApplyError) as caught:
        deployment.upgrade_runtime_image()
    assert "exp-2 exceeded its progress deadline; rolled back to v1.6.0" in caught.value.detail
    assert team.env("exp-1") == ROTATED
    assert team.manifest("exp-2") == before, "back on the configuration it ran"
    assert team.env("exp-2") == ENV, "its Secret holds the credential it ran with again"
    assert team.outdated() == [f"exp-2 {RUNTIME}"]
    deployment.upgrade_runtime_image()  # the rollout goes through now: repeating converges
    assert team.env("exp-2") == ROTATED and team.outdated() == []


def test_a_runtime_changed_in_the_same_apply_rolls_back_to_its_former_configuration(
    team: Team, tmp_path: Path
) -> None:
    """One apply changes the runtime and upgrades its deployment; the rollout that fails
    goes back to the configuration the runtime had before that apply."""
    from reconciler.inputs.overrides import parse_overrides
    from reconciler.inputs.upgrade_specs import parse_spec

    before = team.manifest("exp-2")
    runtime = {
        "displayName": "scoring",
        "modelType": "h2o3_mojo",
        "runtimeImage": "h2o3-scorer",
        "environmentVariables": ROTATED,
    }
    overrides = parse_overrides(
        {"workspaces": {"fraud-team": {"runtimes": {"scoring": runtime}}}}, source="team.yaml"
    )
    inputs = engine.Inputs(overrides=overrides, upgrades=(parse_spec("fraud-team/fraud"),))
    result = engine.apply(team.client.backend, StuckRollout(team.cluster), inputs=inputs)
    assert not result.ok and [e for _, e, _ in result.roll_failed] == ["exp-2"]
    assert team.manifest("exp-2") == before
    assert team.env("exp-2") == ENV
    assert team.env("exp-1") == ROTATED


def test_the_state_keeps_an_older_configuration_only_while_a_composition_runs_it(
    team: Team,
) -> None:
    assert _retained(team) == {}
    team.runtime.update(environment_variables=ROTATED)
    (kept,) = _retained(team).values()
    assert kept["environment_variables"] == ENV
    team.deployment.upgrade_runtime_image({"exp-1": None})
    assert len(_retained(team)) == 1, "exp-2 still runs it"
    team.deployment.upgrade_runtime_image()
    assert _retained(team) == {}


def test_showing_the_state_redacts_the_secrets_of_an_older_configuration(team: Team) -> None:
    team.runtime.update(environment_variables=ROTATED)
    document, _ = engine.read_state(team.client.backend)
    assert document is not None
    shown = render.state_json(document)
    assert "first-secret" not in shown and "rotated-secret" not in shown
    assert '"LOG_LEVEL": "INFO"' in shown


def _retained(team: Team) -> dict[str, Any]:
    document, _ = engine.read_state(team.client.backend)
    assert document is not None
    return document.configurations


def test_a_configuration_is_the_runtime_fields_its_workload_runs_with() -> None:
    from reconciler.planning import workloads

    spec = {"model_type": "h2o3_mojo", "runtime_image": "x", "environment_variables": ENV}
    configuration = workloads.configuration_of(spec)
    assert tuple(configuration) == workloads.CONFIGURATION_FIELDS
    assert workloads.configuration_digest(configuration) == workloads.configuration_digest(spec)
    spelled_out = {**spec, "volumes": [], "selector": {}, "data_volume_read_only": False}
    assert workloads.configuration_digest(spelled_out) == workloads.configuration_digest(spec)
    described = {**spec, "description": "new words", "scoring_endpoint": "v2"}
    assert workloads.configuration_digest(described) == workloads.configuration_digest(spec)
