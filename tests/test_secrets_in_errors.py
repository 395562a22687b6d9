"""Secrets never reach an error, a quoted source line or an echoed expression, and users
can mark names of their own.

CLI cases run the real `reconciler` process: the exit code and message are checked, and
the state and target are byte for byte what they were. The name rule is sensitive.py's,
the same the plan uses: `*TOKEN*`, `*PASS*`, `*SECRET*`, `*CREDENTIAL*`, `*PRIVATE*`, …,
URLs whose userinfo carries a password, and names from `sensitiveNames` in the values,
`RECONCILER_SENSITIVE_NAMES`, or `Client(sensitive_names=...)`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import reconciler
from reconciler import errors
from tests.runner import Run, snapshot
from tests.runner import reconciler as cli

RUNTIMES = "config.deployer.composition.runtimes"
GOOD = """config:
  deployer:
    composition:
      runtimeImages:
        scorer:
          versions:
            - image: {repository: scorer, tag: "1.0.0"}
      runtimes:
        scoring:
          modelType: h2o3_mojo
          runtimeImage: scorer
          environmentVariables:
            LOG_LEVEL: INFO
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory with an applied catalog: a state and a target to keep unchanged."""
    (tmp_path / "good.yaml").write_text(GOOD)
    assert cli("apply", "-f", "good.yaml", "--auto-approve", cwd=tmp_path).code == 0
    return tmp_path


def refused(project: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """Run a command that must fail cleanly, writing nothing."""
    before = snapshot(project / "state")
    run = cli(*args, cwd=project, env=env)
    assert run.code == 1, run
    assert run.err.startswith("Error: ") and "Traceback" not in run.err
    assert snapshot(project / "state") == before, "state and target are unchanged"
    return run


def test_a_yaml_syntax_error_on_a_password_line_does_not_quote_it(project: Path) -> None:
    (project / "bad.yaml").write_text(GOOD + "            DB_PASSWORD: hunter2: [x\n")
    run = refused(project, "plan", "-f", "bad.yaml")
    assert "hunter2" not in run.err
    assert "bad.yaml: line 14" in run.err, "the place is still named"
    assert "DB_PASSWORD: (sensitive value)" in run.err


def test_a_bad_set_expression_is_not_echoed_whole(project: Path) -> None:
    for expression in (
        f"{RUNTIMES}[.scoring.environmentVariables.CLI_TOKEN=s3cr3t-value",
        f"{RUNTIMES}.scoring.environmentVariables.CLI_TOKEN=s3cr3t-value,x[=1",
    ):
        run = refused(project, "plan", "-f", "good.yaml", "--set", expression)
        assert "s3cr3t-value" not in run.err, run.err
        assert "CLI_TOKEN=(sensitive value)" in run.err


def test_a_type_error_on_a_numeric_password_does_not_print_the_number(project: Path) -> None:
    (project / "num.yaml").write_text(GOOD + "            DB_PASS: 987654321\n")
    run = refused(project, "plan", "-f", "num.yaml")
    assert "987654321" not in run.err
    assert f"{RUNTIMES}.scoring.environmentVariables.DB_PASS: expected a string" in run.err


def test_borderline_names_and_urls_with_passwords_are_hidden_in_plans(project: Path) -> None:
    (project / "v2.yaml").write_text(
        GOOD
        + "            DB_PASS: pass-9911\n"
        + "            SERVICE_CREDENTIALS: cred-9922\n"
        + "            TLS_PRIVATE: priv-9933\n"
        + '            DATABASE_URL: "postgres://app:pw-9944@db.internal/scores"\n'
        + '            CACHE_URL: "redis://cache.internal:6379/0"\n'
    )
    for fmt in ("human", "json", "markdown"):
        run = cli("plan", "-f", "v2.yaml", "--format", fmt, cwd=project)
        assert run.code == 0, run.err
        for secret in ("pass-9911", "cred-9922", "priv-9933", "pw-9944"):
            assert secret not in run.out, (fmt, secret)
        assert "redis://cache.internal:6379/0" in run.out, f"{fmt}: a URL without a password shows"


def test_names_marked_in_the_values_are_hidden_in_plans(project: Path) -> None:
    (project / "v2.yaml").write_text(
        GOOD.replace(
            "      runtimeImages:",
            '      sensitiveNames: ["ACME_*", "LICENSE"]\n      runtimeImages:',
        )
        + "            ACME_SEED: seed-7711\n"
        + "            LICENSE: lic-7722\n"
        + "            REGION: eu-west-1\n"
    )
    for fmt in ("human", "json", "markdown"):
        run = cli("plan", "-f", "v2.yaml", "--format", fmt, cwd=project)
        assert run.code == 0, run.err
        assert "seed-7711" not in run.out and "lic-7722" not in run.out, fmt
        assert "eu-west-1" in run.out, f"{fmt}: names nobody marked still show"
    unmarked = cli("plan", "-f", "v2.yaml", cwd=project)
    assert "(sensitive value)" in unmarked.out


def test_names_marked_by_the_setting_are_hidden_in_errors_and_state(project: Path) -> None:
    (project / "num.yaml").write_text(GOOD + "            ACME_PIN: 4242\n")
    shown = refused(project, "plan", "-f", "num.yaml")
    assert "4242" in shown.err, "not a secret by name: shown as before"
    run = refused(project, "plan", "-f", "num.yaml", env={"RECONCILER_SENSITIVE_NAMES": "acme_*"})
    assert "4242" not in run.err
    assert "expected a string or a mapping, got (sensitive value)" in run.err

    (project / "v2.yaml").write_text(GOOD + '            ACME_PIN: "4242"\n')
    assert cli("apply", "-f", "v2.yaml", "--auto-approve", cwd=project).code == 0
    marked = {"RECONCILER_SENSITIVE_NAMES": "ACME_*"}
    for args in (["show", "--json"], ["state", "show", "workspaces/global/runtimes/scoring"]):
        assert '"4242"' in cli(*args, cwd=project).out
        assert "4242" not in cli(*args, cwd=project, env=marked).out, args


def test_the_sdk_hides_the_names_its_client_marks(tmp_path: Path) -> None:
    def create_with(client: reconciler.Client) -> str:
        team = client.workspaces.create("team")
        with pytest.raises(errors.InputError) as caught:
            team.runtimes.images.create(name="Scorer", docker_image="scorer:1.0 ACME_KEY=k-5511")
        return str(caught.value)

    plain = reconciler.Client(state=tmp_path / "a.json", target=f"dir:{tmp_path}/a")
    assert "k-5511" in create_with(plain), "not a secret by name"
    marked = reconciler.Client(
        state=tmp_path / "b.json", target=f"dir:{tmp_path}/b", sensitive_names=["ACME_*"]
    )
    message = create_with(marked)
    assert "k-5511" not in message and "ACME_KEY=(sensitive value)" in message
    default = reconciler.Client(state=tmp_path / "c.json", target=f"dir:{tmp_path}/c")
    team = default.workspaces.create("team")
    with pytest.raises(errors.InputError) as caught:
        team.runtimes.images.create(name="Scorer", docker_image="x DB_PASSWORD=pw-5522")
    assert "pw-5522" not in str(caught.value) and "pw-5522" not in repr(caught.value)


def test_a_review_hides_the_names_the_values_mark(project: Path) -> None:
    (project / "head.yaml").write_text(
        GOOD.replace(
            "      runtimeImages:", '      sensitiveNames: ["ACME_*"]\n      runtimeImages:'
        )
        + "            ACME_SEED: seed-8811\n"
        + "            DB_PASS: pass-8822\n"
    )
    for fmt in ("human", "json", "markdown"):
        args = ("review", "--base", "good.yaml", "--head", "head.yaml", "--format", fmt)
        run = cli(*args, cwd=project)
        assert run.code == 0, run.err
        assert "seed-8811" not in run.out and "pass-8822" not in run.out, fmt
