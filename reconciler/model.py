"""Value types of the runtime catalog: addresses, states, intents, specs and resources.

A resource is identified by its address (`workspaces/<ws>/runtimeImages/<id>`,
`.../versions/<vX.Y.Z>`, `workspaces/<ws>/runtimes/<id>`) and carries a kind-specific
spec plus up to two state intents: `platform` (Helm values) and `user` (SDK or overrides
file). The effective state is derived from them by ceiling.py, never stored.

A deployment (`workspaces/<ws>/deployments/<id>`) is not a catalog resource: it has no
intents and no source, only compositions, one per experiment, each pinned to the image
version it runs.

Pure: no files, no clock. Rules that combine several resources (availability, latest
version) live in catalog.py; the two-source rule in ceiling.py; what deployments may run
and how they upgrade in deployments.py and upgrades.py.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reconciler import errors

GLOBAL_WORKSPACE = "global"  # where bootstrap-managed resources live, visible from every workspace
ID_PATTERN = re.compile(r"^[a-z]([a-z0-9_-]{0,61}[a-z0-9])?$")
# Experiment ids label Kubernetes objects and name manifest files, and the platform's are
# UUIDs: a DNS label (lowercase letters, digits and '-', at most 63) fits all three.
EXPERIMENT_ID_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
SEMVER_PATTERN = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
DEFAULT_READINESS_PROBE_PATH = "/readyz"
DEFAULT_SCORING_ENDPOINT = "v1"


class State(StrEnum):
    """Availability of a resource, ordered by restrictiveness: ACTIVE < DEPRECATED < DISABLED."""

    ACTIVE = "ACTIVE"
    DEPRECATED = "DEPRECATED"
    DISABLED = "DISABLED"

    @property
    def rank(self) -> int:
        return _STATE_RANK[self]

    def is_more_restrictive_than(self, other: State) -> bool:
        return self.rank > other.rank


_STATE_RANK = {State.ACTIVE: 0, State.DEPRECATED: 1, State.DISABLED: 2}


def most_restrictive(a: State, b: State) -> State:
    return a if a.rank >= b.rank else b


class Kind(StrEnum):
    """Resource kinds; the values are the Kubernetes kinds written to targets."""

    IMAGE = "RuntimeImage"
    VERSION = "RuntimeImageVersion"
    RUNTIME = "Runtime"

    @property
    def apply_order(self) -> int:
        """Dependency order: images before their versions, versions before runtimes."""
        return _APPLY_ORDER[self]


_APPLY_ORDER = {Kind.IMAGE: 0, Kind.VERSION: 1, Kind.RUNTIME: 2}


class Source(StrEnum):
    """The two sources of state intents, named as users know them."""

    PLATFORM = "platform"
    USER = "user"

    @property
    def label(self) -> str:
        return "Helm values" if self is Source.PLATFORM else "user"


class Intent(BaseModel):
    """One source's wish for a resource's state, with that source's reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: State
    reason: str = ""


class ImageSpec(BaseModel):
    """A runtime image: a scorer family grouping container image versions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    display_name: str = ""
    description: str = ""


class VersionSpec(BaseModel):
    """One versioned container image (`registry/repository:tag`) of a runtime image."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str
    readiness_probe_path: str = DEFAULT_READINESS_PROBE_PATH


