"""The SDK behaves like the documented client it imitates, through the SDK itself.

- `image.current_version` is the version object (None when every version is DISABLED),
  and passing it on rolls to exactly that version of exactly that image;
- every argument designating an image or a version is unambiguous: objects carry their
  image, a bare version or an id both a workspace and global use is refused, not guessed;
- `deprecate(reason=None)` and `disable(reason=None)`, as the client's signature has them;
- where the client raises a builtin (ValueError, TypeError), ours is also that builtin;
- properties are live reads, and `read()` gives one object's properties from one snapshot;
- nothing is created in workspace global, by the SDK or by an overrides file: one rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler import errors
from reconciler.apply import engine
from reconciler.inputs.overrides import load_overrides
from reconciler.inputs.values import load_values
from reconciler.sdk import RuntimeImageVersion
from tests.runner import reconciler as run_cli
from tests.runner import snapshot


def version(tag: str, repository: str) -> dict[str, Any]:
    return {"image": {"repository": repository, "tag": tag}}


def values(image_a_tags: list[str]) -> dict[str, Any]:
    return {
        "config": {
            "deployer": {
                "composition": {
                    "registry": "myorg",
                    "runtimeImages": {
                        "image-a": {"versions": [version(t, "image-a") for t in image_a_tags]},
                        "image-c": {"versions": [version("3.0.0", "image-c")]},
                    },
                    "runtimes": {
                        "runtime-a": {"modelType": "a_model", "runtimeImage": "image-a"},
                    },
                }
            }
        }
    }


class World:
    """Global images A (v1.0.0, later v2.0.0) and C (v3.0.0), a workspace `prod` with its
    own image B (v2.0.0), and deployments running A v1.0.0 and B v2.0.0."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path
        self.cluster = tmp_path / "state/cluster"
        self.client = reconciler.Client(
            state=tmp_path / "state/reconciler.state.json", target=f"dir:{self.cluster}"
        )
        self.apply_values(["1.0.0"])
        self.prod = self.client.workspaces.create("prod")
        self.b = self.prod.runtimes.images.create(
            name="image-b", docker_image="myorg/image-b:2.0.0"
        )
        self.prod.runtimes.create(name="runtime-b", runtime_image=self.b, model_type="b_model")
        self.on_a = self.prod.deployments.create(
            "on-a", compositions=[{"experiment_id": "exp-1", "runtime": "runtime-a"}]
        )
        self.on_b = self.prod.deployments.create(
            "on-b", compositions=[{"experiment_id": "exp-1", "runtime": "runtime-b"}]
        )
        # A gains the same version number B has: the version a bare "v2.0.0" would guess.
        self.apply_values(["1.0.0", "2.0.0"])

    def apply_values(self, tags: list[str]) -> None:
        path = self.root / "values.yaml"
        path.write_text(yaml.safe_dump(values(tags)))
        inputs = engine.Inputs(values=load_values([path]))
        assert engine.apply(self.client.backend, self.client.target, inputs=inputs).ok

    def running_image(self, deployment: Any) -> str:
        """The container image of the Deployment manifest in the dir target."""
        path = self.cluster / f"{deployment.address}/compositions/exp-1.yaml"
        (container,) = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"]
        return container["image"]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_current_version_is_the_version_object(world: World) -> None:
    current = world.b.current_version
    assert isinstance(current, RuntimeImageVersion)
    assert current.version == "v2.0.0"
    assert current.docker_image == "myorg/image-b:2.0.0"
    assert current.image == world.b, "the version carries its image"
    assert current == world.b.versions.get("v2.0.0")


def test_current_version_is_none_when_every_version_is_disabled(world: World) -> None:
    world.b.versions.get("v2.0.0").disable(reason="CVE-2026-0001")
    assert world.b.current_version is None
    assert world.b.docker_image is None


def test_passing_another_images_current_version_rolls_to_that_image(world: World) -> None:
    assert world.running_image(world.on_a) == "myorg/image-a:1.0.0"
    world.on_a.upgrade_runtime_image(world.b.current_version)
    assert world.running_image(world.on_a) == "myorg/image-b:2.0.0", "B's v2.0.0, not A's"
    assert world.on_a.compositions[0].runtime_image == (
        "workspaces/prod/runtimeImages/image-b/versions/v2.0.0"
    )


