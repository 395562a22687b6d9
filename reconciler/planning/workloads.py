"""Workloads: the `apps/v1` Deployment a composition runs, and the runtime configuration in it.

A composition's workload is built from three things: the deployment and composition
themselves, the container image of its pinned version, and its runtime's
*configuration* — the runtime fields that enter the workload (`CONFIGURATION_FIELDS`).
A composition is pinned to that configuration as it is to its version: it records the
`configuration_digest` of what its workload was written with, so a plan can tell, by
comparing two short strings per composition, which deployments run an older
configuration of their runtime, and nothing rolls until upgraded. The values of an older
configuration that compositions still run are retained in the state (`retain`), so that a
failed rollout puts a workload back exactly as it ran.

The workload rolls out with zero downtime (RollingUpdate that never drops below the
desired replicas). Its `digest` is recorded in state as the composition's `last_applied`.

Pure: specs in, mappings and digests out. The catalog's own objects are
targets/manifests.py's; writing either is a target's job.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from reconciler import sensitive
from reconciler.addresses import (
    composition_address,
    kube_name,
    name_of,
    object_name,
    workspace_of,
)
from reconciler.model import Composition, Deployment, Kind, Resource

LABEL_PREFIX = "runtimes.reconciler.dev"
CONTAINER = "scorer"
SCORING_PORT = 8080
# Zero downtime: a rollout never takes a serving pod away before its replacement is
# ready, and adds new pods a quarter of the replicas at a time (at least one), as
# Kubernetes' own default surge does.
MAX_UNAVAILABLE = 0
SURGE_FRACTION = 0.25
# The runtime fields a composition's workload runs with: changing one of them leaves
# running compositions on an older configuration until they are upgraded. Descriptions,
# the display name and the scoring endpoint are the catalog's, not the workload's.
CONFIGURATION_FIELDS = (
    "environment_variables",
    "data_volume_read_only",
    "volumes",
    "security_context",
    "selector",
)


# Where a workload's or a runtime's secret environment values live: a Secret beside it,
# at this address under its own (`<address>/secret`), named `<object name>-env`.
SECRET_ADDRESS_SUFFIX = "/secret"
SECRET_NAME_SUFFIX = "-env"
MANAGED_BY = {"app.kubernetes.io/managed-by": "runtime-reconciler"}


def secret_address(address: str) -> str:
    """The address of the Secret holding the secret environment values of the object at
    `address` (a runtime or a composition)."""
    return f"{address}{SECRET_ADDRESS_SUFFIX}"


def owner_of_secret(address: str) -> str | None:
    """The address whose Secret lives at `address`, or None if `address` is no Secret's."""
    if address.endswith(SECRET_ADDRESS_SUFFIX):
        return address.removesuffix(SECRET_ADDRESS_SUFFIX)
    return None


def secret_name(address: str) -> str:
    """The name of the Secret of the object at `address` on a cluster."""
    return kube_name(f"{object_name(address)}{SECRET_NAME_SUFFIX}")


def is_reference(value: Any) -> bool:
    """True for an environment value that names a key of an existing Secret
    (`{"secretKeyRef": {"name": ..., "key": ...}}`) rather than giving the value."""
    return isinstance(value, Mapping) and isinstance(value.get("secretKeyRef"), Mapping)


def secret_values(env: Mapping[str, Any], marked: Iterable[str] = ()) -> dict[str, str]:
    """The values of `env` that must not sit in plain text: those the rule of sensitive.py
    hides, and those under the names `marked` sensitive by the user (references to
    existing Secrets are not values)."""
    marked = frozenset(marked)
    return {
        name: value
        for name, value in env.items()
        if not is_reference(value) and (name in marked or sensitive.DEFAULT.hides(name, value))
    }


