"""Runtime images and their versions, as the SDK shows them: `workspace.runtimes.images`.

`workspace.runtimes.images` (also `workspace.runtime_images`) creates API-managed images
and lists what the workspace sees: its own images, then the bootstrap-managed ones of
`global`; `client.runtimes.images` lists every workspace's. An image is created with its
first version; `update()` may add another. Images change state with `deprecate`,
`disable` and `enable`.

A version (`image.versions`) is one container image of a runtime image, named
`vMAJOR.MINOR.PATCH`. It comes from the docker image's tag with a `v` prepended
(`scorer:2.0.0` → `v2.0.0`); a tag that is not a semantic version (`latest`, `nightly`)
needs an explicit `version=`. Versions change state with `deprecate`, `disable` and
`activate` (what images and runtimes call `enable`); they have no update or delete of
their own: deleting the image deletes them.

Every argument that designates an image or a version (a runtime's `runtime_image`, an
upgrade target) is read here, by `designate`, and must be unambiguous: objects carry their
image; a string is a uid, an address, or an id (`scorer`, `scorer/versions/v2.0.0`) that
names one image among those the workspace sees. A bare version (`"v2.0.0"`) names no image
and is refused.

Owns the image and version objects, their collections, the requests they make and
`designate`. Which version is the current one (the latest available) is
planning/availability.py's rule; how a reference resolves is planning/references.py's.
One module for both: an image lists its versions and a version names its image.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from reconciler import errors
from reconciler.addresses import Address, image_address, image_of, name_of, version_address
from reconciler.inputs.requests import ApiResource, Overrides
from reconciler.model import DEFAULT_READINESS_PROBE_PATH, GLOBAL_WORKSPACE, Kind, Resource, State
from reconciler.planning import references
from reconciler.sdk.handles import Collection, Record
from reconciler.sdk.objects import (
    KIND_LABELS,
    LIFECYCLE_FIELDS,
    NAMED_FIELDS,
    CatalogCollection,
    CatalogObject,
    NamedObject,
    api_managed,
    api_resource,
    sdk_requests,
)
from reconciler.sdk.session import Session, Snapshot
from reconciler.versions import (
    SEMVER_PATTERN,
    normalize_version,
    split_image_reference,
    version_from_tag,
)

MAX_LISTED = 10  # runtimes named in the error about deleting an image still in use


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
        return name_of(self._address)

    @property
    def docker_image(self) -> str:
        return self._resource.spec["image"]

    @property
    def readiness_probe_path(self) -> str:
        return self._resource.spec["readiness_probe_path"]

    @property
    def image(self) -> RuntimeImage:
        """The runtime image this version belongs to."""
        return RuntimeImage(self._session, image_of(self._address), pinned=self._pinned)

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
        raise errors.ArgumentError(
            f"docker_image must be a container image reference, not {docker_image!r}",
            hint='pass docker_image="docker.io/myorg/scorer:2.0.0"',
        )
    probe = DEFAULT_READINESS_PROBE_PATH if readiness_probe_path is None else readiness_probe_path
    if not isinstance(probe, str) or not probe.startswith("/"):
        raise errors.ArgumentError(
            f"readiness_probe_path must be an HTTP path starting with '/', not {probe!r}",
            hint=f"leave it out for the default, {DEFAULT_READINESS_PROBE_PATH}",
        )
    _, tag = split_image_reference(docker_image)
    if version is not None:
        number = normalize_version(str(version), what="version=")
    else:
        derived = version_from_tag(tag)
        if derived is None:
            raise errors.ArgumentError(
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

    def _match(self, key: str, record: Record) -> bool:
        # "2.1.0" finds v2.1.0, as the tag it came from would.
        return super()._match(key, record) or version_from_tag(key) == name_of(record.address)

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
        return latest_version(snapshot, self._address)

    @property
    def current_version(self) -> RuntimeImageVersion | None:
        """The latest available version (the highest ACTIVE one, else the highest
        DEPRECATED one); None when every version is DISABLED. Read with `read()`, the
        version comes from the same snapshot as the image."""
        latest = self._latest()
        if latest is None:
            return None
        return RuntimeImageVersion(self._session, latest.address, pinned=self._pinned)

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
                raise errors.ArgumentTypeError(f"{key} must be a string, not {value!r}")
        if name is not None and not name.strip():
            raise errors.ArgumentError("a runtime image needs a non-empty name")

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
            raise errors.ArgumentTypeError(f"description must be a string, not {description!r}")
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


def latest_version(snapshot: Snapshot, image: str) -> Resource | None:
    """The current version of `image` in `snapshot`; None when none is available."""
    try:
        return snapshot.catalog.latest_version(image)
    except errors.NotFoundError:
        return None


DESIGNATE_HINT = (
    "pass what workspace.runtimes.images.get() or image.versions.get() returns, or an "
    "address such as workspaces/WS/runtimeImages/ID/versions/v1.0.0"
)


def designate(value: object, *, workspace: str, snapshot: Snapshot, argument: str) -> str:
    """The address of the image or version `value` designates, seen from `workspace`.

    `value` is an image or version object, a uid, an address, or an id as references.py
    reads it. Raises ArgumentError (a ValueError) for anything else and for a string that
    could mean several things: a bare version, or an id both the workspace and global use.
    """
    if isinstance(value, RuntimeImage | RuntimeImageVersion):
        reference = value.address
    elif isinstance(value, str) and value.strip():
        owner = snapshot.uid_owner(value)
        reference = owner.address if owner is not None else value.strip()
        if owner is None and SEMVER_PATTERN.match(reference):
            raise errors.ArgumentError(
                f"{argument}={value!r} names a version but not its image",
                detail="a bare version could be that version of any image",
                hint="pass the version object (image.versions.get("
                f"{value!r})), or IMAGE/versions/{value}",
            )
        if owner is None and not reference.startswith("workspaces/"):
            _refuse_ambiguous_id(
                reference, workspace=workspace, snapshot=snapshot, argument=argument
            )
    else:
        raise errors.ArgumentError(
            f"{argument} must be a runtime image, one of its versions, or its address, "
            f"not {value!r}",
            hint=DESIGNATE_HINT,
        )
    return references.image(reference, workspace=workspace, resources=snapshot.resources)


def _refuse_ambiguous_id(
    reference: str, *, workspace: str, snapshot: Snapshot, argument: str
) -> None:
    image_id = reference.partition("/versions/")[0]
    if workspace == GLOBAL_WORKSPACE:
        return
    both = [image_address(home, image_id) for home in (workspace, GLOBAL_WORKSPACE)]
    if all(address in snapshot.resources for address in both):
        raise errors.ArgumentError(
            f"{argument}={reference!r} is ambiguous: {both[0]} and {both[1]} both exist",
            hint="pass the image object, or its address",
        )
