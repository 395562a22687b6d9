"""How built-in Kubernetes kinds merge, read from the Kubernetes OpenAPI schemas.

Owns the lookup of a kind's schema and, per field, the facts patching and server-side apply
need: the strategic-merge patch strategy and merge key (the Go struct tags, which the schemas
carry as `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`) and the
structured-merge list and map types (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
`x-kubernetes-map-type`). The schemas are the v1.37 ones shipped by `kubernetes-validate`, the
same release as the kubectl the tests compare against. Applying patches lives in patch.py,
field ownership in ssa.py.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from dataclasses import dataclass
from typing import Any

# The release of the schemas: the same minor version as the kubectl binary the tests install,
# so the merge keys we read are the ones kubectl's Go struct tags hold.
KUBERNETES_SCHEMA_VERSION = "v1.37.0"


class UnknownField(LookupError):
    """A field that the kind's schema does not declare (kubectl refuses to merge into it)."""


@dataclass(frozen=True, kw_only=True)
class Field:
    """One field's merge facts. `schema` is the field's resolved schema, None when free-form.

    `strategies` are the strategic-merge strategies (`merge`, `retainKeys`, `replace`);
    `merge_key` is the strategic-merge key of a list of objects; `list_type` and `map_keys`
    are the structured-merge list semantics (None when the schema says nothing).
    """

    schema: Schema | None
    strategies: tuple[str, ...] = ()
    merge_key: str = ""
    list_type: str | None = None
    map_keys: tuple[str, ...] = ()
    map_type: str | None = None


@dataclass(frozen=True)
class Schema:
    """A resolved schema node: `name` is the definition name, empty for inline nodes."""

    node: dict[str, Any]
    name: str = ""

    @property
    def go_name(self) -> str:
        """The Go struct name, as kubectl's errors print it (`DeploymentSpec`)."""
        return self.name.rsplit(".", 1)[-1]

    def is_struct(self) -> bool:
        return "properties" in self.node

    def map_type(self) -> str | None:
        return self.node.get("x-kubernetes-map-type")

    def field(self, key: str) -> Field:
        """The facts for `key` in this object; raises UnknownField for an undeclared field."""
        props = self.node.get("properties")
        if props is not None:
            if key not in props:
                raise UnknownField(
                    f"unable to find api field in struct {self.go_name} for the json field {key!r}"
                )
            return _field(props[key])
        extra = self.node.get("additionalProperties")
        if isinstance(extra, dict):
            return _field(extra)
        return Field(schema=None)

    def items(self) -> Schema | None:
        """The schema of a list's elements."""
        items = self.node.get("items")
        return resolve(items) if isinstance(items, dict) else None


def _field(prop: dict[str, Any]) -> Field:
    strategy = prop.get("x-kubernetes-patch-strategy", "")
    return Field(
        schema=resolve(prop),
        strategies=tuple(s for s in strategy.split(",") if s),
        merge_key=prop.get("x-kubernetes-patch-merge-key", ""),
        list_type=prop.get("x-kubernetes-list-type"),
        map_keys=tuple(prop.get("x-kubernetes-list-map-keys", ())),
        map_type=prop.get("x-kubernetes-map-type"),
    )


@functools.cache
def _definitions() -> dict[str, dict[str, Any]]:
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    path = root / f"{KUBERNETES_SCHEMA_VERSION}-local" / "_definitions.json"
    return json.loads(path.read_text())["$defs"]


def resolve(node: dict[str, Any]) -> Schema:
    """Follow `$ref` to the definition it names (annotations sit beside the reference)."""
    ref = node.get("$ref")
    if ref is None:
        return Schema(node)
    name = ref.rsplit("/", 1)[-1]
    return Schema(_definitions()[name], name)


@functools.cache
def _kinds() -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for name, node in _definitions().items():
        for gvk in node.get("x-kubernetes-group-version-kind", ()):
            group, version = gvk.get("group", ""), gvk["version"]
            api_version = f"{group}/{version}" if group else version
            index.setdefault((api_version, gvk["kind"]), name)
    return index


def kind_schema(kind: str, api_version: str | None = None) -> Schema | None:
    """The schema of a built-in kind, or None for a kind Kubernetes does not define.

    Without `api_version` a stable version wins over alpha and beta ones.
    """
    kinds = _kinds()
    if api_version is not None:
        name = kinds.get((api_version, kind))
        return Schema(_definitions()[name], name) if name else None
    candidates = [(av, name) for (av, k), name in kinds.items() if k == kind]
    if not candidates:
        return None
    candidates.sort(key=lambda c: ("alpha" in c[0], "beta" in c[0], c[0]))
    name = candidates[0][1]
    return Schema(_definitions()[name], name)
