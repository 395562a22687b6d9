"""Kubernetes-style manifests of catalog resources and deployment compositions.

Each resource becomes one custom resource of `runtimes.reconciler.dev/v1` whose spec
carries the resource's fields (camelCase, as Kubernetes APIs spell them) and its
effective state. Each composition of a deployment becomes an `apps/v1` Deployment
labelled with its deployment and experiment, running the container image of its pinned
version with the runtime's settings, and rolling out with zero downtime (RollingUpdate
that never drops below the desired replicas). The digest of a manifest is recorded in
state as `last_applied`, so apply writes a target object only when what the target
should hold has changed.

Pure: resources in, mappings out. Writing them is a target's job (targets/).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import orjson

from reconciler.addresses import Address, name_of, workspace_of
from reconciler.model import Composition, Deployment, Kind, Resource
from reconciler.planning import ceiling

API_VERSION = "runtimes.reconciler.dev/v1"
LABEL_PREFIX = "runtimes.reconciler.dev"
CONTAINER = "scorer"
SCORING_PORT = 8080
# Zero downtime: a rollout never takes a serving pod away before its replacement is
# ready, and adds new pods a quarter of the replicas at a time (at least one), as
# Kubernetes' own default surge does.
MAX_UNAVAILABLE = 0
SURGE_FRACTION = 0.25


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
    name = f"{address.id}.{address.version}" if address.version else address.id
    return {
        "apiVersion": API_VERSION,
        "kind": resource.kind.value,
        "metadata": {
            "name": name,
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


def digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def composition_manifest(
    deployment: Deployment, composition: Composition, *, runtime: Resource, version: Resource
) -> dict[str, Any]:
    """The `apps/v1` Deployment serving one composition on its pinned version."""
    address = deployment.address
    workspace, deployment_id = workspace_of(address), name_of(address)
    selector = {
        f"{LABEL_PREFIX}/deployment": deployment_id,
        f"{LABEL_PREFIX}/experiment": composition.experiment_id,
    }
    labels = {
        f"{LABEL_PREFIX}/workspace": workspace,
        **selector,
        "app.kubernetes.io/managed-by": "runtime-reconciler",
    }
    spec = runtime.spec
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": version.spec["image"],
        "ports": [{"name": "http", "containerPort": SCORING_PORT}],
        "env": [
            {"name": k, "value": v}
            for k, v in sorted(spec.get("environment_variables", {}).items())
        ],
        "readinessProbe": {
            "httpGet": {"path": version.spec["readiness_probe_path"], "port": "http"}
        },
    }
    if spec.get("security_context"):
        container["securityContext"] = spec["security_context"]
    pod: dict[str, Any] = {"containers": [container]}
    if spec.get("volumes"):
        pod["volumes"] = spec["volumes"]
    if spec.get("selector"):
        pod["nodeSelector"] = spec["selector"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"{deployment_id}-{composition.experiment_id}",
            "labels": labels,
            "annotations": {
                f"{LABEL_PREFIX}/address": address,
                f"{LABEL_PREFIX}/uid": deployment.uid,
                f"{LABEL_PREFIX}/runtime": composition.runtime,
                f"{LABEL_PREFIX}/runtime-image-version": composition.image_version,
            },
        },
        "spec": {
            "replicas": composition.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxUnavailable": MAX_UNAVAILABLE,
                    "maxSurge": max(1, math.ceil(composition.replicas * SURGE_FRACTION)),
                },
            },
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
