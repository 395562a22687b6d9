"""The seed's "Upgrade runtime images on existing deployments" examples, run as written.

The code blocks are copied verbatim from the seed (seed 001, "Manage runtimes"); only the
placeholders "deployment-uid" and "image-uid" are filled in with real uids, as a user
would. The other names the examples use ("image-a", "experiment-id-1", ...) exist as
written: the workspace has images with those ids and the deployments those experiments.

Arranged like a platform: Helm values declare the H2O-3 scorer (v1.5.4, v1.6.0) with a
runtime on its latest version and an LTS runtime pinned to v1.5.4; deployments start on
v1.5.4, so every example has somewhere to go. Everything runs through a client on a local
state and the dir target, so each check reads the manifests a cluster would get.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler import errors
from reconciler.apply import engine
from reconciler.inputs.values import load_values
from reconciler.targets.directory import DirTarget
from tests.test_sdk_seed_examples import run

SCORER = "workspaces/global/runtimeImages/h2o3-scorer"
V154, V160 = f"{SCORER}/versions/v1.5.4", f"{SCORER}/versions/v1.6.0"
TEAM = "workspaces/fraud-team/runtimeImages"

VALUES = {
    "config": {
        "deployer": {
            "composition": {
                "registry": "docker.io/h2oai",
                "runtimeImages": {
                    "h2o3-scorer": {
                        "displayName": "H2O-3 MOJO Scorer",
                        "versions": [
                            {"image": {"repository": "h2o3-scorer", "tag": "v1.5.4"}},
                            {"image": {"repository": "h2o3-scorer", "tag": "v1.6.0"}},
                        ],
                    }
                },
                "runtimes": {
                    "h2o3-mojo": {"modelType": "h2o3_mojo", "runtimeImage": "h2o3-scorer"},
                    "h2o3-mojo-lts": {
                        "modelType": "h2o3_mojo",
                        "runtimeImage": "h2o3-scorer/versions/v1.5.4",
                    },
                },
            }
        }
    }
}

# Verbatim from the seed -----------------------------------------------------------------

UPGRADE_ALL = """
deployment = workspace.deployments.get("deployment-uid")
deployment.upgrade_runtime_image()
"""
UPGRADE_TO_IMAGE = """
deployment = workspace.deployments.get("deployment-uid")
image = workspace.runtimes.images.get("image-uid")

deployment.upgrade_runtime_image(image)
"""
UPGRADE_TO_VERSION = """
version = image.versions.get("v2.1.0")
deployment.upgrade_runtime_image(version)
"""
MULTI_IMAGES = """
deployment = workspace.deployments.get("deployment-uid")

