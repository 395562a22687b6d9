"""The kubernetes target: catalog objects as custom resources, compositions as Deployments.

Owns where each address lives on a cluster (its kind, namespace and name), writing with
server-side apply under the field manager `runtime-reconciler`, reading back exactly the
fields the tool applied (the live object cut down to its managed fields, so what the
server adds, defaults or other managers own is never mistaken for ours), and waiting for
a Deployment's rollout as `kubectl rollout status` does, on the one watch every rollout
shares (rollouts.py).

Namespaces: workspace `global` (where the bootstrap-managed catalog lives) maps to the
platform namespace (`RECONCILER_PLATFORM_NAMESPACE`, default `runtime-platform`), every
other workspace to `workspace-<name>` (the pattern is configurable, and so is creating a
missing namespace). A runtime's or a composition's secret environment values live in a
Secret beside it (`<address>/secret`, planning/workloads.py), sent as `data`. Objects
that do not carry `app.kubernetes.io/managed-by: runtime-reconciler` are not ours: `get`
does not see them, `delete` leaves them, and `put` refuses to write over one.

Not here: the `kubernetes` library, retries and error translation (kubeclient.py); what
the objects look like (manifests.py).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from reconciler import errors, settings
from reconciler.addresses import (
    Address,
    composition_address,
    kube_name,
    object_name,
    parse_composition,
    workspace_of,
)
from reconciler.model import GLOBAL_WORKSPACE, Kind
from reconciler.planning import workloads
from reconciler.targets import crds, kubeclient, manifests, rollouts
from reconciler.targets.rollouts import rollout_status

PLATFORM_NAMESPACE_ENV = "RECONCILER_PLATFORM_NAMESPACE"  # the Helm hook Job sets it
DEFAULT_PLATFORM_NAMESPACE = "runtime-platform"
DEFAULT_WORKSPACE_NAMESPACE = "workspace-{workspace}"
WORKSPACE_NAMESPACE_ENV = "RECONCILER_WORKSPACE_NAMESPACE"  # a pattern with {workspace}
CREATE_NAMESPACES_ENV = "RECONCILER_CREATE_NAMESPACES"  # on: create missing namespaces
MANAGED_BY = "app.kubernetes.io/managed-by"
OURS = "runtime-reconciler"
# A 409 because the object changed between our read and our write is retried after a
# fresh read this many times; more than that means someone keeps writing it.
CONFLICT_ATTEMPTS = 5
DEFAULT_ROLLOUT_TIMEOUT = 600.0

DEPLOYMENTS = kubeclient.Resource(group="apps", version="v1", plural="deployments", custom=False)
_CATALOG = {
    kind: kubeclient.Resource(
        group=crds.GROUP, version=crds.VERSION, plural=crds.plural_of(kind), custom=True
    )
    for kind in (Kind.IMAGE, Kind.VERSION, Kind.RUNTIME)
}


class KubernetesTarget:
    """A cluster reached through kubeconfig `context` (None: current, or in-cluster).

    Left out, `platform_namespace`, `workspace_namespace` (a pattern with `{workspace}`)
    and `create_namespaces` come from RECONCILER_PLATFORM_NAMESPACE,
    RECONCILER_WORKSPACE_NAMESPACE and RECONCILER_CREATE_NAMESPACES=1, else the defaults.
    `create_namespaces` creates a missing namespace instead of failing; `force_conflicts`
    takes over fields another field manager owns instead of reporting the conflict.
    `rollout_timeout` bounds each rollout `roll` waits for; `page_size` is the `limit` of
    the paged lists a refresh reads.
    """

    def __init__(
        self,
        *,
        context: str | None = None,
        platform_namespace: str | None = None,
        workspace_namespace: str | None = None,
        create_namespaces: bool | None = None,
        force_conflicts: bool = False,
        rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
        page_size: int = kubeclient.PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cluster = kubeclient.connect(context, sleep=sleep)
        self.name = f"kubernetes:{context}" if context else "kubernetes"
        self.platform_namespace = platform_namespace or os.environ.get(
            PLATFORM_NAMESPACE_ENV, DEFAULT_PLATFORM_NAMESPACE
        )
        self.workspace_namespace = workspace_namespace or os.environ.get(
            WORKSPACE_NAMESPACE_ENV, DEFAULT_WORKSPACE_NAMESPACE
        )
        if "{workspace}" not in self.workspace_namespace:
            raise errors.UsageError(
                f"the workspace namespace pattern {self.workspace_namespace!r} does not name "
                "the workspace",
                hint="include {workspace}, as in the default workspace-{workspace}",
            )
        if create_namespaces is None:
            create_namespaces = settings.switch(CREATE_NAMESPACES_ENV)
        self.create_namespaces = create_namespaces
        self.force_conflicts = force_conflicts
        self.rollout_timeout = rollout_timeout
        self.page_size = page_size
        self.sleep = sleep
        self._created: set[str] = set()
        # Names of objects that are not the tool's, by kind and namespace (_refuse_foreign).
        self._foreign: dict[tuple[kubeclient.Resource, str], frozenset[str]] = {}
        self._deployments: rollouts.DeploymentWatch | None = None  # started by a rollout
        self._lock = threading.Lock()

    # Where an address lives ----------------------------------------------------------------

    def namespace_of(self, address: str) -> str:
        workspace = workspace_of(address)
        if workspace == GLOBAL_WORKSPACE:
            return self.platform_namespace
        return kube_name(self.workspace_namespace.format(workspace=workspace))

    def locate(self, address: str) -> tuple[kubeclient.Resource, str, str]:
        """The kind, namespace and name of the object at `address`."""
        owner = workloads.owner_of_secret(address)
        if owner is not None:
            self.locate(owner)  # only the Secret of an address held here
            return kubeclient.SECRETS, self.namespace_of(owner), workloads.secret_name(owner)
        if parse_composition(address) is not None:
            kind = DEPLOYMENTS
        else:
            try:
                kind = _CATALOG[Address.parse(address).kind]
            except errors.InputError as exc:
                raise errors.TargetError(
                    f"{address} is not an address the kubernetes target holds",
                    hint="address catalog resources and deployment compositions",
                ) from exc
        return kind, self.namespace_of(address), object_name(address)

    # The Target protocol -------------------------------------------------------------------

    def put(self, address: str, manifest: Mapping[str, Any]) -> None:
        kind, namespace, name = self.locate(address)
        self._refuse_foreign(address, kind, namespace, name)
        body = copy.deepcopy(dict(manifest))
        if kind == kubeclient.SECRETS:
            body = as_data(body)
        body.setdefault("metadata", {})["name"] = name
        body["metadata"].pop("namespace", None)  # the request's path says where
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                self._apply(kind, namespace, name, body)
                return
            except kubeclient.Conflict as conflict:
                if conflict.fields:
                    raise _owned_elsewhere(address, conflict.fields) from conflict
                if attempt == CONFLICT_ATTEMPTS:
                    raise errors.TargetError(
                        f"{address}: the object kept changing while it was written "
                        f"({CONFLICT_ATTEMPTS} conflicts)",
                        detail=str(conflict),
                        hint="find what else writes it, then run again",
                    ) from conflict
                # The object moved on under us. Apply sends no resourceVersion, so after
                # reading the object as it now is, the same apply lands on that version.
                self.cluster.read(kind, namespace, name)

    def get(self, address: str) -> dict[str, Any] | None:
        kind, namespace, name = self.locate(address)
        live = self.cluster.read(kind, namespace, name)
        if live is None or not _ours(live):
            return None
        found = applied_fields(live)
        return as_string_data(found) if kind == kubeclient.SECRETS else found

    def delete(self, address: str) -> None:
        kind, namespace, name = self.locate(address)
        live = self.cluster.read(kind, namespace, name)
        if live is None or not _ours(live):
            return  # not there, or not ours to remove
        self.cluster.remove(kind, namespace, name)

    def remove_leftovers(self) -> int:
        return 0  # each write is one API request: the server never keeps half of one

    def observe(self, expected: Collection[str] = ()) -> dict[str, dict[str, Any]]:
        selector = f"{MANAGED_BY}={OURS}"
        out: dict[str, dict[str, Any]] = {}
        with self._lock:  # a new run: what is not ours is looked up afresh
            self._foreign.clear()
        # Secrets are listed per namespace, only where one is expected: listing them across
        # the cluster would need the right to read every Secret in it.
        secrets_in = sorted(
            {
                self.namespace_of(owner)
                for address in expected
                if (owner := workloads.owner_of_secret(address)) is not None
            }
        )
        listings = [(kind, "") for kind in (*_CATALOG.values(), DEPLOYMENTS)]
        listings += [(kubeclient.SECRETS, namespace) for namespace in secrets_in]
        for kind, namespace in listings:
            for live in self.cluster.list_all(
                kind, label_selector=selector, page_size=self.page_size, namespace=namespace
            ):
                address = self._address_of(live, kind)
                if address is not None:
                    # managedFields stay: they say who owns a field that drifted
                    owners = live.get("metadata", {}).get("managedFields")
                    found = without_server_fields(live)
                    if kind == kubeclient.SECRETS:
                        found = as_string_data(found)
                    out[address] = found
                    out[address]["metadata"]["managedFields"] = owners or []
        return out

    def _address_of(self, live: Mapping[str, Any], kind: kubeclient.Resource) -> str | None:
        """The address an object of ours was written for, if it sits where that address
        lives (a copy elsewhere is not the one the tool reads back)."""
        meta = live.get("metadata") or {}
        address = (meta.get("annotations") or {}).get(f"{manifests.LABEL_PREFIX}/address")
        if not address:
            return None
        if kind == DEPLOYMENTS:
            experiment = (meta.get("labels") or {}).get(f"{manifests.LABEL_PREFIX}/experiment")
            if not experiment:
                return None
            address = composition_address(address, experiment)
        try:
            where = self.locate(address)
        except (errors.TargetError, errors.InputError):
            return None
        return address if where == (kind, meta.get("namespace"), meta.get("name")) else None

    def roll(self, address: str, manifest: Mapping[str, Any], *, timeout: float | None) -> None:
        self.put(address, manifest)
        kind, namespace, name = self.locate(address)
        if kind != DEPLOYMENTS:
            return
        limit = self.rollout_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        watch, key = self._watch(), (namespace, name)
        seen = watch.position(key)  # before the read: no event after it is missed
        live = self.cluster.read(kind, namespace, name)
        # An event may still bring the Deployment as it was before this write (a watch
        # runs behind): one of an older generation says nothing of this rollout.
        written = _generation(live)
        while True:
            if live is None:
                raise errors.TargetError(
                    f"{address}: Deployment {namespace}/{name} disappeared during its rollout",
                    hint="find what deleted it, then run again",
                )
            done, failure = rollout_status(live)
            if failure:
                raise errors.TargetError(
                    f"{address}: the rollout of Deployment {namespace}/{name} failed: {failure}",
                    hint="check the pods (kubectl describe deployment -n "
                    f"{namespace} {name}); fix the image or its readiness, then run again",
                )
            if done:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.TargetError(
                    f"{address}: the rollout of Deployment {namespace}/{name} did not finish "
                    f"within {limit:g}s",
                    hint="check the pods, or allow a longer rollout timeout",
                )
            watch.follow(str(live.get("metadata", {}).get("resourceVersion", "")))
            event = watch.wait(key, after=seen, timeout=min(remaining, watch.patience()))
            if event is not None:
                seen, found = event
                if found is None or _generation(found) >= written:
                    live = found
            else:  # no word from the watch: read it (the watch may be cut or refused)
                seen = watch.position(key)
                live = self.cluster.read(kind, namespace, name)

    # Internals -----------------------------------------------------------------------------

    def _watch(self) -> rollouts.DeploymentWatch:
        with self._lock:
            if self._deployments is None:
                self._deployments = rollouts.DeploymentWatch(
                    self.cluster, DEPLOYMENTS, selector=f"{MANAGED_BY}={OURS}"
                )
            return self._deployments

    def _refuse_foreign(
        self, address: str, kind: kubeclient.Resource, namespace: str, name: str
    ) -> None:
        """Refuse to write where an object that is not the tool's has the name (someone's
        own Secret `lts-env`, a hand-made Runtime): an apply would take it over, and a
        later removal delete it.

        Secrets are few and the ones at stake: each is read before it is written. For
        the other kinds, the names of the objects not labelled as the tool's are listed
        once per kind and namespace (`managed-by!=runtime-reconciler`, which also selects
        objects without the label; usually none), so a write costs no extra request.
        """
        if kind == kubeclient.SECRETS:
            live = self.cluster.read(kind, namespace, name)
            foreign = live is not None and not _ours(live)
        else:
            with self._lock:  # one listing per kind and namespace, whatever the threads
                names = self._foreign.get((kind, namespace))
                if names is None:
                    names = self._foreign[(kind, namespace)] = self._list_foreign(kind, namespace)
            foreign = name in names
        if foreign:
            resource = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
            raise errors.TargetError(
                f"{address}: {resource} {namespace}/{name} exists and is not the tool's "
                f"(it lacks the label {MANAGED_BY}={OURS}): the tool does not write over it",
                hint=f"rename or remove that object, or label it {MANAGED_BY}={OURS} to hand "
                "it to the tool, then run again",
            )

    def _list_foreign(self, kind: kubeclient.Resource, namespace: str) -> frozenset[str]:
        try:
            found = self.cluster.list_all(
                kind,
                label_selector=f"{MANAGED_BY}!={OURS}",
                page_size=self.page_size,
                namespace=namespace,
            )
        except kubeclient.NamespaceMissing:
            return frozenset()  # the write reports it, or creates the namespace
        return frozenset(str((o.get("metadata") or {}).get("name")) for o in found)

    def _apply(
        self, kind: kubeclient.Resource, namespace: str, name: str, body: dict[str, Any]
    ) -> None:
        try:
            self.cluster.apply(kind, namespace, name, body, force=self.force_conflicts)
        except kubeclient.NamespaceMissing:
            if not self.create_namespaces:
                raise
            with self._lock:
                if namespace not in self._created:
                    self.cluster.create_namespace(namespace)
                    self._created.add(namespace)
            self.cluster.apply(kind, namespace, name, body, force=self.force_conflicts)


def _generation(live: Mapping[str, Any] | None) -> int:
    return int(((live or {}).get("metadata") or {}).get("generation") or 0)


def _ours(live: Mapping[str, Any]) -> bool:
    return ((live.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) == OURS


def _owned_elsewhere(address: str, fields: list[tuple[str, str]]) -> errors.TargetError:
    named = ", ".join(f"{field} (owned by {manager})" for manager, field in fields)
    return errors.TargetError(
        f"{address}: conflict: fields the tool sets are owned by another field manager: {named}",
        detail="someone changed them with another tool (kubectl, a controller) since the "
        "tool last wrote them",
        hint="take them over with --force-conflicts, or remove that manager's change",
    )


def as_data(secret: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret manifest with its `stringData` moved into `data`, base64-encoded: what is
    sent. Server-side apply tracks `stringData` as a field of its own that the server never
    stores (it merges it into `data`), so an apply of it could never be read back or
    compared; `data` is what a cluster holds."""
    out = dict(secret)
    strings = out.pop("stringData", None) or {}
    if strings:
        data = dict(out.get("data") or {})
        for key, text in strings.items():
            data[key] = base64.b64encode(str(text).encode()).decode()
        out["data"] = data
    return out


