"""The kubernetes target at scale, against the API emulator (tests/kubeapi) on 127.0.0.1.

Figures, each with its goal as a ratio (nothing about timings is asserted):

- refresh of the generated catalog plus its Deployments: LIST requests against the goal
  of kinds + ⌈objects/500⌉, and wall time;
- a first apply of the catalog at `--parallelism` 1, 10 and 32, against the floor: the
  same server-side apply requests sent by a bare `kubernetes`-client loop with as many
  threads (goal ≤ 1.5×);
- upgrading 1,000 deployments with a simulated 2-second rollout at parallelism 50,
  against the ideal ceil(1000/50) × 2 s (goal ≤ 1.2×).

The emulator runs in this process on the wall clock, so the figures include its own cost
(≈ 2.5 ms per write), which the floor pays too. At full size (22,000 resources, 10,000
Deployments) this part alone takes about eight minutes on a 2-core machine, so the catalog
and its Deployments are scaled by RECONCILER_BENCH_KUBE_SCALE (default 0.25; 1 is the
full size) and the sizes used are printed. The rollout figure does not scale.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import catalog
from bench.bench_upgrades import deployable, with_release
from reconciler.apply import engine
from reconciler.backends.local import LocalBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.requests import UpgradeRequest
from reconciler.inputs.values import build_values
from reconciler.targets import crds, kubeclient
from reconciler.targets.kubernetes import KubernetesTarget
from tests.kubeapi import Emulator

SCALE_ENV = "RECONCILER_BENCH_KUBE_SCALE"
DEFAULT_SCALE = 0.25
IMAGES, VERSIONS, RUNTIMES, DEPLOYMENTS = 2000, 5, 10000, 5000  # × 2 compositions
APPLY_PARALLELISM = (1, 10, 32)
ROLLOUTS, ROLLOUT_PARALLELISM, ROLLOUT_SECONDS = 1000, 50, 2.0
NAMESPACES = ("runtime-platform", "workspace-prod")
KINDS = 4  # three custom resources and Deployments
# Pods of the Deployments a bench only needs to exist become ready at the next tick.
QUICK_READY_SECONDS = 0.0


@contextmanager
def _cluster(root: Path, *, pod_ready_seconds: float) -> Iterator[Emulator]:
    """A started emulator with the CRDs and namespaces installed, as the current context."""
    emulator = Emulator(realtime=True, pod_ready_seconds=pod_ready_seconds).start()
    try:
        emulator.apply_objects(crds.definitions())
        emulator.apply_objects(
            [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in NAMESPACES]
        )
        kubeconfig = root / f"kubeconfig-{id(emulator)}"
        emulator.write_kubeconfig(kubeconfig)
        os.environ["KUBECONFIG"] = str(kubeconfig)
        yield emulator
    finally:
        emulator.stop()


class _Recording(KubernetesTarget):
    """The kubernetes target, keeping every server-side apply body it sends, so the floor
    replays exactly the same requests."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[kubeclient.Resource, str, str, dict[str, Any]]] = []

    def _apply(
        self, kind: kubeclient.Resource, namespace: str, name: str, body: dict[str, Any]
    ) -> None:
        self.sent.append((kind, namespace, name, body))
        super()._apply(kind, namespace, name, body)


