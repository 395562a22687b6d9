"""Dry-run review of a values change: the blast radius, in every format, and nothing written.

The examples applied (the catalog, and `fraud-team/fraud-detection` whose challenger runs
the H2O-3 MOJO scorer v1.6.0 and whose champion runs the fraud scorer's latest), then
`reconciler review` of the examples' release layer (v1.7.0 ships, v1.5.4 is disabled)
and of layers that disable what the challenger runs. Every review runs the real command and
leaves the state, its lock, the target and the git repository byte for byte as they were;
what it predicts an upgrade would roll is then checked against the real upgrade.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from markdown_it import MarkdownIt
from referencing import Registry, Resource

from tests.runner import EXAMPLES, REPO, reconciler, snapshot

FRAUD = "workspaces/fraud-team/deployments/fraud-detection"
H2O3 = "workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer"
IMAGE = "docker.io/h2oai/h2oai-h2o3mojo-scorer"
RELEASE = ["--base", "values.yaml", "--head", "values.yaml", "values-release.yaml"]
OVERRIDES = ["--overrides", "overrides.yaml"]

# The challenger's own version is withdrawn; the newest still available is v1.5.4,
# DEPRECATED in values.yaml: upgrading is a rollback that warns.
DISABLE_CHALLENGER = """\
config:
  deployer:
    composition:
      runtimeImages:
        h2oai-h2o3mojo-scorer:
          versions:
            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.4.9"}
              state: DISABLED
              stateReason: "CVE-2025-1234 in the bundled JRE"
            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.5.4"}
              state: DEPRECATED
              stateReason: "Superseded by v1.6.0"
            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.6.0"}
              state: DISABLED
              stateReason: "CVE-2026-0001 in the scorer"
"""
# The whole image is withdrawn: nothing of it is left to move to.
DISABLE_IMAGE = """\
config:
  deployer:
    composition:
      runtimeImages:
        h2oai-h2o3mojo-scorer:
          state: DISABLED
          stateReason: "withdrawn by the vendor"
