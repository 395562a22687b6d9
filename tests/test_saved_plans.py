"""Saved plans as CI uses them: `plan --out FILE` on a pull request, `apply FILE` on merge.

A saved plan is the approval, as in Terraform: `apply FILE` applies it without asking and
without `--auto-approve`. Before anything else it must still be the plan for the state it
is applied to (same tool, same lineage, same serial), and every error about it names it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.runner import EXAMPLES, reconciler, snapshot

GOOD = ["-f", "values.yaml", "--overrides", "overrides.yaml"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "values.yaml", tmp_path / "values.yaml")
    shutil.copy(EXAMPLES / "overrides.yaml", tmp_path / "overrides.yaml")
    return tmp_path


def test_a_saved_plan_applies_without_auto_approve_and_without_a_terminal(root: Path) -> None:
    planned = reconciler("plan", *GOOD, "--out", "ci.plan", cwd=root)
    assert planned.code == 0, planned.err
    applied = reconciler("apply", "ci.plan", cwd=root)
    assert applied.code == 0, applied.err
    assert "Apply complete! 27 applied, 0 failed, 0 skipped" in applied.out
    assert "Apply these changes?" not in applied.out
    again = reconciler("plan", *GOOD, "--detailed-exitcode", cwd=root)
    assert again.code == 0, again.out + again.err
    assert "No changes" in again.out


def test_without_a_saved_plan_apply_still_needs_auto_approve(root: Path) -> None:
    refused = reconciler("apply", *GOOD, cwd=root)
    assert refused.code == 1
    assert "no terminal to ask on" in refused.err
    assert "reconciler plan --out FILE" in refused.err
    assert not (root / "state").exists()


def test_a_stale_saved_plan_is_refused_first_and_named(root: Path) -> None:
    assert reconciler("plan", *GOOD, "--out", "ci.plan", cwd=root).code == 0
    assert reconciler("apply", "ci.plan", cwd=root).code == 0
    before = snapshot(root / "state")
    stale = reconciler("apply", "ci.plan", cwd=root)
    assert stale.code == 1
    assert stale.err.startswith("Error: ci.plan: saved plan is stale: the state changed"), stale.err
    assert "plan made at serial 0, state is now at serial 1" in stale.err
    assert snapshot(root / "state") == before


def test_a_saved_plan_of_another_lineage_is_refused_and_named(root: Path) -> None:
    # Two states at the same serial: only their lineage tells them apart.
    assert reconciler("apply", *GOOD, "--auto-approve", cwd=root).code == 0
    other = ["--state", "other/reconciler.state.json", "--target", "dir:other/cluster"]
    assert reconciler("apply", *GOOD, *other, "--auto-approve", cwd=root).code == 0
    edited = (root / "values.yaml").read_text().replace("LOG_LEVEL: INFO}", "LOG_LEVEL: WARN}", 1)
    (root / "values.yaml").write_text(edited)
    assert reconciler("plan", *GOOD, "--out", "ci.plan", cwd=root).code == 0
    before = snapshot(root / "other")
    refused = reconciler("apply", "ci.plan", *other, cwd=root)
    assert refused.code == 1
    assert refused.err.startswith(
        "Error: ci.plan: saved plan is stale: it was made from a different state"
    ), refused.err
    lineage = json.loads((root / "state/reconciler.state.json").read_text())["lineage"]
    assert f"plan lineage {lineage}" in refused.err
    assert snapshot(root / "other") == before


def test_a_saved_plan_of_another_tool_version_is_refused_and_named(root: Path) -> None:
    from reconciler import planfile

    assert reconciler("plan", *GOOD, "--out", "ci.plan", cwd=root).code == 0
    # What the same plan looks like when an older release of the tool saved it.
    older = planfile.load(root / "ci.plan")
    planfile.save(older.__class__(**{**_fields(older), "tool_version": "0.0.1"}), root / "ci.plan")
    refused = reconciler("apply", "ci.plan", cwd=root)
    assert refused.code == 1
    assert refused.err.startswith(
        "Error: ci.plan: saved plan is stale: it was made by another version of the tool"
    ), refused.err
    assert "plan made by 0.0.1" in refused.err
    assert not (root / "state").exists()


def _fields(plan: object) -> dict[str, object]:
    return {name: getattr(plan, name) for name in plan.__slots__}  # type: ignore[attr-defined]
