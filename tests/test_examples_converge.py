"""Every example runs end to end: plan → apply → plan shows no changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tests.runner import EXAMPLES, reconciler

EXAMPLE_ARGS = [
    "-f",
    str(EXAMPLES / "values.yaml"),
    "--overrides",
    str(EXAMPLES / "overrides.yaml"),
]


def test_examples_plan_apply_then_no_changes(tmp_path: Path) -> None:
    first = reconciler("plan", *EXAMPLE_ARGS, "--detailed-exitcode", cwd=tmp_path)
    assert first.code == 2, first.err
    assert "Plan: 28 to add, 0 to change" in first.out
    assert not (tmp_path / "state").exists(), "plan must not write anything"
    # mlflow-py39 is DISABLED: that its image is DEPRECATED would be noise, not a warning.
    assert "Warnings:" not in first.out

    applied = reconciler("apply", *EXAMPLE_ARGS, "--auto-approve", cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert "Apply complete! 27 applied, 0 failed, 0 skipped; deployments: 1 created." in applied.out

    again = reconciler("plan", *EXAMPLE_ARGS, "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.out + again.err
    assert "No changes" in again.out

    second = reconciler("apply", *EXAMPLE_ARGS, "--auto-approve", cwd=tmp_path)
    assert second.code == 0
    state = json.loads((tmp_path / "state/reconciler.state.json").read_text())
    assert state["serial"] == 1, "a second apply is a no-op and does not bump the serial"


def test_apply_writes_one_manifest_per_object(tmp_path: Path) -> None:
    assert reconciler("apply", *EXAMPLE_ARGS, "--auto-approve", cwd=tmp_path).code == 0
    cluster = tmp_path / "state/cluster"
    runtime = yaml.safe_load((cluster / "workspaces/global/runtimes/dai-mojo-lts.yaml").read_text())
    assert runtime["apiVersion"] == "runtimes.reconciler.dev/v1"
    assert runtime["kind"] == "Runtime"
    assert runtime["spec"]["runtimeImage"] == (
        "workspaces/global/runtimeImages/h2oai-dai-mojo-scorer/versions/v1.11.2"
    )
    # The overrides file disabled it; the manifest carries the effective state and reason.
    assert runtime["spec"]["state"] == "DISABLED"
    assert runtime["spec"]["stateReason"] == "LTS window ended for our workspaces"
    version = yaml.safe_load(
        (
            cluster / "workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer/versions/v1.6.0.yaml"
        ).read_text()
    )
    assert version["spec"]["image"] == "docker.io/h2oai/h2oai-h2o3mojo-scorer:v1.6.0"
    assert version["spec"]["readinessProbePath"] == "/readyz"
    custom = yaml.safe_load(
        (cluster / "workspaces/fraud-team/runtimes/fraud-runtime.yaml").read_text()
    )
    assert custom["metadata"]["labels"]["runtimes.reconciler.dev/managed-by-bootstrap"] == "false"
    files = sorted(p for p in cluster.rglob("*.yaml"))
    assert len(files) == 27 + 2  # the catalog, and the two compositions of one deployment


def test_removing_a_runtime_from_values_disables_it_and_keeps_it(tmp_path: Path) -> None:
    assert reconciler("apply", *EXAMPLE_ARGS, "--auto-approve", cwd=tmp_path).code == 0
    values = yaml.safe_load((EXAMPLES / "values.yaml").read_text())
    del values["config"]["deployer"]["composition"]["runtimes"]["h2o3-mojo"]
    trimmed = tmp_path / "trimmed.yaml"
    trimmed.write_text(yaml.safe_dump(values))
    plan = reconciler("plan", "-f", str(trimmed), cwd=tmp_path)
    assert plan.code == 0, plan.err
    assert "~ workspaces/global/runtimes/h2o3-mojo" in plan.out
    assert "state: ACTIVE → DISABLED (Helm values: removed from Helm values)" in plan.out
    assert reconciler("apply", "-f", str(trimmed), "--auto-approve", cwd=tmp_path).code == 0
    manifest = tmp_path / "state/cluster/workspaces/global/runtimes/h2o3-mojo.yaml"
    assert yaml.safe_load(manifest.read_text())["spec"]["state"] == "DISABLED"
    # Putting it back restores the platform intent from values.
    back = reconciler("apply", *EXAMPLE_ARGS, "--auto-approve", cwd=tmp_path)
    assert back.code == 0
    assert yaml.safe_load(manifest.read_text())["spec"]["state"] == "ACTIVE"


def test_user_intents_survive_a_later_values_only_run(tmp_path: Path) -> None:
    assert reconciler("apply", *EXAMPLE_ARGS, "--auto-approve", cwd=tmp_path).code == 0
    # A Helm upgrade runs with values only: the user's changes from the overrides stay.
    plan = reconciler(
        "plan", "-f", str(EXAMPLES / "values.yaml"), "--detailed-exitcode", cwd=tmp_path
    )
    assert plan.code == 0, plan.out
    shown = reconciler("state", "show", "workspaces/global/runtimes/dai-mojo-lts", cwd=tmp_path)
    assert json.loads(shown.out)["state"] == "DISABLED"


def test_json_and_markdown_plans(tmp_path: Path) -> None:
    as_json = reconciler("plan", *EXAMPLE_ARGS, "--json", cwd=tmp_path)
    plan = json.loads(as_json.out)
    assert plan["format_version"] == 2
    assert plan["summary"]["add"] == 28
    assert {c["action"] for c in plan["changes"]} == {"+"}
    assert [d["address"] for d in plan["deployments"]] == [
        "workspaces/fraud-team/deployments/fraud-detection"
    ]
    markdown = reconciler("plan", *EXAMPLE_ARGS, "--format", "markdown", cwd=tmp_path)
    assert markdown.out.startswith("### runtime-reconciler plan")
    assert "| `+` | `workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer` |" in markdown.out


def test_saved_plan_applies_then_is_stale(tmp_path: Path) -> None:
    planfile = tmp_path / "availability.plan"
    assert reconciler("plan", *EXAMPLE_ARGS, "--out", str(planfile), cwd=tmp_path).code == 0
    shown = reconciler("show", str(planfile), cwd=tmp_path)
    assert "Plan: 28 to add" in shown.out
    assert reconciler("apply", str(planfile), "--auto-approve", cwd=tmp_path).code == 0
    stale = reconciler("apply", str(planfile), "--auto-approve", cwd=tmp_path)
    assert stale.code == 1
    assert "saved plan is stale" in stale.err
    assert "serial 0" in stale.err and "serial 1" in stale.err


def test_copy_of_examples_dir_is_self_contained(tmp_path: Path) -> None:
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy)
    run = reconciler(
        "validate",
        "-f",
        "examples/values.yaml",
        "--overrides",
        "examples/overrides.yaml",
        cwd=tmp_path,
    )
    assert run.code == 0, run.err
    assert run.out.startswith("Valid:")


def test_a_release_shows_its_blast_radius_and_rolls_only_when_asked(tmp_path: Path) -> None:
    release = [*EXAMPLE_ARGS[:2], "-f", str(EXAMPLES / "values-release.yaml"), *EXAMPLE_ARGS[2:]]
    assert reconciler("apply", *EXAMPLE_ARGS, "--auto-approve", cwd=tmp_path).code == 0
    challenger = (
        tmp_path
        / "state/cluster/workspaces/fraud-team/deployments/fraud-detection/compositions"
        / "challenger.yaml"
    )
    image = "docker.io/h2oai/h2oai-h2o3mojo-scorer"
    assert f"image: {image}:v1.6.0" in challenger.read_text()

    plan = reconciler("plan", *release, cwd=tmp_path)
    assert "Upgrades available after this plan" in plan.out
    assert "fraud-detection  challenger: v1.6.0 → v1.7.0" in plan.out
    assert "0 deployments to roll" in plan.out
    assert reconciler("apply", *release, "--auto-approve", cwd=tmp_path).code == 0
    assert f"image: {image}:v1.6.0" in challenger.read_text(), "a release never rolls by itself"

    rolled = reconciler("upgrade", "fraud-team/fraud-detection", "--auto-approve", cwd=tmp_path)
    assert rolled.code == 0, rolled.err
    assert "rolled challenger v1.6.0 → v1.7.0" in rolled.out
    assert f"image: {image}:v1.7.0" in challenger.read_text()
    assert reconciler("plan", *release, "--detailed-exitcode", cwd=tmp_path).code == 0