class RuntimeSpec(BaseModel):
    """A deployable configuration binding a runtime image (or a pinned version) to a model type.

    `runtime_image` is the address of an image (its latest available version is used at
    deployment time) or of a version (pinned). `model_type` and `runtime_image` are
    immutable: changing them replaces the runtime.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_type: str = Field(min_length=1)
    runtime_image: str
    display_name: str = ""
    description: str = ""
    environment_variables: dict[str, str] = Field(default_factory=dict)
    data_volume_read_only: bool = False
    volumes: list[dict[str, Any]] = Field(default_factory=list)
    security_context: dict[str, Any] = Field(default_factory=dict)
    selector: dict[str, Any] = Field(default_factory=dict)
    scoring_endpoint: str = DEFAULT_SCORING_ENDPOINT


SPEC_TYPES: dict[Kind, type[BaseModel]] = {
    Kind.IMAGE: ImageSpec,
    Kind.VERSION: VersionSpec,
    Kind.RUNTIME: RuntimeSpec,
}

IMMUTABLE_FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.IMAGE: (),
    Kind.VERSION: (),
    Kind.RUNTIME: ("model_type", "runtime_image"),
}


class Resource(BaseModel):
    """One catalog resource as recorded in state and planned.

    `spec` is the kind's spec as a plain mapping (see SPEC_TYPES), kept as data so that
    comparing tens of thousands of resources is a dict comparison. `platform` is None for
    API-managed resources; `user` is None until a user expressed an intent. `uid` and the
    times are assigned by apply; a planned resource may leave them empty.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str
    kind: Kind
    spec: dict[str, Any]
    managed_by_bootstrap: bool
    platform: Intent | None = None
    user: Intent | None = None
    uid: str = ""
    created_time: str = ""
    last_modified_time: str = ""
    state_updated_time: str = ""
    last_applied: str = ""

    def with_(self, **changes: Any) -> Resource:
        return self.model_copy(update=changes)


class Composition(BaseModel):
    """One experiment of a deployment, served by a runtime on a pinned image version.

    `runtime` and `image_version` are addresses. `image_version` changes only when the
    composition is upgraded, whatever happens to the catalog afterwards: that is what
    keeps running models on the image they were validated with. `last_applied` is the
    digest of the manifest the target holds ("" until apply wrote it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_id: str
    runtime: str
    image_version: str
    replicas: int = Field(default=1, ge=1)
    last_applied: str = ""

    def with_(self, **changes: Any) -> Composition:
        return self.model_copy(update=changes)


class Deployment(BaseModel):
    """A model deployment: its compositions, one per experiment, in the order created.

    `uid` and the times are assigned by apply; a planned deployment may leave them empty.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str
    display_name: str = ""
    compositions: tuple[Composition, ...]
    uid: str = ""
    created_time: str = ""
    last_modified_time: str = ""

    def with_(self, **changes: Any) -> Deployment:
        return self.model_copy(update=changes)

    @property
    def experiments(self) -> tuple[str, ...]:
        return tuple(c.experiment_id for c in self.compositions)

    def composition(self, experiment_id: str) -> Composition | None:
        for composition in self.compositions:
            if composition.experiment_id == experiment_id:
                return composition
        return None


def dotted(path: tuple[str | int, ...] | list[str | int]) -> str:
    """`("a", "b", 0, "c")` → `a.b[0].c`: how errors and diffs name a place in a document."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# Addresses ----------------------------------------------------------------------------


def image_address(workspace: str, image_id: str) -> str:
    return f"workspaces/{workspace}/runtimeImages/{image_id}"


def version_address(workspace: str, image_id: str, version: str) -> str:
    return f"{image_address(workspace, image_id)}/versions/{version}"


def runtime_address(workspace: str, runtime_id: str) -> str:
    return f"workspaces/{workspace}/runtimes/{runtime_id}"


def deployment_address(workspace: str, deployment_id: str) -> str:
    return f"workspaces/{workspace}/deployments/{deployment_id}"


def composition_address(deployment: str, experiment_id: str) -> str:
    """Where a composition's manifest lives on a target, under its deployment's address."""
    return f"{deployment}/compositions/{experiment_id}"


_DEPLOYMENT = re.compile(
    r"^(?:workspaces/(?P<ws>[^/]+)/deployments/(?P<id>[^/]+)"
    r"|(?P<short_ws>[^/]+)/(?P<short_id>[^/]+))$"
)


def parse_deployment(text: str) -> str:
    """`workspaces/<ws>/deployments/<id>`, or the short `<ws>/<id>` → the address."""
    match = _DEPLOYMENT.match(text) if isinstance(text, str) else None
    workspace = match and (match["ws"] or match["short_ws"])
    deployment_id = match and (match["id"] or match["short_id"])
    if (
        not workspace
        or not deployment_id
        or not (ID_PATTERN.match(workspace) and ID_PATTERN.match(deployment_id))
    ):
        raise errors.InputError(
            f"{text!r} does not name a deployment",
            hint="name it as workspaces/<workspace>/deployments/<id>, or <workspace>/<id>",
        )
    return deployment_address(workspace, deployment_id)


def check_experiment_id(value: object) -> str:
    if not isinstance(value, str) or not EXPERIMENT_ID_PATTERN.match(value):
        raise errors.InputError(
            f"{value!r} is not a valid experiment id",
            hint="experiment ids are lowercase letters, digits and '-', start and end with a "
            "letter or digit, at most 63 characters (a UUID is one)",
        )
    return value


_ADDRESS = re.compile(
    r"^workspaces/(?P<ws>[^/]+)/(?:"
    r"runtimeImages/(?P<image>[^/]+)(?:/versions/(?P<version>[^/]+))?"
    r"|runtimes/(?P<runtime>[^/]+))$"
)


class Address(BaseModel):
    """A parsed resource address; `str(address)` gives it back."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    workspace: str
    id: str
    version: str = ""

    @classmethod
    def parse(cls, text: str) -> Address:
        match = _ADDRESS.match(text)
        if not match:
            raise errors.InputError(
                f"'{text}' is not a resource address",
                hint="use workspaces/<ws>/runtimeImages/<id>[/versions/<vX.Y.Z>] "
                "or workspaces/<ws>/runtimes/<id>",
            )
        ws = match["ws"]
        if match["runtime"]:
            return cls(kind=Kind.RUNTIME, workspace=ws, id=match["runtime"])
        if match["version"]:
            return cls(
                kind=Kind.VERSION,
                workspace=ws,
                id=match["image"],
                version=normalize_version(match["version"], what=text),
            )
        return cls(kind=Kind.IMAGE, workspace=ws, id=match["image"])

    @property
    def image(self) -> str:
        """The owning image's address (for images and versions)."""
        return image_address(self.workspace, self.id)

    def __str__(self) -> str:
        if self.kind is Kind.RUNTIME:
            return runtime_address(self.workspace, self.id)
        if self.kind is Kind.VERSION:
            return version_address(self.workspace, self.id, self.version)
        return image_address(self.workspace, self.id)


