"""SIGTERM during a long apply: in-flight work finishes, state is persisted, the lock freed.

A real `reconciler apply` process on a generated catalog large enough to take a while,
terminated as Kubernetes terminates a Helm hook Job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import catalog
from tests.runner import reconciler


def test_sigterm_persists_progress_and_a_rerun_converges(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    catalog.write_values(values, catalog.generate_values(images=300, versions=5, runtimes=1500))
    args = ["apply", "-f", str(values), "--auto-approve", "--parallelism", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    log = tmp_path / "apply.log"
    # Output to a file, not a pipe: a plan of thousands of lines would fill a pipe nobody
    # reads yet and block the child before it applies anything.
    with log.open("w") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", *args],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    cluster = tmp_path / "state/cluster"
    deadline = time.monotonic() + 60
    while not any(cluster.rglob("*.yaml")) and time.monotonic() < deadline:
        time.sleep(0.02)  # wait until it is applying, not still planning
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=120)
    out = log.read_text()

    assert child.returncode == 1, out
    assert "Apply interrupted!" in out
    state_file = tmp_path / "state/reconciler.state.json"
    saved = json.loads(state_file.read_text())  # valid JSON: a complete document
    written = len(saved["resources"])
    assert 0 < written < 300 + 1500 + 1500
    assert not (tmp_path / "state/reconciler.state.json.lock").exists(), "lock released"

    rerun = reconciler("apply", "-f", str(values), "--auto-approve", cwd=tmp_path)
    assert rerun.code == 0, rerun.err
    assert f"{300 + 1500 + 1500 - written} applied" in rerun.out
    again = reconciler("plan", "-f", str(values), "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.out
