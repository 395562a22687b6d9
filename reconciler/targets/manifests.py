"""Kubernetes-style manifests of catalog resources.

Each resource becomes one custom resource of `runtimes.reconciler.dev/v1` whose spec
carries the resource's fields (camelCase, as Kubernetes APIs spell them) and its
effective state. The digest of a manifest is recorded in state as `last_applied`, so
apply writes a target object only when what the target should hold has changed.

Pure: resources in, mappings out. The `apps/v1` Deployments of compositions are
planning/workloads.py's, since plans compare the configuration they run; writing either
is a target's job (targets/).
"""

from __future__ import annotations

from typing import Any

from reconciler.addresses import Address, object_name
from reconciler.model import Kind, Resource
from reconciler.planning import ceiling
from reconciler.planning.workloads import LABEL_PREFIX, digest

__all__ = ["API_VERSION", "LABEL_PREFIX", "digest", "manifest", "object_name"]

API_VERSION = "runtimes.reconciler.dev/v1"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def manifest(resource: Resource) -> dict[str, Any]:
    address = Address.parse(resource.address)
    effective = ceiling.effective(resource.platform, resource.user)
    spec: dict[str, Any] = {}
    if address.kind is Kind.VERSION:
        spec["runtimeImage"] = address.id
        spec["version"] = address.version
    spec.update({_camel(key): value for key, value in resource.spec.items()})
    spec["state"] = effective.state.value
    spec["stateReason"] = effective.reason
    return {
        "apiVersion": API_VERSION,
        "kind": resource.kind.value,
        "metadata": {
            "name": object_name(resource.address),
            "labels": {
                f"{LABEL_PREFIX}/workspace": address.workspace,
                f"{LABEL_PREFIX}/managed-by-bootstrap": str(resource.managed_by_bootstrap).lower(),
                "app.kubernetes.io/managed-by": "runtime-reconciler",
            },
            "annotations": {
                f"{LABEL_PREFIX}/address": resource.address,
                f"{LABEL_PREFIX}/uid": resource.uid,
            },
        },
        "spec": spec,
    }
