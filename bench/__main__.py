"""`make bench`: figures for planning at scale, start-up, values reading against Helm's,
the state backends, and the kubernetes target against the API emulator.

Prints measurements; asserts nothing about timings (machines differ). Every figure is a
whole `reconciler` process where the product runs as one (wall time, peak RSS), so what
is printed is what a CI job or Helm hook would see.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import bench_backends, bench_kubernetes, bench_upgrades, bench_values
from bench.process import run_cli

IMAGES, VERSIONS, RUNTIMES = 2000, 5, 10000
RUNS = 5
REPO = Path(__file__).resolve().parent.parent
GENERATE = f"""
import sys
from bench import catalog
doc = catalog.generate_values(images={IMAGES}, versions={VERSIONS}, runtimes={RUNTIMES})
catalog.write_values(sys.argv[1], doc)
catalog.write_values(sys.argv[2], catalog.change_fraction(doc, 0.01))
"""


def timed(label: str, *args: str, cwd: Path) -> None:
    walls, peaks = [], []
    for _ in range(RUNS):
        wall, peak, _ = run_cli(*args, cwd=cwd)
        walls.append(wall)
        peaks.append(peak)
    print(
        f"  {label:<44} median {statistics.median(walls):6.3f} s   "
        f"min {min(walls):6.3f} s   peak RSS {max(peaks)} MB"
    )


def bench_planning() -> None:
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        root = Path(tmp)
        values, changed = root / "values.yaml", root / "values-1pct.yaml"
        # Generated in a child: a forked `reconciler` would otherwise start with this
        # process's copy of the catalog in its peak RSS.
        subprocess.run(
            [sys.executable, "-c", GENERATE, str(values), str(changed)], check=True, cwd=REPO
        )
        size = values.stat().st_size / 1e6
        state_args = ["--state", "state.json", "--target", "dir:cluster"]

        start = time.perf_counter()
        _, _, output = run_cli("apply", "-f", str(values), *state_args, "--auto-approve", cwd=root)
        build = time.perf_counter() - start
        resources = output.strip().splitlines()[-1]
        print(f"Planning at scale: {IMAGES} images × {VERSIONS} versions + {RUNTIMES} runtimes")
        print(f"  values file {size:.1f} MB; first apply (dir target) {build:.1f} s: {resources}")
        timed("plan, no changes", "plan", "-f", str(values), *state_args, cwd=root)
        timed("plan, 1% of resources changed", "plan", "-f", str(changed), *state_args, cwd=root)
        timed("reconciler --help", "--help", cwd=root)
        bench_values.compare_reading(values, cwd=REPO)


def main() -> None:
    bench_planning()
    bench_upgrades.bench_upgrades()
    bench_backends.run()
    bench_kubernetes.run()


if __name__ == "__main__":
    main()
