"""Every target keeps the same promises: memory, the directory of manifests and a cluster.

Each test opens a target through `open_target()` as the CLI does (`memory://`, `dir:PATH`,
`kubernetes` with a kubeconfig pointing at the API emulator, reached by the official
client over HTTP) and speaks to it only through the `Target` Protocol: put, get, delete,
roll, remove_leftovers. The objects are ones a cluster accepts: valid Deployments and
custom resources that follow the shipped CRDs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from reconciler import errors
from reconciler.targets import Target, open_target
from tests import kubetarget
from tests.kubeapi import Emulator

OpenTarget = Callable[[], Target]
RUNTIME = "workspaces/global/runtimes/h2o3-mojo"
COMPOSITION = "workspaces/prod/deployments/fraud/compositions/exp-1"


OURS = {"app.kubernetes.io/managed-by": "runtime-reconciler"}


def catalog_object(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "runtimes.reconciler.dev/v1",
        "kind": "Runtime",
        "metadata": {"name": "h2o3-mojo", "labels": dict(OURS)},
        "spec": {
            "modelType": "h2o3_mojo",
            "runtimeImage": "workspaces/global/runtimeImages/h2o3",
            "state": "ACTIVE",
            **spec,
        },
    }


def deployment_object(name: str, *, replicas: int = 1, image: str = "scorer:1") -> dict[str, Any]:
    selector = {"runtimes.reconciler.dev/deployment": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**OURS, **selector}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector},
                "spec": {"containers": [{"name": "scorer", "image": image}]},
            },
        },
    }


@pytest.fixture(params=["memory", "dir", "kubernetes"])
def open_target_under_test(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> OpenTarget:
    if request.param == "memory":
        shared = open_target("memory://")
        return lambda: shared
    if request.param == "kubernetes":
        # On the wall clock, so that rollouts finish by themselves, pods ready in 50 ms.
        emulator = Emulator(realtime=True, pod_ready_seconds=0.05).start()
        request.addfinalizer(emulator.stop)
        kubetarget.prepare(emulator, tmp_path, monkeypatch)
        return lambda: open_target("kubernetes")
    return lambda: open_target(f"dir:{tmp_path / 'cluster'}")


def test_nothing_is_held_at_first(open_target_under_test: OpenTarget) -> None:
    assert open_target_under_test().get(RUNTIME) is None


def test_what_is_put_reads_back_the_same(open_target_under_test: OpenTarget) -> None:
    manifest = catalog_object(environmentVariables={"LOG_LEVEL": "INFO"}, dataVolumeReadOnly=True)
    open_target_under_test().put(RUNTIME, manifest)
    assert open_target_under_test().get(RUNTIME) == manifest


def test_put_replaces_the_whole_object(open_target_under_test: OpenTarget) -> None:
    target = open_target_under_test()
    target.put(RUNTIME, catalog_object(description="old", displayName="gone"))
    target.put(RUNTIME, catalog_object(description="new"))
    assert open_target_under_test().get(RUNTIME) == catalog_object(description="new")


def test_the_target_keeps_its_own_copy(open_target_under_test: OpenTarget) -> None:
    manifest = catalog_object(volumes=[{"name": "data"}])
    kept = copy.deepcopy(manifest)
    target = open_target_under_test()
    target.put(RUNTIME, manifest)
    manifest["spec"]["volumes"].append({"name": "changed after put"})
    read = target.get(RUNTIME)
    assert read == kept
    assert read is not None
    read["spec"]["state"] = "DISABLED"  # a copy: changing what get returned changes nothing
    assert target.get(RUNTIME) == kept


def test_objects_at_different_addresses_are_independent(
    open_target_under_test: OpenTarget,
) -> None:
    target = open_target_under_test()
    composition = deployment_object("fraud-exp-1")
    target.put(RUNTIME, catalog_object())
    target.put(COMPOSITION, composition)
    target.delete(RUNTIME)
    assert target.get(RUNTIME) is None
    assert target.get(COMPOSITION) == composition


def test_delete_is_idempotent(open_target_under_test: OpenTarget) -> None:
    target = open_target_under_test()
    target.delete(RUNTIME)  # nothing there: not an error
    target.put(RUNTIME, catalog_object())
    target.delete(RUNTIME)
    target.delete(RUNTIME)
    assert target.get(RUNTIME) is None


def test_parallel_puts_all_land(open_target_under_test: OpenTarget) -> None:
    target = open_target_under_test()
    addresses = [f"workspaces/prod/deployments/d{i}/compositions/exp-1" for i in range(40)]
    wanted = [deployment_object(f"d{i}-exp-1") for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(target.put, addresses, wanted))
    assert [target.get(a) for a in addresses] == wanted


def test_strings_that_yaml_would_retype_survive(open_target_under_test: OpenTarget) -> None:
    # A directory of manifests is YAML: "on", "0777" and "1e3" must come back as strings.
    manifest = catalog_object(environmentVariables={"A": "on", "B": "0777", "C": "1e3"})
    target = open_target_under_test()
    target.put(RUNTIME, manifest)
    assert target.get(RUNTIME) == manifest


def test_a_rolled_composition_reads_back_as_written(open_target_under_test: OpenTarget) -> None:
    target = open_target_under_test()
    target.roll(COMPOSITION, deployment_object("fraud-exp-1", replicas=2), timeout=60)
    target.roll(COMPOSITION, deployment_object("fraud-exp-1", replicas=2, image="s:2"), timeout=60)
    assert target.get(COMPOSITION) == deployment_object("fraud-exp-1", replicas=2, image="s:2")


def test_removing_leftovers_keeps_every_object(open_target_under_test: OpenTarget) -> None:
    target = open_target_under_test()
    target.put(RUNTIME, catalog_object())
    target.put(COMPOSITION, deployment_object("fraud-exp-1", replicas=2))
    assert target.remove_leftovers() == 0, "a target written to completion has no leftovers"
    assert open_target_under_test().get(RUNTIME) == catalog_object()
    assert open_target_under_test().get(COMPOSITION) == deployment_object("fraud-exp-1", replicas=2)


def test_a_target_that_cannot_be_written_fails_with_a_target_error(tmp_path: Path) -> None:
    blocked = tmp_path / "cluster"
    blocked.write_text("a file where the directory should be")
    target = open_target(f"dir:{blocked}")
    with pytest.raises(errors.TargetError, match="cannot write"):
        target.put(RUNTIME, catalog_object())
    assert blocked.read_text() == "a file where the directory should be"


def test_an_unknown_target_is_a_usage_error() -> None:
    with pytest.raises(errors.UsageError, match="unknown target"):
        open_target("ftp://somewhere")
