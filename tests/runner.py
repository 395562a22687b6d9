"""Running the real `reconciler` command in a subprocess, as CI and Helm hooks do."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def reconciler(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> Run:
    """`reconciler ARGS` in `cwd`, without a terminal, with default state and target there."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` and its content digest: to prove nothing was written."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
