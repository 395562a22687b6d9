"""Values under names the user marked sensitive are kept in Secrets, like those the
built-in rule catches.

A runtime `lts` whose environment has a licence key under a name no built-in rule catches
(`LICENSE`), and a deployment of one composition on it in workspace `prod`. The name is
marked through the values (`sensitiveNames`), the environment
(`RECONCILER_SENSITIVE_NAMES`) or the SDK (`Client(sensitive_names=...)`). Each file of
the dir target is read as a GitOps tool would read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler import render, sensitive
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.upgrade_specs import parse_spec
from reconciler.inputs.values import build_values
from reconciler.planning.plan import Action
from reconciler.targets.directory import DirTarget
from tests.runner import reconciler as run
from tests.test_secret_environment import container_env, load

LICENSE = "lic-77ab-90c1"
RUNTIME = "workspaces/global/runtimes/lts"
COMPOSITION = "workspaces/prod/deployments/fraud/compositions/exp-a"
MARKED = sensitive.Sensitivity(names=("LICENSE",))


def composition(env: dict[str, Any], *, marked: tuple[str, ...] = ()) -> dict[str, Any]:
    found: dict[str, Any] = {
        "runtimeImages": {
            "h2o3-scorer": {"versions": [{"image": {"repository": "scorer", "tag": "v1.5.4"}}]}
        },
        "runtimes": {
            "lts": {
                "modelType": "h2o3_mojo",
                "runtimeImage": "h2o3-scorer/versions/v1.5.4",
                "environmentVariables": env,
            }
        },
    }
    if marked:
        found["sensitiveNames"] = list(marked)
    return found


def inputs(
    env: dict[str, Any] | None = None,
    *,
    marked: tuple[str, ...] = (),
    sensitivity: sensitive.Sensitivity = sensitive.DEFAULT,
) -> engine.Inputs:
    env = {"LOG_LEVEL": "INFO", "LICENSE": LICENSE} if env is None else env
    data = {"config": {"deployer": {"composition": composition(env, marked=marked)}}}
    declared = {
        "workspaces": {
            "prod": {
                "deployments": {
                    "fraud": {"compositions": [{"experimentId": "exp-a", "runtime": "lts"}]}
                }
            }
        }
    }
    return engine.Inputs(
        values=build_values([("values.yaml", data)]),
        overrides=parse_overrides(declared, source="d.yaml"),
        sensitivity=sensitivity,
    )


def upgrade() -> engine.Inputs:
    return engine.Inputs(upgrades=(parse_spec("workspaces/prod/deployments/fraud"),))


def files(target: DirTarget) -> dict[str, str]:
    return {
        p.relative_to(target.root).as_posix(): p.read_text()
        for p in sorted(target.root.rglob("*.yaml"))
    }


def plain_files(target: DirTarget) -> list[str]:
    """The files other than Secrets that hold the licence key in plain text."""
    return [
        name
        for name, text in files(target).items()
        if LICENSE in text and yaml.safe_load(text)["kind"] != "Secret"
    ]


@pytest.fixture
def target(tmp_path: Path) -> DirTarget:
    return DirTarget(tmp_path / "cluster")


def test_a_name_marked_in_the_values_is_kept_in_secrets(target: DirTarget) -> None:
    backend = MemoryBackend()
    result = engine.apply(backend, target, inputs=inputs(marked=("LICENSE",)))
    assert result.ok, (result.failed, result.roll_failed)
    assert plain_files(target) == []
    for owner, name in ((RUNTIME, "lts-env"), (COMPOSITION, "fraud-exp-a-env")):
        secret = load(target.path_of(f"{owner}/secret"))
        assert secret["metadata"]["name"] == name and secret["stringData"] == {"LICENSE": LICENSE}
    runtime = load(target.path_of(RUNTIME))
    assert runtime["spec"]["environmentVariables"] == {
        "LOG_LEVEL": "INFO",
        "LICENSE": {"secretKeyRef": {"name": "lts-env", "key": "LICENSE"}},
    }
    env = container_env(load(target.path_of(COMPOSITION)))
    assert env["LICENSE"] == {
        "name": "LICENSE",
        "valueFrom": {"secretKeyRef": {"name": "fraud-exp-a-env", "key": "LICENSE"}},
    }
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "INFO"}
    recorded = backend.read()
    assert recorded is not None
    (lts,) = [r for r in json.loads(recorded.data)["resources"] if r["address"] == RUNTIME]
    assert lts["sensitive_environment"] == ["LICENSE"]


def test_marking_a_name_later_is_a_planned_change_and_the_upgrade_moves_the_workload(
    target: DirTarget,
) -> None:
    backend = MemoryBackend()
    assert engine.apply(backend, target, inputs=inputs()).ok
    assert sorted(plain_files(target)) == sorted([f"{COMPOSITION}.yaml", f"{RUNTIME}.yaml"])

    the_plan = engine.plan(backend, inputs(sensitivity=MARKED))
    (change,) = the_plan.changes
    assert (change.address, change.action) == (RUNTIME, Action.UPDATE)
    assert [(f.path, f.before, f.after) for f in change.fields] == [
        ("sensitive_environment", [], ["LICENSE"])
    ]
    text = render.plan_text(the_plan, sensitivity=MARKED)
    assert "sensitive_environment" in text and LICENSE not in text
    assert LICENSE not in render.plan_json(the_plan, sensitivity=MARKED)
    # The workload still holds the value until it is upgraded, and the plan says so.
    assert [o.deployment for o in the_plan.outdated] == ["workspaces/prod/deployments/fraud"]

    assert engine.apply(backend, target, inputs=inputs(sensitivity=MARKED)).ok
    assert plain_files(target) == [f"{COMPOSITION}.yaml"]
    rolled = engine.apply(backend, target, inputs=upgrade())
    assert rolled.ok and len(rolled.rolled) == 1
    assert plain_files(target) == []
    assert load(target.path_of(f"{COMPOSITION}/secret"))["stringData"] == {"LICENSE": LICENSE}
    assert not engine.plan(backend, inputs(sensitivity=MARKED)).has_changes


def test_a_run_that_does_not_mark_the_name_keeps_the_value_in_its_secret(
    target: DirTarget,
) -> None:
    backend = MemoryBackend()
    assert engine.apply(backend, target, inputs=inputs(marked=("LICENSE",))).ok
    forgetful = inputs()  # neither the values nor the run mark LICENSE now
    assert not engine.plan(backend, forgetful).has_changes
    rotated = {"LOG_LEVEL": "DEBUG", "LICENSE": "lic-new-4411"}
    # Nor does it show the values: the state's marks hide them in every view.
    the_plan = engine.plan(backend, inputs(rotated))
    recorded = engine.read_state(backend)[0]
    assert recorded is not None
    shown = [
        render.plan_text(the_plan),
        render.plan_json(the_plan),
        render.plan_markdown(the_plan),
        render.state_json(recorded),
        render.resource_json(recorded.by_address[RUNTIME]),
    ]
    assert "LICENSE" in shown[0] and "lic-new-4411" not in "".join(shown)
    assert LICENSE not in "".join(shown)
    assert engine.apply(backend, target, inputs=inputs(rotated)).ok
    assert engine.apply(backend, target, inputs=upgrade()).ok
    assert plain_files(target) == []
    assert "lic-new-4411" not in "".join(
        text for name, text in files(target).items() if not name.endswith("secret.yaml")
    )
    assert load(target.path_of(f"{RUNTIME}/secret"))["stringData"] == {"LICENSE": "lic-new-4411"}


def test_a_marked_value_removed_from_the_runtime_takes_its_mark_and_secret_with_it(
    target: DirTarget,
) -> None:
    backend = MemoryBackend()
    assert engine.apply(backend, target, inputs=inputs(marked=("LICENSE",))).ok
    assert engine.apply(backend, target, inputs=inputs({"LOG_LEVEL": "INFO"})).ok
    assert not target.path_of(f"{RUNTIME}/secret").exists()
    # The composition still runs the configuration with the value until it is upgraded.
    assert target.path_of(f"{COMPOSITION}/secret").exists()
    assert engine.apply(backend, target, inputs=upgrade()).ok
    assert not target.path_of(f"{COMPOSITION}/secret").exists(), "no secret value left"
    assert "LICENSE" not in target.path_of(COMPOSITION).read_text()
    recorded = backend.read()
    assert recorded is not None
    (lts,) = [r for r in json.loads(recorded.data)["resources"] if r["address"] == RUNTIME]
    assert lts["sensitive_environment"] == []


def test_the_environment_marks_names_for_the_command_line(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    data = {"config": {"deployer": {"composition": composition({"LICENSE": LICENSE})}}}
    values.write_text(yaml.safe_dump(data))
    done = run(
        "apply", "-f", str(values), "--auto-approve",
        cwd=tmp_path, env={"RECONCILER_SENSITIVE_NAMES": "LIC*"},
    )  # fmt: skip
    assert done.code == 0, done.err
    assert LICENSE not in done.out + done.err
    written = tmp_path / "state/cluster/workspaces/global/runtimes/lts.yaml"
    assert LICENSE not in written.read_text() and "secretKeyRef" in written.read_text()
    again = run(
        "plan", "-f", str(values), "--detailed-exitcode", cwd=tmp_path
    )  # no mark given this time: the value stays where it is
    assert again.code == 0, again.out + again.err


def test_the_client_marks_names_for_what_it_writes(tmp_path: Path) -> None:
    client = reconciler.Client(
        state=tmp_path / "state.json",
        target=f"dir:{tmp_path / 'cluster'}",
        sensitive_names=["*_DSN"],
    )
    assert engine.apply(client.backend, client.target, inputs=inputs({"LOG_LEVEL": "INFO"})).ok
    workspace = client.workspaces.create("team")
    dsn = "postgres://db.internal/features"  # no password in it: only the mark hides it
    workspace.runtimes.create(
        "scoring",
        runtime_image=workspace.runtimes.images.get("h2o3-scorer"),
        model_type="h2o3_mojo",
        environment_variables={"FEATURES_DSN": dsn},
    )
    written = (tmp_path / "cluster/workspaces/team/runtimes/scoring.yaml").read_text()
    assert dsn not in written
    secret = load(tmp_path / "cluster/workspaces/team/runtimes/scoring/secret.yaml")
    assert secret["stringData"] == {"FEATURES_DSN": dsn}


def test_a_mark_outlives_a_value_that_gave_itself_away(target: DirTarget) -> None:
    """`DSN` marked while its value carried a password (hidden by the built-in rule too):
    when a later run, which does not mark it, gives a value without a password, that value
    still goes to the Secret."""
    backend = MemoryBackend()
    with_password = {"DSN": "postgres://u:pw-1@db/x"}
    marked = sensitive.Sensitivity(names=("DSN",))
    assert engine.apply(backend, target, inputs=inputs(with_password, sensitivity=marked)).ok
    plain_dsn = "postgres://db.internal/x"
    assert engine.apply(backend, target, inputs=inputs({"DSN": plain_dsn})).ok
    assert plain_dsn not in target.path_of(RUNTIME).read_text()
    assert load(target.path_of(f"{RUNTIME}/secret"))["stringData"] == {"DSN": plain_dsn}
