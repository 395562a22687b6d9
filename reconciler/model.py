"""Value types of the runtime catalog: states, kinds, intents, specs, resources, deployments.

A resource is identified by its address (`workspaces/<ws>/runtimeImages/<id>`,
`.../versions/<vX.Y.Z>`, `workspaces/<ws>/runtimes/<id>`) and carries a kind-specific
spec plus up to two state intents: `platform` (Helm values) and `user` (SDK or overrides
file). The effective state is derived from them by planning/ceiling.py, never stored.

A deployment (`workspaces/<ws>/deployments/<id>`) is not a catalog resource: it has no
intents and no source, only compositions, one per experiment, each pinned to the image
version and the runtime configuration it runs.

Pure: no files, no clock. Rules that combine several resources (availability, latest
version) live in planning/availability.py; the two-source rule in planning/ceiling.py;
what deployments may run and how they upgrade in planning/deployments.py and
planning/upgrades.py. Addresses are addresses.py's, version strings versions.py's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

GLOBAL_WORKSPACE = "global"  # where bootstrap-managed resources live, visible from every workspace
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


class SecretKeySelector(TypedDict):
    """A key of an existing Secret in the namespace of the objects that use it."""

    name: str
    key: str


class SecretReference(TypedDict):
    """An environment value kept in an existing Secret: `{secretKeyRef: {name, key}}`."""

    secretKeyRef: SecretKeySelector  # spelled as Kubernetes spells it


# An environment value: the text itself, or a reference to a key of an existing Secret.
EnvironmentValue = str | SecretReference


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
    environment_variables: dict[str, EnvironmentValue] = Field(default_factory=dict)
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

    `sensitive_environment`, for a runtime, names the environment variables the user marked
    sensitive (names the built-in rule of sensitive.py does not catch): their values are
    kept in the runtime's Secret, like those the rule catches. Once marked, a name stays
    marked while its value is given (planning/workloads.py: `mark`).
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
    sensitive_environment: tuple[str, ...] = ()

    def with_(self, **changes: Any) -> Resource:
        return self.model_copy(update=changes)


class Composition(BaseModel):
    """One experiment of a deployment, served by a runtime on a pinned image version.

    `runtime` and `image_version` are addresses. `image_version` changes only when the
    composition is upgraded, whatever happens to the catalog afterwards: that is what
    keeps running models on the image they were validated with. `configuration` pins the
    runtime's configuration the same way: the digest of the runtime fields its workload
    was written with (planning/workloads.py), "" when that is not known (a workload
    written before configurations were pinned that differs from what its runtime now
    says), which counts as older than any. `last_applied` is the digest of the manifest
    the target holds ("" until apply wrote it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_id: str
    runtime: str
    image_version: str
    replicas: int = Field(default=1, ge=1)
    configuration: str = ""
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
