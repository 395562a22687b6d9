"""A bad upgrade request gives one clear error, exit 1, and changes nothing.

Starts from the examples applied with two deployments: `prod/fraud` (two compositions on
the DAI MOJO LTS scorer v1.11.2, so an upgrade to v1.12.0 is waiting) and `prod/solo`
(one composition on the H2O-3 scorer). Each bad request rides along with a valid upgrade
and a values change, so an apply that went ahead anyway would write state and manifests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.runner import EXAMPLES, reconciler, snapshot

DEPLOYMENTS = """\
workspaces:
  prod:
    deployments:
      fraud:
        compositions:
          - {experimentId: exp-1, runtime: dai-mojo-lts}
          - {experimentId: exp-2, runtime: dai-mojo-lts}
      solo:
        compositions:
          - {experimentId: exp-1, modelType: h2o3_mojo}
"""
VALID = ["--upgrade", "prod/fraud"]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deployed")
    shutil.copy(EXAMPLES / "values.yaml", root / "values.yaml")
    shutil.copy(EXAMPLES / "overrides.yaml", root / "overrides.yaml")
    (root / "deploy.yaml").write_text(DEPLOYMENTS)
    # Deploy before the examples' overrides disable the LTS runtime for new deployments.
    for args in (
        ["-f", "values.yaml", "--overrides", "deploy.yaml"],
        ["-f", "values.yaml", "--overrides", "overrides.yaml"],
    ):
        run = reconciler("apply", *args, "--auto-approve", cwd=root)
        assert run.code == 0, run.err
    waiting = reconciler("plan", *VALID, "--detailed-exitcode", cwd=root)
    assert waiting.code == 2, "the valid upgrade has work to do"
    return root


@pytest.fixture
def workdir(applied: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(applied, work)
    values = work / "values.yaml"
    values.write_text(values.read_text().replace("LOG_LEVEL: INFO}", "LOG_LEVEL: WARN}", 1))
    return work


CASES = {
    "unknown deployment": (
        ["upgrade", "prod/fraud", "prod/nope"],
        ["--upgrade prod/nope", "workspaces/prod/deployments/nope does not exist"],
    ),
    "unknown experiment": (
        ["upgrade", "prod/fraud:exp-1=latest,exp-9=latest"],
        ["exp-9 is not a composition of workspaces/prod/deployments/fraud", "exp-1, exp-2"],
    ),
    "disabled version": (
        ["upgrade", "prod/fraud", "prod/solo=v1.4.9"],
        ["h2oai-h2o3mojo-scorer/versions/v1.4.9: it is DISABLED", "CVE-2025-1234"],
    ),
    "image for a multi-composition deployment": (
        ["upgrade", "prod/fraud=h2oai-dai-mojo-scorer"],
        ["has 2 compositions", "DEPLOYMENT:exp-1=IMAGE,*=latest"],
    ),
    "unknown image": (
        ["apply", "--auto-approve", *VALID, "--upgrade", "prod/solo=no-such-scorer"],
        ["runtime image no-such-scorer does not exist in workspace prod or global"],
    ),
    "malformed spec": (
        ["upgrade", "prod/fraud", "prod/fraud:exp-1"],
        ["--upgrade prod/fraud:exp-1", "is not EXPERIMENT=TARGET", "hint:"],
    ),
    "runtime as a target": (
        ["upgrade", "prod/solo=workspaces/global/runtimes/h2o3-mojo"],
        ["is a runtime: a runtime image or one of its versions is needed"],
    ),
    "bad upgrade in an overrides file": (
        ["apply", "--auto-approve", "--overrides", "upgrades.yaml"],
        ["upgrades.yaml:upgrades[1]", "exp-7 is not a composition"],
    ),
    "upgrades with a saved plan": (
        ["apply", "saved.plan", "--upgrade", "prod/solo", "--auto-approve"],
        ["a saved plan already carries its inputs", "--upgrade"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_upgrade_is_one_clear_error_and_changes_nothing(workdir: Path, name: str) -> None:
    args, expected = CASES[name]
    (workdir / "upgrades.yaml").write_text(
        "upgrades:\n  - deployment: prod/fraud\n"
        "  - deployment: prod/fraud\n    compositions: {exp-7: latest}\n"
    )
    assert reconciler("plan", *VALID, "--out", "saved.plan", cwd=workdir).code == 0
    extra = [] if "saved.plan" in args else ["-f", "values.yaml"]
    if args[0] == "upgrade":
        extra.append("--auto-approve")
    before = snapshot(workdir / "state")
    run = reconciler(*args, *extra, cwd=workdir)
    assert run.code == 1, f"{name}: exit {run.code}\n{run.out}\n{run.err}"
    assert run.err.startswith("Error: "), run.err
    assert run.err.count("Error: ") == 1
    assert "Traceback" not in run.err
    for fragment in expected:
        assert fragment in run.err, f"{name}: {fragment!r} missing from:\n{run.err}"
    assert snapshot(workdir / "state") == before, f"{name}: state or target changed"


def test_plan_refuses_the_same_requests_without_touching_anything(workdir: Path) -> None:
    before = snapshot(workdir / "state")
    for args, expected in CASES.values():
        if args[0] != "upgrade":
            continue
        run = reconciler("plan", *(f"--upgrade={spec}" for spec in args[1:]), cwd=workdir)
        assert run.code == 1, run.out
        assert expected[0] in run.err
    assert snapshot(workdir / "state") == before
