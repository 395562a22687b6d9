"""Resource types the emulator serves: built-ins and those that CRDs register.

Owns what a resource *is* (group, version, kind, plural, scope, subresources, short names,
printer columns, the CRD schema) and the discovery documents built from it. Storing objects
lives in store.py; serving them over HTTP in server.py.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
READ_VERBS = ["get", "list", "watch"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResourceType:
    """One served group/version/resource. `storage` names the objects regardless of version,
    so every served version of a CRD reads and writes the same objects."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    has_generation: bool = False
    builtin: bool = True  # strategic merge patch is defined for built-in kinds only
    schema: dict[str, Any] | None = None  # openAPIV3Schema of a custom resource version
    printer_columns: tuple[dict[str, Any], ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def singular(self) -> str:
        return self.kind.lower()


def _builtin(group: str, version: str, kind: str, plural: str, namespaced: bool, **kw: Any):
    return ResourceType(
        group=group, version=version, kind=kind, plural=plural, namespaced=namespaced, **kw
    )


BUILTINS = (
    _builtin(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        short_names=("ns",),
        subresources=frozenset({"status"}),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    _builtin("", "v1", "ConfigMap", "configmaps", True, short_names=("cm",)),
    _builtin("", "v1", "Secret", "secrets", True),
    _builtin("", "v1", "ServiceAccount", "serviceaccounts", True, short_names=("sa",)),
    _builtin(
        "",
        "v1",
        "Service",
        "services",
        True,
        short_names=("svc",),
        subresources=frozenset({"status"}),
    ),
    _builtin(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        short_names=("po",),
        subresources=frozenset({"status", "log"}),
    ),
    _builtin("", "v1", "Event", "events", True, short_names=("ev",)),
    _builtin(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        short_names=("deploy",),
        subresources=frozenset({"status", "scale"}),
        has_generation=True,
        categories=("all",),
    ),
    _builtin(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        short_names=("rs",),
        subresources=frozenset({"status"}),
        has_generation=True,
    ),
    _builtin(
        "batch",
        "v1",
        "Job",
        "jobs",
        True,
        subresources=frozenset({"status"}),
        has_generation=True,
        categories=("all",),
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    _builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        short_names=("crd", "crds"),
        subresources=frozenset({"status"}),
        has_generation=True,
    ),
    _builtin(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        verbs=("create",),
    ),
)

PREFERRED_ORDER = [
    "",
    "apps",
    "batch",
    "rbac.authorization.k8s.io",
    "apiextensions.k8s.io",
    "authorization.k8s.io",
]


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition, as resource types."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    out = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = frozenset(
            k for k in (version.get("subresources") or {}) if k in ("status", "scale")
        )
        out.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                subresources=subresources,
                short_names=tuple(names.get("shortNames", ())),
                has_generation=True,
                builtin=False,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns", ())),
                categories=tuple(names.get("categories", ())),
            )
        )
    return out


class Registry:
    """Served types by (group, version, plural); thread-safe, CRDs come and go at run time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._crd_owned: dict[str, list[ResourceType]] = {}
        for rtype in BUILTINS:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rtype in self._types.values():
                if rtype.group == group and rtype.version == version and rtype.kind == kind:
                    return rtype
        return None

    def group_versions(self) -> dict[str, list[str]]:
        with self._lock:
            groups: dict[str, list[str]] = {}
            for group, version, _ in self._types:
                versions = groups.setdefault(group, [])
                if version not in versions:
                    versions.append(version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        with self._lock:
            return [t for (g, v, _), t in self._types.items() if g == group and v == version]

    def register_crd(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        new = types_from_crd(crd)
        with self._lock:
            for old in self._crd_owned.pop(name, []):
                self._types.pop((old.group, old.version, old.plural), None)
            for rtype in new:
                self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
            self._crd_owned[name] = new

    def unregister_crd(self, name: str) -> None:
        with self._lock:
            for old in self._crd_owned.pop(name, []):
                self._types.pop((old.group, old.version, old.plural), None)

    # Discovery documents -------------------------------------------------------------

    def api_versions(self) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}
            ],
        }

    def api_group_list(self) -> dict[str, Any]:
        groups = self.group_versions()
        order = sorted(
            (g for g in groups if g),
            key=lambda g: (PREFERRED_ORDER.index(g) if g in PREFERRED_ORDER else 99, g),
        )
        items = []
        for group in order:
            versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in groups[group]]
            items.append({"name": group, "versions": versions, "preferredVersion": versions[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.group_versions().get(group)
        if not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def api_resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        rtypes = self.in_group_version(group, version)
        if not rtypes:
            return None
        resources = []
        for rtype in sorted(rtypes, key=lambda t: t.plural):
            entry: dict[str, Any] = {
                "name": rtype.plural,
                "singularName": rtype.singular,
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": list(rtype.verbs),
            }
            if rtype.short_names:
                entry["shortNames"] = list(rtype.short_names)
            if rtype.categories:
                entry["categories"] = list(rtype.categories)
            resources.append(entry)
            for sub in sorted(rtype.subresources):
                sub_entry = {
                    "name": f"{rtype.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "kind": rtype.kind,
                    "verbs": ["get", "patch", "update"],
                }
                if sub == "scale":
                    sub_entry.update(kind="Scale", group="autoscaling", version="v1")
                if sub == "log":
                    sub_entry.update(kind="Pod", verbs=["get"])
                resources.append(sub_entry)
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }
