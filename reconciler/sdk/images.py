"""Runtime images, as the SDK shows them: `workspace.runtimes.images`.

`workspace.runtimes.images` (also `workspace.runtime_images`) creates API-managed images
and lists what the workspace sees: its own images, then the bootstrap-managed ones of
`global`; `client.runtimes.images` lists every workspace's. An image is created with its
first version (see versions.py for how a docker image's tag names it); `update()` may
add another. Images change state with `deprecate`, `disable` and `enable`.

Owns the image objects, their collections and the requests they make. Which version is
the current one (the latest available) is availability.py's rule.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from reconciler import errors
from reconciler.addresses import image_of
from reconciler.inputs.requests import Overrides
from reconciler.model import Kind, Resource
from reconciler.sdk.objects import (
    LIFECYCLE_FIELDS,
    NAMED_FIELDS,
    CatalogCollection,
    NamedObject,
    api_resource,
    sdk_requests,
)
from reconciler.sdk.session import Session, Snapshot
from reconciler.sdk.versions import RuntimeImageVersions, new_version

MAX_LISTED = 10  # runtimes named in the error about deleting an image still in use


class RuntimeImage(NamedObject):
    """A runtime image: a scorer family grouping container image versions."""

    KIND = Kind.IMAGE
    FIELDS = (
        *NAMED_FIELDS,
        "docker_image",
        "current_version",
        *LIFECYCLE_FIELDS,
        "workspace",
        "address",
    )

    def _latest(self) -> Resource | None:
        _, snapshot = self._read()
        try:
            return snapshot.catalog.latest_version(self._address)
        except errors.NotFoundError:
            return None

    @property
    def current_version(self) -> str | None:
        """The latest available version (`v2.1.0`); None when every version is DISABLED."""
        latest = self._latest()
        return None if latest is None else latest.address.rsplit("/", 1)[1]

    @property
    def docker_image(self) -> str | None:
        """The container image of the current version."""
        latest = self._latest()
        return None if latest is None else latest.spec["image"]

    @property
    def versions(self) -> RuntimeImageVersions:
        return RuntimeImageVersions(self._session, self._address)

    def update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        docker_image: str | None = None,
        version: str | None = None,
    ) -> None:
        """Change the display name or description; a new `docker_image` adds a version."""
        if version is not None and docker_image is None:
            raise errors.UsageError(
                "version= names the version of a new docker image, and no docker_image= was given",
                hint='pass both: update(docker_image="repo/scorer:latest", version="v2.1.0")',
            )
        changes = {"display_name": name, "description": description}
        for key, value in changes.items():
            if value is not None and not isinstance(value, str):
                raise errors.InputError(f"{key} must be a string, not {value!r}")
        if name is not None and not name.strip():
            raise errors.InputError("a runtime image needs a non-empty name")

        def build(snapshot: Snapshot) -> Overrides | None:
            resource = self._api_managed(snapshot, doing="update")
            spec = {**resource.spec, **{k: v for k, v in changes.items() if v is not None}}
            items = []
            if spec != resource.spec:
                items.append(
                    api_resource(self._address, kind=Kind.IMAGE, spec=spec, uid=resource.uid)
                )
            if docker_image is not None:
                items.append(
                    new_version(
                        self._address,
                        docker_image,
                        version=version,
                        readiness_probe_path=None,
                        snapshot=snapshot,
                    )
                )
            return sdk_requests(resources=tuple(items)) if items else None

        self._session.commit(build)

    def _refuse_delete(self, snapshot: Snapshot) -> None:
        users = [
            runtime.address
            for runtime in snapshot.of_kind(Kind.RUNTIME)
            if image_of(runtime.spec["runtime_image"]) == self._address
        ]
        if users:
            more = len(users) - MAX_LISTED
            raise errors.PlanError(
                f"cannot delete runtime image {self._address}: "
                f"{len(users)} runtime(s) still use it",
                detail="used by "
                + ", ".join(sorted(users)[:MAX_LISTED])
                + (f" and {more} more" if more > 0 else ""),
                hint="delete those runtimes first (runtime.delete()), then the image",
            )


class AllRuntimeImages(CatalogCollection[RuntimeImage]):
    """Runtime images of every workspace (`client.runtimes.images`)."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("name", "workspace", "uid")
    OBJECT = RuntimeImage


class RuntimeImages(CatalogCollection[RuntimeImage]):
    """The runtime images a workspace sees: its own, then the bootstrap-managed ones."""

    OBJECT = RuntimeImage

    def __init__(self, session: Session, workspace: str) -> None:
        super().__init__(session)
        self._workspace = workspace

    def create(
        self,
        name: str,
        docker_image: str,
        *,
        version: str | None = None,
        description: str | None = None,
        uid: str | None = None,
    ) -> RuntimeImage:
        """Create an API-managed image with its first version (see module docstring)."""
        address = self._new_address(name)
        if description is not None and not isinstance(description, str):
            raise errors.InputError(f"description must be a string, not {description!r}")
        new_uid = uid or str(uuid.uuid4())

        def build(snapshot: Snapshot) -> Overrides:
            self._check_new(snapshot, address, uid=uid, name=name)
            spec = {"display_name": name, "description": description or ""}
            return sdk_requests(
                resources=(
                    api_resource(address, kind=Kind.IMAGE, spec=spec, uid=new_uid),
                    new_version(
                        address,
                        docker_image,
                        version=version,
                        readiness_probe_path=None,
                        snapshot=snapshot,
                    ),
                )
            )

        self._session.commit(build)
        return RuntimeImage(self._session, address)
