"""Model deployments, as the SDK shows them: `workspace.deployments`.

    deployment = workspace.deployments.create(
        "fraud", compositions=[{"experiment_id": "exp-1", "model_type": "h2o3_mojo"}]
    )
    deployment.compositions[0].runtime_image   # .../runtimeImages/<id>/versions/v1.6.0
    deployment.upgrade_runtime_image()         # every composition to its latest version

A deployment has one composition per experiment, each running a runtime on a pinned
runtime image version. The version stays pinned, whatever happens to the catalog, until
`upgrade_runtime_image` moves it: no argument (every composition to the latest available
version of the image it runs), an image or a version (single-composition deployments),
or a dict from experiment ids (and `"*"` for the others) to an image, a version, or None
(latest). Compositions already on their target are skipped; DISABLED targets are refused;
DEPRECATED ones warn. A composition is pinned to its runtime's configuration the same way:
a changed runtime leaves it as it runs (`runtime_configuration_outdated` says so) until an
upgrade rolls it out, on its own version if that is its target.

Owns the deployment and composition objects, the collection, and turning SDK arguments
into requests. Runtime selection, pinning and what an upgrade means are deployments.py's
and upgrades.py's, run by the engine under the lock like every other change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from reconciler import errors
from reconciler.addresses import check_experiment_id, deployment_address, name_of, workspace_of
from reconciler.inputs.requests import (
    WILDCARD,
    NewComposition,
    NewDeployment,
    Overrides,
    UpgradeRequest,
)
from reconciler.model import Composition as PinnedComposition
from reconciler.model import Deployment as DeploymentRecord
from reconciler.model import Kind
from reconciler.sdk.handles import Collection, Entity, Handle, timestamp
from reconciler.sdk.images import designate, latest_version
from reconciler.sdk.objects import check_uid, check_workspace_writable, id_from_name, sdk_requests
from reconciler.sdk.runtimes import Runtime
from reconciler.sdk.session import Session, Snapshot
from reconciler.sdk.tables import Table

COMPOSITION_KEYS = ("experiment_id", "model_type", "runtime", "replicas")


class Composition(Entity):
    """One experiment of a deployment, read afresh from the state on each access."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "experiment_id",
        "runtime",
        "runtime_image",
        "docker_image",
        "replicas",
        "runtime_image_upgrade_available",
    )

    def __init__(self, session: Session, deployment: str, experiment_id: str) -> None:
        self._session = session
        self._deployment = deployment
        self.experiment_id = experiment_id

    def _read(self) -> tuple[PinnedComposition, Snapshot]:
        snapshot = self._session.snapshot()
        record = snapshot.deployments.get(self._deployment)
        composition = record.composition(self.experiment_id) if record else None
        if composition is None:
            raise errors.NotFoundError(
                f"composition {self.experiment_id} of {self._deployment} no longer exists",
                hint="get the deployment again to see what exists",
            )
        return composition, snapshot

    @property
    def runtime(self) -> str:
        """The resource name of the runtime serving the experiment."""
        return self._read()[0].runtime

    @property
    def runtime_image(self) -> str:
        """The resource name of the pinned version:
        `workspaces/<ws>/runtimeImages/<id>/versions/<v>`."""
        return self._read()[0].image_version

    @property
    def docker_image(self) -> str | None:
        """The container image the composition runs."""
        composition, snapshot = self._read()
        version = snapshot.resources.get(composition.image_version)
        return None if version is None else version.spec["image"]

    @property
    def replicas(self) -> int:
        return self._read()[0].replicas

    @property
    def available_upgrade(self) -> str | None:
        """The version `upgrade_runtime_image()` would move it to (None: it would stay)."""
        composition, snapshot = self._read()
        target = snapshot.resolver.available_upgrade(composition)
        return None if target is None else target.address

    @property
    def runtime_image_upgrade_available(self) -> bool:
        """True when a newer version is available, or its own version is DISABLED and any
        other is (then even an older one: a rollback)."""
        return self.available_upgrade is not None

    @property
    def runtime_configuration_outdated(self) -> bool:
        """True when the composition runs an older configuration of its runtime than the
        runtime now gives (environment, volumes, security context, selector, data-volume
        mode): `upgrade_runtime_image()` rolls it out, on its own version if need be."""
        composition, snapshot = self._read()
        return snapshot.resolver.runs_older_configuration(composition)

    def _identity(self) -> tuple[str, ...]:
        return (self._deployment, self.experiment_id)

    def __repr__(self) -> str:
        return f"<Composition {self.experiment_id} of {self._deployment}>"


