"""Secrets never appear in plan output: values of sensitively named variables are redacted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.runner import reconciler

VALUES = """config:
  deployer:
    composition:
      runtimeImages:
        scorer:
          versions:
            - image: {{repository: scorer, tag: "1.0.0"}}
      runtimes:
        scoring:
          modelType: h2o3_mojo
          runtimeImage: scorer
          environmentVariables: {{LOG_LEVEL: {level}, API_TOKEN: {token}, DB_PASSWORD: {token}}}
"""


def test_sensitive_values_never_reach_plan_output(tmp_path: Path) -> None:
    (tmp_path / "v1.yaml").write_text(VALUES.format(level="INFO", token="tok-aaaa-1111"))
    (tmp_path / "v2.yaml").write_text(VALUES.format(level="DEBUG", token="tok-bbbb-2222"))
    created = reconciler("apply", "-f", "v1.yaml", "--auto-approve", "--json", cwd=tmp_path)
    assert created.code == 0, created.err
    for fmt in ("human", "json", "markdown"):
        run = reconciler("plan", "-f", "v2.yaml", "--format", fmt, cwd=tmp_path)
        assert run.code == 0, run.err
        shown = run.out + run.err
        assert "tok-aaaa-1111" not in shown and "tok-bbbb-2222" not in shown, fmt
        assert "DEBUG" in shown, f"{fmt}: ordinary values are still shown"
    assert "tok-aaaa-1111" not in created.out
    human = reconciler("plan", "-f", "v2.yaml", cwd=tmp_path).out
    assert "environment_variables.API_TOKEN: (sensitive value) changed" in human
    # A saved plan must still carry what apply needs.
    assert reconciler("plan", "-f", "v2.yaml", "--out", "p.plan", cwd=tmp_path).code == 0
    assert "tok-bbbb-2222" in json.dumps(json.loads((tmp_path / "p.plan").read_text()))
    assert reconciler("apply", "p.plan", "--auto-approve", cwd=tmp_path).code == 0


def test_sensitive_values_never_reach_state_output(tmp_path: Path) -> None:
    (tmp_path / "v1.yaml").write_text(VALUES.format(level="INFO", token="tok-cccc-3333"))
    assert reconciler("apply", "-f", "v1.yaml", "--auto-approve", cwd=tmp_path).code == 0
    for args in (
        ["show", "--json"],
        ["show"],
        ["state", "show", "workspaces/global/runtimes/scoring"],
    ):
        run = reconciler(*args, cwd=tmp_path)
        assert run.code == 0, run.err
        assert "tok-cccc-3333" not in run.out, args
    shown = json.loads(
        reconciler("state", "show", "workspaces/global/runtimes/scoring", cwd=tmp_path).out
    )
    assert shown["spec"]["environment_variables"] == {
        "LOG_LEVEL": "INFO",
        "API_TOKEN": "(sensitive value)",
        "DB_PASSWORD": "(sensitive value)",
    }