def mark(
    runtime: Resource, sensitivity: sensitive.Sensitivity, *, prior: Resource | None = None
) -> Resource:
    """`runtime` with `sensitive_environment` naming every environment variable whose value
    the user marked sensitive: by `sensitivity`'s names now, or earlier (its own or
    `prior`'s record) while the value is still given. The built-in rule needs no record.

    Marks only accumulate: a run that forgot to mark a name (another shell, a client made
    without `sensitive_names`) must not move a value out of its Secret into plain text.
    """
    env = runtime.spec.get("environment_variables") or {}
    earlier = {*runtime.sensitive_environment, *(prior.sensitive_environment if prior else ())}
    names = tuple(
        sorted(
            name
            for name, value in env.items()
            if not is_reference(value)
            # A name the built-in rule catches needs no record; a value that gives itself
            # away (a URL with a password) may not always, so its mark is kept.
            and (name in earlier or (sensitivity.name(name) and not sensitive.DEFAULT.name(name)))
        )
    )
    return (
        runtime
        if names == runtime.sensitive_environment
        else runtime.with_(sensitive_environment=names)
    )


def marked(
    catalog: dict[str, Resource],
    sensitivity: sensitive.Sensitivity,
    *,
    prior: Mapping[str, Resource],
) -> dict[str, Resource]:
    """`catalog` with each runtime `mark`ed; `catalog` itself when nothing changes (the
    common case: no names marked, so only runtimes already holding marks are looked at)."""
    out: dict[str, Resource] | None = None
    for address, resource in catalog.items():
        if resource.kind is not Kind.RUNTIME:
            continue
        before = prior.get(address)
        if not (
            sensitivity.names
            or resource.sensitive_environment
            or (before is not None and before.sensitive_environment)
        ):
            continue
        found = mark(resource, sensitivity, prior=before)
        if found is not resource:
            out = dict(catalog) if out is None else out
            out[address] = found
    return catalog if out is None else out


def environment_refs(
    env: Mapping[str, Any], *, secret: str, marked: Iterable[str] = ()
) -> dict[str, Any]:
    """`env` with each secret value replaced by a reference to its key in Secret `secret`."""
    hidden = secret_values(env, marked)
    return {
        name: {"secretKeyRef": {"name": secret, "key": name}} if name in hidden else value
        for name, value in env.items()
    }


def secret_manifest(
    address: str, values: Mapping[str, str], *, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The `v1` Secret holding `values` for the object at `address`, labelled as the tool's."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": secret_name(address),
            "labels": {**labels, **MANAGED_BY},
            "annotations": {f"{LABEL_PREFIX}/address": secret_address(address)},
        },
        "stringData": dict(sorted(values.items())),
    }


def composition_secret(
    deployment: Deployment, composition: Composition, *, runtime: Resource
) -> dict[str, Any] | None:
    """The Secret with the secret environment values of one composition's workload, or
    None when its runtime's configuration has none."""
    values = secret_values(
        runtime.spec.get("environment_variables") or {}, runtime.sensitive_environment
    )
    if not values:
        return None
    address = composition_address(deployment.address, composition.experiment_id)
    labels = {f"{LABEL_PREFIX}/workspace": workspace_of(deployment.address)}
    return secret_manifest(address, values, labels=labels)


def _env_entry(name: str, value: Any, *, secret: str, hidden: Mapping[str, str]) -> dict[str, Any]:
    if is_reference(value):
        ref = value["secretKeyRef"]
        return {
            "name": name,
            "valueFrom": {"secretKeyRef": {"name": ref["name"], "key": ref["key"]}},
        }
    if name in hidden:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}}
    return {"name": name, "value": value}


