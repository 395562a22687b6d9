"""OpenAPI v3 documents, just enough for kubectl.

Owns `/openapi/v3` (the index of group versions) and `/openapi/v3/<api|apis/g>/<v>`: every
served path with its operations, each declaring the `fieldValidation` parameter, which is
how kubectl learns that the server validates fields itself (so `kubectl apply`, `create`
and `diff` send `fieldValidation=Strict` instead of validating client side). Custom
resources carry their CRD's schema. Built-in kinds carry no schema on purpose: kubectl then
computes strategic merge patches from its compiled-in types, which are the real ones.
`/openapi/v2` is not served (404), as kubectl tolerates.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from tests.kubeapi.registry import Registry, ResourceType

FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "schema": {"type": "string", "uniqueItems": True},
}


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _schema_name(rtype: ResourceType) -> str:
    group = ".".join(reversed(rtype.group.split("."))) if rtype.group else "core"
    return f"{group}.{rtype.version}.{rtype.kind}"


def _operations(rtype: ResourceType, ref: dict[str, Any] | None) -> dict[str, Any]:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    content = (
        {"application/json": {"schema": ref}}
        if ref
        else {"application/json": {"schema": {"type": "object"}}}
    )

    def op(action: str) -> dict[str, Any]:
        return {
            "operationId": f"{action}{rtype.kind}",
            "parameters": [
                FIELD_VALIDATION,
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "OK", "content": content}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
        }

    return {"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}


def group_version_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    rtypes = registry.in_group_version(group, version)
    if not rtypes:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    prefix = "/" + _gv_path(group, version)
    for rtype in rtypes:
        ref = None
        if not rtype.builtin and rtype.schema:
            name = _schema_name(rtype)
            schemas[name] = {
                **rtype.schema,
                "x-kubernetes-group-version-kind": [
                    {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
                ],
            }
            ref = {"$ref": f"#/components/schemas/{name}"}
        scope = "/namespaces/{namespace}" if rtype.namespaced else ""
        collection = {"get": _operations(rtype, ref)["get"], "post": _operations(rtype, ref)["put"]}
        paths[f"{prefix}{scope}/{rtype.plural}"] = collection
        paths[f"{prefix}{scope}/{rtype.plural}/{{name}}"] = _operations(rtype, ref)
        for sub in rtype.subresources:
            paths[f"{prefix}{scope}/{rtype.plural}/{{name}}/{sub}"] = _operations(rtype, ref)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def document(registry: Registry, path: str) -> dict[str, Any] | None:
    if path == "/openapi/v3":
        index = {}
        for group, versions in registry.group_versions().items():
            for version in versions:
                body = orjson.dumps(
                    group_version_document(registry, group, version), option=orjson.OPT_SORT_KEYS
                )
                digest = hashlib.sha256(body).hexdigest()[:16].upper()
                index[_gv_path(group, version)] = {
                    "serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}?hash={digest}"
                }
        return {"paths": index}
    if path.startswith("/openapi/v3/"):
        parts = path[len("/openapi/v3/") :].split("/")
        if parts[0] == "api" and len(parts) == 2:
            return group_version_document(registry, "", parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return group_version_document(registry, parts[1], parts[2])
    return None
