"""Bad input gives one clear error naming file and path, exit 1, and changes nothing.

Each case starts from the examples applied once (a real state and target), runs one bad
command, and checks the exit code, the message, and that state and target are
byte-for-byte as they were.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runner import EXAMPLES, reconciler, snapshot

GOOD = ["-f", "values.yaml", "--overrides", "overrides.yaml"]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("applied")
    shutil.copy(EXAMPLES / "values.yaml", root / "values.yaml")
    shutil.copy(EXAMPLES / "overrides.yaml", root / "overrides.yaml")
    run = reconciler("apply", *GOOD, "--auto-approve", cwd=root)
    assert run.code == 0, run.err
    return root


@pytest.fixture
def workdir(applied: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(applied, work)
    return work


def write(name: str, text: str) -> Callable[[Path], list[str]]:
    def arrange(root: Path) -> list[str]:
        (root / name).write_text(text)
        return []

    return arrange


def edit_values(change: Callable[[str], str]) -> Callable[[Path], list[str]]:
    def arrange(root: Path) -> list[str]:
        path = root / "values.yaml"
        path.write_text(change(path.read_text()))
        return []

    return arrange


def corrupt_state(root: Path) -> list[str]:
    path = root / "state/reconciler.state.json"
    path.write_bytes(path.read_bytes()[:-40])
    return []


def wrong_state_type(root: Path) -> list[str]:
    path = root / "state/reconciler.state.json"
    doc = json.loads(path.read_text())
    doc["serial"] = "one"
    path.write_text(json.dumps(doc))
    return []


def newer_state(root: Path) -> list[str]:
    path = root / "state/reconciler.state.json"
    doc = json.loads(path.read_text())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    return []


def edit_state(change: Callable[[dict], object]) -> Callable[[Path], list[str]]:
    def arrange(root: Path) -> list[str]:
        path = root / "state/reconciler.state.json"
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))
        return []

    return arrange


def resource(doc: dict, address: str) -> dict:
    return next(r for r in doc["resources"] if r["address"] == address)


H2O3 = "workspaces/global/runtimes/h2o3-mojo"
SCORER = "workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer"
STATE = "state/reconciler.state.json"


def held_lock(root: Path) -> list[str]:
    lock = root / "state/reconciler.state.json.lock"
    lock.write_text(
        json.dumps(
            {
                "id": "6f1c-held",
                "who": "ci-runner",
                "host": "build-7",
                "pid": 1,
                "operation": "apply",
                "created": "2026-11-22T10:00:00Z",
                "heartbeat": "2026-11-22T10:00:00Z",
            }
        )
    )
    return []


def stale_plan(root: Path) -> list[str]:
    planned = reconciler("plan", "-f", "values.yaml", "--out", "old.plan", cwd=root)
    assert planned.code == 0
    path = root / "state/reconciler.state.json"
    doc = json.loads(path.read_text())
    doc["serial"] += 1  # as if another apply had happened since
    path.write_text(json.dumps(doc))
    return []


def saved_plan(root: Path) -> list[str]:
    planned = reconciler("plan", *GOOD, "--out", "saved.plan", cwd=root)
    assert planned.code == 0, planned.err
    return []


def _redirect_update(root: Path) -> dict:
    """The saved plan with its update pointed at a runtime that does not exist."""
    saved_plan(root)
    data = json.loads((root / "saved.plan").read_text())
    change = next(c for c in data["changes"] if c["action"] == "~")
    change["address"] = change["before"]["address"] = change["after"]["address"] = NOWHERE
    return data


def edited_plan(root: Path) -> list[str]:
    (root / "saved.plan").write_text(json.dumps(_redirect_update(root)))
    return []


def resealed_plan(root: Path) -> list[str]:
    from reconciler import planfile

    data = _redirect_update(root)
    data["digest"] = planfile.content_digest(data)
    (root / "saved.plan").write_text(json.dumps(data))
    return []


def recreating_plan(root: Path) -> list[str]:
    from reconciler import planfile

    saved_plan(root)
    data = json.loads((root / "saved.plan").read_text())
    change = next(c for c in data["changes"] if c["action"] == "~")
    change.update(action="+", before=None, fields=[])
    data["digest"] = planfile.content_digest(data)
    (root / "saved.plan").write_text(json.dumps(data))
    return []


def older_plan_format(root: Path) -> list[str]:
    saved_plan(root)
    data = json.loads((root / "saved.plan").read_text())
    data["format_version"] = 1
    (root / "saved.plan").write_text(json.dumps(data))
    return []


NOWHERE = "workspaces/global/runtimes/nowhere"

CASES: dict[str, tuple] = {
    "malformed yaml": (
        write("bad.yaml", "config:\n  deployer: [unclosed\n"),
        ["apply", "-f", "bad.yaml", "--auto-approve"],
        ["bad.yaml", "line 3", "flow sequence"],
    ),
    "wrong type": (
        edit_values(lambda t: t.replace("dataVolumeReadOnly: true", "dataVolumeReadOnly: 3", 1)),
        ["apply", *GOOD, "--auto-approve"],
        ["values.yaml", "config.deployer.composition.runtimes.h2o3-mojo.dataVolumeReadOnly"],
    ),
    "unknown key": (
        edit_values(
            lambda t: t.replace("modelType: h2o3_mojo", "modelType: h2o3_mojo\n          gpu: 1", 1)
        ),
        ["apply", *GOOD, "--auto-approve"],
        ["values.yaml", "gpu"],
    ),
    "invalid id": (
        edit_values(lambda t: t.replace("h2o3-mojo:", "H2O3_Mojo:", 1)),
        ["apply", *GOOD, "--auto-approve"],
        ["values.yaml", "H2O3_Mojo"],
    ),
    "unknown runtime image": (
        edit_values(
            lambda t: t.replace("runtimeImage: h2oai-python-scorer", "runtimeImage: nope", 1)
        ),
        ["apply", *GOOD, "--auto-approve"],
        ["values.yaml", "runtimes.python-pipeline.runtimeImage", "nope"],
    ),
    "non-semver tag without version": (
        edit_values(lambda t: t.replace('tag: "2.2.1"', 'tag: "nightly"', 1)),
        ["apply", *GOOD, "--auto-approve"],
        ["values.yaml", "nightly", "version"],
    ),
    "bad set flag": (
        lambda root: [],
        [
            "apply",
            *GOOD,
            "--set",
            "config.deployer.composition.runtimes.h2o3-mojo.modelType",
            "--auto-approve",
        ],
        ["--set"],
    ),
    "unknown overrides key": (
        write("overrides.yaml", "stateChange: []\n"),
        ["apply", *GOOD, "--auto-approve"],
        ["overrides.yaml", "stateChange"],
    ),
    "refused ceiling move": (
        write(
            "overrides.yaml",
            "stateChanges:\n  - resource: workspaces/global/runtimes/mlflow-py39\n"
            "    action: enable\n",
        ),
        ["apply", *GOOD, "--auto-approve"],
        ["overrides.yaml", "stateChanges[0]", "blocked by the platform ceiling", "DISABLED"],
    ),
    "overrides runtime on an unknown image": (
        write(
            "overrides.yaml",
            "workspaces:\n  team:\n    runtimes:\n      mine:\n"
            "        modelType: python\n        runtimeImage: no-such-image\n",
        ),
        ["apply", *GOOD, "--auto-approve"],
        [
            "overrides.yaml:workspaces.team.runtimes.mine.runtimeImage",
            "runtime image no-such-image does not exist",
        ],
    ),
    "overrides runtime in workspace global": (
        write(
            "overrides.yaml",
            "workspaces:\n  global:\n    runtimes:\n      mine:\n"
            "        modelType: python\n        runtimeImage: h2oai-h2o3mojo-scorer\n",
        ),
        ["apply", *GOOD, "--auto-approve"],
        ["overrides.yaml:workspaces.global.runtimes.mine", "workspace global holds the bootstrap"],
    ),
    "overrides deployment in workspace global": (
        write(
            "overrides.yaml",
            "workspaces:\n  global:\n    deployments:\n      mine:\n        compositions:\n"
            "          - {experimentId: exp-1, modelType: h2o3_mojo}\n",
        ),
        ["apply", *GOOD, "--auto-approve"],
        ["overrides.yaml:workspaces.global.deployments.mine", "workspace global holds the"],
    ),
    # No input creates an API-managed resource in global any more; a state from before
    # that rule may still hold one, and values must not take it over.
    "values colliding with an API-managed resource": (
        edit_state(lambda d: resource(d, SCORER).update(managed_by_bootstrap=False, platform=None)),
        ["apply", *GOOD, "--auto-approve"],
        [
            "values.yaml:config.deployer.composition.runtimeImages.h2oai-h2o3mojo-scorer",
            f"{SCORER} is declared in Helm values but is an API-managed resource",
        ],
    ),
    "missing values file": (
        lambda root: [],
        ["apply", "-f", "nope.yaml", "--auto-approve"],
        ["nope.yaml"],
    ),
    "corrupted state": (
        corrupt_state,
        ["apply", *GOOD, "--auto-approve"],
        ["state/reconciler.state.json", "not valid JSON"],
    ),
    "state of wrong type": (
        wrong_state_type,
        ["plan", *GOOD],
        ["state/reconciler.state.json", "serial"],
    ),
    "newer state format": (
        newer_state,
        ["plan", *GOOD],
        ["newer than this tool understands"],
    ),
    # A corrupted state is refused on read, so apply can never write it back.
    "state with a duplicated address": (
        edit_state(lambda d: d["resources"].append(resource(d, H2O3))),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, H2O3, "listed twice"],
    ),
    "state with an invalid address": (
        edit_state(lambda d: resource(d, H2O3).update(address="workspaces/global/runtimes/H2O")),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, "'workspaces/global/runtimes/H2O' is not a resource address"],
    ),
    "state with a kind not matching its address": (
        edit_state(lambda d: resource(d, H2O3).update(kind="RuntimeImage")),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, H2O3, "a Runtime recorded as a RuntimeImage"],
    ),
    "state with a runtime lacking its image": (
        edit_state(lambda d: resource(d, H2O3)["spec"].pop("runtime_image")),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, H2O3, "spec lacks runtime_image"],
    ),
    "state with a runtime whose image is gone": (
        edit_state(lambda d: resource(d, H2O3)["spec"].update(runtime_image=SCORER + "x")),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, H2O3, f"{SCORER}x", "not in the state"],
    ),
    "state with a version whose image is gone": (
        edit_state(lambda d: d["resources"].remove(resource(d, SCORER))),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, SCORER, "is not in the state"],
    ),
    "state with a composition whose runtime is gone": (
        edit_state(lambda d: d["deployments"][0]["compositions"][0].update(runtime=H2O3 + "x")),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, "workspaces/fraud-team/deployments/", f"Runtime {H2O3}x is not in the state"],
    ),
    "state with a serial out of range": (
        edit_state(lambda d: d.update(serial=2**64 - 1)),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, "serial", "less than or equal to 9223372036854775807"],
    ),
    "state of format version 0": (
        edit_state(lambda d: d.update(version=0)),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, "state format 0 is not one this tool ever wrote"],
    ),
    "state with a resource of unknown kind": (
        edit_state(lambda d: resource(d, H2O3).update(kind="Gadget")),
        ["apply", *GOOD, "--auto-approve"],
        [STATE, "resources.", f"({H2O3})", "kind"],
    ),
    "corrupted plan file": (
        write("broken.plan", '{"format_version": 1, "changes": ['),
        ["apply", "broken.plan", "--auto-approve"],
        ["broken.plan", "not a plan file"],
    ),
    "plan file of wrong shape": (
        write("shape.plan", '{"format_version": 1, "changes": "all"}'),
        ["apply", "shape.plan", "--auto-approve"],
        ["shape.plan"],
    ),
    "stale plan": (
        stale_plan,
        ["apply", "old.plan"],
        ["old.plan: saved plan is stale", "state changed since it was made"],
    ),
    "held lock": (
        held_lock,
        ["apply", *GOOD, "--auto-approve"],
        ["ci-runner", "build-7", "6f1c-held", "force-unlock"],
    ),
    "apply without a terminal or --auto-approve": (
        lambda root: [],
        ["apply", *GOOD],
        ["--auto-approve"],
    ),
    "unknown target": (
        lambda root: [],
        ["apply", *GOOD, "--auto-approve", "--target", "ftp:somewhere"],
        ["ftp:somewhere"],
    ),
    # Usage errors exit 1 like every error: 2 is --detailed-exitcode's "there are changes".
    "no command": (lambda root: [], [], ["required: COMMAND", "reconciler --help"]),
    "unknown flag": (
        lambda root: [],
        ["apply", *GOOD, "--auto-aprove"],
        ["unrecognized arguments: --auto-aprove"],
    ),
    "missing argument": (
        lambda root: [],
        ["apply", *GOOD, "--auto-approve", "--overrides"],
        ["--overrides", "expected one argument"],
    ),
    "lock timeout that is not a duration": (
        lambda root: [],
        ["apply", *GOOD, "--auto-approve", "--lock-timeout", "abc"],
        ["--lock-timeout", "'abc' is not a duration"],
    ),
    "unknown output format": (
        lambda root: [],
        ["plan", *GOOD, "--format", "xml", "--detailed-exitcode"],
        ["--format", "invalid choice: 'xml'"],
    ),
    "negative parallelism": (
        lambda root: [],
        ["apply", *GOOD, "--auto-approve", "--parallelism", "-3"],
        ["--parallelism", "-3 is not at least 1"],
    ),
    "zero parallelism": (
        lambda root: [],
        ["upgrade", "prod/none", "--auto-approve", "--parallelism", "0"],
        ["--parallelism", "0 is not at least 1"],
    ),
    "json and another format": (
        lambda root: [],
        ["apply", *GOOD, "--auto-approve", "--json", "--format", "markdown"],
        ["--json and --format markdown"],
    ),
    "planning flags with a saved plan": (
        saved_plan,
        ["apply", "saved.plan", "-f", "values.yaml"],
        ["a saved plan already carries its inputs", "-f/--set/--overrides/--upgrade"],
    ),
    "edited plan file": (
        edited_plan,
        ["apply", "saved.plan"],
        ["saved.plan", "modified after it was saved", "plan again"],
    ),
    "plan file whose change is not where the state is": (
        resealed_plan,
        ["apply", "saved.plan"],
        ["saved.plan: saved plan does not fit the state", NOWHERE, "no such resource"],
    ),
    "plan file creating what exists": (
        recreating_plan,
        ["apply", "saved.plan"],
        ["saved.plan: saved plan does not fit the state", "the state already has it"],
    ),
    "plan file of an older format": (
        older_plan_format,
        ["apply", "saved.plan"],
        ["saved.plan", "plan format 1 is older", "plan again"],
    ),
    "empty RECONCILER_STATE": (
        lambda root: [],
        ["apply", *GOOD, "--auto-approve"],
        ["RECONCILER_STATE is set but empty"],
        {"RECONCILER_STATE": ""},
    ),
    "empty --state": (
        lambda root: [],
        ["apply", *GOOD, "--auto-approve", "--state", ""],
        ["state location '' is not a path"],
    ),
    "empty RECONCILER_TARGET": (
        lambda root: [],
        ["apply", *GOOD, "--auto-approve"],
        ["RECONCILER_TARGET is set but empty"],
        {"RECONCILER_TARGET": ""},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_error_and_changes_nothing(workdir: Path, name: str) -> None:
    arrange, args, expected, *env = CASES[name]
    # Make the state differ from the inputs, so an apply that went ahead would write.
    (workdir / "values.yaml").write_text(
        (workdir / "values.yaml").read_text().replace("LOG_LEVEL: INFO}", "LOG_LEVEL: WARN}", 1)
    )
    arrange(workdir)
    before = snapshot(workdir / "state")
    run = reconciler(*args, cwd=workdir, env=env[0] if env else None)
    assert run.code == 1, f"{name}: exit {run.code}\n{run.out}\n{run.err}"
    assert run.err.startswith("Error: "), run.err
    assert "Traceback" not in run.err
    for fragment in expected:
        assert fragment in run.err, f"{name}: {fragment!r} missing from:\n{run.err}"
    assert snapshot(workdir / "state") == before, f"{name}: state or target changed"
