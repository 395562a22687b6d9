"""The platform source: merged Helm values → bootstrap-managed resources.

Turns `config.deployer.composition` (already merged and schema-checked by values.py)
into resources of workspace `global` carrying platform intents, and applies the rules a
schema cannot express: a version derived from a non-semver tag, duplicate versions of an
image, a runtime naming an unknown image or version. Every error names the values file
and the dotted path that caused it.

The entry → spec helpers are shared with overrides.py, whose API-managed resources use
the same layout.

Pure. Combining this with the user source and the prior state is planning/desired.py's job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from reconciler import errors
from reconciler.addresses import Address, dotted, image_address, runtime_address, version_address
from reconciler.inputs.values import Values
from reconciler.model import (
    DEFAULT_READINESS_PROBE_PATH,
    DEFAULT_SCORING_ENDPOINT,
    GLOBAL_WORKSPACE,
    Intent,
    Kind,
    Resource,
    State,
)
from reconciler.versions import image_reference, normalize_version, version_of

COMPOSITION_PATH = ("config", "deployer", "composition")

Path = tuple[str | int, ...]
Fail = Callable[[str, Path, str], errors.InputError]


# Entries of the values layout → specs.


def image_spec(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "display_name": entry.get("displayName", ""),
        "description": entry.get("description", ""),
    }


def version_spec(entry: Mapping[str, Any], *, registry: str) -> dict[str, Any]:
    ref = entry["image"]
    return {
        "image": image_reference(ref.get("registry") or registry, ref["repository"], ref["tag"]),
        "readiness_probe_path": entry.get("readinessProbePath", DEFAULT_READINESS_PROBE_PATH),
    }


def version_id(entry: Mapping[str, Any], fail: Fail, path: Path) -> str:
    """The entry's version: explicit, or derived from a semver tag; else an error at `path`."""
    try:
        return version_of(entry["image"]["tag"], entry.get("version"))
    except errors.InputError as exc:
        where = "version" if "version" in entry else "image"
        raise fail(exc.summary, (*path, where), exc.hint) from None


def runtime_spec(entry: Mapping[str, Any], *, runtime_image: str) -> dict[str, Any]:
    return {
        "model_type": entry["modelType"],
        "runtime_image": runtime_image,
        "display_name": entry.get("displayName", ""),
        "description": entry.get("description", ""),
        "environment_variables": entry.get("environmentVariables") or {},
        "data_volume_read_only": entry.get("dataVolumeReadOnly", False),
        "volumes": entry.get("volumes") or [],
        "security_context": entry.get("securityContext") or {},
        "selector": entry.get("selector") or {},
        "scoring_endpoint": entry.get("scoringEndpoint", DEFAULT_SCORING_ENDPOINT),
    }


@lru_cache(maxsize=256)
def _intent(state: str, reason: str) -> Intent:
    # A catalog has few distinct (state, reason) pairs; sharing them keeps planning fast.
    return Intent(state=State(state), reason=reason)


def platform_intent(entry: Mapping[str, Any]) -> Intent:
    return _intent(entry.get("state", "ACTIVE"), entry.get("stateReason", ""))


class Declared(NamedTuple):
    """What values declare for one bootstrap-managed resource.

    Deliberately not a `Resource`: a plan compares declarations with the prior state and
    builds resources only for what changed, which keeps planning tens of thousands of
    unchanged resources cheap.
    """

    kind: Kind
    spec: dict[str, Any]
    platform: Intent

    def resource(self, address: str) -> Resource:
        return Resource(
            address=address,
            kind=self.kind,
            spec=self.spec,
            managed_by_bootstrap=True,
            platform=self.platform,
        )


def platform_catalog(values: Values) -> dict[str, Declared]:
    """The bootstrap-managed resources the values declare, keyed by address."""
    composition: Mapping[str, Any] = values.data
    for key in COMPOSITION_PATH:
        composition = composition.get(key) or {}
    registry = composition.get("registry") or ""
    out: dict[str, Declared] = {}

    def fail(summary: str, path: Path, hint: str = "") -> errors.ValuesError:
        full = COMPOSITION_PATH + path
        return errors.ValuesError(summary, source=values.origin(full), path=dotted(full), hint=hint)

    for image_id, image in (composition.get("runtimeImages") or {}).items():
        address = image_address(GLOBAL_WORKSPACE, image_id)
        out[address] = Declared(Kind.IMAGE, image_spec(image), platform_intent(image))
        seen: dict[str, int] = {}
        for index, entry in enumerate(image.get("versions") or ()):
            path: Path = ("runtimeImages", image_id, "versions", index)
            version = version_id(entry, fail, path)
            if version in seen:
                raise fail(
                    f"version {version} of {image_id} is declared twice "
                    f"(also at versions[{seen[version]}])",
                    path,
                    "declare each version once",
                )
            seen[version] = index
            vaddr = version_address(GLOBAL_WORKSPACE, image_id, version)
            out[vaddr] = Declared(
                Kind.VERSION, version_spec(entry, registry=registry), platform_intent(entry)
            )

    for runtime_id, runtime in (composition.get("runtimes") or {}).items():
        path = ("runtimes", runtime_id, "runtimeImage")
        image_id, _, version = runtime["runtimeImage"].partition("/versions/")
        target = image_address(GLOBAL_WORKSPACE, image_id)
        if target not in out:
            raise fail(
                f"runtime {runtime_id} names runtime image '{image_id}', which is not declared",
                path,
                "declare it under config.deployer.composition.runtimeImages or fix the name",
            )
        if version:
            version = normalize_version(version, what=f"runtime {runtime_id}")
            target = version_address(GLOBAL_WORKSPACE, image_id, version)
            if target not in out:
                raise fail(
                    f"runtime {runtime_id} pins version {version} of '{image_id}', "
                    "which is not declared",
                    path,
                    f"add the version under runtimeImages.{image_id}.versions or fix it",
                )
        address = runtime_address(GLOBAL_WORKSPACE, runtime_id)
        out[address] = Declared(
            Kind.RUNTIME, runtime_spec(runtime, runtime_image=target), platform_intent(runtime)
        )
    return out


def locate(values: Values, address: str) -> str:
    """`file:path` of the values entry declaring a bootstrap-managed address, for errors."""
    parsed = Address.parse(address)
    if parsed.kind is Kind.RUNTIME:
        path: Path = ("runtimes", parsed.id)
    else:
        path = ("runtimeImages", parsed.id) + (("versions",) if parsed.version else ())
    full = COMPOSITION_PATH + path
    return f"{values.origin(full)}:{dotted(full)}"