def _bare_loop(
    sent: list[tuple[kubeclient.Resource, str, str, dict[str, Any]]], parallelism: int
) -> float:
    """Wall seconds for the official client alone to send `sent` with `parallelism` threads."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    api_client.configuration.connection_pool_maxsize = max(parallelism, 4)
    objects = client.CustomObjectsApi(api_client)

    def one(request: tuple[kubeclient.Resource, str, str, dict[str, Any]]) -> None:
        kind, namespace, name, body = request
        objects.patch_namespaced_custom_object(
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
            body,
            field_manager=kubeclient.FIELD_MANAGER,
            _content_type=kubeclient.APPLY_PATCH,
        )

    start = time.perf_counter()
    if parallelism == 1:
        for request in sent:
            one(request)
    else:
        with concurrent.futures.ThreadPoolExecutor(parallelism) as pool:
            list(pool.map(one, sent))
    return time.perf_counter() - start


def _writes(emulator: Emulator) -> int:
    return sum(n for (verb, _), n in emulator.requests.items() if verb in ("patch", "apply"))


def _lists(emulator: Emulator) -> int:
    return sum(n for (verb, _), n in emulator.requests.items() if verb == "list")


def _declared(runtimes: list[str], deployments: int, compositions: int) -> dict[str, Any]:
    declared = {
        f"model-{n:05d}": {
            "compositions": [
                {
                    "experimentId": f"exp-{c}",
                    "runtime": runtimes[(n * compositions + c) % len(runtimes)],
                }
                for c in range(compositions)
            ]
        }
        for n in range(deployments)
    }
    return {"workspaces": {"prod": {"deployments": declared}}}


def _deployments(
    backend: LocalBackend, target: KubernetesTarget, deployments: int, compositions: int
) -> engine.ApplyResult:
    prior, _ = engine.read_state(backend)
    assert prior is not None
    declared = parse_overrides(
        _declared(deployable(prior), deployments, compositions), source="deployments.yaml"
    )
    result = engine.apply(backend, target, inputs=engine.Inputs(overrides=declared), parallelism=32)
    assert result.ok, result.roll_failed[:1]
    return result


def bench_apply_and_refresh(root: Path, scale: float) -> None:
    images, runtimes = max(1, round(IMAGES * scale)), max(1, round(RUNTIMES * scale))
    deployments = max(1, round(DEPLOYMENTS * scale))
    doc = catalog.generate_values(images=images, versions=VERSIONS, runtimes=runtimes)
    values = build_values([("values.yaml", doc)])
    resources = images * (1 + VERSIONS) + runtimes
    print(
        f"Kubernetes target against the API emulator ({SCALE_ENV}={scale:g}): catalog of "
        f"{images} images × {VERSIONS} versions + {runtimes} runtimes ({resources:,} "
        f"resources), {deployments} deployments × 2 compositions"
    )
    for parallelism in APPLY_PARALLELISM:
        run = root / f"apply-{parallelism}"
        run.mkdir()
        backend = LocalBackend(run / "state.json")
        with _cluster(run, pod_ready_seconds=QUICK_READY_SECONDS) as emulator:
            target = _Recording()
            start = time.perf_counter()
            result = engine.apply(
                backend, target, inputs=engine.Inputs(values=values), parallelism=parallelism
            )
            seconds = time.perf_counter() - start
            assert result.ok
            writes = _writes(emulator)
            with _cluster(run, pod_ready_seconds=QUICK_READY_SECONDS):
                floor = _bare_loop(target.sent, parallelism)
            label = f"first apply of the catalog (--parallelism {parallelism})"
            print(
                f"  {label:<52} {seconds:7.2f} s   {writes:,} writes, {writes / seconds:,.0f}/s; "
                f"bare client loop {floor:6.2f} s: {seconds / floor:.2f}× (goal ≤ 1.5×)"
            )
            if parallelism == APPLY_PARALLELISM[-1]:
                _deployments(backend, target, deployments, 2)
                _refresh(emulator, target)


def _refresh(emulator: Emulator, target: KubernetesTarget) -> None:
    before = _lists(emulator)
    start = time.perf_counter()
    observed = target.observe()
    seconds = time.perf_counter() - start
    lists = _lists(emulator) - before
    goal = KINDS + math.ceil(len(observed) / kubeclient.PAGE_SIZE)
    print(
        f"  {'refresh (paged LISTs of every kind)':<52} {seconds:7.2f} s   "
        f"{len(observed):,} objects in {lists} requests; goal ≤ {goal} "
        f"(kinds + ⌈objects/{kubeclient.PAGE_SIZE}⌉): {lists / goal:.2f}×"
    )


def bench_rollouts(root: Path) -> None:
    # The catalog is not what this measures: a small one leaves the rollouts' own cost.
    images, runtimes = 100, 500
    doc = catalog.generate_values(images=images, versions=VERSIONS, runtimes=runtimes)
    backend = LocalBackend(root / "rollouts.json")
    with _cluster(root, pod_ready_seconds=QUICK_READY_SECONDS) as emulator:
        target = KubernetesTarget()
        assert engine.apply(
            backend, target, inputs=engine.Inputs(values=build_values([("values.yaml", doc)]))
        ).ok
        _deployments(backend, target, ROLLOUTS, 1)
        release = build_values([("release.yaml", with_release(doc))])
        assert engine.apply(backend, target, inputs=engine.Inputs(values=release)).ok
        prior, _ = engine.read_state(backend)
        assert prior is not None
        upgrades = tuple(UpgradeRequest(address) for address in prior.deployments_by_address)
        emulator.deployments.pod_ready_seconds = ROLLOUT_SECONDS
        emulator.faults.reset_log()
        start = time.perf_counter()
        result = engine.apply(
            backend,
            target,
            inputs=engine.Inputs(upgrades=upgrades),
            parallelism=ROLLOUT_PARALLELISM,
        )
        seconds = time.perf_counter() - start
        assert result.ok, result.roll_failed[:1]
        reads = emulator.requests["get", "deployments"]
        watches = emulator.requests["watch", "deployments"]
    ideal = math.ceil(len(result.rolled) / ROLLOUT_PARALLELISM) * ROLLOUT_SECONDS
    label = (
        f"{len(result.rolled)} upgrades ({ROLLOUT_SECONDS:g} s rollouts, "
        f"--parallelism {ROLLOUT_PARALLELISM})"
    )
    print(
        f"  {label:<52} {seconds:7.2f} s   ideal {ideal:.0f} s: {seconds / ideal:.2f}× "
        f"(goal ≤ 1.2×); {reads} Deployment reads, {watches} watch"
        f"{'es' if watches != 1 else ''}"
    )


def run() -> None:
    scale = float(os.environ.get(SCALE_ENV, DEFAULT_SCALE))
    saved = os.environ.get("KUBECONFIG")
    try:
        with tempfile.TemporaryDirectory(prefix="reconciler-bench-kube-") as tmp:
            root = Path(tmp)
            bench_apply_and_refresh(root, scale)
            bench_rollouts(root)
    finally:
        if saved is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = saved


if __name__ == "__main__":
    run()