# Upgrade specific experiments to specific images
deployment.upgrade_runtime_image({
"experiment-id-1": workspace.runtimes.images.get("image-a"),
"experiment-id-2": workspace.runtimes.images.get("image-b"),
})
"""
MULTI_NONE = """
deployment.upgrade_runtime_image({
"experiment-id-1": workspace.runtimes.images.get("image-a"),
"experiment-id-2": None # Upgrade to latest
})
"""
WILDCARD_LATEST = """
# Apply a specific image to one experiment, upgrade all others to latest
deployment.upgrade_runtime_image({
"experiment-id-1": workspace.runtimes.images.get("special-image"),
"*": None # All other experiments upgrade to latest
})
"""
WILDCARD_IMAGE = """
# Apply the same image to all experiments
deployment.upgrade_runtime_image({
"*": workspace.runtimes.images.get("standard-image")
})
"""


class Platform:
    """A client on a local state and dir target, the values applied, a team workspace
    with its own images, and a single- and a multi-composition deployment on v1.5.4."""

    def __init__(self, tmp_path: Path) -> None:
        self.cluster = tmp_path / "state/cluster"
        self.client = reconciler.Client(
            state=tmp_path / "state/reconciler.state.json", target=f"dir:{self.cluster}"
        )
        self.values_file = tmp_path / "values.yaml"
        self.apply_values(VALUES)
        self.workspace = self.client.workspaces.create("fraud-team")
        images = self.workspace.runtimes.images
        self.custom = images.create(name="My Custom Scorer", docker_image="myorg/scorer:2.0.0")
        self.custom.update(docker_image="myorg/scorer:2.1.0")
        for name in ("image-a", "image-b", "special-image", "standard-image"):
            images.create(name=name, docker_image=f"myorg/{name}:1.0.0")
        self.single = self.workspace.deployments.create(
            "churn", compositions=[{"experiment_id": "experiment-id-1", "runtime": "h2o3-mojo-lts"}]
        )
        self.multi = self.workspace.deployments.create(
            "fraud",
            compositions=[
                {"experiment_id": f"experiment-id-{n}", "runtime": "h2o3-mojo-lts", "replicas": 2}
                for n in (1, 2, 3)
            ],
        )

    def apply_values(self, values: dict[str, Any]) -> None:
        self.values_file.write_text(yaml.safe_dump(values))
        inputs = engine.Inputs(values=load_values([self.values_file]))
        assert engine.apply(self.client.backend, self.client.target, inputs=inputs).ok

    def namespace(self) -> dict[str, Any]:
        return {"client": self.client, "workspace": self.workspace}

    def pins(self, deployment: Any) -> dict[str, str]:
        return {c.experiment_id: c.runtime_image for c in deployment.compositions}

    def manifest(self, deployment: Any, experiment: str) -> dict[str, Any]:
        path = self.cluster / f"{deployment.address}/compositions/{experiment}.yaml"
        return yaml.safe_load(path.read_text())

    def running_image(self, deployment: Any, experiment: str) -> str:
        (container,) = self.manifest(deployment, experiment)["spec"]["template"]["spec"][
            "containers"
        ]
        return container["image"]


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return Platform(tmp_path)


def latest_of(name: str) -> str:
    return f"{TEAM}/{name}/versions/v1.0.0"


# The examples ---------------------------------------------------------------------------


def test_upgrade_all_compositions_to_the_latest_version(platform: Platform) -> None:
    assert set(platform.pins(platform.multi).values()) == {V154}
    run(UPGRADE_ALL, platform.namespace(), deployment_uid=platform.multi.uid)
    assert platform.pins(platform.multi) == {f"experiment-id-{n}": V160 for n in (1, 2, 3)}
    for n in (1, 2, 3):
        assert platform.running_image(platform.multi, f"experiment-id-{n}") == (
            "docker.io/h2oai/h2o3-scorer:v1.6.0"
        )
    assert not any(c.runtime_image_upgrade_available for c in platform.multi.compositions)


def test_upgrade_a_single_composition_to_an_image(platform: Platform) -> None:
    namespace = platform.namespace()
    run(
        UPGRADE_TO_IMAGE,
        namespace,
        deployment_uid=platform.single.uid,
        image_uid=platform.custom.uid,
    )
    custom = f"{TEAM}/my-custom-scorer/versions/v2.1.0"
    assert platform.pins(platform.single) == {"experiment-id-1": custom}, "its latest version"
    assert platform.running_image(platform.single, "experiment-id-1") == "myorg/scorer:2.1.0"
    (composition,) = namespace["deployment"].compositions
    assert composition.runtime == "workspaces/global/runtimes/h2o3-mojo-lts", "runtime stays"


def test_upgrade_a_single_composition_to_a_version(platform: Platform) -> None:
    namespace = platform.namespace()
    namespace["deployment"] = platform.single
    namespace["image"] = platform.custom
    platform.custom.update(docker_image="myorg/scorer:2.2.0")
    run(UPGRADE_TO_VERSION, namespace)
    assert platform.pins(platform.single) == {
        "experiment-id-1": f"{TEAM}/my-custom-scorer/versions/v2.1.0"
    }, "exactly that version, not the image's latest (v2.2.0)"
    assert platform.running_image(platform.single, "experiment-id-1") == "myorg/scorer:2.1.0"


def test_an_image_for_a_multi_composition_deployment_is_the_documented_error(
    platform: Platform,
) -> None:
    with pytest.raises(ValueError) as caught:
        run(
            UPGRADE_TO_IMAGE,
            platform.namespace(),
            deployment_uid=platform.multi.uid,
            image_uid=platform.custom.uid,
        )
    assert isinstance(caught.value, errors.UpgradeTargetError), "ours, and a ValueError"
    assert str(caught.value).startswith(
        "Cannot use single runtime_image value for deployment with 3 compositions."
    ), "the documented client's words"
    assert "3 compositions" in caught.value.summary
    assert "experiment-id-1, experiment-id-2, experiment-id-3" in caught.value.detail
    assert '"*": None' in caught.value.hint, "the hint shows the dictionary form"
    assert set(platform.pins(platform.multi).values()) == {V154}, "nothing changed"


def test_upgrade_specific_experiments_to_specific_images(platform: Platform) -> None:
    run(MULTI_IMAGES, platform.namespace(), deployment_uid=platform.multi.uid)
    assert platform.pins(platform.multi) == {
        "experiment-id-1": latest_of("image-a"),
        "experiment-id-2": latest_of("image-b"),
        "experiment-id-3": V154,  # not listed and no "*": it stays
    }
    assert platform.running_image(platform.multi, "experiment-id-2") == "myorg/image-b:1.0.0"


def test_none_upgrades_an_experiment_to_the_latest_version(platform: Platform) -> None:
    namespace = platform.namespace()
    namespace["deployment"] = platform.multi
    run(MULTI_NONE, namespace)
    assert platform.pins(platform.multi) == {
        "experiment-id-1": latest_of("image-a"),
        "experiment-id-2": V160,
        "experiment-id-3": V154,
    }


def test_the_wildcard_upgrades_every_other_experiment_to_latest(platform: Platform) -> None:
    namespace = platform.namespace()
    namespace["deployment"] = platform.multi
    run(WILDCARD_LATEST, namespace)
    assert platform.pins(platform.multi) == {
        "experiment-id-1": latest_of("special-image"),
        "experiment-id-2": V160,
        "experiment-id-3": V160,
    }


def test_the_wildcard_applies_one_image_to_every_experiment(platform: Platform) -> None:
    namespace = platform.namespace()
    namespace["deployment"] = platform.multi
    run(WILDCARD_IMAGE, namespace)
    assert set(platform.pins(platform.multi).values()) == {latest_of("standard-image")}
    for n in (1, 2, 3):
        manifest = platform.manifest(platform.multi, f"experiment-id-{n}")
        assert manifest["spec"]["template"]["spec"]["containers"][0]["image"] == (
            "myorg/standard-image:1.0.0"
        )
        assert manifest["spec"]["replicas"] == 2


# What happens during an upgrade ---------------------------------------------------------


def test_compositions_already_on_the_target_are_skipped(platform: Platform) -> None:
    namespace = platform.namespace()
    namespace["deployment"] = platform.multi
    run(WILDCARD_LATEST, namespace)
    before = {n: platform.manifest(platform.multi, f"experiment-id-{n}") for n in (1, 2, 3)}
    modified = platform.multi.last_modified_time
    serial = platform.client.backend.read()
    run(WILDCARD_LATEST, namespace)
    assert platform.client.backend.read() == serial, "nothing to do: the state is untouched"
    assert platform.multi.last_modified_time == modified
    assert before == {n: platform.manifest(platform.multi, f"experiment-id-{n}") for n in (1, 2, 3)}


def test_only_the_compositions_that_move_are_rewritten(platform: Platform) -> None:
    namespace = platform.namespace()
    namespace["deployment"] = platform.multi
    path = platform.cluster / f"{platform.multi.address}/compositions/experiment-id-3.yaml"
    platform.multi.upgrade_runtime_image({"experiment-id-3": None})
    written = path.stat().st_mtime_ns
    run(WILDCARD_LATEST, namespace)  # experiment-id-3 is already on the latest version
    assert path.stat().st_mtime_ns == written


def test_a_disabled_target_is_refused(platform: Platform) -> None:
    platform.custom.versions.get("v2.1.0").disable(reason="Crashes on start")
    with pytest.raises(errors.PlanError, match="DISABLED") as caught:
        platform.single.upgrade_runtime_image(platform.custom.versions.get("v2.1.0"))
    assert "Crashes on start" in caught.value.summary
    assert platform.pins(platform.single) == {"experiment-id-1": V154}


def test_a_deprecated_target_warns(platform: Platform) -> None:
    platform.custom.versions.get("v2.1.0").deprecate(reason="Superseded by 2.2")
    with pytest.warns(UserWarning, match=r"DEPRECATED \(Superseded by 2.2\)"):
        platform.single.upgrade_runtime_image(platform.custom.versions.get("v2.1.0"))
    assert platform.pins(platform.single) == {
        "experiment-id-1": f"{TEAM}/my-custom-scorer/versions/v2.1.0"
    }


def test_an_unknown_experiment_is_an_error(platform: Platform) -> None:
    with pytest.raises(errors.NotFoundError, match="experiment-id-9 is not a composition"):
        platform.multi.upgrade_runtime_image({"experiment-id-9": None})
    assert set(platform.pins(platform.multi).values()) == {V154}


def test_catalog_changes_never_move_a_pinned_composition(platform: Platform) -> None:
    values = yaml.safe_load(yaml.safe_dump(VALUES))
    versions = values["config"]["deployer"]["composition"]["runtimeImages"]["h2o3-scorer"]
    versions["versions"].append({"image": {"repository": "h2o3-scorer", "tag": "v1.7.0"}})
    versions["versions"][0]["state"] = "DISABLED"  # v1.5.4, which every deployment runs
    manifest = platform.manifest(platform.multi, "experiment-id-1")
    platform.apply_values(values)
    assert set(platform.pins(platform.multi).values()) == {V154}
    assert platform.manifest(platform.multi, "experiment-id-1") == manifest, "untouched"
    (composition, *_) = platform.multi.compositions
    assert composition.runtime_image_upgrade_available
    assert composition.available_upgrade == f"{SCORER}/versions/v1.7.0"


def test_a_disabled_version_reports_an_upgrade_even_to_an_older_one(platform: Platform) -> None:
    platform.single.upgrade_runtime_image()  # onto v1.6.0, the latest
    (composition,) = platform.single.compositions
    assert not composition.runtime_image_upgrade_available
    values = yaml.safe_load(yaml.safe_dump(VALUES))
    scorer = values["config"]["deployer"]["composition"]["runtimeImages"]["h2o3-scorer"]
    scorer["versions"][1]["state"] = "DISABLED"
    scorer["versions"][1]["stateReason"] = "CVE-2025-1234"
    platform.apply_values(values)
    assert composition.runtime_image == V160, "still running it"
    assert composition.runtime_image_upgrade_available
    assert composition.available_upgrade == V154
    platform.single.upgrade_runtime_image()
    assert composition.runtime_image == V154, "rolled back"
    assert platform.running_image(platform.single, "experiment-id-1") == (
        "docker.io/h2oai/h2o3-scorer:v1.5.4"
    )


def test_a_failed_rollout_is_rolled_back_and_repeating_the_call_converges(
    platform: Platform, tmp_path: Path
) -> None:
    stuck = f"{platform.multi.address}/compositions/experiment-id-2"

    class OneStuckRollout(DirTarget):
        def put(self, address: str, manifest: Mapping[str, Any]) -> None:
            if address == stuck and "v1.6.0" in str(manifest):
                raise errors.TargetError("experiment-id-2 exceeded its progress deadline")
            super().put(address, manifest)

    flaky = reconciler.Client(
        state=tmp_path / "state/reconciler.state.json", target=OneStuckRollout(platform.cluster)
    )
    deployment = flaky.workspaces.get("fraud-team").deployments.get(platform.multi.uid)
    with pytest.raises(errors.ApplyError) as caught:
        deployment.upgrade_runtime_image()
    assert (
        "experiment-id-2: experiment-id-2 exceeded its progress deadline; rolled back to v1.5.4"
        in caught.value.detail
    )
    assert platform.pins(platform.multi) == {
        "experiment-id-1": V160,
        "experiment-id-2": V154,
        "experiment-id-3": V160,
    }
    assert platform.running_image(platform.multi, "experiment-id-2").endswith(":v1.5.4")
    platform.multi.upgrade_runtime_image()  # the healthy target: repeating converges
    assert set(platform.pins(platform.multi).values()) == {V160}
