"""Latency of the state backends: lock, unlock, read and write, local file and S3.

Prints the median and 95th percentile of each operation against a local file and against
a SeaweedFS server it starts itself on 127.0.0.1 (the same helper as the tests,
tests/s3server.py, loaded by path), for a ~50 KB and a ~4 MB state document, plus the
S3 requests a plan and a locked read cost. Figures only: nothing is asserted.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from reconciler.apply import engine
from reconciler.backends import Backend
from reconciler.backends.local import LocalBackend
from reconciler.backends.s3 import S3Backend
from reconciler.inputs.overrides import load_overrides
from reconciler.inputs.values import load_values
from reconciler.targets.memory import MemoryTarget

REPO = Path(__file__).resolve().parent.parent
LOCK_ROUNDS = 50
DOCUMENTS = {"50 KB": 50_000, "4 MB": 4_000_000}
WRITE_ROUNDS = {"50 KB": 50, "4 MB": 20}


def run() -> None:
    s3server = _load(REPO / "tests" / "s3server.py")
    print(f"{'backend':<10} {'operation':<18} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as scratch:
        _measure("local", LocalBackend(Path(scratch) / "local" / "reconciler.state.json"))
        server = s3server.start(Path(scratch) / "seaweedfs")
        try:
            bucket = server.create_bucket("bench")
            backend = S3Backend(bucket=bucket, key="reconciler.state.json", client=server.client())
            _measure("s3", backend)
            catalog = S3Backend(
                bucket=bucket, key="availability.state.json", client=server.client()
            )
            _count_requests(catalog)
        finally:
            server.stop()


def _measure(label: str, backend: Backend) -> None:
    locks: list[float] = []
    unlocks: list[float] = []
    for _ in range(LOCK_ROUNDS):
        began = time.perf_counter()
        lock = backend.lock(operation="bench")
        locks.append(time.perf_counter() - began)
        began = time.perf_counter()
        backend.unlock(lock.id)
        unlocks.append(time.perf_counter() - began)
    _print(label, "lock acquire", locks)
    _print(label, "lock release", unlocks)

    etag = None
    for size, length in DOCUMENTS.items():
        document = _document(length)
        etag = backend.write(document, if_match=etag)  # warm-up, and the etag to build on
        writes: list[float] = []
        reads: list[float] = []
        for _ in range(WRITE_ROUNDS[size]):
            began = time.perf_counter()
            etag = backend.write(document, if_match=etag)
            writes.append(time.perf_counter() - began)
            began = time.perf_counter()
            backend.read()
            reads.append(time.perf_counter() - began)
        _print(label, f"write {size}", writes)
        _print(label, f"read {size}", reads)


def _count_requests(backend: S3Backend) -> None:
    """S3 requests of a plan and an apply of the example catalog, through the engine."""
    values = load_values([REPO / "examples" / "values.yaml"])
    overrides = load_overrides(REPO / "examples" / "overrides.yaml")
    inputs = engine.Inputs(values=values, overrides=overrides)

    def requests(action: Callable[[], object]) -> int:
        before = backend.request_count
        action()
        return backend.request_count - before

    target = MemoryTarget()
    plan = requests(lambda: engine.plan(backend, inputs))
    apply = requests(lambda: engine.apply(backend, target, inputs=inputs))
    again = requests(lambda: engine.apply(backend, target, inputs=inputs))
    print(
        f"s3 requests for the example catalog: plan {plan}, apply {apply} "
        f"(one state write), apply with no changes {again}"
    )


def _print(label: str, operation: str, seconds: list[float]) -> None:
    median = statistics.median(seconds) * 1000
    p95 = statistics.quantiles(seconds, n=20)[18] * 1000
    print(f"{label:<10} {operation:<18} {len(seconds):>4} {median:>10.2f} {p95:>8.2f}")


def _document(length: int) -> bytes:
    """A state-like JSON document of about `length` bytes."""
    resources: list[str] = []
    total = 0
    while total < length:
        resource = json.dumps(
            {
                "address": f"workspaces/global/runtimes/runtime-{len(resources)}",
                "kind": "Runtime",
                "spec": {"modelType": "h2o3_mojo", "image": f"scorer:v1.{len(resources)}.0"},
                "intents": {"platform": "ACTIVE", "user": None},
            }
        )
        resources.append(resource)
        total += len(resource) + 1
    return ("[" + ",".join(resources) + "]").encode()


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    run()
