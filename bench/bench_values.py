"""Reading the values file: ours against Helm 4's own reader, on the same file.

Ours is `load_values_file` (the fast path when its scan proves the document safe);
Helm's is its Go SDK reading the same bytes as `-f` does (`helm-python-sdk`, in the
same process, so neither side pays for starting a process). Both are timed in a fresh
child process, best and median of a few runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUNS = 5
_MEASURE = f"""
import statistics, sys, time
from pathlib import Path
import helm_python
from reconciler.inputs import yamlio

text = Path(sys.argv[1]).read_text()


def timed(read):
    walls = []
    for _ in range({RUNS}):
        start = time.perf_counter()
        read()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), min(walls)


ours = timed(lambda: yamlio.load_values_file(text, source="values.yaml"))
helm = timed(lambda: helm_python.values_from_yaml(text))
print(*ours, *helm)
"""


def compare_reading(values_file: Path, *, cwd: Path) -> None:
    """Print one line: our reading of `values_file` against Helm's."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(values_file)],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    ours_median, ours_min, helm_median, helm_min = map(float, done.stdout.split())
    size = values_file.stat().st_size / 1e6
    print(
        f"  {f'reading the {size:.1f} MB values file':<44} median {ours_median:6.3f} s   "
        f"min {ours_min:6.3f} s   Helm 4 SDK: median {helm_median:.3f} s, min {helm_min:.3f} s"
    )
