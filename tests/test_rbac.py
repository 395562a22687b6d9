"""The shipped RBAC (examples/rbac/) is valid, explained, and grants no more than it says.

Reading is cluster-wide (refresh lists each kind once), writing is bound per namespace,
Secrets are never readable cluster-wide, and nothing is granted by wildcard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.runner import EXAMPLES

RBAC_DIR = EXAMPLES / "rbac"
CATALOG = ("runtimeimages", "runtimeimageversions", "runtimes")
# What the tool does, resource by resource; anything beyond this is more than it needs.
NEEDED: dict[tuple[str, str], set[str]] = {
    **{
        ("runtimes.reconciler.dev", kind): {"get", "list", "create", "patch", "delete"}
        for kind in CATALOG
    },
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch"},
    ("", "secrets"): {"get", "list", "create", "patch", "delete"},
    ("", "namespaces"): {"create"},
}


def documents() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in sorted(RBAC_DIR.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def named(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


@pytest.mark.parametrize(
    ("path", "doc"), documents(), ids=lambda x: x.name if isinstance(x, Path) else x["kind"]
)
def test_every_object_is_valid_for_kubernetes(path: Path, doc: dict[str, Any]) -> None:
    assert kubernetes_validate.validate(doc, "1.37", strict=True) == "1.37", path


def test_every_rule_is_explained_by_a_comment() -> None:
    for path in sorted(RBAC_DIR.glob("*.yaml")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.lstrip().startswith("- apiGroups:"):
                assert lines[number - 1].lstrip().startswith("#"), f"{path.name}:{number + 1}"


def test_roles_grant_only_what_the_tool_uses_and_never_by_wildcard() -> None:
    roles = named("ClusterRole")
    assert set(roles) == {
        "runtime-reconciler-read",
        "runtime-reconciler-write",
        "runtime-reconciler-namespaces",
    }
    combined: dict[tuple[str, str], set[str]] = {}
    for role in roles.values():
        for key, verbs in grants(role).items():
            assert "*" not in verbs and "*" not in key, role["metadata"]["name"]
            combined.setdefault(key, set()).update(verbs)
    assert combined == NEEDED
    for role in roles.values():
        assert not grants(role).keys() & {("", "secrets")} or role["metadata"]["name"].endswith(
            "-write"
        ), "Secrets are only ever granted with the namespaced write rules"


def test_reading_is_cluster_wide_writing_is_per_namespace() -> None:
    read = grants(named("ClusterRole")["runtime-reconciler-read"])
    assert all(verbs <= {"get", "list", "watch"} for verbs in read.values())
    assert ("", "secrets") not in read, "Secrets are never readable in every namespace"
    cluster_bound = {doc["roleRef"]["name"] for doc in named("ClusterRoleBinding").values()}
    assert cluster_bound == {"runtime-reconciler-read", "runtime-reconciler-namespaces"}
    bindings = [doc for _, doc in documents() if doc["kind"] == "RoleBinding"]
    assert {doc["roleRef"]["name"] for doc in bindings} == {"runtime-reconciler-write"}
    assert {doc["metadata"]["namespace"] for doc in bindings} == {
        "runtime-platform",
        "workspace-fraud-team",
    }


def test_every_binding_names_the_shipped_service_account() -> None:
    (account,) = named("ServiceAccount").values()
    subject = {
        "kind": "ServiceAccount",
        "name": account["metadata"]["name"],
        "namespace": account["metadata"]["namespace"],
    }
    for _, doc in documents():
        if doc["kind"].endswith("Binding"):
            assert doc["subjects"] == [subject], doc["metadata"]["name"]
