"""CustomResourceDefinitions of the catalog: `RuntimeImage`, `RuntimeImageVersion`, `Runtime`.

Owns the `apiextensions.k8s.io/v1` definitions of the three kinds in
`runtimes.reconciler.dev/v1` that the Kubernetes target writes, and their YAML. The spec
schemas are generated, not written by hand, so they cannot drift from what the tool writes:
the fields and their types come from the spec models (`model.SPEC_TYPES`, camelCased as
Kubernetes spells them), and the constraints users already meet in Helm values (the state
enum, id, version and path patterns) come from `schemas/values.schema.json`. A spec field
of a type the generator does not know is an error here, not a silently open schema.

Pure: no I/O at import; `definitions()` reads the shipped values schema once. Installing the
definitions in a cluster is the Kubernetes target's (or `kubectl apply`'s) job.
`python -m reconciler.targets.crds [DIR]` prints them, or writes one file per definition.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic.alias_generators import to_camel

from reconciler import model
from reconciler.inputs import schema, yamlio
from reconciler.model import Kind
from reconciler.targets import manifests

API_VERSION = manifests.API_VERSION  # what the manifests are written as, the CRDs serve
GROUP, VERSION = API_VERSION.split("/")
CATEGORY = "runtime-catalog"  # `kubectl get runtime-catalog` lists all three kinds

# plural, singular, short names: what `kubectl get` accepts. The short names avoid every
# built-in one (`rs`, `rc`, `ri`...).
_NAMES: dict[Kind, tuple[str, str, tuple[str, ...]]] = {
    Kind.IMAGE: ("runtimeimages", "runtimeimage", ("rtimg",)),
    Kind.VERSION: ("runtimeimageversions", "runtimeimageversion", ("rtimgv", "rtv")),
    Kind.RUNTIME: ("runtimes", "runtime", ("rt",)),
}


def plural_of(kind: Kind) -> str:
    """The resource name a kind is served under (`runtimes`), as API paths spell it."""
    return _NAMES[kind][0]


_STATE_COLUMNS: list[dict[str, Any]] = [
    {"name": "State", "type": "string", "jsonPath": ".spec.state"},
    {"name": "Reason", "type": "string", "jsonPath": ".spec.stateReason", "priority": 1},
]
_AGE: dict[str, Any] = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
_COLUMNS: dict[Kind, list[dict[str, Any]]] = {
    Kind.IMAGE: [
        *_STATE_COLUMNS,
        {"name": "Display Name", "type": "string", "jsonPath": ".spec.displayName"},
        _AGE,
    ],
    Kind.VERSION: [
        {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
        {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
        *_STATE_COLUMNS,
        _AGE,
    ],
    Kind.RUNTIME: [
        {"name": "Model Type", "type": "string", "jsonPath": ".spec.modelType"},
        {"name": "Image", "type": "string", "jsonPath": ".spec.runtimeImage"},
        *_STATE_COLUMNS,
        _AGE,
    ],
}

# Spec fields a version's manifest carries beside its model's fields (manifests.manifest()
# names the version's image and version there), and their values-schema definitions.
_VERSION_IDENTITY = {"runtimeImage": "id", "version": "version"}
# Fields of the models whose values must follow a values-schema definition.
_CONSTRAINED_FIELDS = {"readinessProbePath": "urlPath"}
_PRESERVE = {"x-kubernetes-preserve-unknown-fields": True}

# Status written by a controller (none yet): room for the usual shape, nothing else.
_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "observedGeneration": {"type": "integer", "format": "int64"},
        "conditions": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "items": {
                "type": "object",
                "required": ["type", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "observedGeneration": {"type": "integer", "format": "int64"},
                    "lastTransitionTime": {"type": "string", "format": "date-time"},
                },
            },
        },
    },
}


def _values_definition(name: str) -> dict[str, Any]:
    definition: dict[str, Any] = schema.load_schema("values.schema.json")["definitions"][name]
    return definition


def _string_constraints(definition: str) -> dict[str, Any]:
    """The type, pattern, enum and length of a string definition in the values schema."""
    found = _values_definition(definition)
    keep = ("type", "description", "pattern", "enum", "minLength", "maxLength")
    return {key: found[key] for key in keep if key in found}


def _structural(field: str, prop: dict[str, Any]) -> dict[str, Any]:
    """A pydantic property schema → a structural one (every node typed, no `$ref`)."""
    kind = prop.get("type")
    out: dict[str, Any]
    if kind in ("string", "boolean", "integer", "number"):
        out = {"type": kind}
        for key in ("minLength", "maxLength", "minimum", "maximum", "default"):
            if key in prop:
                out[key] = prop[key]
        return out
    if kind == "array" and isinstance(prop.get("items"), dict):
        return {"type": "array", "items": _structural(field, prop["items"])}
    if kind == "object" and "properties" not in prop:
        extra = prop.get("additionalProperties", True)
        if extra is True or extra == {}:
            # Pod-level settings (volumes, securityContext, nodeSelector) the tool passes
            # through to Deployments verbatim; Kubernetes validates them there.
            return {"type": "object", **_PRESERVE}
        return {"type": "object", "additionalProperties": _structural(field, extra)}
    raise ValueError(f"spec field {field!r} has a type the CRD generator does not know: {prop}")


def _spec_schema(kind: Kind) -> dict[str, Any]:
    source = model.SPEC_TYPES[kind].model_json_schema(mode="serialization")
    properties: dict[str, Any] = {}
    required: list[str] = []
    if kind is Kind.VERSION:
        for name, definition in _VERSION_IDENTITY.items():
            properties[name] = _string_constraints(definition)
            required.append(name)
    for field, prop in source["properties"].items():
        name = to_camel(field)
        if kind is Kind.RUNTIME and name == "environmentVariables":
            properties[name] = _environment_schema()
            continue
        properties[name] = _structural(name, prop)
        if name in _CONSTRAINED_FIELDS:
            properties[name].update(_string_constraints(_CONSTRAINED_FIELDS[name]))
        if field in source.get("required", ()):
            required.append(name)
    if kind is Kind.RUNTIME:
        properties["runtimeImage"].update(_runtime_image_address())
    properties["state"] = _string_constraints("state")
    properties["stateReason"] = {"type": "string", "default": ""}
    required.append("state")
    return {
        "type": "object",
        "description": source["description"].split("\n\n", 1)[0],
        "required": required,
        "properties": properties,
    }


def _unanchored(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("$")


def _runtime_image_address() -> dict[str, Any]:
    """A runtime's image in its manifest: the address of an image, or of a pinned version."""
    ident = _unanchored(_values_definition("id")["pattern"])
    version = _unanchored(_values_definition("version")["pattern"])
    return {
        "description": "the address of a runtime image (its latest available version when "
        "deploying), or of one of its versions (pinned)",
        "pattern": f"^workspaces/{ident}/runtimeImages/{ident}(/versions/{version})?$",
    }


