"""Runtimes, as the SDK shows them: a runtime image bound to a model type.

`workspace.runtimes` creates API-managed runtimes and lists what the workspace sees (its
own, then the bootstrap-managed ones of `global`); `client.runtimes` lists every
workspace's. `model_type` and `runtime_image` are fixed at creation: `update()` refuses
them (delete and recreate instead), and refuses bootstrap-managed runtimes altogether.

Owns the requests these calls make and the checks of their arguments; the ceiling rule
and reference checks run in planning/desired.py, inside the engine.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import pydantic

from reconciler import errors
from reconciler.addresses import is_version
from reconciler.inputs.requests import Overrides
from reconciler.model import EnvironmentValue, Kind, RuntimeSpec
from reconciler.sdk.images import (
    AllRuntimeImages,
    RuntimeImage,
    RuntimeImages,
    RuntimeImageVersion,
    designate,
)
from reconciler.sdk.objects import (
    LIFECYCLE_FIELDS,
    NAMED_FIELDS,
    CatalogCollection,
    NamedObject,
    api_resource,
    sdk_requests,
)
from reconciler.sdk.session import Session, Snapshot

# SDK argument → spec field, where the names differ from the spec's.
SPEC_FIELDS = {
    "name": "display_name",
    "read_only_data_volume": "data_volume_read_only",
}


class Runtime(NamedObject):
    """A deployable configuration: a runtime image (or pinned version) for a model type."""

    KIND = Kind.RUNTIME
    FIELDS = (
        *NAMED_FIELDS,
        "model_type",
        "runtime_image",
        "environment_variables",
        "read_only_data_volume",
        "volumes",
        "security_context",
        "selector",
        "scoring_endpoint",
        *LIFECYCLE_FIELDS,
        "workspace",
        "address",
    )

    @property
    def model_type(self) -> str:
        return self._resource.spec["model_type"]

    @property
    def runtime_image(self) -> RuntimeImage | RuntimeImageVersion:
        """The image (its latest available version is used) or the pinned version."""
        target = self._resource.spec["runtime_image"]
        if is_version(target):
            return RuntimeImageVersion(self._session, target)
        return RuntimeImage(self._session, target)

    @property
    def environment_variables(self) -> dict[str, EnvironmentValue]:
        return dict(self._resource.spec.get("environment_variables", {}))

    @property
    def read_only_data_volume(self) -> bool:
        return self._resource.spec.get("data_volume_read_only", False)

    @property
    def volumes(self) -> list[dict[str, Any]]:
        return [dict(volume) for volume in self._resource.spec.get("volumes", [])]

    @property
    def security_context(self) -> dict[str, Any]:
        return dict(self._resource.spec.get("security_context", {}))

    @property
    def selector(self) -> dict[str, Any]:
        return dict(self._resource.spec.get("selector", {}))

    @property
    def scoring_endpoint(self) -> str:
        """The scoring API endpoint version (`v1`)."""
        return self._resource.spec["scoring_endpoint"]

    def update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        environment_variables: dict[str, EnvironmentValue] | None = None,
        read_only_data_volume: bool | None = None,
        volumes: list[dict[str, Any]] | None = None,
        security_context: dict[str, Any] | None = None,
        selector: dict[str, Any] | None = None,
        model_type: str | None = None,
        runtime_image: object = None,
    ) -> None:
        """Change the given fields of an API-managed runtime; the others stay.

        `model_type` and `runtime_image` are accepted only to refuse them clearly.
        """
        for field, value in (("model_type", model_type), ("runtime_image", runtime_image)):
            if value is not None:
                raise errors.ImmutableFieldError(
                    f"{field} of runtime {self._address} cannot change after creation",
                    detail="a runtime's model_type and runtime_image are fixed when it is created",
                    hint="delete and recreate the runtime with the new value: runtime.delete(), "
                    "then workspace.runtimes.create(...)",
                )
        given = {
            "name": name,
            "description": description,
            "environment_variables": environment_variables,
            "read_only_data_volume": read_only_data_volume,
            "volumes": volumes,
            "security_context": security_context,
            "selector": selector,
        }
        changes = {SPEC_FIELDS.get(k, k): v for k, v in given.items() if v is not None}
        if name is not None and not isinstance(name, str):
            raise errors.ArgumentTypeError(f"name must be a string, not {name!r}")
        if name is not None and not name.strip():
            raise errors.ArgumentError("a runtime needs a non-empty name")

        def build(snapshot: Snapshot) -> Overrides | None:
            resource = self._api_managed(snapshot, doing="update")
            spec = runtime_spec({**resource.spec, **changes}, address=self._address)
            if spec == resource.spec:
                return None
            item = api_resource(self._address, kind=Kind.RUNTIME, spec=spec, uid=resource.uid)
            return sdk_requests(resources=(item,))

        self._session.commit(build)


def runtime_spec(fields: dict[str, Any], *, address: str) -> dict[str, Any]:
    """A runtime's spec checked field by field, as state records it."""
    try:
        return RuntimeSpec.model_validate(fields).model_dump()
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        name = {v: k for k, v in SPEC_FIELDS.items()}.get(field, field)
        raise errors.ArgumentError(
            f"runtime {address}: {name} is invalid: {problem['msg']}",
            detail=f"{exc.error_count()} problem(s) in the runtime's fields",
            hint="environment_variables maps names to strings or to references to existing "
            "Secrets ({'secretKeyRef': {'name': ..., 'key': ...}}); volumes is a list of "
            "mappings; security_context and selector are mappings",
        ) from exc


