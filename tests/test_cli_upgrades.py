"""Reviewing and rolling runtime-image upgrades from the command line, as CI does.

The examples' catalog with two deployments declared in an overrides file: `prod/fraud`
(two compositions on the DAI MOJO scorer v1.11.2 through the LTS runtime) and `prod/solo`
(one composition on the H2O-3 scorer's latest, v1.6.0). A change of the H2O-3 MOJO
runtime's environment leaves `prod/solo` on an older configuration until it is upgraded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.runner import EXAMPLES, REPO, reconciler, snapshot

DEPLOYMENTS = """\
workspaces:
  prod:
    deployments:
      fraud:
        compositions:
          - {experimentId: exp-1, runtime: dai-mojo-lts, replicas: 2}
          - {experimentId: exp-2, runtime: dai-mojo-lts}
      solo:
        compositions:
          - {experimentId: exp-1, modelType: h2o3_mojo}
"""
DAI = "workspaces/global/runtimeImages/h2oai-dai-mojo-scorer/versions"
FRAUD = "workspaces/prod/deployments/fraud"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "values.yaml", tmp_path / "values.yaml")
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENTS)
    created = reconciler(
        "apply", "-f", "values.yaml", "--overrides", "deploy.yaml", "--auto-approve", cwd=tmp_path
    )
    assert created.code == 0, created.err
    assert f"  + {FRAUD}: created exp-1, exp-2" in created.out
    assert "deployments: 2 created" in created.out
    return tmp_path


def image_of(root: Path, experiment: str) -> str:
    path = root / f"state/cluster/{FRAUD}/compositions/{experiment}.yaml"
    return yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"][0]["image"]


def test_plan_shows_each_rolling_composition_and_counts_the_deployments(root: Path) -> None:
    before = snapshot(root / "state")
    plan = reconciler("plan", "--upgrade", "prod/fraud", "--detailed-exitcode", cwd=root)
    assert plan.code == 2, plan.err
    assert (
        f"⇡ {FRAUD}  exp-1: v1.11.2 → v1.12.0 "
        "(image docker.io/h2oai/h2oai-dai-mojo-scorer:1.12.0)" in plan.out
    )
    assert f"⇡ {FRAUD}  exp-2: v1.11.2 → v1.12.0" in plan.out
    assert (
        "Plan: 0 to add, 0 to change, 0 to replace, 0 to delete, 0 held, 1 deployments to roll."
        in (plan.out)
    )
    assert snapshot(root / "state") == before, "a plan writes nothing"


def test_json_and_markdown_plans_carry_the_rollouts(root: Path) -> None:
    as_json = json.loads(reconciler("plan", "--upgrade", "prod/fraud", "--json", cwd=root).out)
    assert as_json["summary"]["roll"] == 1
    (change,) = as_json["deployments"]
    assert change["action"] == "⇡" and change["address"] == FRAUD
    assert [(u["experiment_id"], u["before"], u["after"]) for u in change["upgrades"]] == [
        ("exp-1", f"{DAI}/v1.11.2", f"{DAI}/v1.12.0"),
        ("exp-2", f"{DAI}/v1.11.2", f"{DAI}/v1.12.0"),
    ]
    markdown = reconciler("plan", "--upgrade", "prod/fraud", "--format", "markdown", cwd=root)
    assert f"| `⇡` | `{FRAUD}` | exp-1: v1.11.2 → v1.12.0" in markdown.out
    assert "1 deployments to roll" in markdown.out


def test_upgrade_rolls_reports_per_deployment_and_converges(root: Path) -> None:
    assert image_of(root, "exp-1").endswith(":1.11.2")
    run = reconciler("upgrade", "prod/fraud", "prod/solo", "--auto-approve", cwd=root)
    assert run.code == 0, run.err
    assert f"  ⇡ {FRAUD}: rolled exp-1 v1.11.2 → v1.12.0, exp-2 v1.11.2 → v1.12.0" in run.out
    assert "solo  exp-1: already on v1.6.0, the latest available, skipped" in run.out
    assert "Apply complete! 0 applied, 0 failed, 0 skipped; deployments: 1 rolled." in run.out
    assert image_of(root, "exp-1") == "docker.io/h2oai/h2oai-dai-mojo-scorer:1.12.0"
    shown = json.loads(reconciler("state", "show", FRAUD, cwd=root).out)
    assert [c["image_version"] for c in shown["compositions"]] == [f"{DAI}/v1.12.0"] * 2
    assert [c["replicas"] for c in shown["compositions"]] == [2, 1]
    again = reconciler("plan", "--upgrade", "prod/fraud", "--detailed-exitcode", cwd=root)
    assert again.code == 0, again.out
    assert "No changes" in again.out and "already on v1.12.0" in again.out
    listed = reconciler("state", "list", cwd=root).out
    assert f"{FRAUD}  exp-1 {DAI}/v1.12.0 ×2, exp-2 {DAI}/v1.12.0 ×1" in listed


def test_a_saved_plan_of_upgrades_applies_then_is_stale(root: Path) -> None:
    saved = reconciler(
        "plan", "--upgrade", "prod/fraud:exp-2=v1.12.0", "--out", "up.plan", cwd=root
    )
    assert saved.code == 0, saved.err
    applied = reconciler("apply", "up.plan", "--auto-approve", "--parallelism", "1", cwd=root)
    assert applied.code == 0, applied.err
    assert image_of(root, "exp-1").endswith(":1.11.2"), "not listed: it stays"
    assert image_of(root, "exp-2").endswith(":1.12.0")
    stale = reconciler("apply", "up.plan", "--auto-approve", cwd=root)
    assert stale.code == 1 and "saved plan is stale" in stale.err


def test_a_values_change_lists_the_deployments_it_gives_an_upgrade(root: Path) -> None:
    values = yaml.safe_load((root / "values.yaml").read_text())
    images = values["config"]["deployer"]["composition"]["runtimeImages"]
    images["h2oai-h2o3mojo-scorer"]["versions"].append(
        {"image": {"repository": "h2oai-h2o3mojo-scorer", "tag": "v1.7.0"}}
    )
    (root / "release.yaml").write_text(yaml.safe_dump(values))
    plan = reconciler("plan", "-f", "release.yaml", cwd=root)
    assert plan.code == 0, plan.err
    assert "Upgrades available after this plan" in plan.out
    assert "workspaces/prod/deployments/solo  exp-1: v1.6.0 → v1.7.0" in plan.out
    assert FRAUD not in plan.out, "its image did not change"
    assert "0 deployments to roll" in plan.out
    as_json = json.loads(reconciler("plan", "-f", "release.yaml", "--json", cwd=root).out)
    assert as_json["available"] == [
        {
            "deployment": "workspaces/prod/deployments/solo",
            "experiment_id": "exp-1",
            "current": "workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer/versions/v1.6.0",
            "available": "workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer/versions/v1.7.0",
            "reason": "",
        }
    ]
    applied = reconciler("apply", "-f", "release.yaml", "--auto-approve", cwd=root)
    assert applied.code == 0 and "deployments:" not in applied.out, "nothing rolled"


def test_upgrades_from_an_overrides_file(root: Path) -> None:
    (root / "upgrades.yaml").write_text(
        "upgrades:\n"
        "  - deployment: workspaces/prod/deployments/fraud\n"
        "    compositions: {exp-1: h2oai-dai-mojo-scorer/versions/v1.12.0}\n"
    )
    run = reconciler("apply", "--overrides", "upgrades.yaml", "--auto-approve", cwd=root)
    assert run.code == 0, run.err
    assert f"⇡ {FRAUD}: rolled exp-1 v1.11.2 → v1.12.0" in run.out
    assert image_of(root, "exp-2").endswith(":1.11.2")


def test_help_documents_the_spec_syntax() -> None:
    run = reconciler("upgrade", "--help", cwd=Path.cwd())
    assert run.code == 0
    for form in ("DEPLOYMENT=TARGET", "DEPLOYMENT:EXPERIMENT=TARGET", "*=TARGET", "latest"):
        assert form in run.out


def test_deployments_declared_again_change_nothing(root: Path) -> None:
    again = reconciler("plan", "--overrides", "deploy.yaml", "--detailed-exitcode", cwd=root)
    assert again.code == 0, again.out + again.err
    # Even after an upgrade: the declaration names runtimes, never versions.
    assert reconciler("upgrade", "prod/fraud", "--auto-approve", cwd=root).code == 0
    again = reconciler("plan", "--overrides", "deploy.yaml", "--detailed-exitcode", cwd=root)
    assert again.code == 0, again.out + again.err


SOLO = "workspaces/prod/deployments/solo"
H2O3_MOJO = "workspaces/global/runtimes/h2o3-mojo"


def env_of(root: Path, deployment: str, experiment: str) -> dict[str, str]:
    path = root / f"state/cluster/{deployment}/compositions/{experiment}.yaml"
    (container,) = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item["value"] for item in container["env"]}


def debug_values(root: Path) -> str:
    """The examples' values with the H2O-3 MOJO runtime on LOG_LEVEL DEBUG."""
    values = yaml.safe_load((root / "values.yaml").read_text())
    runtime = values["config"]["deployer"]["composition"]["runtimes"]["h2o3-mojo"]
    runtime["environmentVariables"]["LOG_LEVEL"] = "DEBUG"
    (root / "debug.yaml").write_text(yaml.safe_dump(values))
    return "debug.yaml"


