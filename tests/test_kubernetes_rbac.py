"""The tool runs under exactly the shipped RBAC (examples/rbac/), and needs what it grants.

The emulator enforces RBAC for the tool's service account, bound as the examples bind it
(the platform namespace and workspace `fraud-team`). With every rule, an apply that
creates the catalog and rolls the Deployments succeeds; without any one verb the tool
uses, it fails with a "forbidden" error naming the verb, the resource and the namespace.
(`create`, which the API server checks when an apply creates an object, is not enforced
by the emulator, so it is not among the verbs shown to be needed here.)
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
) -> engine.ApplyResult:
    """Apply the catalog and deployments `times` times (the later ones refresh first)."""
    user = service_account_user("runtime-platform", "runtime-reconciler")
    emulator = Emulator(tokens={TOKEN: user}).start()
    backend = MemoryBackend()
    try:
        kubetarget.prepare(emulator, tmp_path, monkeypatch, namespaces=NAMESPACES, token=TOKEN)
        emulator.apply_objects(documents)
        with kubetarget.FastClock(emulator):
            for _ in range(times):
                result = engine.apply(
                    backend, open_target("kubernetes"), inputs=inputs("fraud-team")
                )
            return result
    finally:
        emulator.stop()


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
    group = "apps" if resource == "deployments" else "runtimes.reconciler.dev"
    with pytest.raises(errors.TargetError, match=f"forbidden: cannot list {resource}.{group}"):
        apply_under(
            without("runtime-reconciler-read", resource, "list"),
            tmp_path,
            monkeypatch,
            times=2,
        )


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
    failures = [e for _, e in result.failed] + [e for *_, e in result.roll_failed]
    assert failures and all(reported in e.summary for e in failures), [e.summary for e in failures]
    assert all("examples/rbac/" in e.hint for e in failures)
