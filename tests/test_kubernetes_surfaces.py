"""The kubernetes target from the CLI and the SDK, against the API emulator.

`--target kubernetes` applies the Helm values to the cluster; `--force-conflicts` is the
only way over a field another field manager owns; `reconciler.Client(target="kubernetes")`
upgrades a deployment by rolling its Deployments, and returns once they serve.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import reconciler as sdk
from reconciler import progress
from tests import kubetarget
from tests.kubeapi import Emulator
from tests.kubeapi.fixtures import HttpClient
from tests.runner import Run, reconciler
from tests.test_kubernetes_target import (
    DEPLOYMENTS,
    declared,
    deploy,
    deployments,
    image,
    values,
)

DESCRIPTION = "config.deployer.composition.runtimes.lts.description"
RUNTIMES = "/apis/runtimes.reconciler.dev/v1/namespaces/runtime-platform/runtimes"


@pytest.fixture
def cluster(kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch)
    return kubeapi


def apply(tmp_path: Path, *args: str) -> Run:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(json.dumps(values().data))
    return reconciler(
        "apply",
        "-f",
        str(values_file),
        "--auto-approve",
        "--target",
        "kubernetes",
        "--state",
        str(tmp_path / "state.json"),
        *args,
        cwd=tmp_path,
    )


def lts(emulator: Emulator) -> dict[str, Any]:
    (found,) = HttpClient(emulator.url).get(RUNTIMES).body["items"]
    return found


def test_the_cli_applies_to_the_cluster_and_forces_conflicts_only_when_told(
    cluster: Emulator, tmp_path: Path
) -> None:
    first = apply(tmp_path)
    assert first.code == 0, first.out + first.err
    assert lts(cluster)["spec"]["modelType"] == "h2o3_mojo"
    edit = {
        "apiVersion": "runtimes.reconciler.dev/v1",
        "kind": "Runtime",
        "metadata": {"name": "lts", "namespace": "runtime-platform"},
        "spec": {"description": "edited by hand"},
    }
    cluster.apply_objects([edit], manager="ops-console")

    refused = apply(tmp_path, "--set", f"{DESCRIPTION}=the long-term scorer")
    assert refused.code == 1
    assert ".spec.description (owned by ops-console)" in refused.out + refused.err
    assert lts(cluster)["spec"]["description"] == "edited by hand"

    forced = apply(tmp_path, "--set", f"{DESCRIPTION}=the long-term scorer", "--force-conflicts")
    assert forced.code == 0, forced.out + forced.err
    assert lts(cluster)["spec"]["description"] == "the long-term scorer"
    assert "workspaces/global/runtimes/lts: written again (changed outside the tool)" in forced.out
    assert "Apply complete! 1 applied, 0 failed, 0 skipped, 1 corrected." in forced.out


def test_the_sdk_upgrades_a_deployment_by_rolling_its_deployments(
    cluster: Emulator, tmp_path: Path
) -> None:
    backend, _ = deploy(cluster)
    state = tmp_path / "state.json"
    blob = backend.read()
    assert blob is not None
    state.write_bytes(blob.data)
    client = sdk.Client(state=str(state), target="kubernetes")
    assert client.target.name == "kubernetes"
    deployment = client.workspaces.get("prod").deployments.get("model-0")
    with kubetarget.FastClock(cluster):
        deployment.upgrade_runtime_image()
    rolled = {d["metadata"]["name"]: d for d in deployments(cluster)}
    for name in ("model-0-exp-a", "model-0-exp-b"):
        assert image(rolled[name]) == "scorer:v1.6.0"
        assert rolled[name]["status"]["availableReplicas"] == rolled[name]["spec"]["replicas"]
    assert image(rolled["model-1-exp-a"]) == "scorer:v1.5.4", "the other deployment stays"


def test_sigterm_during_rollouts_finishes_them_persists_and_unlocks(
    cluster: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "deployments.yaml").write_text(json.dumps(declared()))
    with kubetarget.FastClock(cluster):
        first = apply(tmp_path, "--overrides", str(tmp_path / "deployments.yaml"))
    assert first.code == 0, first.out + first.err
    cluster.faults.reset_log()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    upgrade = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler.cli",
            "upgrade",
            *DEPLOYMENTS,
            "--auto-approve",
            "--parallelism",
            "1",
            "--target",
            "kubernetes",
            "--state",
            str(tmp_path / "state.json"),
        ],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while cluster.requests["patch", "deployments"] == 0:  # the first rollout has started
        assert time.monotonic() < deadline and upgrade.poll() is None
        time.sleep(0.01)
    upgrade.send_signal(signal.SIGTERM)
    with kubetarget.FastClock(cluster):
        out, err = upgrade.communicate(timeout=60)
    state = json.loads((tmp_path / "state.json").read_text())
    pinned = {
        (d["address"], c["experiment_id"]): c["image_version"].rsplit("/", 1)[1]
        for d in state["deployments"]
        for c in d["compositions"]
    }
    assert "v1.6.0" in pinned.values(), out + err  # what was in flight finished, recorded
    running = {d["metadata"]["name"]: image(d) for d in deployments(cluster)}
    for (address, experiment), version in pinned.items():
        name = f"{address.rsplit('/', 1)[1]}-{experiment}"
        assert running[name] == f"scorer:{version}", "the cluster runs what the state says"
    with kubetarget.FastClock(cluster):
        again = reconciler(
            "upgrade",
            *DEPLOYMENTS,
            "--auto-approve",
            "--target",
            "kubernetes",
            "--state",
            str(tmp_path / "state.json"),
            cwd=tmp_path,
        )
    assert again.code == 0, again.out + again.err  # the lock was released; the rest rolls
    assert {image(d) for d in deployments(cluster)} == {"scorer:v1.6.0"}


def test_rollouts_print_one_line_each_without_a_terminal(cluster: Emulator, tmp_path: Path) -> None:
    (tmp_path / "deployments.yaml").write_text(json.dumps(declared()))
    with kubetarget.FastClock(cluster):
        run = apply(tmp_path, "--overrides", str(tmp_path / "deployments.yaml"))
    assert run.code == 0, run.out + run.err
    for deployment in DEPLOYMENTS:
        for experiment in ("exp-a", "exp-b"):
            address = f"{deployment}/compositions/{experiment}"
            assert f"rollout started: {address}\n" in run.err
            assert f"rollout rolled: {address}\n" in run.err


def test_on_a_terminal_rollouts_show_as_a_progress_bar() -> None:
    screen = io.StringIO()
    with progress.RolloutDisplay(screen, terminal=True) as display:
        display.expect(3)
        display("started", "a")
        display("started", "b")
        display("rolled", "a")
        display("failed", "b")
    drawn = screen.getvalue()
    assert "rollouts" in drawn and "2/3" in drawn and "0 in flight, 1 failed" in drawn
    assert "rollout rolled" not in drawn, "no plain lines on a terminal"


def test_a_batch_rolls_every_deployment_in_one_apply(cluster: Emulator, tmp_path: Path) -> None:
    backend, first = deploy(cluster)
    assert first.state is not None
    client = sdk.Client(state=backend, target="kubernetes")
    workspace = client.workspaces.get("prod")
    patches_seen: list[int] = []
    # The clock runs throughout: inside the block nothing is written for it to roll.
    with kubetarget.FastClock(cluster), client.batch():
        for listed in workspace.deployments.list():
            workspace.deployments.get(listed["uid"]).upgrade_runtime_image()
            patches_seen.append(cluster.requests["patch", "deployments"])
        assert {image(d) for d in deployments(cluster)} == {"scorer:v1.5.4"}, "not yet"
    assert patches_seen == [4, 4], "nothing was written inside the block"
    assert {image(d) for d in deployments(cluster)} == {"scorer:v1.6.0"}
    blob = backend.read()
    assert blob is not None
    assert json.loads(blob.data)["serial"] == first.state.serial + 1, "one apply for all"


def test_a_batch_that_raises_applies_nothing(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    client = sdk.Client(state=backend, target="kubernetes")
    deployment = client.workspaces.get("prod").deployments.get("model-0")
    with pytest.raises(RuntimeError), client.batch():
        deployment.upgrade_runtime_image()
        raise RuntimeError("changed my mind")
    assert {image(d) for d in deployments(cluster)} == {"scorer:v1.5.4"}


def test_refresh_only_shows_and_records_what_changed_outside_the_tool(
    cluster: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "deployments.yaml").write_text(json.dumps(declared()))
    with kubetarget.FastClock(cluster):
        assert apply(tmp_path, "--overrides", str(tmp_path / "deployments.yaml")).code == 0
    scaled = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "model-1-exp-b", "namespace": "workspace-prod"},
        "spec": {"replicas": 3},
    }
    cluster.apply_objects([scaled], manager="hpa-by-hand")
    where = ("--target", "kubernetes", "--state", str(tmp_path / "state.json"))
    planned = reconciler("plan", "--refresh-only", *where, cwd=tmp_path)
    assert planned.code == 0, planned.err
    assert "Changed outside the tool" in planned.out
    assert "spec.replicas: 3 → 1" in planned.out
    assert "model-1/compositions/exp-b" in planned.out

    cluster.faults.reset_log()
    recorded = reconciler("apply", "--refresh-only", "--auto-approve", *where, cwd=tmp_path)
    assert recorded.code == 0, recorded.err
    assert "1 objects changed outside the tool recorded in state" in recorded.out
    assert not [verb for (verb, _), n in cluster.requests.items() if verb in ("patch", "delete")]
    again = reconciler("plan", "--detailed-exitcode", *where, cwd=tmp_path)
    assert again.code == 0, again.out  # accepted: no drift, nothing to do
    refused = reconciler(
        "apply",
        "--refresh-only",
        "--auto-approve",
        "--upgrade",
        DEPLOYMENTS[0],
        *where,
        cwd=tmp_path,
    )
    assert refused.code == 1 and "takes no inputs" in refused.err


def test_the_rollout_order_is_shown_before_rolling(cluster: Emulator, tmp_path: Path) -> None:
    (tmp_path / "deployments.yaml").write_text(json.dumps(declared()))
    with kubetarget.FastClock(cluster):
        created = apply(tmp_path, "--overrides", str(tmp_path / "deployments.yaml"))
        assert created.code == 0, created.out + created.err
        assert "Rollout order (2 deployments, up to 10 rollouts at once):" in created.out
        assert "no new upgrade rollout starts" not in created.out, "creates are not upgrades"
        cluster.fail_image("scorer:v1.6.0")
        upgrade = reconciler(
            "upgrade", *DEPLOYMENTS, "--canary", "1", "--auto-approve", "--parallelism", "4",
            "--target", "kubernetes", "--state", str(tmp_path / "state.json"),
            cwd=tmp_path,
        )  # fmt: skip
    assert upgrade.code == 1
    order = upgrade.out[upgrade.out.index("Rollout order") :]
    assert order.startswith(
        "Rollout order (2 deployments, up to 4 rollouts at once):\n"
        f"  1. canaries, first: {DEPLOYMENTS[0]}\n"
        f"  2. once every canary is healthy: {DEPLOYMENTS[1]}\n"
        "  no new upgrade rollout starts after 1 failure (--max-failures); those not started "
        "are reported as not attempted, and a re-run continues with them\n"
    )
    assert f"{DEPLOYMENTS[1]}: not attempted (exp-a, exp-b)" in upgrade.out
    assert {image(d) for d in deployments(cluster)} == {"scorer:v1.5.4"}
