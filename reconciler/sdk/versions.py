"""Runtime image versions, as the SDK shows them: `image.versions`.

A version is one container image of a runtime image, named `vMAJOR.MINOR.PATCH`. It comes
from the docker image's tag with a `v` prepended (`scorer:2.0.0` → `v2.0.0`); a tag that
is not a semantic version (`latest`, `nightly`) needs an explicit `version=`. Versions
change state with `deprecate`, `disable` and `activate` (what images and runtimes call
`enable`); they have no update or delete of their own: deleting the image deletes them.

Owns the version objects, their collection, and the request adding a version (which
images.py also makes when it creates an image or updates its docker image).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, ClassVar

from reconciler import errors
from reconciler.addresses import Address, image_of, version_address
from reconciler.inputs.requests import ApiResource, Overrides
from reconciler.model import DEFAULT_READINESS_PROBE_PATH, Kind, Resource, State
from reconciler.sdk.handles import Collection
from reconciler.sdk.objects import (
    KIND_LABELS,
    LIFECYCLE_FIELDS,
    CatalogObject,
    api_managed,
    api_resource,
    sdk_requests,
)
from reconciler.sdk.session import Session, Snapshot
from reconciler.versions import normalize_version, split_image_reference, version_from_tag

if TYPE_CHECKING:
    from reconciler.sdk.images import RuntimeImage


class RuntimeImageVersion(CatalogObject):
    """One versioned container image of a runtime image (`.../versions/v2.1.0`)."""

    KIND = Kind.VERSION
    FIELDS = (
        "uid",
        "version",
        "docker_image",
        "readiness_probe_path",
        *LIFECYCLE_FIELDS,
        "address",
    )

    @property
    def version(self) -> str:
        """`vMAJOR.MINOR.PATCH`."""
        return self._address.rsplit("/", 1)[1]

    @property
    def docker_image(self) -> str:
        return self._resource.spec["image"]

    @property
    def readiness_probe_path(self) -> str:
        return self._resource.spec["readiness_probe_path"]

    @property
    def image(self) -> RuntimeImage:
        """The runtime image this version belongs to."""
        from reconciler.sdk.images import RuntimeImage  # images.py imports this module

        return RuntimeImage(self._session, image_of(self._address))

    def activate(self) -> None:
        """Make the version ACTIVE again, as far as the platform's state allows."""
        self._move(State.ACTIVE, "")


def new_version(
    image: str,
    docker_image: str,
    *,
    version: str | None,
    readiness_probe_path: str | None,
    snapshot: Snapshot,
) -> ApiResource:
    """The request adding `docker_image` to `image`, as the version it is or implies."""
    if (
        not isinstance(docker_image, str)
        or not docker_image
        or any(c.isspace() for c in docker_image)
    ):
        raise errors.InputError(
            f"docker_image must be a container image reference, not {docker_image!r}",
            hint='pass docker_image="docker.io/myorg/scorer:2.0.0"',
        )
    probe = DEFAULT_READINESS_PROBE_PATH if readiness_probe_path is None else readiness_probe_path
    if not isinstance(probe, str) or not probe.startswith("/"):
        raise errors.InputError(
            f"readiness_probe_path must be an HTTP path starting with '/', not {probe!r}",
            hint=f"leave it out for the default, {DEFAULT_READINESS_PROBE_PATH}",
        )
    _, tag = split_image_reference(docker_image)
    if version is not None:
        number = normalize_version(str(version), what="version=")
    else:
        derived = version_from_tag(tag)
        if derived is None:
            raise errors.InputError(
                f"cannot derive a version from docker image {docker_image!r}: its tag "
                f"{tag!r} is not a semantic version",
                detail="a version is the image's tag with a v prepended (2.0.0 → v2.0.0); "
                "tags such as latest or nightly say nothing about the version",
                hint='pass an explicit version, such as version="v1.0.0"',
            )
        number = derived
    parent = Address.parse(image)
    address = version_address(parent.workspace, parent.id, number)
    existing = snapshot.resources.get(address)
    if existing is not None:
        raise errors.ConflictError(
            f"version {number} of runtime image {image} already exists",
            detail=f"{address} runs {existing.spec['image']}",
            hint="pass version= with a new version number",
        )
    spec = {"image": docker_image, "readiness_probe_path": probe}
    return api_resource(address, kind=Kind.VERSION, spec=spec, uid=str(uuid.uuid4()))


class RuntimeImageVersions(Collection[RuntimeImageVersion]):
    """The versions of one runtime image, oldest first."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("version", "docker_image", "state", "uid")
    OBJECT = RuntimeImageVersion

    def __init__(self, session: Session, image: str) -> None:
        super().__init__(session)
        self._image = image

    def _scope(self, snapshot: Snapshot) -> list[Resource]:
        return snapshot.catalog.versions_of(self._image)

    def _describe_scope(self) -> str:
        return f"the versions of {self._image}"

    def _label(self) -> str:
        return KIND_LABELS[Kind.VERSION]

    def _match(self, key: str, resource: Resource) -> bool:
        # "2.1.0" finds v2.1.0, as the tag it came from would.
        return super()._match(key, resource) or (
            version_from_tag(key) == resource.address.rsplit("/", 1)[1]
        )

    def create(
        self,
        docker_image: str,
        *,
        version: str | None = None,
        readiness_probe_path: str | None = None,
    ) -> RuntimeImageVersion:
        """Add a version; it is derived from the tag unless `version=` is given."""
        added: list[str] = []

        def build(snapshot: Snapshot) -> Overrides:
            api_managed(snapshot, self._image, kind=Kind.IMAGE, doing="add a version to")
            request = new_version(
                self._image,
                docker_image,
                version=version,
                readiness_probe_path=readiness_probe_path,
                snapshot=snapshot,
            )
            added[:] = [request.address]
            return sdk_requests(resources=(request,))

        self._session.commit(build)
        return RuntimeImageVersion(self._session, added[0])