def test_a_runtime_change_lists_its_deployments_in_every_format(root: Path) -> None:
    debug = debug_values(root)
    plan = reconciler("plan", "-f", debug, cwd=root)
    assert plan.code == 0, plan.err
    assert f"~ {H2O3_MOJO}" in plan.out
    assert "Deployments on an older configuration of their runtime after this plan" in plan.out
    assert f"{SOLO}  exp-1: runs an older configuration of {H2O3_MOJO}" in plan.out
    assert FRAUD not in plan.out, "its runtime did not change"
    as_json = json.loads(reconciler("plan", "-f", debug, "--json", cwd=root).out)
    jsonschema.validate(as_json, json.loads((REPO / "schemas/plan.schema.json").read_text()))
    assert as_json["outdated"] == [
        {"deployment": SOLO, "experiment_id": "exp-1", "runtime": H2O3_MOJO}
    ]
    assert as_json["deployments"] == [], "nothing rolls"
    markdown = reconciler("plan", "-f", debug, "--format", "markdown", cwd=root).out
    assert "**Deployments on an older configuration of their runtime" in markdown
    assert f"- {SOLO}  exp-1: runs an older configuration of {H2O3_MOJO}" in markdown


def test_after_the_runtime_changed_the_plan_is_never_no_changes_until_upgraded(
    root: Path,
) -> None:
    debug = debug_values(root)
    applied = reconciler("apply", "-f", debug, "--auto-approve", cwd=root)
    assert applied.code == 0, applied.err
    assert "deployments:" not in applied.out, "nothing rolled"
    assert env_of(root, SOLO, "exp-1")["LOG_LEVEL"] == "INFO"
    plan = reconciler("plan", "-f", debug, "--detailed-exitcode", cwd=root)
    assert plan.code == 0, "nothing to apply"
    assert "No changes" not in plan.out
    assert plan.out.startswith(
        "Nothing to apply, but 1 composition runs an older configuration of its runtime"
    )
    assert f"{SOLO}  exp-1: runs an older configuration of {H2O3_MOJO}" in plan.out
    markdown = reconciler("plan", "-f", debug, "--format", "markdown", cwd=root).out
    assert "No changes" not in markdown and f"{SOLO}  exp-1" in markdown

    run = reconciler("upgrade", "prod/solo", "prod/fraud", "--auto-approve", cwd=root)
    assert run.code == 0, run.err
    assert f"⇡ {SOLO}  exp-1: v1.6.0 (configuration of {H2O3_MOJO})" in run.out
    assert f"  ⇡ {SOLO}: rolled exp-1 v1.6.0 (new configuration)" in run.out
    assert env_of(root, SOLO, "exp-1")["LOG_LEVEL"] == "DEBUG"
    assert image_of_solo(root).endswith(":v1.6.0"), "its version stays"
    again = reconciler("plan", "-f", debug, "--detailed-exitcode", cwd=root)
    assert again.code == 0 and again.out.startswith("No changes."), again.out


def test_a_saved_plan_rolls_the_configuration_it_shows(root: Path) -> None:
    debug = debug_values(root)
    assert reconciler("apply", "-f", debug, "--auto-approve", cwd=root).code == 0
    saved = reconciler("plan", "--upgrade", "prod/solo", "--out", "up.plan", cwd=root)
    assert saved.code == 0, saved.err
    shown = json.loads(reconciler("show", "up.plan", "--json", cwd=root).out)
    ((upgrade,),) = [change["upgrades"] for change in shown["deployments"]]
    assert upgrade["before"] == upgrade["after"] and upgrade["configuration"] == H2O3_MOJO
    applied = reconciler("apply", "up.plan", "--auto-approve", cwd=root)
    assert applied.code == 0, applied.err
    assert env_of(root, SOLO, "exp-1")["LOG_LEVEL"] == "DEBUG"


def image_of_solo(root: Path) -> str:
    path = root / f"state/cluster/{SOLO}/compositions/exp-1.yaml"
    return yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"][0]["image"]