def resolve_runtime_image(value: object, *, workspace: str, snapshot: Snapshot) -> str:
    """The address of the image or version a runtime is to use, checked to be visible
    and unambiguous (images.designate)."""
    return designate(value, workspace=workspace, snapshot=snapshot, argument="runtime_image")


class AllRuntimes(CatalogCollection[Runtime]):
    """Runtimes of every workspace (`client.runtimes`); `.images` lists every image."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("name", "workspace", "uid")
    OBJECT = Runtime

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.images = AllRuntimeImages(session)


class Runtimes(CatalogCollection[Runtime]):
    """The runtimes a workspace sees; `.images` are its runtime images."""

    OBJECT = Runtime

    def __init__(self, session: Session, workspace: str) -> None:
        super().__init__(session)
        self._workspace = workspace
        self.images = RuntimeImages(session, workspace)

    def create(
        self,
        name: str,
        *,
        runtime_image: RuntimeImage | RuntimeImageVersion | str,
        model_type: str,
        description: str | None = None,
        environment_variables: dict[str, EnvironmentValue] | None = None,
        read_only_data_volume: bool = False,
        volumes: list[dict[str, Any]] | None = None,
        security_context: dict[str, Any] | None = None,
        selector: dict[str, Any] | None = None,
        uid: str | None = None,
    ) -> Runtime:
        """Create an API-managed runtime; its id is derived from `name`."""
        address = self._new_address(name)
        new_uid = uid or str(uuid.uuid4())
        fields = {
            "model_type": model_type,
            "display_name": name,
            "description": "" if description is None else description,
            "environment_variables": environment_variables or {},
            "data_volume_read_only": read_only_data_volume,
            "volumes": volumes or [],
            "security_context": security_context or {},
            "selector": selector or {},
        }

        def build(snapshot: Snapshot) -> Overrides:
            self._check_new(snapshot, address, uid=uid, name=name)
            target = resolve_runtime_image(runtime_image, workspace=self._home(), snapshot=snapshot)
            spec = runtime_spec({**fields, "runtime_image": target}, address=address)
            item = api_resource(address, kind=Kind.RUNTIME, spec=spec, uid=new_uid)
            return sdk_requests(resources=(item,))

        self._session.commit(build)
        return Runtime(self._session, address)
