"""The seed's ceiling-rule scenarios, driven through the SDK against Helm-values resources.

Seed 000, "State constraints between management modes": either source can always
restrict; neither can re-enable beyond the other's most permissive state; the rule applies
uniformly to runtime images, runtime image versions and runtimes. User intents live in the
state, so a later values-only apply keeps them, and the SDK leaves state and target
consistent: a plan with the same values shows no changes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler import errors
from reconciler.apply import engine
from reconciler.inputs.values import load_values
from reconciler.model import State
from tests.runner import reconciler as reconciler_cli

VALUES: dict[str, Any] = {
    "config": {
        "deployer": {
            "composition": {
                "registry": "docker.io/h2oai",
                "runtimeImages": {
                    "h2oai-h2o3mojo-scorer": {
                        "displayName": "H2O-3 MOJO Scorer",
                        "versions": [
                            {"image": {"repository": "h2oai-h2o3mojo-scorer", "tag": "v1.5.4"}},
                            {"image": {"repository": "h2oai-h2o3mojo-scorer", "tag": "v1.6.0"}},
                        ],
                    }
                },
                "runtimes": {
                    "h2o3-mojo": {
                        "displayName": "H2O-3 MOJO Runtime",
                        "modelType": "h2o3_mojo",
                        "runtimeImage": "h2oai-h2o3mojo-scorer",
                        "environmentVariables": {"LOG_LEVEL": "INFO"},
                    }
                },
            }
        }
    }
}
COMPOSITION = ("config", "deployer", "composition")


class Platform:
    """The Helm side: writes a values document and applies it, as the hook Job does."""

    def __init__(self, client: reconciler.Client, directory: Path) -> None:
        self.client = client
        self.path = directory / "values.yaml"
        self.values = copy.deepcopy(VALUES)

    @property
    def composition(self) -> dict[str, Any]:
        node = self.values
        for key in COMPOSITION:
            node = node[key]
        return node

    def inputs(self) -> engine.Inputs:
        self.path.write_text(yaml.safe_dump(self.values))
        return engine.Inputs(values=load_values([self.path]))

    def apply(self) -> None:
        result = engine.apply(self.client.backend, self.client.target, inputs=self.inputs())
        assert result.ok, result.failed

    def plan_has_changes(self) -> bool:
        return engine.plan(self.client.backend, self.inputs()).has_changes


@pytest.fixture
def client(tmp_path: Path) -> reconciler.Client:
    # The CLI's defaults, seen from tmp_path: `reconciler plan` run there finds this state.
    return reconciler.Client(
        state=tmp_path / "state/reconciler.state.json", target=f"dir:{tmp_path}/state/cluster"
    )


@pytest.fixture
def platform(client: reconciler.Client, tmp_path: Path) -> Platform:
    platform = Platform(client, tmp_path)
    platform.apply()
    return platform


def the_runtime(client: reconciler.Client) -> Any:
    return client.workspaces.get("global").runtimes.get("h2o3-mojo")


def the_image(client: reconciler.Client) -> Any:
    return client.workspaces.get("global").runtimes.images.get("h2oai-h2o3mojo-scorer")


def the_version(client: reconciler.Client) -> Any:
    return the_image(client).versions.get("v1.6.0")


def set_platform_state(platform: Platform, kind: str, state: str) -> None:
    image = platform.composition["runtimeImages"]["h2oai-h2o3mojo-scorer"]
    entry = {
        "runtime": platform.composition["runtimes"]["h2o3-mojo"],
        "image": image,
        "version": image["versions"][1],
    }[kind]
    entry["state"] = state


def remove_from_values(platform: Platform, kind: str) -> None:
    images = platform.composition["runtimeImages"]
    if kind == "runtime":
        del platform.composition["runtimes"]["h2o3-mojo"]
    elif kind == "version":
        images["h2oai-h2o3mojo-scorer"]["versions"].pop(1)
    else:
        # An image goes with the runtimes that use it; values would not validate otherwise.
        del platform.composition["runtimes"]["h2o3-mojo"]
        del images["h2oai-h2o3mojo-scorer"]


def reenable(resource: Any) -> None:
    """`enable()` for runtimes and images; versions call it `activate()`."""
    if hasattr(resource, "activate"):
        resource.activate()
    else:
        resource.enable()


KINDS: dict[str, Callable[[reconciler.Client], Any]] = {
    "runtime": the_runtime,
    "image": the_image,
    "version": the_version,
}


@pytest.mark.parametrize("kind", KINDS)
def test_user_deprecates_then_bootstrap_cannot_reenable(
    client: reconciler.Client, platform: Platform, kind: str
) -> None:
    resource = KINDS[kind](client)
    resource.deprecate(reason="Migrating to new runtime")
    assert resource.state == "DEPRECATED"

    platform.apply()  # the next Helm upgrade still declares it ACTIVE

    assert resource.state is State.DEPRECATED, "the user's change is preserved"
    assert resource.state_reason == "Migrating to new runtime"
    assert not platform.plan_has_changes()


@pytest.mark.parametrize("kind", KINDS)
def test_platform_disables_by_removal_then_enable_is_blocked(
    client: reconciler.Client, platform: Platform, kind: str
) -> None:
    resource = KINDS[kind](client)
    remove_from_values(platform, kind)
    platform.apply()
    assert resource.state == "DISABLED", "removed from values: disabled, never deleted"

    with pytest.raises(errors.CeilingError) as caught:
        reenable(resource)
    message = str(caught.value)
    assert "DISABLED by Helm values" in message
    assert "removed from Helm values" in message
    assert "values.yaml" in message, "the hint says where the ceiling can be lifted"
    assert resource.state == "DISABLED"

    resource.disable(reason="Retired here too")  # restricting is always allowed
    assert resource.state == "DISABLED"
    assert not platform.plan_has_changes()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("platform_state", "allowed"),
    [("ACTIVE", True), ("DEPRECATED", False), ("DISABLED", False)],
)
def test_user_disables_then_enables_only_if_the_platform_permits_active(
    client: reconciler.Client, platform: Platform, kind: str, platform_state: str, allowed: bool
) -> None:
    set_platform_state(platform, kind, platform_state)
    platform.apply()
    resource = KINDS[kind](client)
    resource.disable(reason="End of life")
    assert resource.state == "DISABLED"

    if allowed:
        reenable(resource)
        assert resource.state == "ACTIVE"
    else:
        with pytest.raises(errors.CeilingError, match=f"{platform_state} by Helm values"):
            reenable(resource)
        assert resource.state == "DISABLED"
    if platform_state == "DEPRECATED":
        resource.deprecate(reason="Back as far as the platform allows")
        assert resource.state == "DEPRECATED"
    assert not platform.plan_has_changes()


def test_platform_relaxing_later_does_not_lift_a_user_restriction(
    client: reconciler.Client, platform: Platform
) -> None:
    set_platform_state(platform, "runtime", "DEPRECATED")
    platform.apply()
    runtime = the_runtime(client)
    runtime.disable(reason="End of life")
    set_platform_state(platform, "runtime", "ACTIVE")
    platform.apply()
    assert runtime.state == "DISABLED"
    assert runtime.state_reason == "End of life"


def test_plan_after_sdk_changes_shows_no_changes(
    client: reconciler.Client, platform: Platform, tmp_path: Path
) -> None:
    the_runtime(client).deprecate(reason="Migrating to new runtime")
    the_version(client).disable(reason="CVE-2025-1234")
    team = client.workspaces.create("fraud-team")
    image = team.runtimes.images.create(name="Fraud Scorer", docker_image="repo/fraud:2.0.0")
    image.versions.create("repo/fraud:2.1.0", readiness_probe_path="/healthz")
    runtime = team.runtimes.create(
        name="Fraud Runtime", runtime_image=image, model_type="custom_fraud"
    )
    runtime.update(environment_variables={"LOG_LEVEL": "DEBUG"})
    team.runtimes.create(
        name="Fraud H2O-3", runtime_image="h2oai-h2o3mojo-scorer", model_type="h2o3_mojo"
    )

    assert not platform.plan_has_changes()
    assert not engine.plan(client.backend, engine.Inputs()).has_changes
    cli = reconciler_cli("plan", "-f", str(platform.path), "--detailed-exitcode", cwd=tmp_path)
    assert cli.code == 0, cli.out + cli.err
    assert "No changes" in cli.out


def test_values_apply_keeps_api_managed_resources_and_user_intents(
    client: reconciler.Client, platform: Platform
) -> None:
    team = client.workspaces.create("fraud-team")
    image = team.runtimes.images.create(name="Fraud Scorer", docker_image="repo/fraud:2.0.0")
    runtime = team.runtimes.create(
        name="Fraud Runtime", runtime_image=image, model_type="custom_fraud"
    )
    runtime.deprecate(reason="Moving to the shared runtime")
    the_image(client).deprecate(reason="Prefer the fraud scorer")

    # A Helm upgrade changes the platform's catalog: API-managed resources stay as they are.
    platform.composition["runtimes"]["h2o3-mojo"]["environmentVariables"] = {"LOG_LEVEL": "WARN"}
    platform.apply()

    assert runtime.state == "DEPRECATED"
    assert runtime.model_type == "custom_fraud"
    assert image.current_version.version == "v2.0.0"
    assert the_image(client).state == "DEPRECATED"
    assert the_runtime(client).environment_variables == {"LOG_LEVEL": "WARN"}
    assert [r.name for r in team.runtimes.list()] == ["Fraud Runtime", "H2O-3 MOJO Runtime"]
