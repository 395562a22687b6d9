"""The tool runs under exactly the shipped RBAC (examples/rbac/), and needs what it grants.

The emulator enforces RBAC for the tool's service account, bound as the examples bind it
(the platform namespace and workspace `fraud-team`). With every rule, an apply that
creates the catalog and rolls the Deployments succeeds; without any one verb the tool
uses, it fails with a "forbidden" error naming the verb, the resource and the namespace.
Among them is `create`: the tool only applies, but an apply that creates its object is
also authorized for `create`, as the API server does, and the error names `create` even
from servers before v1.32, whose refusal names no verb.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import errors
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.targets import open_target
from reconciler.targets.kubernetes import CREATE_NAMESPACES_ENV
from tests import kubetarget
from tests.kubeapi import Emulator
from tests.kubeapi.rbac import service_account_user
from tests.runner import EXAMPLES
from tests.test_kubernetes_target import inputs

TOKEN = "runtime-reconciler-token"
NAMESPACES = ("runtime-platform", "workspace-fraud-team")


def rbac_documents() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((EXAMPLES / "rbac").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def without(role: str, resource: str, verb: str) -> list[dict[str, Any]]:
    """The shipped RBAC with one verb taken away from one rule."""
    documents = copy.deepcopy(rbac_documents())
    (found,) = [
        rule
        for doc in documents
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == role
        for rule in doc["rules"]
        if resource in rule["resources"]
    ]
    found["verbs"].remove(verb)
    return documents


def apply_under(
    documents: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    times: int = 1,
    given: engine.Inputs | None = None,
    before_v1_32: bool = False,
    namespaces: tuple[str, ...] = NAMESPACES,
) -> engine.ApplyResult:
    """Apply the catalog and deployments (or `given`) `times` times (the later ones refresh
    first); `before_v1_32` words a refused create-on-apply as older API servers do. Given
    fewer `namespaces` than the tool writes to, it creates the missing ones."""
    user = service_account_user("runtime-platform", "runtime-reconciler")
    emulator = Emulator(tokens={TOKEN: user}, create_denials_before_v1_32=before_v1_32).start()
    backend = MemoryBackend()
    try:
        kubetarget.prepare(emulator, tmp_path, monkeypatch, namespaces=namespaces, token=TOKEN)
        if namespaces != NAMESPACES:
            monkeypatch.setenv(CREATE_NAMESPACES_ENV, "1")
        emulator.apply_objects(documents)
        with kubetarget.FastClock(emulator):
            for _ in range(times):
                result = engine.apply(
                    backend, open_target("kubernetes"), inputs=given or inputs("fraud-team")
                )
            return result
    finally:
        emulator.stop()


def failures(result: engine.ApplyResult) -> list[errors.ReconcilerError]:
    return [e for _, e in result.failed] + [e for *_, e in result.roll_failed]


def test_the_shipped_rules_are_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = apply_under(rbac_documents(), tmp_path, monkeypatch)
    assert result.ok, [str(e) for _, e in result.failed] + [str(e) for *_, e in result.roll_failed]
    assert len(result.applied) == 4 and len(result.rolled) == 4
    again = apply_under(rbac_documents(), tmp_path, monkeypatch, times=2)
    assert again.ok and not again.plan.has_changes, "refreshed, found nothing to do"


@pytest.mark.parametrize("resource", ["runtimeimages", "deployments"])
def test_refresh_needs_to_list_what_the_tool_writes(
    resource: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refresh lists what the tool wrote; before a first write in a namespace, the tool
    lists there the objects of that kind that are not its own, so as never to write over
    one: without `list`, the very first apply fails."""
    group = "apps" if resource == "deployments" else "runtimes.reconciler.dev"
    result = apply_under(
        without("runtime-reconciler-read", resource, "list"), tmp_path, monkeypatch
    )
    found = failures(result)
    assert found and all(
        e.summary.startswith(f"forbidden: cannot list {resource}.{group} in namespace ")
        for e in found
    ), [e.summary for e in found]