def test_images_and_versions_of_global_roll_a_workspace_deployment(world: World) -> None:
    image_c = world.prod.runtimes.images.get("image-c")
    assert image_c.workspace == "global"
    world.on_b.upgrade_runtime_image({"exp-1": image_c})
    assert world.running_image(world.on_b) == "myorg/image-c:3.0.0"
    image_a = world.prod.runtimes.images.get("image-a")
    world.on_b.upgrade_runtime_image(image_a.versions.get("v1.0.0"))
    assert world.running_image(world.on_b) == "myorg/image-a:1.0.0"
    world.on_b.upgrade_runtime_image(image_a.current_version)
    assert world.running_image(world.on_b) == "myorg/image-a:2.0.0"


def test_an_image_of_a_workspace_the_deployment_does_not_see_is_refused(world: World) -> None:
    other = world.client.workspaces.create("other")
    foreign = other.runtimes.images.create(name="image-d", docker_image="myorg/image-d:1.0.0")
    for target in (foreign, foreign.current_version, foreign.address):
        with pytest.raises(errors.InputError) as caught:
            world.on_a.upgrade_runtime_image(target)
        assert "belongs to workspace other, which workspace prod does not see" in str(caught.value)
    assert world.running_image(world.on_a) == "myorg/image-a:1.0.0", "nothing rolled"


def test_a_bare_version_string_is_refused_not_guessed(world: World) -> None:
    with pytest.raises(ValueError) as caught:
        world.on_a.upgrade_runtime_image("v2.0.0")
    assert isinstance(caught.value, errors.ArgumentError)
    assert "names a version but not its image" in caught.value.summary
    assert "image.versions.get('v2.0.0')" in caught.value.hint
    assert world.running_image(world.on_a) == "myorg/image-a:1.0.0", "nothing rolled"
    world.on_a.upgrade_runtime_image("image-b/versions/v2.0.0")
    assert world.running_image(world.on_a) == "myorg/image-b:2.0.0", "a full reference works"


def test_an_id_both_the_workspace_and_global_use_is_refused(world: World) -> None:
    overrides = world.root / "overrides.yaml"
    overrides.write_text(
        yaml.safe_dump(
            {
                "workspaces": {
                    "prod": {
                        "runtimeImages": {
                            "image-c": {"versions": [version("9.0.0", "myorg/prod-c")]}
                        }
                    }
                }
            }
        )
    )
    inputs = engine.Inputs(overrides=load_overrides(overrides))
    assert engine.apply(world.client.backend, world.client.target, inputs=inputs).ok
    with pytest.raises(ValueError, match="'image-c' is ambiguous"):
        world.prod.runtimes.create(name="runtime-c", runtime_image="image-c", model_type="c")
    with pytest.raises(ValueError, match="is ambiguous"):
        world.on_b.upgrade_runtime_image("image-c")
    assert world.running_image(world.on_b) == "myorg/image-b:2.0.0"
    world.on_b.upgrade_runtime_image("workspaces/prod/runtimeImages/image-c")
    assert world.running_image(world.on_b) == "myorg/prod-c:9.0.0"


def test_an_image_with_no_current_version_is_a_value_error(world: World) -> None:
    world.b.versions.get("v2.0.0").disable()
    with pytest.raises(ValueError) as caught:
        world.on_a.upgrade_runtime_image(world.b)
    assert isinstance(caught.value, errors.UpgradeTargetError)
    assert "has no current version" in caught.value.summary
    assert world.running_image(world.on_a) == "myorg/image-a:1.0.0"


def test_an_upgrade_target_of_another_type_is_a_value_error(world: World) -> None:
    for target in (123, 4.5, ["image-b"]):
        with pytest.raises(ValueError, match="must be a runtime image, one of its versions"):
            world.on_a.upgrade_runtime_image(target)