class Deployment(Handle):
    """A model deployment, read afresh from the state on each access (see module doc)."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "uid",
        "id",
        "name",
        "workspace",
        "address",
        "created_time",
        "last_modified_time",
    )

    def _record(self) -> DeploymentRecord:
        return self._record_in(self._snapshot())

    def _record_in(self, snapshot: Snapshot) -> DeploymentRecord:
        record = snapshot.deployments.get(self._address)
        if record is None:
            raise errors.NotFoundError(
                f"deployment {self._address} no longer exists",
                hint="list the workspace's deployments to see what exists",
            )
        return record

    @property
    def id(self) -> str:
        return name_of(self._address)

    @property
    def uid(self) -> str:
        return self._record().uid

    @property
    def name(self) -> str:
        return self._record().display_name or self.id

    @property
    def created_time(self) -> datetime | None:
        return timestamp(self._record().created_time)

    @property
    def last_modified_time(self) -> datetime | None:
        return timestamp(self._record().last_modified_time)

    @property
    def compositions(self) -> list[Composition]:
        """One per experiment, in the order the deployment was created with."""
        return [
            Composition(self._session, self._address, experiment)
            for experiment in self._record().experiments
        ]

    def upgrade_runtime_image(self, runtime_image: object = None) -> None:
        """Roll compositions to other runtime image versions, with zero downtime.

        - no argument: every composition to the latest available version of its image;
        - an image (its latest available version) or a version: the single composition of
          a single-composition deployment;
        - a dict `{experiment_id: image | version | None, "*": ...}`: None is the latest
          available version, "*" covers the experiments not listed, and experiments
          covered by neither stay.
        """
        if runtime_image is None:
            targets: tuple[tuple[str, object], ...] = ((WILDCARD, None),)
        elif isinstance(runtime_image, Mapping):
            if not runtime_image:
                raise errors.ArgumentError(
                    "the dict of experiments to upgrade is empty",
                    hint='map experiment ids (or "*") to images, versions or None',
                )
            for key in runtime_image:
                if key != WILDCARD:
                    check_experiment_id(key)
            targets = tuple(runtime_image.items())
        else:
            targets = ((WILDCARD, runtime_image),)
        single = not isinstance(runtime_image, Mapping) and runtime_image is not None

        def build(snapshot: Snapshot) -> Overrides:
            record = self._record_in(snapshot)
            if single and len(record.compositions) != 1:
                # The documented client's words and exception (a ValueError).
                raise errors.UpgradeTargetError(
                    "Cannot use single runtime_image value for deployment with "
                    f"{len(record.compositions)} compositions. For multi-composition "
                    "deployments, provide a dict mapping experiment_id to runtime image: "
                    "{exp_id: runtime_image, ...}",
                    detail=f"{self._address} runs experiments {', '.join(record.experiments)}",
                    hint='upgrade_runtime_image({"exp-1": image, "*": None})',
                )
            resolved = tuple(
                (key, _reference(value, workspace=self.workspace, snapshot=snapshot))
                for key, value in targets
            )
            request = UpgradeRequest(self._address, resolved, single=single)
            return sdk_requests(upgrades=(request,))

        self._session.commit(build)


def _reference(value: object, *, workspace: str, snapshot: Snapshot) -> str | None:
    """An SDK upgrade target → the address of an image or version (None: latest).

    Objects carry their image, so a version object rolls to exactly that version, whatever
    image the composition runs; an image with no available version is refused here, as
    the documented client refuses it (a ValueError).
    """
    if value is None:
        return None
    address = designate(value, workspace=workspace, snapshot=snapshot, argument="runtime_image")
    if snapshot.resources[address].kind is Kind.IMAGE and latest_version(snapshot, address) is None:
        raise errors.UpgradeTargetError(
            f"runtime image {address} has no current version to upgrade to",
            detail="the image is DISABLED, or every version of it is",
            hint="pass one of its versions, or activate one first (version.activate())",
        )
    return address


def _new_composition(entry: object, index: int) -> NewComposition:
    where = f"compositions[{index}]"
    if not isinstance(entry, Mapping):
        raise errors.ArgumentTypeError(
            f"{where} must be a dict, not {entry!r}",
            hint='pass {"experiment_id": "...", "model_type": "...", "replicas": 1}',
        )
    unknown = sorted(set(entry) - set(COMPOSITION_KEYS))
    if unknown:
        raise errors.ArgumentError(
            f"{where}: unknown key {unknown[0]!r}", hint=f"use {', '.join(COMPOSITION_KEYS)}"
        )
    if "experiment_id" not in entry:
        raise errors.ArgumentError(f"{where} needs an experiment_id")
    experiment = check_experiment_id(entry["experiment_id"])
    model_type = entry.get("model_type")
    runtime = entry.get("runtime")
    if model_type is None and runtime is None:
        raise errors.ArgumentError(
            f"{where} ({experiment}) needs a model_type, a runtime, or both",
            hint="the runtime is selected by model type unless one is named",
        )
    if model_type is not None and (not isinstance(model_type, str) or not model_type):
        raise errors.ArgumentError(f"{where}: model_type must be a non-empty string")
    if isinstance(runtime, Runtime):
        runtime = runtime.address
    elif runtime is not None and (not isinstance(runtime, str) or not runtime):
        raise errors.ArgumentError(
            f"{where}: runtime must be a runtime, its uid, id or address, not {runtime!r}"
        )
    replicas = entry.get("replicas", 1)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise errors.ArgumentError(f"{where}: replicas must be a whole number of at least 1")
    return NewComposition(experiment, model_type, runtime, replicas)


class Deployments(Collection[Deployment]):
    """The deployments of one workspace, oldest first."""

    OBJECT = Deployment

    def __init__(self, session: Session, workspace: str) -> None:
        super().__init__(session)
        self._workspace = workspace

    def _scope(self, snapshot: Snapshot) -> list[DeploymentRecord]:
        own = [
            d for d in snapshot.deployments.values() if workspace_of(d.address) == self._workspace
        ]
        return sorted(own, key=lambda d: (d.created_time, d.address))

    def _describe_scope(self) -> str:
        return f"workspace {self._workspace}"

    def _label(self) -> str:
        return "deployment"

    def _list_hint(self) -> str:
        return "workspace.deployments.list() shows the uids of its deployments"

    def create(
        self, name: str, compositions: list[dict[str, Any]], *, uid: str | None = None
    ) -> Deployment:
        """Deploy experiments, each on the runtime for its model type (or the one named),
        pinned to the version that runtime resolves to."""
        deployment_id = id_from_name(name, kind="deployment")
        check_workspace_writable(self._workspace)
        if not isinstance(compositions, list | tuple) or not compositions:
            raise errors.ArgumentError(
                "a deployment needs at least one composition",
                hint='compositions=[{"experiment_id": "...", "model_type": "..."}]',
            )
        items = [_new_composition(entry, index) for index, entry in enumerate(compositions)]
        experiments = [item.experiment_id for item in items]
        twice = sorted({e for e in experiments if experiments.count(e) > 1})
        if twice:
            raise errors.ArgumentError(
                f"experiment {twice[0]} appears twice",
                hint="a deployment has one composition per experiment",
            )
        address = deployment_address(self._workspace, deployment_id)
        new_uid = uid or str(uuid.uuid4())

        def build(snapshot: Snapshot) -> Overrides:
            check_uid(uid, snapshot)
            if address in snapshot.deployments:
                raise errors.ConflictError(
                    f"deployment {address} already exists",
                    hint="choose another name, or retrieve it with workspace.deployments.get()",
                )
            resolved = []
            for item in items:
                owner = snapshot.uid_owner(item.runtime) if item.runtime else None
                resolved.append(
                    item
                    if owner is None
                    else NewComposition(
                        item.experiment_id, item.model_type, owner.address, item.replicas
                    )
                )
            request = NewDeployment(
                address=address,
                display_name=name,
                compositions=tuple(resolved),
                path="",
                uid=new_uid,
            )
            return sdk_requests(deployments=(request,))

        self._session.commit(build)
        return Deployment(self._session, address)

    # Catalog collections filter by field; deployments keep the filterless list() and
    # count() their users have always called.
    def list(self, **filters: Any) -> Table[Deployment]:
        """A table of the workspace's deployments."""
        _no_filters("list", filters)
        return super().list()

    def count(self, **filters: Any) -> int:
        _no_filters("count", filters)
        return super().count()


def _no_filters(method: str, filters: Mapping[str, Any]) -> None:
    if filters:
        raise errors.ArgumentTypeError(
            f"deployments.{method}() got an unexpected keyword argument {next(iter(filters))!r}"
        )