@pytest.mark.parametrize(
    ("role", "resource", "verb", "reported"),
    [
        (
            "runtime-reconciler-write",
            "runtimeimages",
            "patch",
            "forbidden: cannot patch runtimeimages.runtimes.reconciler.dev "
            "in namespace runtime-platform",
        ),
        (
            "runtime-reconciler-write",
            "deployments",
            "patch",
            "forbidden: cannot patch deployments.apps in namespace workspace-fraud-team",
        ),
        (
            "runtime-reconciler-read",
            "deployments",
            "get",
            "forbidden: cannot get deployments.apps in namespace workspace-fraud-team",
        ),
    ],
)
def test_each_verb_the_tool_uses_is_needed(
    role: str,
    resource: str,
    verb: str,
    reported: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = apply_under(without(role, resource, verb), tmp_path, monkeypatch)
    assert not result.ok
    found = failures(result)
    assert found and all(reported in e.summary for e in found), [e.summary for e in found]
    assert all("examples/rbac/" in e.hint for e in found)


def with_secret_values() -> engine.Inputs:
    """The catalog and deployments with a secret-looking value, which lands in a Secret."""
    given = inputs("fraud-team")
    lts = given.values.data["config"]["deployer"]["composition"]["runtimes"]["lts"]
    lts["environmentVariables"] = {"SCORER_API_TOKEN": "tok-5e2a"}
    return given


@pytest.mark.parametrize("before_v1_32", [False, True], ids=["v1.37", "before-v1.32"])
@pytest.mark.parametrize(
    ("resource", "reported"),
    [
        pytest.param(
            "runtimeimages",
            "forbidden: cannot create runtimeimages.runtimes.reconciler.dev "
            "in namespace runtime-platform",
            id="runtimeimages",
        ),
        pytest.param(
            "deployments",
            "forbidden: cannot create deployments.apps in namespace workspace-fraud-team",
            id="deployments",
        ),
        pytest.param(
            "secrets",
            "forbidden: cannot create secrets in namespace runtime-platform",
            id="secrets",
        ),
    ],
)
def test_applying_what_does_not_exist_yet_needs_create(
    resource: str,
    reported: str,
    before_v1_32: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every write is an apply, but the first apply of an object creates it: the API server
    checks `create` too, and the error names it however the server words the refusal."""
    given = with_secret_values() if resource == "secrets" else None
    assert apply_under(rbac_documents(), tmp_path, monkeypatch, given=given).ok
    result = apply_under(
        without("runtime-reconciler-write", resource, "create"),
        tmp_path,
        monkeypatch,
        given=given,
        before_v1_32=before_v1_32,
    )
    assert not result.ok
    found = failures(result)
    assert found and all(reported in e.summary for e in found), [e.summary for e in found]
    assert all("examples/rbac/" in e.hint for e in found)


def test_refresh_needs_to_list_secrets_where_one_is_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        errors.TargetError, match="forbidden: cannot list secrets in namespace runtime-platform"
    ):
        apply_under(
            without("runtime-reconciler-write", "secrets", "list"),
            tmp_path,
            monkeypatch,
            times=2,
            given=with_secret_values(),
        )


def bound_everywhere(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The write rules bound cluster-wide, the shortcut write.yaml names for platforms whose
    workspace namespaces appear on the fly (a RoleBinding needs its namespace first)."""
    kept = [d for d in documents if d["kind"] != "RoleBinding"]
    cluster_wide = copy.deepcopy(next(d for d in documents if d["kind"] == "RoleBinding"))
    cluster_wide["kind"] = "ClusterRoleBinding"
    del cluster_wide["metadata"]["namespace"]
    return [*kept, cluster_wide]


def test_creating_missing_namespaces_needs_create_on_namespaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform_only = ("runtime-platform",)
    result = apply_under(
        bound_everywhere(rbac_documents()), tmp_path, monkeypatch, namespaces=platform_only
    )
    assert result.ok and len(result.rolled) == 4, [e.summary for e in failures(result)]
    refused = apply_under(
        bound_everywhere(without("runtime-reconciler-namespaces", "namespaces", "create")),
        tmp_path,
        monkeypatch,
        namespaces=platform_only,
    )
    found = failures(refused)
    assert found and all(e.summary == "forbidden: cannot create namespaces" for e in found), [
        e.summary for e in found
    ]
    assert all("examples/rbac/" in e.hint for e in found)
