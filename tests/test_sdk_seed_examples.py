"""The seed's "Manage runtimes" examples, run as a user pastes them (seed 001).

The code blocks below are copied verbatim from the seed; only placeholders such as
"runtime-uid" are filled in with a real uid, as a user would. Arranged as the seed's
prerequisites say: a client connected to a local state and a directory target, a
workspace, a runtime image; plus a bootstrap-managed "DAI MOJO Runtime" from Helm values,
so the listings show both kinds as the seed's output does.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler import errors
from reconciler.apply import engine
from reconciler.inputs.values import load_values
from reconciler.model import State

VALUES = {
    "config": {
        "deployer": {
            "composition": {
                "runtimeImages": {
                    "h2oai-dai-mojo-scorer": {
                        "displayName": "DAI MOJO Scorer",
                        "versions": [
                            {"image": {"repository": "h2oai-dai-mojo-scorer", "tag": "1.12.0"}}
                        ],
                    }
                },
                "runtimes": {
                    "dai-mojo": {
                        "displayName": "DAI MOJO Runtime",
                        "modelType": "dai_mojo",
                        "runtimeImage": "h2oai-dai-mojo-scorer",
                    }
                },
            }
        }
    }
}

# Verbatim from the seed -----------------------------------------------------------------

CREATE = """
runtime = workspace.runtimes.create(
name="My H2O-3 Runtime",
runtime_image=image, # MLOpsRuntimeImage object
model_type="h2o3",
description="Runtime for H2O-3 models",
environment_variables={"GPU_COUNT": "0", "LOG_LEVEL": "INFO"},
read_only_data_volume=True
)
"""
COUNT = "workspace.runtimes.count()"
LIST = """
runtimes = workspace.runtimes.list()
runtimes
"""
SHOW = "runtimes.show(n=100)"
FILTER = 'workspace.runtimes.list(model_type="h2o3")'
GET = 'runtime = workspace.runtimes.get("runtime-uid")'
LIST_ALL = "client.runtimes.list()"
UPDATE = """
runtime.update(
name="Updated Runtime Name",
environment_variables={"GPU_COUNT": "1", "LOG_LEVEL": "DEBUG"}
)
"""
STATE_MANAGEMENT = """
runtime = workspace.runtimes.get("runtime-uid")

# Deprecate
runtime.deprecate(reason="Migrating to new runtime")

# Disable
runtime.disable(reason="End of life")

# Re-enable
runtime.enable()
"""
DELETE = "runtime.delete()"


def run(example: str, namespace: dict[str, Any], **placeholders: str) -> Any:
    """Run an example like a REPL: the value of a last bare expression is returned.

    `placeholders` fill the seed's quoted stand-ins ("runtime-uid") with real values.
    """
    tree = ast.parse(textwrap.dedent(fill(example, placeholders)))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<seed example>", "exec"), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<seed example>", "eval"), namespace)


def statements(example: str, **placeholders: str) -> list[str]:
    """The example's top-level statements, one by one, to check the state after each."""
    example = fill(example, placeholders)
    return [ast.unparse(node) for node in ast.parse(textwrap.dedent(example)).body]


def fill(example: str, placeholders: dict[str, str]) -> str:
    for stand_in, value in placeholders.items():
        quoted = '"' + stand_in.replace("_", "-") + '"'
        example = example.replace(quoted, repr(value))
    return example


def table(rows: list[tuple[str, str]]) -> str:
    """The documented client's layout (tabulate's presto): an index column two wide,
    headers padded by two."""
    width = max(len("name") + 2, *(len(name) for name, _ in rows))
    lines = [f"    | {'name'.ljust(width)} | uid", f"----+{'-' * (width + 2)}+{'-' * 38}"]
    lines += [f"  {i} | {name.ljust(width)} | {uid}" for i, (name, uid) in enumerate(rows)]
    return "\n".join(lines)