def digest(document: Mapping[str, Any]) -> str:
    """A short, stable digest of a JSON-ready mapping (key order does not matter)."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def configuration_of(spec: Mapping[str, Any], marked: Iterable[str] = ()) -> dict[str, Any]:
    """The configuration a runtime `spec` gives the workloads it serves: its
    `CONFIGURATION_FIELDS`, absent ones as their defaults (so a spec that spells a default
    out and one that leaves it out give the same configuration), and the environment
    variables `marked` sensitive, when there are any (they move values into a Secret)."""
    out = {
        "environment_variables": spec.get("environment_variables") or {},
        "data_volume_read_only": bool(spec.get("data_volume_read_only", False)),
        "volumes": spec.get("volumes") or [],
        "security_context": spec.get("security_context") or {},
        "selector": spec.get("selector") or {},
    }
    marked = sorted(marked)
    if marked:
        out[MARKED] = marked
    return out


# The key under which a configuration lists the environment variables marked sensitive.
MARKED = "sensitive_environment"


def configuration_digest(spec: Mapping[str, Any], marked: Iterable[str] = ()) -> str:
    """The digest of `configuration_of(spec, marked)`: what a composition records as pinned.

    A plan takes one per runtime its deployments use (thousands at scale), so the values
    are hashed as a tuple in `CONFIGURATION_FIELDS` order, picked in one step from a spec
    that has them all (as validated specs do); `configuration_digest(configuration_of(spec))`
    is the same digest. Marks, when there are any, are hashed after them, so a catalog
    without marks keeps the digests it had before marks were recorded.
    """
    try:
        values = _PICK_CONFIGURATION(spec)
    except KeyError:
        values = tuple(configuration_of(spec).values())
    names = sorted({*marked, *spec.get(MARKED, ())})
    if names:
        values = (*values, names)
    encoded = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


_PICK_CONFIGURATION = operator.itemgetter(*CONFIGURATION_FIELDS)


def runtime_configuration(runtime: Resource) -> str:
    """The digest of the configuration `runtime` gives its workloads now: its fields and
    its marks."""
    return configuration_digest(runtime.spec, runtime.sensitive_environment)


def pinned_configuration(
    composition: Composition,
    *,
    retained: Mapping[str, Mapping[str, Any]],
    prior: Mapping[str, Resource],
) -> Mapping[str, Any] | None:
    """The values of the configuration `composition` is pinned to, when they are known:
    `retained` by a state, or given by its runtime as it was in the `prior` catalog (a
    runtime changed since). None for a pin recorded before configurations were."""
    found = retained.get(composition.configuration)
    if found is not None:
        return found
    before = prior.get(composition.runtime)
    if before is not None and runtime_configuration(before) == composition.configuration:
        return configuration_of(before.spec, before.sensitive_environment)
    return None


def retain(
    deployments: Iterable[Deployment],
    *,
    resources: Mapping[str, Resource],
    retained: Mapping[str, Mapping[str, Any]],
    prior: Mapping[str, Resource],
) -> dict[str, Mapping[str, Any]]:
    """The older configurations that compositions of `deployments` are pinned to, by
    digest: those their runtime among `resources` no longer gives, with their values
    (`pinned_configuration`). A state keeps them so that a failed rollout can put a
    workload back exactly as it ran; a runtime's current configuration needs no copy."""
    current: dict[str, str] = {}
    kept: dict[str, Mapping[str, Any]] = {}
    for deployment in deployments:
        for composition in deployment.compositions:
            pinned = composition.configuration
            if pinned in kept:
                continue
            if composition.runtime not in current:
                runtime = resources.get(composition.runtime)
                current[composition.runtime] = (
                    "" if runtime is None else runtime_configuration(runtime)
                )
            if pinned == current[composition.runtime]:
                continue
            values = pinned_configuration(composition, retained=retained, prior=prior)
            if values is not None:
                kept[pinned] = values
    return kept


def as_configured(runtime: Resource, configuration: Mapping[str, Any]) -> Resource:
    """`runtime` as it was when it gave `configuration`: what a workload pinned to an older
    configuration is written with."""
    fields = {key: value for key, value in configuration.items() if key != MARKED}
    return runtime.with_(
        spec={**runtime.spec, **fields},
        sensitive_environment=tuple(configuration.get(MARKED, ())),
    )


def composition_manifest(
    deployment: Deployment, composition: Composition, *, runtime: Resource, version: Resource
) -> dict[str, Any]:
    """The `apps/v1` Deployment serving one composition on `version` with `runtime`'s
    configuration."""
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
    env = spec.get("environment_variables", {})
    hidden = secret_values(env, runtime.sensitive_environment)
    secret = secret_name(composition_address(address, composition.experiment_id))
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": version.spec["image"],
        "ports": [{"name": "http", "containerPort": SCORING_PORT}],
        "env": [_env_entry(k, v, secret=secret, hidden=hidden) for k, v in sorted(env.items())],
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
    template_meta: dict[str, Any] = {"labels": labels}
    if hidden:
        # The pod spec names the Secret, not its values: a new value changes only this
        # annotation (the configuration's digest), which is what makes the workload roll.
        template_meta["annotations"] = {
            f"{LABEL_PREFIX}/configuration": runtime_configuration(runtime)
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": object_name(composition_address(address, composition.experiment_id)),
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
            "template": {"metadata": template_meta, "spec": pod},
        },
    }
