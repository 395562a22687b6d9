"""`make bench`: figures for planning at scale, start-up, and the state backends.

Prints measurements; asserts nothing about timings (machines differ). Every figure is a
whole `reconciler` process where the product runs as one (wall time, peak RSS), so what
is printed is what a CI job or Helm hook would see.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import catalog

IMAGES, VERSIONS, RUNTIMES = 2000, 5, 10000
RUNS = 5


def run_cli(*args: str, cwd: Path) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Wall seconds and peak RSS (MB) of one `reconciler` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")},
    )
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode not in (0, 2):
        raise SystemExit(f"reconciler {' '.join(args)} failed:\n{done.stderr}")
    # ru_maxrss of children is the largest child so far: report it as an upper bound.
    return elapsed, max(peak, before) // 1024, done


def timed(label: str, *args: str, cwd: Path) -> None:
    walls, peaks = [], []
    for _ in range(RUNS):
        wall, peak, _ = run_cli(*args, cwd=cwd)
        walls.append(wall)
        peaks.append(peak)
    print(
        f"  {label:<44} median {statistics.median(walls):6.3f} s   "
        f"min {min(walls):6.3f} s   peak RSS ≤ {max(peaks)} MB"
    )


def bench_planning() -> None:
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        root = Path(tmp)
        doc = catalog.generate_values(images=IMAGES, versions=VERSIONS, runtimes=RUNTIMES)
        values = root / "values.yaml"
        catalog.write_values(values, doc)
        changed = root / "values-1pct.yaml"
        catalog.write_values(changed, catalog.change_fraction(doc, 0.01))
        size = values.stat().st_size / 1e6
        state_args = ["--state", "state.json", "--target", "dir:cluster"]

        start = time.perf_counter()
        _, _, done = run_cli("apply", "-f", str(values), *state_args, "--auto-approve", cwd=root)
        build = time.perf_counter() - start
        resources = done.stdout.strip().splitlines()[-1]
        print(f"Planning at scale: {IMAGES} images × {VERSIONS} versions + {RUNTIMES} runtimes")
        print(
            f"  values file {size:.1f} MB; first apply (dir target) {build:.1f} s: {resources}"
        )
        timed("plan, no changes", "plan", "-f", str(values), *state_args, cwd=root)
        timed("plan, 1% of resources changed", "plan", "-f", str(changed), *state_args, cwd=root)
        timed("reconciler --help", "--help", cwd=root)


def main() -> None:
    bench_planning()
    try:
        from bench import bench_backends
    except ImportError:
        return
    bench_backends.run()


if __name__ == "__main__":
    main()
