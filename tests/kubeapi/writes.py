"""What each write means: create, replace, the four patch types, and validation.

Owns turning a request body into the object the store commits: create (name or
generateName, namespace agreement), replace (PUT), merge / JSON / strategic merge patches
(patch.py) and server-side apply (ssa.py, with its conflicts answered as the real 409), and
validation (object names, Deployment selectors, CRDs, custom resources against their CRD's
openAPIV3Schema with jsonschema, answered as 422 Invalid with field causes). Stamping
versions and keeping status apart is the store's job.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import re
import string
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jsonschema

from tests.kubeapi import errors, ssa
from tests.kubeapi import patch as patches
from tests.kubeapi.registry import ResourceType

if TYPE_CHECKING:
    from tests.kubeapi.emulator import Emulator
    from tests.kubeapi.server import Route

Obj = dict[str, Any]

# Server-set metadata a client's copy carries; server-side apply must not see them as the
# applier's fields, and the store restores them from the live object.
STRIPPED_FOR_APPLY = ("resourceVersion", "uid", "creationTimestamp", "generation")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _random_suffix() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=5))


def _check_namespace(route: Route, body: Obj) -> None:
    given = (body.get("metadata") or {}).get("namespace")
    if route.rtype.namespaced and given and given != route.namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def create(
    emulator: Emulator, route: Route, body: Obj, *, manager: str, dry_run: bool
) -> tuple[Obj, bool]:
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be an object")
    _check_namespace(route, body)
    meta = body.setdefault("metadata", {})
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + _random_suffix()
    name = meta.get("name")
    if not name:
        raise errors.invalid(
            route.rtype.kind,
            route.rtype.group,
            "",
            [
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value: name or generateName is required",
                    "field": "metadata.name",
                }
            ],
        )
    rtype = route.rtype

    def mutate(live: Obj | None) -> Obj:
        if live is not None:
            raise errors.already_exists(rtype.plural, rtype.group, name)
        return body

    return emulator.store.commit(
        rtype, route.namespace, name, mutate, dry_run=dry_run, manager=manager, allow_create=True
    )


def replace(
    emulator: Emulator, route: Route, body: Obj, *, manager: str, dry_run: bool
) -> tuple[Obj, bool]:
    if route.subresource == "scale":
        return scale(emulator, route, None, body, manager=manager, dry_run=dry_run)
    _check_namespace(route, body)
    return emulator.store.commit(
        route.rtype,
        route.namespace,
        route.name,
        lambda live: body,
        subresource=route.subresource,
        dry_run=dry_run,
        manager=manager,
    )


def apply_conflict(rtype: ResourceType, name: str, conflict: ssa.ApplyConflict) -> errors.ApiError:
    """The 409 the real server answers for server-side apply conflicts (ssa.py words it)."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f'conflict with "{manager}"', "field": path}
        for manager, path in conflict.conflicts
    ]
    details = {"name": name, "kind": rtype.plural, "causes": causes}
    if rtype.group:
        details["group"] = rtype.group
    return errors.ApiError(409, "Conflict", str(conflict), details=details)


def patch(
    emulator: Emulator,
    route: Route,
    patch_type: str,
    body: Any,
    *,
    manager: str,
    dry_run: bool,
    force: bool,
    authorize_create: Callable[[], None] | None = None,
) -> tuple[Obj, bool]:
    """Patch the object at `route`; an apply creates it when missing, once
    `authorize_create` (the API server's `create` check for that name) lets it."""
    rtype = route.rtype
    if route.subresource == "scale":
        return scale(emulator, route, patch_type, body, manager=manager, dry_run=dry_run)

    def mutate(live: Obj | None) -> Obj:
        try:
            if patch_type == "apply":
                if not isinstance(body, dict):
                    raise errors.bad_request("an apply patch must be an object")
                _check_namespace(route, body)
                if live is not None:
                    for field in STRIPPED_FOR_APPLY:
                        live["metadata"].pop(field, None)
                applied = copy.deepcopy(body)
                applied.setdefault("metadata", {}).setdefault("name", route.name)
                try:
                    return ssa.apply(
                        live,
                        applied,
                        manager=manager,
                        force=force,
                        kind=rtype.kind,
                        schema=rtype.schema,
                        now=emulator.clock.rfc3339(),
                    )
                except ssa.ApplyConflict as exc:
                    raise apply_conflict(rtype, route.name, exc) from exc
            assert live is not None
            if patch_type == "merge":
                return patches.merge_patch(live, body)
            if patch_type == "json":
                if not isinstance(body, list):
                    raise errors.bad_request("a JSON patch must be a list of operations")
                return patches.json_patch(live, body)
            return patches.strategic_merge_patch(live, body, kind=rtype.kind)
        except patches.PatchError as exc:
            raise errors.ApiError(
                422 if patch_type == "json" else 400,
                "Invalid" if patch_type == "json" else "BadRequest",
                str(exc),
            ) from exc

    return emulator.store.commit(
        rtype,
        route.namespace,
        route.name,
        mutate,
        subresource=route.subresource,
        dry_run=dry_run,
        manager=manager,
        allow_create=patch_type == "apply",
        is_apply=patch_type == "apply",
        before_create=authorize_create if patch_type == "apply" else None,
    )


