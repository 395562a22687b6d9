"""Decoding the few Kubernetes protobuf bodies kubectl sends.

kubectl v1.37 sends built-in objects it builds itself (`kubectl create configmap`,
`create namespace`, `create role`, `create rolebinding`, `auth can-i`) and DeleteOptions
as `application/vnd.kubernetes.protobuf`, and the real
API server has no JSON fallback for them. This module owns the wire format (the `k8s\\0`
envelope around a `runtime.Unknown`, varints, length-delimited fields) and the field
numbers of those kinds only; any other kind is refused with 415, as it is not understood.
Responses are always JSON, which kubectl accepts.
"""

from __future__ import annotations

from typing import Any

from tests.kubeapi import errors

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# message name → {field number: (json name, kind)}; kind is "string", "bool", "int", "map",
# "strings" (repeated string), a nested message's name, or "*Name" for a repeated one.
MESSAGES: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "bytes")},
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        14: ("finalizers", "strings"),
    },
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map"), 4: ("immutable", "bool")},
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bytesmap"),
        3: ("type", "string"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "strings")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta")},
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectAccessReviewSpec"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: ("namespace", "string"),
        2: ("verb", "string"),
        3: ("group", "string"),
        4: ("version", "string"),
        5: ("resource", "string"),
        6: ("subresource", "string"),
        7: ("name", "string"),
    },
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int"),
        3: ("orphanDependents", "bool"),
        4: ("propagationPolicy", "string"),
        5: ("dryRun", "strings"),
    },
    "Role": {1: ("metadata", "ObjectMeta"), 2: ("rules", "*PolicyRule")},
    "ClusterRole": {1: ("metadata", "ObjectMeta"), 2: ("rules", "*PolicyRule")},
    "PolicyRule": {
        1: ("verbs", "strings"),
        2: ("apiGroups", "strings"),
        3: ("resources", "strings"),
        4: ("resourceNames", "strings"),
        5: ("nonResourceURLs", "strings"),
    },
    "RoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", "*Subject"),
        3: ("roleRef", "RoleRef"),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", "*Subject"),
        3: ("roleRef", "RoleRef"),
    },
    "Subject": {
        1: ("kind", "string"),
        2: ("apiGroup", "string"),
        3: ("name", "string"),
        4: ("namespace", "string"),
    },
    "RoleRef": {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")},
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _message(name: str, data: bytes) -> dict[str, Any]:
    schema = MESSAGES[name]
    obj: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue
        key, kind = schema[number]
        if kind == "string":
            if value:  # proto3 sends empty strings; the JSON form omits them
                obj[key] = value.decode() if isinstance(value, bytes) else value
        elif kind in ("bytes", "int"):
            obj[key] = value
        elif kind == "bool":
            obj[key] = bool(value)
        elif kind.startswith("*"):
            obj.setdefault(key, []).append(_message(kind[1:], value))  # type: ignore[arg-type]
        elif kind == "strings":
            obj.setdefault(key, []).append(value.decode())  # type: ignore[union-attr]
        elif kind in ("map", "bytesmap"):
            entry = dict(_fields(value))  # type: ignore[arg-type]
            raw = entry.get(2, b"")
            if kind == "bytesmap":
                import base64

                text = base64.b64encode(raw).decode()  # type: ignore[arg-type]
            else:
                text = raw.decode()  # type: ignore[union-attr]
            obj.setdefault(key, {})[entry.get(1, b"").decode()] = text  # type: ignore[union-attr]
        else:
            obj[key] = _message(kind, value)  # type: ignore[arg-type]
    return obj


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON object it stands for; 415 for kinds not known here."""
    if not body.startswith(MAGIC):
        raise errors.unsupported_media_type(CONTENT_TYPE)
    try:
        unknown = _message("Unknown", body[len(MAGIC) :])
        type_meta = unknown.get("typeMeta", {})
        kind = type_meta.get("kind", "")
        if kind not in MESSAGES or kind in ("Unknown", "TypeMeta", "ObjectMeta"):
            raise errors.unsupported_media_type(f"{CONTENT_TYPE} (kind {kind or 'unknown'})")
        obj = _message(kind, unknown.get("raw", b""))
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"error decoding protobuf request body: {exc}") from exc
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
