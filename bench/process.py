"""Running one `reconciler` process and measuring it as a CI job would see it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_cli(*args: str, cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and output of one `reconciler` process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", *args],
            cwd=cwd,
            stdout=out,
            stderr=err,
            env={k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")},
        )
        # Reaping the child ourselves gives its own resource usage, peak RSS included.
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode not in (0, 2):
            raise SystemExit(f"reconciler {' '.join(args)} failed:\n{err.read().decode()}")
        return elapsed, usage.ru_maxrss // 1024, out.read().decode()