def image_of(version_addr: str) -> str:
    """The image address owning a version address."""
    return version_addr.rsplit("/versions/", 1)[0]


def check_id(value: str, *, what: str) -> str:
    if not ID_PATTERN.match(value):
        raise errors.InputError(
            f"'{value}' is not a valid id for {what}",
            hint="ids are lowercase letters, digits, '-' and '_', start with a letter, "
            "end with a letter or digit, at most 63 characters",
        )
    return value


# Versions -----------------------------------------------------------------------------


def normalize_version(text: str, *, what: str) -> str:
    """`2.0.0` or `v2.0.0` → `v2.0.0`; anything else is an error naming `what`."""
    if not SEMVER_PATTERN.match(text):
        raise errors.InputError(
            f"'{text}' is not a semantic version ({what})",
            hint="versions look like v1.2.3; give an explicit version for tags like 'latest'",
        )
    return text if text.startswith("v") else f"v{text}"


def version_from_tag(tag: str) -> str | None:
    """The version a container image tag implies (`2.0.0` → `v2.0.0`), or None if not semver."""
    return (tag if tag.startswith("v") else f"v{tag}") if SEMVER_PATTERN.match(tag) else None


def version_key(version: str) -> tuple[int, int, int]:
    """Sort key of a normalized version string `vX.Y.Z`."""
    major, minor, patch = version[1:].split(".")
    return int(major), int(minor), int(patch)


def split_image_reference(reference: str) -> tuple[str, str]:
    """`registry/repo:tag` → (`registry/repo`, `tag`); a missing tag is `latest`, as docker says."""
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, "latest"
    return name, tag


def image_reference(registry: str, repository: str, tag: str) -> str:
    """`registry/repository:tag`, or `repository:tag` when no registry is set."""
    registry = registry.rstrip("/")
    return f"{registry}/{repository}:{tag}" if registry else f"{repository}:{tag}"


def version_of(tag: str, version: str | None) -> str:
    """The version of a container image: the explicit one, else derived from a semver tag."""
    if version is not None:
        return normalize_version(str(version), what="version")
    derived = version_from_tag(tag)
    if derived is None:
        raise errors.InputError(
            f"tag '{tag}' is not a semantic version, so the version cannot be derived from it",
            hint="give an explicit version, such as `version: v1.2.3`",
        )
    return derived