def scale(
    emulator: Emulator,
    route: Route,
    patch_type: str | None,
    body: Any,
    *,
    manager: str,
    dry_run: bool,
) -> tuple[Obj, bool]:
    """A write to `/scale`: the Scale it describes (PUT) or yields (a patch of the current
    Scale) sets the resource's spec.replicas; the caller answers with scale_of(result)."""
    if patch_type == "apply":
        raise errors.unsupported_media_type("application/apply-patch+yaml on a scale subresource")

    def mutate(live: Obj | None) -> Obj:
        assert live is not None
        current = scale_of(live)
        if patch_type is None:
            wanted = body
        elif patch_type == "json":
            wanted = patches.json_patch(current, body)
        else:
            wanted = patches.merge_patch(current, body)
        replicas = (wanted.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                route.name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "message": f"Invalid value: {replicas}: must be greater than or equal to 0",
                        "field": "spec.replicas",
                    }
                ],
            )
        live.setdefault("spec", {})["replicas"] = replicas
        return live

    return emulator.store.commit(
        route.rtype, route.namespace, route.name, mutate, dry_run=dry_run, manager=manager
    )


def scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    labels = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        },
    }


# Validation -----------------------------------------------------------------------------


def _structural(schema: Any) -> Any:
    """An openAPIV3Schema as JSON Schema: `nullable` becomes a null type, Kubernetes
    extensions keep their meaning where jsonschema would otherwise refuse valid objects."""
    if isinstance(schema, list):
        return [_structural(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _structural(v) for k, v in schema.items()}
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = _structural(json.loads(schema_json))
    # metadata is validated by the server's own rules, never by the CRD's schema
    schema.get("properties", {}).pop("metadata", None)
    return jsonschema.Draft7Validator(schema)


def _field(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# The API server's words for the bounds a schema sets (kube-openapi's validation errors).
BOUND_WORDING = {
    "pattern": "should match '{}'",
    "maxLength": "should be at most {} chars long",
    "minLength": "should be at least {} chars long",
    "maximum": "should be less than or equal to {}",
    "minimum": "should be greater than or equal to {}",
    "maxItems": "must have at most {} items",
    "minItems": "should have at least {} items",
}


def prune(value: Any, schema: dict[str, Any] | None) -> Any:
    """Drop the fields a structural schema does not declare, as the API server prunes custom
    resources (unless `x-kubernetes-preserve-unknown-fields`)."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is None and isinstance(extra, dict):
            return {k: prune(v, extra) for k, v in value.items()}
        if properties is None:
            return value if extra is True or "type" not in schema else {}
        return {k: prune(v, properties[k]) for k, v in value.items() if k in properties}
    if isinstance(value, list):
        return [prune(item, schema.get("items")) for item in value]
    return value


def _cause(error: jsonschema.ValidationError) -> dict[str, str]:
    field = _field(error.absolute_path)
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else ""
        field = f"{field}.{name}" if field else name
        return {"reason": "FieldValueRequired", "message": "Required value", "field": field}
    value = (
        json.dumps(error.instance) if not isinstance(error.instance, (dict, list)) else '"object"'
    )
    if error.validator == "enum":
        supported = ", ".join(json.dumps(v) for v in error.validator_value)
        return {
            "reason": "FieldValueNotSupported",
            "message": f"Unsupported value: {value}: supported values: {supported}",
            "field": field,
        }
    wanted = error.validator_value
    if error.validator == "type":
        message = f"Invalid value: {value}: {field} in body must be of type {wanted}: {value}"
    elif error.validator in BOUND_WORDING:
        message = f"Invalid value: {value}: {field} in body " + BOUND_WORDING[
            error.validator
        ].format(wanted)
    else:
        message = f"Invalid value: {value}: {error.message}"
    return {"reason": "FieldValueInvalid", "message": message, "field": field}


def validate(rtype: ResourceType, obj: Obj) -> None:
    """Raise 422 Invalid for an object its type refuses. Normalises first, as the API server
    does: custom resources are pruned to their schema (a Secret's stringData has joined its
    data when it was written: store.py)."""
    name = obj["metadata"].get("name", "")
    causes: list[dict[str, str]] = []
    if rtype.kind != "SelfSubjectAccessReview" and (
        len(name) > 253 or not DNS_SUBDOMAIN.match(name)
    ):
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "{name}": {DNS_SUBDOMAIN_MESSAGE}',
                "field": "metadata.name",
            }
        )
    if rtype.kind == "Deployment" and rtype.builtin:
        causes.extend(_deployment_causes(obj))
    elif rtype.kind == "CustomResourceDefinition" and rtype.builtin:
        spec = obj.get("spec", {})
        expected = f"{spec.get('names', {}).get('plural')}.{spec.get('group')}"
        if name != expected:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                    "field": "metadata.name",
                }
            )
    elif not rtype.builtin and rtype.schema:
        kept = prune(
            {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")},
            rtype.schema,
        )
        for key in [
            k for k in obj if k not in ("apiVersion", "kind", "metadata") and k not in kept
        ]:
            del obj[key]
        obj.update(kept)
        validator = _validator(json.dumps(rtype.schema, sort_keys=True))
        causes.extend(
            _cause(e)
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        )
    if causes:
        raise errors.invalid(rtype.kind, rtype.group, name, causes)


def _deployment_causes(obj: Obj) -> list[dict[str, str]]:
    spec = obj.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels")
    if not spec.get("selector"):
        return [
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}
        ]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        return [
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {json.dumps(labels)}: "
                "`selector` does not match template `labels`",
                "field": "spec.template.metadata.labels",
            }
        ]
    if not (spec.get("template") or {}).get("spec", {}).get("containers"):
        return [
            {
                "reason": "FieldValueRequired",
                "message": "Required value",
                "field": "spec.template.spec.containers",
            }
        ]
    return []
