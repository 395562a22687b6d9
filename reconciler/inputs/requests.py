"""What users ask for: the request vocabulary of the user source.

An overrides file (inputs/overrides.py) and the SDK's calls (sdk/) both produce these:
state requests on any resource, API-managed resources to create or update, deletions,
deployments to create, and runtime-image upgrades of deployments, gathered in one
`Overrides`. They sit with the inputs, not with planning, because they are what planning
takes in, whichever surface wrote them; planning/desired.py and planning/deployments.py
apply them to a catalog.

Values only: no parsing, no rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.model import Intent, Kind, State


@dataclass(frozen=True, slots=True)
class StateRequest:
    """A user asks for `address` to move to `state`; `path` locates it in the file."""

    address: str
    state: State
    reason: str
    path: str


@dataclass(frozen=True, slots=True)
class ApiResource:
    """An API-managed resource to create or update.

    For runtimes, `spec["runtime_image"]` is the reference as written (an id, an
    `id/versions/vX.Y.Z`, or a full address); planning/desired.py resolves it in the workspace,
    then in `global`. `user` is the state the file gives it, or None to keep the current.
    """

    address: str
    kind: Kind
    spec: dict[str, Any]
    user: Intent | None
    path: str
    uid: str = ""


@dataclass(frozen=True, slots=True)
class Delete:
    address: str
    path: str


WILDCARD = "*"  # in an upgrade's targets: every experiment not listed by id
LATEST = "latest"  # how files and specs write "the latest available version" (None in code)


@dataclass(frozen=True, slots=True)
class NewComposition:
    """One composition of a deployment to create.

    `runtime` is a reference as written (an id, resolved in the deployment's workspace
    then in `global`, or an address), or None to select the runtime serving `model_type`.
    At least one of the two is given.
    """

    experiment_id: str
    model_type: str | None
    runtime: str | None
    replicas: int = 1


@dataclass(frozen=True, slots=True)
class NewDeployment:
    """A deployment to create; declared again once it exists, it must still match."""

    address: str
    display_name: str
    compositions: tuple[NewComposition, ...]
    path: str
    uid: str = ""


@dataclass(frozen=True, slots=True)
class UpgradeRequest:
    """Upgrade the runtime image of the compositions of `deployment` (an address).

    `targets` maps experiment ids, or `*` for every experiment not listed, to an image or
    version reference (see planning/upgrades.py), or to None: the latest available version of the
    image the composition runs. Experiments matched by neither stay as they are. `single`
    marks a request that named one image or version without experiment ids, which only a
    single-composition deployment accepts. `origin` says where it was written
    (`overrides.yaml:upgrades[0]`, `--upgrade SPEC`) so errors can name it; "" in code.
    """

    deployment: str
    targets: tuple[tuple[str, str | None], ...] = ((WILDCARD, None),)
    single: bool = False
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Overrides:
    """A parsed overrides file, or the same requests made in code (`of`)."""

    source: str
    state_requests: tuple[StateRequest, ...]
    resources: tuple[ApiResource, ...]
    deletes: tuple[Delete, ...]
    deployments: tuple[NewDeployment, ...] = ()
    upgrades: tuple[UpgradeRequest, ...] = ()

    @classmethod
    def of(
        cls,
        *,
        source: str,
        state_requests: tuple[StateRequest, ...] = (),
        resources: tuple[ApiResource, ...] = (),
        deletes: tuple[Delete, ...] = (),
        deployments: tuple[NewDeployment, ...] = (),
        upgrades: tuple[UpgradeRequest, ...] = (),
    ) -> Overrides:
        """Requests made in code (the SDK's calls)."""
        return cls(
            source=source,
            state_requests=state_requests,
            resources=resources,
            deletes=deletes,
            deployments=deployments,
            upgrades=upgrades,
        )

    def where(self, path: str) -> str:
        """`file:path: ` prefixing an error about a request read from a file, else nothing."""
        return f"{self.source}:{path}: " if path else ""
