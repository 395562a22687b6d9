"""Kubernetes-style manifests of catalog resources.

Each resource becomes one custom resource of `runtimes.reconciler.dev/v1` whose spec
carries the resource's fields (camelCase, as Kubernetes APIs spell them) and its
effective state. The digest of a manifest is recorded in state as `last_applied`, so
apply writes a target object only when what the target should hold has changed.

A runtime's secret-looking environment values (sensitive.py's rule) never sit in its
manifest: they go into a Secret of its own (`runtime_secret`) and the manifest names
their keys there (`{secretKeyRef: {name, key}}`), as values may name existing Secrets.

Pure: resources in, mappings out. The `apps/v1` Deployments of compositions are
planning/workloads.py's, since plans compare the configuration they run; writing either
is a target's job (targets/).
"""

from __future__ import annotations

from typing import Any

from reconciler.addresses import Address, object_name
from reconciler.model import Kind, Resource
from reconciler.planning import ceiling, workloads
from reconciler.planning.workloads import LABEL_PREFIX, digest

__all__ = ["API_VERSION", "LABEL_PREFIX", "digest", "manifest", "object_name", "runtime_secret"]

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
    annotations = {
        f"{LABEL_PREFIX}/address": resource.address,
        f"{LABEL_PREFIX}/uid": resource.uid,
    }
    marked = resource.sensitive_environment
    if address.kind is Kind.RUNTIME and workloads.secret_values(
        spec.get("environmentVariables") or {}, marked
    ):
        spec["environmentVariables"] = workloads.environment_refs(
            spec["environmentVariables"],
            secret=workloads.secret_name(resource.address),
            marked=marked,
        )
        # The spec names the Secret's keys, not the values: the configuration's digest
        # changes with them, so a new secret value changes the manifest and is written.
        annotations[f"{LABEL_PREFIX}/configuration"] = workloads.runtime_configuration(resource)
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
            "annotations": annotations,
        },
        "spec": spec,
    }


def runtime_secret(resource: Resource) -> dict[str, Any] | None:
    """The Secret holding a runtime's secret environment values, or None when it has none
    (or `resource` is no runtime)."""
    if resource.kind is not Kind.RUNTIME:
        return None
    values = workloads.secret_values(
        resource.spec.get("environment_variables") or {}, resource.sensitive_environment
    )
    if not values:
        return None
    labels = {f"{LABEL_PREFIX}/workspace": Address.parse(resource.address).workspace}
    return workloads.secret_manifest(resource.address, values, labels=labels)
