"""Runtime-image upgrades at scale: resolving, planning and applying them.

A generated catalog (2,000 images × 5 versions, 10,000 runtimes) with 5,000 deployments of
two compositions each, pinned to their runtimes' latest versions. A release then adds a
version to every image, so every composition has an upgrade waiting. Figures:

- planning that release, which lists the compositions it gives an upgrade (blast radius);
- resolving and planning `upgrade` of all 5,000 deployments (in process, state decoded);
- the same as a whole `reconciler plan` process, state read and decoded included;
- applying the upgrades to the dir target (10,000 manifests written), and re-planning.

Prints measurements; asserts nothing about timings (machines differ).
"""

from __future__ import annotations

import copy
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bench import catalog
from bench.process import run_cli
from reconciler.apply import engine
from reconciler.backends.local import LocalBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.requests import UpgradeRequest
from reconciler.inputs.values import build_values
from reconciler.model import Kind, State
from reconciler.planning import state
from reconciler.planning.availability import Availability
from reconciler.targets.directory import DirTarget
from reconciler.targets.memory import MemoryTarget

IMAGES, VERSIONS, RUNTIMES = 2000, 5, 10000
DEPLOYMENTS, COMPOSITIONS = 5000, 2
RUNS = 5
T = TypeVar("T")


def _timed(action: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _median(action: Callable[[], Any], runs: int = RUNS) -> float:
    return statistics.median(_timed(action)[0] for _ in range(runs))


def with_release(doc: dict[str, Any]) -> dict[str, Any]:
    """The catalog with one new, higher version appended to every image."""
    release = copy.deepcopy(doc)
    for image in release["config"]["deployer"]["composition"]["runtimeImages"].values():
        last = image["versions"][-1]["image"]
        major, minor, _ = last["tag"].lstrip("v").split(".")
        tag = f"v{major}.{int(minor) + 1}.0"
        image["versions"].append({"image": {"repository": last["repository"], "tag": tag}})
    return release


def deployable(document: state.StateDocument) -> list[str]:
    """Runtimes a new composition can use without warnings: ACTIVE, on an image."""
    view = Availability(document.by_address)
    usable = []
    for resource in document.resources:
        if resource.kind is not Kind.RUNTIME or "/versions/" in resource.spec["runtime_image"]:
            continue
        if view.availability(resource.address) is not State.ACTIVE:
            continue
        try:
            latest = view.latest_version(resource.spec["runtime_image"])
        except Exception:
            continue
        if view.availability(latest.address) is State.ACTIVE:
            usable.append(resource.address)
    return usable


def _declared(runtimes: list[str]) -> dict[str, Any]:
    deployments = {}
    for n in range(DEPLOYMENTS):
        deployments[f"model-{n:05d}"] = {
            "compositions": [
                {
                    "experimentId": f"exp-{c}",
                    "runtime": runtimes[(n * COMPOSITIONS + c) % len(runtimes)],
                }
                for c in range(COMPOSITIONS)
            ]
        }
    return {"workspaces": {"prod": {"deployments": deployments}}}


def bench_upgrades() -> None:
    print(
        f"Runtime-image upgrades: {DEPLOYMENTS} deployments × {COMPOSITIONS} compositions, "
        f"catalog of {IMAGES} images × {VERSIONS} versions + {RUNTIMES} runtimes"
    )
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-upgrades-") as tmp:
        root = Path(tmp)
        backend = LocalBackend(root / "state.json")
        doc = catalog.generate_values(images=IMAGES, versions=VERSIONS, runtimes=RUNTIMES)
        values = build_values([("values.yaml", doc)])
        assert engine.apply(backend, MemoryTarget(), inputs=engine.Inputs(values=values)).ok

        prior, _ = engine.read_state(backend)
        assert prior is not None
        declared = parse_overrides(_declared(deployable(prior)), source="deployments.yaml")
        target = DirTarget(root / "cluster")
        seconds, created = _timed(
            lambda: engine.apply(backend, target, inputs=engine.Inputs(overrides=declared))
        )
        assert created.ok, created.roll_failed[:1]
        print(
            f"  {'create the deployments (dir target)':<52} {seconds:6.3f} s   "
            f"{len(created.rolled)} compositions written"
        )

        release_doc = with_release(doc)
        release = build_values([("release.yaml", release_doc)])
        prior, _ = engine.read_state(backend)
        assert prior is not None
        plan = engine.plan_from(prior, engine.Inputs(values=release))
        took = _median(lambda: engine.plan_from(prior, engine.Inputs(values=release)))
        print(
            f"  {'plan the release (+1 version per image)':<52} {took:6.3f} s   "
            f"{len(plan.changes)} changes, {len(plan.available)} compositions get an upgrade"
        )
        assert engine.apply(backend, MemoryTarget(), inputs=engine.Inputs(values=release)).ok

        blob = backend.read()
        assert blob is not None
        took = _median(lambda: state.decode(blob.data, source="bench"))
        print(f"  {'decode the state':<52} {took:6.3f} s   {len(blob.data) / 1e6:.1f} MB")
        prior = state.decode(blob.data, source="bench")
        requests = tuple(UpgradeRequest(address) for address in prior.deployments_by_address)
        upgrades = engine.Inputs(upgrades=requests)
        plan = engine.plan_from(prior, upgrades)
        took = _median(lambda: engine.plan_from(prior, upgrades))
        rolling = sum(len(change.upgrades) for change in plan.deployments)
        print(
            f"  {'resolve and plan upgrades of every deployment':<52} {took:6.3f} s   "
            f"{plan.summary.roll} deployments, {rolling} compositions to roll"
        )

        upgrades_file = root / "upgrades.yaml"
        entries = [{"deployment": address} for address in prior.deployments_by_address]
        upgrades_file.write_text(yaml.safe_dump({"upgrades": entries}))
        args = ["plan", "--overrides", str(upgrades_file), "--state", str(root / "state.json")]
        whole = statistics.median(run_cli(*args, cwd=root)[0] for _ in range(3))
        print(f"  {'`reconciler plan` of them, whole process':<52} {whole:6.3f} s")

        before_apply = backend.read()
        assert before_apply is not None
        for parallelism in (10, 1):
            # Each run starts from the same state; the second overwrites the same manifests.
            current = backend.read()
            assert current is not None
            backend.write(before_apply.data, if_match=current.etag)
            seconds, result = _timed(
                functools.partial(
                    engine.apply, backend, target, inputs=upgrades, parallelism=parallelism
                )
            )
            assert result.ok
            label = f"apply to the dir target (--parallelism {parallelism})"
            print(
                f"  {label:<52} {seconds:6.3f} s   {len(result.rolled)} compositions rolled, "
                f"{len(result.rolled) / seconds:,.0f}/s"
            )
        after, _ = engine.read_state(backend)
        assert after is not None
        took = _median(lambda: engine.plan_from(after, upgrades))
        print(f"  {'re-plan the same upgrades (all skipped)':<52} {took:6.3f} s")


if __name__ == "__main__":
    bench_upgrades()
