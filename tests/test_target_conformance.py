"""Every target keeps the same promises: memory and the directory of manifests alike.

Each test opens a target through `open_target()` as the CLI does (`memory://`, `dir:PATH`)
and speaks to it only through the `Target` Protocol: put, get, delete, remove_leftovers.
Targets that reach a cluster join the same suite.
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

OpenTarget = Callable[[], Target]
RUNTIME = "workspaces/global/runtimes/h2o3-mojo"
COMPOSITION = "workspaces/prod/deployments/fraud/compositions/exp-1"


def catalog_object(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "runtimes.reconciler.dev/v1",
        "kind": "Runtime",
        "metadata": {"name": "h2o3-mojo", "labels": {"app.kubernetes.io/managed-by": "x"}},
        "spec": {"modelType": "h2o3_mojo", "state": "ACTIVE", **spec},
    }


@pytest.fixture(params=["memory", "dir"])
def open_target_under_test(request: pytest.FixtureRequest, tmp_path: Path) -> OpenTarget:
    if request.param == "memory":
        shared = open_target("memory://")
        return lambda: shared
    return lambda: open_target(f"dir:{tmp_path / 'cluster'}")


def test_nothing_is_held_at_first(open_target_under_test: OpenTarget) -> None:
    assert open_target_under_test().get(RUNTIME) is None


def test_what_is_put_reads_back_the_same(open_target_under_test: OpenTarget) -> None:
    manifest = catalog_object(environmentVariables={"LOG_LEVEL": "INFO"}, replicas=2)
    open_target_under_test().put(RUNTIME, manifest)
    assert open_target_under_test().get(RUNTIME) == manifest


def test_put_replaces_the_whole_object(open_target_under_test: OpenTarget) -> None:
    target = open_target_under_test()
    target.put(RUNTIME, catalog_object(description="old", extra="gone"))
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
    composition = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1}}
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
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda a: target.put(a, {"kind": "Deployment", "name": a}), addresses))
    assert [target.get(a) for a in addresses] == [
        {"kind": "Deployment", "name": a} for a in addresses
    ]


def test_strings_that_yaml_would_retype_survive(open_target_under_test: OpenTarget) -> None:
    # A directory of manifests is YAML: "on", "0777" and "1e3" must come back as strings.
    manifest = catalog_object(environmentVariables={"A": "on", "B": "0777", "C": "1e3"})
    target = open_target_under_test()
    target.put(RUNTIME, manifest)
    assert target.get(RUNTIME) == manifest


def test_removing_leftovers_keeps_every_object(open_target_under_test: OpenTarget) -> None:
    target = open_target_under_test()
    target.put(RUNTIME, catalog_object())
    target.put(COMPOSITION, catalog_object(replicas=2))
    assert target.remove_leftovers() == 0, "a target written to completion has no leftovers"
    assert open_target_under_test().get(RUNTIME) == catalog_object()
    assert open_target_under_test().get(COMPOSITION) == catalog_object(replicas=2)


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