def write_values(path: Path, values: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.fixture
def values_file(tmp_path: Path) -> Path:
    return write_values(tmp_path / "values.yaml", VALUES)


@pytest.fixture
def namespace(tmp_path: Path, values_file: Path) -> dict[str, Any]:
    """The seed's prerequisites: connected, a workspace, a runtime image."""
    client = reconciler.Client(
        state=tmp_path / "state/reconciler.state.json", target=f"dir:{tmp_path}/state/cluster"
    )
    helm = engine.apply(
        client.backend, client.target, inputs=engine.Inputs(values=load_values([values_file]))
    )
    assert helm.ok
    workspace = client.workspaces.create("fraud-team")
    image = workspace.runtimes.images.create(
        name="My Custom Scorer",
        docker_image="docker.io/myorg/scorer:2.0.0",
        description="Custom scoring runtime for XGBoost models",
    )
    return {"client": client, "workspace": workspace, "image": image}


def test_create_a_runtime(namespace: dict[str, Any], tmp_path: Path) -> None:
    run(CREATE, namespace)
    runtime = namespace["runtime"]
    assert runtime.name == "My H2O-3 Runtime"
    assert runtime.model_type == "h2o3"
    assert runtime.description == "Runtime for H2O-3 models"
    assert runtime.environment_variables == {"GPU_COUNT": "0", "LOG_LEVEL": "INFO"}
    assert runtime.read_only_data_volume is True
    assert runtime.runtime_image == namespace["image"]
    assert runtime.state == "ACTIVE"
    assert runtime.managed_by_bootstrap is False
    manifest = tmp_path / "state/cluster/workspaces/fraud-team/runtimes/my-h2o-3-runtime.yaml"
    assert yaml.safe_load(manifest.read_text())["spec"]["modelType"] == "h2o3"


def test_count_list_show_and_filter(
    namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run(CREATE, namespace)
    dai = namespace["client"].runtimes.get("dai-mojo")
    assert run(COUNT, namespace) == 2, "the workspace sees its own runtime and global's"

    runtimes = run(LIST, namespace)
    expected = table(
        [("My H2O-3 Runtime", namespace["runtime"].uid), ("DAI MOJO Runtime", dai.uid)]
    )
    assert repr(runtimes) == expected
    assert len(runtimes) == 2
    assert [r.name for r in runtimes] == ["My H2O-3 Runtime", "DAI MOJO Runtime"]

    run(SHOW, namespace)
    assert capsys.readouterr().out == expected + "\n"

    filtered = run(FILTER, namespace)
    assert repr(filtered) == table([("My H2O-3 Runtime", namespace["runtime"].uid)])


def test_retrieve_by_uid_and_list_across_workspaces(namespace: dict[str, Any]) -> None:
    run(CREATE, namespace)
    created = namespace.pop("runtime")
    run(GET, namespace, runtime_uid=created.uid)
    assert namespace["runtime"] == created

    other = namespace["client"].workspaces.create("risk-team")
    other.runtimes.create(
        name="Risk Runtime", runtime_image="h2oai-dai-mojo-scorer", model_type="dai_mojo"
    )
    everywhere = run(LIST_ALL, namespace)
    assert sorted((r.workspace, r.name) for r in everywhere) == [
        ("fraud-team", "My H2O-3 Runtime"),
        ("global", "DAI MOJO Runtime"),
        ("risk-team", "Risk Runtime"),
    ]


def test_runtime_properties(namespace: dict[str, Any]) -> None:
    run(CREATE, namespace)
    runtime = namespace["runtime"]
    assert runtime.uid and runtime["uid"] == runtime.uid
    assert runtime.name == "My H2O-3 Runtime"
    assert runtime.model_type == "h2o3"
    assert runtime.state is State.ACTIVE
    assert runtime.runtime_image.name == "My Custom Scorer"
    assert runtime.runtime_image.current_version.version == "v2.0.0"
    assert runtime.environment_variables == {"GPU_COUNT": "0", "LOG_LEVEL": "INFO"}
    assert runtime.managed_by_bootstrap is False
    assert runtime.scoring_endpoint == "v1"
    assert namespace["client"].runtimes.get("dai-mojo").managed_by_bootstrap is True


def test_update_a_runtime(namespace: dict[str, Any]) -> None:
    run(CREATE, namespace)
    before = namespace["runtime"].last_modified_time
    run(UPDATE, namespace)
    runtime = namespace["workspace"].runtimes.get(namespace["runtime"].uid)
    assert runtime.name == "Updated Runtime Name"
    assert runtime.environment_variables == {"GPU_COUNT": "1", "LOG_LEVEL": "DEBUG"}
    assert runtime.description == "Runtime for H2O-3 models", "fields not given stay"
    assert runtime.last_modified_time >= before


def test_update_of_model_type_or_runtime_image_is_refused(namespace: dict[str, Any]) -> None:
    run(CREATE, namespace)
    runtime = namespace["runtime"]
    for field, value in (("model_type", "xgboost"), ("runtime_image", "h2oai-dai-mojo-scorer")):
        with pytest.raises(errors.ImmutableFieldError, match="delete and recreate the runtime"):
            runtime.update(**{field: value})
    assert runtime.model_type == "h2o3"


def test_runtime_state_management(namespace: dict[str, Any]) -> None:
    run(CREATE, namespace)
    uid = namespace["runtime"].uid
    seen = []
    for statement in statements(STATE_MANAGEMENT, runtime_uid=uid):
        run(statement, namespace)
        seen.append((namespace["runtime"].state, namespace["runtime"].state_reason))
    assert seen == [
        (State.ACTIVE, ""),
        (State.DEPRECATED, "Migrating to new runtime"),
        (State.DISABLED, "End of life"),
        (State.ACTIVE, ""),
    ]


def test_delete_a_runtime(namespace: dict[str, Any], tmp_path: Path) -> None:
    run(CREATE, namespace)
    uid = namespace["runtime"].uid
    run(DELETE, namespace)
    with pytest.raises(errors.NotFoundError):
        namespace["workspace"].runtimes.get(uid)
    assert namespace["workspace"].runtimes.count() == 1
    manifest = tmp_path / "state/cluster/workspaces/fraud-team/runtimes/my-h2o-3-runtime.yaml"
    assert not manifest.exists()


# The cautions ---------------------------------------------------------------------------


def test_update_of_a_bootstrap_managed_runtime_is_an_error(namespace: dict[str, Any]) -> None:
    namespace["runtime"] = namespace["workspace"].runtimes.get("dai-mojo")
    assert namespace["runtime"].managed_by_bootstrap is True
    with pytest.raises(errors.ManagedByBootstrapError) as caught:
        run(UPDATE, namespace)
    assert "values.yaml" in str(caught.value)
    assert "redeploy" in str(caught.value)
    assert namespace["runtime"].name == "DAI MOJO Runtime"


def test_delete_of_a_bootstrap_managed_runtime_is_an_error(namespace: dict[str, Any]) -> None:
    namespace["runtime"] = namespace["workspace"].runtimes.get("dai-mojo")
    with pytest.raises(errors.ManagedByBootstrapError, match=r"values\.yaml and redeploy"):
        run(DELETE, namespace)
    assert namespace["workspace"].runtimes.get("dai-mojo").state == "ACTIVE"


def test_enable_of_a_runtime_the_platform_disabled_is_an_error(
    namespace: dict[str, Any], tmp_path: Path
) -> None:
    client = namespace["client"]
    dai = client.runtimes.get("dai-mojo")
    dai.deprecate(reason="Migrating to new runtime")
    # The platform removes the runtime from values: it is DISABLED, never deleted.
    trimmed = {"config": {"deployer": {"composition": {
        "runtimeImages": VALUES["config"]["deployer"]["composition"]["runtimeImages"]
    }}}}  # fmt: skip
    values = load_values([write_values(tmp_path / "trimmed.yaml", trimmed)])
    assert engine.apply(client.backend, client.target, inputs=engine.Inputs(values=values)).ok
    assert dai.state == "DISABLED"
    with pytest.raises(errors.CeilingError) as caught:
        run("runtime.enable()", {"runtime": dai})
    assert "DISABLED by Helm values" in str(caught.value)
    assert dai.state == "DISABLED"


# The prerequisite: runtime images and their versions ------------------------------------


def test_runtime_images_and_versions(namespace: dict[str, Any], tmp_path: Path) -> None:
    workspace, image = namespace["workspace"], namespace["image"]
    assert workspace.runtime_images.get(image.uid) == image
    assert workspace.runtimes.images.get("my-custom-scorer") == image, "the id works too"
    assert (image.name, image.current_version.version) == ("My Custom Scorer", "v2.0.0")
    assert image.docker_image == "docker.io/myorg/scorer:2.0.0"
    assert image.managed_by_bootstrap is False

    nightly = workspace.runtimes.images.create(
        name="Nightly Scorer", docker_image="docker.io/myorg/scorer:latest", version="v1.0.0"
    )
    assert nightly.current_version.version == "v1.0.0"

    image.update(description="Now with v2.1", docker_image="docker.io/myorg/scorer:2.1.0")
    assert image.description == "Now with v2.1"
    assert [v.version for v in image.versions.list()] == ["v2.0.0", "v2.1.0"]
    assert image.current_version.version == "v2.1.0"
    assert image.versions.count() == 2

    newest = image.versions.get("2.1.0")
    assert newest == image.versions.get("v2.1.0") == image.versions.get(newest.uid)
    assert newest.readiness_probe_path == "/readyz"
    newest.disable(reason="Crashes on start")
    assert image.current_version.version == "v2.0.0", "the latest *available* version"
    newest.activate()
    assert image.current_version.version == "v2.1.0"
    assert not hasattr(newest, "enable") and not hasattr(newest, "delete")

    image.deprecate(reason="Use the nightly scorer")
    assert image.state == "DEPRECATED"
    image.enable()
    assert image.state == "ACTIVE"

    image.delete()
    with pytest.raises(errors.NotFoundError):
        workspace.runtimes.images.get(image.uid)
    assert (
        not (tmp_path / "state/cluster/workspaces/fraud-team/runtimeImages")
        .joinpath("my-custom-scorer/versions/v2.0.0.yaml")
        .exists()
    )