def test_reason_is_optional_as_in_the_clients_signature(world: World) -> None:
    runtime = world.prod.runtimes.get("runtime-b")
    runtime.deprecate(reason=None)
    assert (runtime.state, runtime.state_reason) == ("DEPRECATED", "")
    runtime.disable(None)
    assert runtime.state == "DISABLED"
    runtime.enable()
    world.b.deprecate(reason=None)
    world.b.versions.get("v2.0.0").disable(reason=None)
    assert (world.b.state, world.b.versions.get("v2.0.0").state) == ("DEPRECATED", "DISABLED")
    with pytest.raises(TypeError, match="reason must be a string or None"):
        runtime.deprecate(reason=42)  # type: ignore[arg-type]


def test_unknown_filters_are_value_errors_and_keywords_type_errors(world: World) -> None:
    with pytest.raises(ValueError) as caught:
        world.prod.runtimes.list(colour="blue")
    assert isinstance(caught.value, errors.FilterError)
    assert "filter by one of: uid, id, name" in caught.value.hint
    with pytest.raises(ValueError):
        world.prod.runtimes.count(colour="blue")
    with pytest.raises(TypeError, match="unexpected keyword argument 'model_type'"):
        world.prod.deployments.list(model_type="b_model")


def test_properties_are_live_and_read_gives_one_snapshot(world: World) -> None:
    pinned = world.b.read()
    world.b.update(docker_image="myorg/image-b:2.5.0")
    assert world.b.current_version.version == "v2.5.0", "a property reads the state now"
    assert world.b.docker_image == "myorg/image-b:2.5.0"
    current = pinned.current_version
    assert (current.version, current.docker_image) == ("v2.0.0", "myorg/image-b:2.0.0")
    assert pinned.docker_image == current.docker_image, "one read, properties that agree"
    assert pinned.read().current_version.version == "v2.5.0", "read() again: the state now"


@pytest.mark.parametrize(
    ("arguments", "raised", "message"),
    [
        ({"state": 123}, TypeError, "state=123 is not a state location"),
        ({"target": 123}, TypeError, "the target 123 is not dir:PATH, memory://"),
        ({"lock_timeout": "30"}, TypeError, "lock_timeout must be a number of seconds"),
        ({"lock_timeout": True}, TypeError, "lock_timeout must be a number of seconds"),
        ({"sensitive_names": "TOKEN"}, TypeError, "sensitive_names must be a list"),
        ({"lock_timeout": -1}, errors.UsageError, "lock_timeout must be zero or more seconds"),
        ({"state": ""}, errors.UsageError, "the state location '' is not a path"),
    ],
)
def test_wrong_client_arguments_are_one_clear_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: dict[str, Any],
    raised: type[Exception],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(raised) as caught:
        reconciler.Client(**arguments)
    assert isinstance(caught.value, errors.UsageError), "ours, with a hint"
    assert caught.value.summary.startswith(message)
    assert caught.value.hint
    assert list(tmp_path.iterdir()) == [], "nothing was opened or created"


def test_nothing_is_created_in_global_by_the_sdk_or_an_overrides_file(
    world: World, tmp_path: Path
) -> None:
    rule = "workspace global holds the bootstrap-managed catalog"
    global_ws = world.client.workspaces.get("global")
    with pytest.raises(errors.ManagedByBootstrapError, match=rule):
        global_ws.runtimes.create(name="sneaky", runtime_image="image-a", model_type="m")

    (tmp_path / "overrides.yaml").write_text(
        yaml.safe_dump(
            {
                "workspaces": {
                    "global": {
                        "runtimes": {"sneaky": {"modelType": "m", "runtimeImage": "image-a"}}
                    }
                }
            }
        )
    )
    before = snapshot(tmp_path / "state")
    refused = run_cli("apply", "--overrides", "overrides.yaml", "--auto-approve", cwd=tmp_path)
    assert refused.code == 1
    assert "overrides.yaml:workspaces.global.runtimes.sneaky: " in refused.err
    assert rule in refused.err and "Traceback" not in refused.err
    assert snapshot(tmp_path / "state") == before, "state and target unchanged"