def _environment_schema() -> dict[str, Any]:
    """A runtime's environment: names to values, or to a key of a Secret. Secret-looking
    values are written as references to the runtime's own Secret, never as text; structural
    schemas allow no `oneOf` of a string and an object, so a value is open to both and CEL
    says which shapes are allowed."""
    value = {
        "description": "a value, or {secretKeyRef: {name, key}} naming a key of a Secret",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-validations": [
            {
                "rule": "type(self) == string || (type(self) == map && "
                "self.size() == 1 && has(self.secretKeyRef) && "
                "type(self.secretKeyRef.name) == string && "
                "type(self.secretKeyRef.key) == string)",
                "message": "an environment value is a string or "
                "{secretKeyRef: {name: SECRET, key: KEY}}",
            }
        ],
    }
    return {
        "type": "object",
        "additionalProperties": value,
        "x-kubernetes-validations": [_environment_names_rule()],
    }


def _environment_names_rule() -> dict[str, str]:
    # Structural schemas have no propertyNames: the API server checks the names with CEL.
    pattern = _values_definition("environmentVariableName")["pattern"]
    return {
        "rule": f"self.all(name, name.matches('{pattern}'))",
        "message": "environment variable names are letters, digits and '_', "
        "not starting with a digit",
    }


def definition(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one catalog kind."""
    plural, singular, short_names = _NAMES[kind]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "runtime-reconciler"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.value,
                "listKind": f"{kind.value}List",
                "plural": plural,
                "singular": singular,
                "shortNames": list(short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _COLUMNS[kind],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": _spec_schema(kind),
                                "status": _STATUS,
                            },
                        }
                    },
                }
            ],
        },
    }


def definitions() -> list[dict[str, Any]]:
    """The three CustomResourceDefinitions, in dependency order (images, versions, runtimes)."""
    return [definition(kind) for kind in sorted(Kind, key=lambda k: k.apply_order)]


def file_name(crd: dict[str, Any]) -> str:
    """Where a definition ships: `examples/crds/<plural>.<group>.yaml`."""
    return f"{crd['metadata']['name']}.yaml"


def render_yaml() -> str:
    """All definitions as one multi-document YAML stream, for `kubectl apply -f -`."""
    return "".join(f"---\n{yamlio.dump_yaml(crd)}" for crd in definitions())


def main(argv: list[str]) -> int:
    if not argv:
        sys.stdout.write(render_yaml())
        return 0
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for crd in definitions():
        (out / file_name(crd)).write_text(yamlio.dump_yaml(crd), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