"""


def schema_validator() -> jsonschema.Draft7Validator:
    schemas = {
        name: json.loads((REPO / "schemas" / name).read_text())
        for name in ("review.schema.json", "plan.schema.json")
    }
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    return jsonschema.Draft7Validator(schemas["review.schema.json"], registry=registry)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("values.yaml", "values-release.yaml", "overrides.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    applied = reconciler("apply", "-f", "values.yaml", *OVERRIDES, "--auto-approve", cwd=tmp_path)
    assert applied.code == 0, applied.err
    return tmp_path


def review(root: Path, *args: str) -> Any:
    """`reconciler review ARGS` in `root`, checked to have written nothing."""
    before = snapshot(root)
    done = reconciler("review", *args, cwd=root)
    assert done.code == 0, done.err
    assert snapshot(root) == before, "a review writes nothing"
    assert not (root / "state/reconciler.state.json.lock").exists()
    return done


def test_the_release_layer_shows_its_blast_radius(root: Path) -> None:
    shown = review(root, *RELEASE, *OVERRIDES).out
    assert shown.startswith("Review of a values change (dry run: nothing was written)")
    assert "  head: values.yaml, values-release.yaml" in shown
    assert "; 1 deployment\n" in shown
    assert f"  + {H2O3}/versions/v1.7.0  ({IMAGE}:v1.7.0)" in shown
    assert f"  ~ {H2O3}/versions/v1.5.4\n        state: DEPRECATED → DISABLED" in shown
    assert f"  - {FRAUD}  challenger: v1.6.0 → v1.7.0" in shown
    assert "Running versions that become DISABLED:\n  none" in shown, "nothing runs v1.5.4"
    assert "  reconciler upgrade fraud-team/fraud-detection\n" in shown
    assert f"      ⇡ challenger: v1.6.0 → v1.7.0 (image {IMAGE}:v1.7.0)" in shown
    assert "champion: already on v2.1.0, the latest available, skipped" in shown
    assert (
        "Review: 1 to add, 1 to change, 0 to replace, 0 to delete, 0 held; 1 deployment with "
        "an upgrade available, 0 compositions on a version becoming DISABLED, 1 deployment "
        "to roll on upgrade." in shown
    )


def test_what_the_review_says_an_upgrade_rolls_is_what_it_rolls(root: Path) -> None:
    predicted = json.loads(review(root, *RELEASE, *OVERRIDES, "--json").out)["rolls"]
    assert [r["command"] for r in predicted] == ["reconciler upgrade fraud-team/fraud-detection"]
    release = ["-f", "values.yaml", "-f", "values-release.yaml", *OVERRIDES]
    assert reconciler("apply", *release, "--auto-approve", cwd=root).code == 0
    command = predicted[0]["command"].split()[1:]
    planned = reconciler("plan", "--upgrade", command[1], "--json", cwd=root)
    (rolled,) = json.loads(planned.out)["deployments"]
    assert rolled["address"] == FRAUD
    assert rolled["upgrades"] == predicted[0]["upgrades"]
    upgraded = reconciler(*command, "--auto-approve", cwd=root)
    assert upgraded.code == 0, upgraded.err
    assert "rolled challenger v1.6.0 → v1.7.0" in upgraded.out


def test_json_follows_its_schema(root: Path) -> None:
    data = json.loads(review(root, *RELEASE, *OVERRIDES, "--json").out)
    schema_validator().validate(data)
    assert data["base"]["sources"] == ["values.yaml"]
    assert data["head"]["sources"] == ["values.yaml", "values-release.yaml"]
    assert data["state"]["serial"] == 1 and data["state"]["deployments"] == 1
    assert [(c["action"], c["address"]) for c in data["changes"]] == [
        ("~", f"{H2O3}/versions/v1.5.4"),
        ("+", f"{H2O3}/versions/v1.7.0"),
    ]
    assert data["available"] == [
        {
            "deployment": FRAUD,
            "experiment_id": "challenger",
            "current": f"{H2O3}/versions/v1.6.0",
            "available": f"{H2O3}/versions/v1.7.0",
            "reason": "",
        }
    ]
    assert data["disabled"] == []
    (roll,) = data["rolls"]
    assert roll["error"] is None
    assert roll["upgrades"] == [
        {
            "experiment_id": "challenger",
            "before": f"{H2O3}/versions/v1.6.0",
            "after": f"{H2O3}/versions/v1.7.0",
            "image": f"{IMAGE}:v1.7.0",
            "reason": "",
            "configuration": "",
        }
    ]
    assert data["summary"]["deployments_to_roll"] == 1
    assert data["summary"]["compositions_to_roll"] == 1


def test_a_document_that_breaks_the_schema_is_caught() -> None:
    validator = schema_validator()
    broken: dict[str, Any] = {"format_version": 1, "rolls": [{"command": "kubectl delete"}]}
    assert not validator.is_valid(broken)


def test_markdown_is_commonmark_with_the_blast_radius_first(root: Path) -> None:
    comment = review(root, *RELEASE, *OVERRIDES, "--format", "markdown").out
    parser = MarkdownIt("commonmark").enable("table")
    tokens = parser.parse(comment)
    assert [t.type for t in tokens][:3] == ["heading_open", "inline", "heading_close"]
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == [
        "runtime-reconciler review",
        "Upgrades available after the change",
        "Running versions that become DISABLED",
        "What an upgrade would roll once head is applied",
        "Catalog changes from base to head",
    ]
    assert [t.type for t in tokens].count("table_open") == 2
    html = parser.render(comment)
    assert (
        "<td><code>reconciler upgrade fraud-team/fraud-detection</code></td>\n"
        "<td><code>challenger</code></td>\n"
        f"<td>v1.6.0 → v1.7.0 (image <code>{IMAGE}:v1.7.0</code>)</td>" in html
    )
    assert f"<td><code>{H2O3}/versions/v1.7.0</code></td>" in html
    assert "<p>None.</p>" in html, "no running version becomes DISABLED"


def test_a_running_version_disabled_shows_the_rollback_an_upgrade_would_make(root: Path) -> None:
    (root / "withdraw.yaml").write_text(DISABLE_CHALLENGER)
    args = ["--base", "values.yaml", "--head", "values.yaml", "withdraw.yaml"]
    shown = review(root, *args).out
    assert (
        f"  - {FRAUD}  challenger: v1.6.0 of h2oai-h2o3mojo-scorer becomes DISABLED "
        "(CVE-2026-0001 in the scorer); it keeps running, an upgrade moves it to v1.5.4" in shown
    )
    assert (
        f"⇡ challenger: v1.6.0 → v1.5.4 (image {IMAGE}:v1.5.4; rollback: v1.6.0 is DISABLED "
        "(CVE-2026-0001 in the scorer))" in shown
    )
    assert "which is DEPRECATED (Superseded by v1.6.0)" in shown
    data = json.loads(review(root, *args, "--json").out)
    schema_validator().validate(data)
    assert data["disabled"] == [
        {
            "deployment": FRAUD,
            "experiment_id": "challenger",
            "version": f"{H2O3}/versions/v1.6.0",
            "reason": "CVE-2026-0001 in the scorer",
            "available": f"{H2O3}/versions/v1.5.4",
        }
    ]
    markdown = review(root, *args, "--format", "markdown").out
    assert "becomes DISABLED (CVE-2026-0001 in the scorer); it keeps running" in markdown


def test_an_upgrade_with_nowhere_to_go_is_shown_refused(root: Path) -> None:
    (root / "withdraw.yaml").write_text(DISABLE_IMAGE)
    args = ["--base", "values.yaml", "--head", "values.yaml", "withdraw.yaml"]
    shown = review(root, *args).out
    assert "no version of its image is available to move to" in shown
    assert f"refused: cannot upgrade {FRAUD} challenger: {H2O3} has no available version" in shown
    assert "0 deployments with an upgrade available" in shown
    data = json.loads(review(root, *args, "--json").out)
    schema_validator().validate(data)
    assert data["available"] == []
    assert [d["available"] for d in data["disabled"]] == [None]
    assert "has no available version" in data["rolls"][0]["error"]
    assert data["rolls"][0]["upgrades"] == []
    markdown = review(root, *args, "--format", "markdown").out
    assert "| `reconciler upgrade fraud-team/fraud-detection` | | refused: cannot upgrade" in (
        markdown
    )


def test_the_same_values_on_both_sides_have_no_blast_radius(root: Path) -> None:
    shown = review(root, "--base", "values.yaml", "--head", "values.yaml").out
    assert "Catalog changes from base to head: none." in shown
    assert "What an upgrade would roll once head is applied:\n  nothing" in shown


def test_without_a_state_the_overrides_deployments_are_reviewed(tmp_path: Path) -> None:
    for name in ("values.yaml", "values-release.yaml", "overrides.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    shown = review(tmp_path, *RELEASE, *OVERRIDES).out
    assert "state: none yet; 1 deployment" in shown
    assert f"⇡ challenger: v1.6.0 → v1.7.0 (image {IMAGE}:v1.7.0)" in shown
    assert not (tmp_path / "state").exists()


def test_secret_looking_values_are_not_shown(root: Path) -> None:
    (root / "token.yaml").write_text(
        "config: {deployer: {composition: {runtimes: {h2o3-mojo: "
        "{environmentVariables: {SCORER_API_TOKEN: hunter2-token}}}}}}\n"
    )
    args = ["--base", "values.yaml", "--head", "values.yaml", "token.yaml"]
    for fmt in ("human", "json", "markdown"):
        shown = review(root, *args, "--format", fmt).out
        assert "SCORER_API_TOKEN" in shown
        assert "hunter2-token" not in shown


# --git REV: the same -f files as a git revision has them ---------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Reviewer", "-c", "user.email=reviewer@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repo(root: Path) -> Path:
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "values.yaml", "overrides.yaml")
    git(root, "commit", "--quiet", "-m", "catalog")
    return root


def test_git_compares_a_file_with_itself_at_a_revision(repo: Path) -> None:
    values = (repo / "values.yaml").read_text()
    shipped = '            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.6.0"}\n'
    assert shipped in values
    (repo / "values.yaml").write_text(
        values.replace(
            shipped,
            shipped + '            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.7.0"}\n',
        )
    )
    status = git(repo, "status", "--porcelain")
    shown = review(repo, "-f", "values.yaml", "--git", "main", *OVERRIDES).out
    assert "  base: main:values.yaml\n  head: values.yaml\n" in shown
    assert f"  + {H2O3}/versions/v1.7.0" in shown
    assert f"⇡ challenger: v1.6.0 → v1.7.0 (image {IMAGE}:v1.7.0)" in shown
    assert git(repo, "status", "--porcelain") == status


def test_git_takes_a_file_the_revision_lacks_as_a_layer_the_change_adds(repo: Path) -> None:
    args = ["-f", "values.yaml", "-f", "values-release.yaml", "--git", "HEAD", "--json"]
    data = json.loads(review(repo, *args).out)
    schema_validator().validate(data)
    assert data["base"] == {
        "sources": ["HEAD:values.yaml"],
        "absent": ["values-release.yaml"],
        "digest": data["base"]["digest"],
    }
    assert [a["available"] for a in data["available"]] == [f"{H2O3}/versions/v1.7.0"]
    human = review(repo, *args[:-1]).out
    assert "values-release.yaml: not in the base revision (a layer this change adds)" in human


def test_git_outside_a_repository_is_one_clear_error(root: Path) -> None:
    before = snapshot(root)
    done = reconciler(
        "review",
        "-f",
        "values.yaml",
        "--git",
        "main",
        cwd=root,
        env={"GIT_CEILING_DIRECTORIES": str(root.parent)},
    )
    assert done.code == 1
    assert done.err.startswith("Error: --git main: values.yaml is not inside a git repository")
    assert "hint: run the review inside a git checkout" in done.err
    assert done.out == ""
    assert snapshot(root) == before


def test_git_with_an_unknown_revision_is_one_clear_error(repo: Path) -> None:
    done = reconciler("review", "-f", "values.yaml", "--git", "no-such-branch", cwd=repo)
    assert done.code == 1
    assert done.err.startswith("Error: --git no-such-branch: unknown revision 'no-such-branch'")
    assert "hint: name a commit, branch or tag" in done.err


def test_bad_values_at_the_revision_name_the_revision(repo: Path) -> None:
    (repo / "values.yaml").write_text("config: {deployer: {composition: {bogus: 1}}}\n")
    git(repo, "commit", "--quiet", "-am", "broken")
    shutil.copy(EXAMPLES / "values.yaml", repo / "values.yaml")
    done = reconciler("review", "-f", "values.yaml", "--git", "HEAD", cwd=repo)
    assert done.code == 1
    assert done.err.startswith("Error: HEAD:values.yaml:config.deployer.composition")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "values.yaml"], "a review needs both sides: --base FILE... and --head FILE"),
        (["--git", "main"], "--git REV compares the -f files with themselves at REV"),
        (
            ["-f", "values.yaml", "--git", "main", "--head", "values.yaml"],
            "--git REV compares the -f files with themselves at REV",
        ),
        (["-f", "values.yaml"], "a review needs both sides"),
    ],
)
def test_a_review_without_two_sides_is_refused(root: Path, args: list[str], message: str) -> None:
    done = reconciler("review", *args, cwd=root)
    assert done.code == 1
    assert done.err.startswith(f"Error: {message}")


# The README's recipe, run as written ------------------------------------------------------


def readme_section() -> str:
    text = (REPO / "README.md").read_text()
    return text.split("\n## Dry-run review\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_recipe_runs_and_prints_what_the_readme_shows(tmp_path: Path) -> None:
    section = readme_section()
    recipe, shown = section.split("```sh\n", 1)[1].split("\n```\n\n```\n", 1)
    shown = shown.split("\n```", 1)[0]
    script = recipe.replace("/tmp/review", str(tmp_path))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")},
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lineage = json.loads((tmp_path / "state.json").read_text())["lineage"]
    expected = re.sub(r"lineage [0-9a-f-]{36}", f"lineage {lineage}", shown)
    printed = done.stdout.split("State serial 1.\n", 1)[1]
    assert printed == expected + "\n"
    schema_validator().validate(json.loads((tmp_path / "review.json").read_text()))
    tokens = MarkdownIt("commonmark").enable("table").parse((tmp_path / "review.md").read_text())
    assert tokens[0].type == "heading_open"