def as_string_data(secret: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret read from a cluster with its `data` decoded into `stringData`: as the tool's
    manifests spell it (a value that is not UTF-8 text stays as `data`)."""
    out = dict(secret)
    data = out.pop("data", None) or {}
    strings, binary = {}, {}
    for key, encoded in data.items():
        try:
            strings[key] = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            binary[key] = encoded
    if binary:
        out["data"] = binary
    if strings or "data" in secret:
        out["stringData"] = dict(sorted(strings.items()))
    return out


# Server-set fields: reading them back would make every object differ from what was put.
SERVER_SET_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation")


def without_server_fields(live: Mapping[str, Any]) -> dict[str, Any]:
    """The live object without status and the metadata the server sets."""
    out = copy.deepcopy(dict(live))
    out.pop("status", None)
    meta = out.get("metadata", {})
    for key in (*SERVER_SET_METADATA, "managedFields", "namespace"):
        meta.pop(key, None)
    return out


def applied_fields(live: Mapping[str, Any]) -> dict[str, Any]:
    """The live object cut down to the fields the tool's field manager applied.

    Without an apply entry of ours (an object written by other means), everything but the
    server-set fields and status.
    """
    entry = next(
        (
            m
            for m in live.get("metadata", {}).get("managedFields") or []
            if m.get("manager") == kubeclient.FIELD_MANAGER and m.get("operation") == "Apply"
        ),
        None,
    )
    if entry is None or "fieldsV1" not in entry:
        return without_server_fields(live)
    out = _project(live, entry["fieldsV1"])
    out["apiVersion"] = live["apiVersion"]
    out["kind"] = live["kind"]
    out.setdefault("metadata", {})["name"] = live["metadata"]["name"]
    return {"apiVersion": out.pop("apiVersion"), "kind": out.pop("kind"), **out}


def _project(value: Any, fields: Mapping[str, Any]) -> Any:
    """`value` restricted to the managed-fields set `fields` (the fieldsV1 format)."""
    children = [key for key in fields if key != "."]
    if not children:
        return copy.deepcopy(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in fields.items():
            if key.startswith("f:") and key[2:] in value:
                out[key[2:]] = _project(value[key[2:]], sub)
        return out
    if isinstance(value, list):
        keyed = [(json.loads(k[2:]), sub) for k, sub in fields.items() if k.startswith("k:")]
        values = [json.loads(k[2:]) for k in fields if k.startswith("v:")]
        items = []
        for item in value:
            match = next(
                (
                    sub
                    for key, sub in keyed
                    if isinstance(item, dict) and all(item.get(k) == v for k, v in key.items())
                ),
                None,
            )
            if match is not None:
                items.append(_project(item, match))
            elif item in values:
                items.append(copy.deepcopy(item))
        return items
    return copy.deepcopy(value)
