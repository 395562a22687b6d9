"""Catalog objects in the SDK: what images, versions and runtimes share, and the rules
the SDK checks before asking the engine for anything.

A `CatalogObject` is a handle (handles.py) on one resource, with its state, history and
state changes; a `NamedObject` (an image or a runtime) also has an id, a display name and
a description, and can be enabled and deleted. A `CatalogCollection` holds the objects of
one kind a workspace sees: its own, then the bootstrap-managed ones of `global`.

The rules: ids derived from display names, which resources a workspace sees, and that only
API-managed resources are updated or deleted. State changes (`deprecate`, `disable`,
`enable`) are plain requests: the ceiling rule is planning/desired.py's, run by the engine under
the lock.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from reconciler import errors
from reconciler.addresses import ID_PATTERN, Address, name_of
from reconciler.inputs.requests import ApiResource, Delete, Overrides, StateRequest
from reconciler.model import GLOBAL_WORKSPACE, Kind, Resource, State
from reconciler.planning import ceiling, references
from reconciler.sdk.handles import Collection, Handle, timestamp
from reconciler.sdk.session import SOURCE, Snapshot

KIND_LABELS = {
    Kind.IMAGE: "runtime image",
    Kind.VERSION: "runtime image version",
    Kind.RUNTIME: "runtime",
}
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def id_from_name(name: str, *, kind: Kind | str) -> str:
    """The id a display name gives (`My H2O-3 Runtime` → `my-h2o-3-runtime`).

    `kind` names what is created in errors: a catalog kind, or a label ("deployment").
    """
    label = KIND_LABELS[kind] if isinstance(kind, Kind) else kind
    if not isinstance(name, str):
        raise errors.ArgumentTypeError(
            f"the name of a {label} must be a string, not {name!r}",
            hint='pass name="My Custom Scorer"',
        )
    if not name.strip():
        raise errors.ArgumentError(f"a {label} needs a name", hint='pass name="My Custom Scorer"')
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")
    if not ID_PATTERN.match(slug):
        raise errors.ArgumentError(
            f"cannot derive a {label} id from the name {name!r} (got {slug!r})",
            detail="ids are the name in lowercase with other characters turned into '-': they "
            "must start with a letter, end with a letter or digit, and be at most 63 long",
            hint="choose a name that starts with a letter and is at most 63 characters long",
        )
    return slug


def check_uid(uid: str | None, snapshot: Snapshot) -> None:
    if uid is None:
        return
    if not isinstance(uid, str):
        raise errors.ArgumentTypeError(f"uid must be a string, not {uid!r}")
    if not uid.strip():
        raise errors.ArgumentError("uid must not be empty", hint="leave it out to get a new one")
    owner = snapshot.uid_taken(uid)
    if owner is not None:
        raise errors.ConflictError(
            f"uid {uid} is already used by {owner}",
            hint="leave uid out to get a new one, or pass a uid no other resource has",
        )


def check_workspace_writable(workspace: str) -> None:
    """Checked before a call builds its request, so the error comes first; the same rule
    the planner enforces for overrides files."""
    references.check_creatable_in(workspace)


def existing(snapshot: Snapshot, address: str, *, kind: Kind) -> Resource:
    resource = snapshot.resources.get(address)
    if resource is None:
        raise errors.NotFoundError(
            f"{KIND_LABELS[kind]} {address} does not exist",
            detail="it was deleted after this object was retrieved",
            hint="list again to see what exists",
        )
    return resource


def api_managed(snapshot: Snapshot, address: str, *, kind: Kind, doing: str) -> Resource:
    """The resource, if the SDK may `doing` it: only API-managed resources can be."""
    resource = existing(snapshot, address, kind=kind)
    if resource.managed_by_bootstrap:
        raise errors.ManagedByBootstrapError(
            f"cannot {doing} {KIND_LABELS[kind]} {address}: it is bootstrap-managed "
            "(declared in the Helm values)",
            detail="through the SDK, a bootstrap-managed resource can only change state "
            "(deprecate, disable, enable)",
            hint="remove it from the Helm values.yaml and redeploy; it will be DISABLED, never "
            "deleted"
            if doing == "delete"
            else "edit the Helm values.yaml and redeploy (helm upgrade) to change it",
        )
    return resource


def sdk_requests(**requests: Any) -> Overrides:
    return Overrides.of(source=SOURCE, **requests)


def api_resource(address: str, *, kind: Kind, spec: dict[str, Any], uid: str) -> ApiResource:
    """The request creating or updating an API-managed resource with this spec."""
    return ApiResource(address=address, kind=kind, spec=spec, user=None, path="", uid=uid)


# Fields shared across kinds, in the order objects list them (keys, to_dict): how an image
# or a runtime is named comes before the fields of its kind; every catalog object's state
# and history after them.
NAMED_FIELDS = ("uid", "id", "name", "description")
LIFECYCLE_FIELDS = (
    "state",
    "state_reason",
    "state_updated_time",
    "created_time",
    "last_modified_time",
    "managed_by_bootstrap",
)


class CatalogObject(Handle):
    """A handle on the resource at `address` (see handles.py): an image, a version or a
    runtime, with the state changes every one of them allows."""

    KIND: ClassVar[Kind]

    # Reading ---------------------------------------------------------------------------

    def _read(self) -> tuple[Resource, Snapshot]:
        snapshot = self._snapshot()
        resource = snapshot.resources.get(self._address)
        if resource is None:
            raise errors.NotFoundError(
                f"{KIND_LABELS[self.KIND]} {self._address} no longer exists",
                detail="it was deleted after this object was retrieved",
                hint="list again to see what exists",
            )
        return resource, snapshot

    @property
    def _resource(self) -> Resource:
        return self._read()[0]

    @property
    def uid(self) -> str:
        return self._resource.uid

    @property
    def state(self) -> State:
        """The effective state: the more restrictive of the platform's and the user's."""
        resource = self._resource
        return ceiling.effective(resource.platform, resource.user).state

    @property
    def state_reason(self) -> str:
        resource = self._resource
        return ceiling.effective(resource.platform, resource.user).reason

    @property
    def state_updated_time(self) -> datetime | None:
        return timestamp(self._resource.state_updated_time)

    @property
    def created_time(self) -> datetime | None:
        return timestamp(self._resource.created_time)

    @property
    def last_modified_time(self) -> datetime | None:
        return timestamp(self._resource.last_modified_time)

    @property
    def managed_by_bootstrap(self) -> bool:
        """True for resources declared in the Helm values (workspace `global`)."""
        return self._resource.managed_by_bootstrap

    def to_dict(self) -> dict[str, Any]:
        """Every field, read from one snapshot."""
        pinned = self.read()
        return {key: getattr(pinned, key) for key in self.FIELDS}

    # Changing --------------------------------------------------------------------------

    def _existing(self, snapshot: Snapshot) -> Resource:
        return existing(snapshot, self._address, kind=self.KIND)

    def _api_managed(self, snapshot: Snapshot, *, doing: str) -> Resource:
        return api_managed(snapshot, self._address, kind=self.KIND, doing=doing)

    def _move(self, target: State, reason: str | None) -> None:
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            raise errors.ArgumentTypeError(f"reason must be a string or None, not {reason!r}")

        def build(snapshot: Snapshot) -> Overrides:
            self._existing(snapshot)
            request = StateRequest(address=self._address, state=target, reason=reason, path="")
            return sdk_requests(state_requests=(request,))

        self._session.commit(build)

    def deprecate(self, reason: str | None = None) -> None:
        """Discourage use: still usable, with a warning. Refused where the platform disables it."""
        self._move(State.DEPRECATED, reason)

    def disable(self, reason: str | None = None) -> None:
        """Refuse new deployments and upgrades; running ones keep running. Always allowed."""
        self._move(State.DISABLED, reason)


class NamedObject(CatalogObject):
    """A runtime image or a runtime: named by an id and a display name, described, and
    enabled or deleted as a whole (versions have none of these)."""

    @property
    def id(self) -> str:
        return name_of(self._address)

    @property
    def name(self) -> str:
        """The display name (the id when the values give none)."""
        return self._resource.spec.get("display_name") or self.id

    @property
    def description(self) -> str:
        return self._resource.spec.get("description", "")

    def enable(self) -> None:
        """Make it ACTIVE again, as far as the platform's state allows."""
        self._move(State.ACTIVE, "")

    def _refuse_delete(self, snapshot: Snapshot) -> None:
        """Raise if something still needs the resource; nothing does by default."""

    def delete(self) -> None:
        """Delete an API-managed image (with its versions) or runtime; an image is refused
        while a runtime uses it."""

        def build(snapshot: Snapshot) -> Overrides:
            self._api_managed(snapshot, doing="delete")
            self._refuse_delete(snapshot)
            return sdk_requests(deletes=(Delete(address=self._address, path=""),))

        self._session.commit(build)


T = TypeVar("T", bound=CatalogObject)


class CatalogCollection(Collection[T]):
    """The catalog objects of `OBJECT.KIND` a workspace sees (None: every workspace's)."""

    _workspace: str | None = None  # set by the collections of one workspace

    def _scope(self, snapshot: Snapshot) -> list[Resource]:
        return visible(snapshot, self.OBJECT.KIND, workspace=self._workspace)

    def _describe_scope(self) -> str:
        return "every workspace" if self._workspace is None else f"workspace {self._workspace}"

    def _label(self) -> str:
        return KIND_LABELS[self.OBJECT.KIND]

    def _new_address(self, name: str) -> str:
        """Where a new object named `name` goes: this workspace, which is not `global`."""
        new_id = id_from_name(name, kind=self.OBJECT.KIND)
        return str(Address(kind=self.OBJECT.KIND, workspace=self._home(), id=new_id))

    def _home(self) -> str:
        """The workspace new objects go to; a collection of every workspace has none."""
        if self._workspace is None:
            raise errors.UsageError(
                "a listing of every workspace cannot create: say which workspace",
                hint="use client.workspaces.get(NAME) and create from there",
            )
        check_workspace_writable(self._workspace)
        return self._workspace

    def _check_new(self, snapshot: Snapshot, address: str, *, uid: str | None, name: str) -> None:
        """Refuse a uid already in use, and an id already taken where the workspace would
        see the new object."""
        check_uid(uid, snapshot)
        in_global = Address.parse(address).model_copy(update={"workspace": GLOBAL_WORKSPACE})
        for seen in (address, str(in_global)):
            taken = snapshot.resources.get(seen)
            if taken is not None:
                shown = taken.spec.get("display_name") or name_of(seen)
                raise errors.ConflictError(
                    f"cannot create {self._label()} {name!r}: {seen} already exists "
                    f"(named {shown!r})",
                    detail="the id is derived from the name, and ids are unique among what a "
                    "workspace sees: its own resources and the bootstrap-managed ones of global",
                    hint="choose another name, or retrieve the existing one with get()",
                )


def visible(snapshot: Snapshot, kind: Kind, *, workspace: str | None) -> list[Resource]:
    """What a workspace sees, its own first then `global`'s; None: every workspace.

    Each part is in creation order (then by address), so new resources come last.
    """

    def ordered(resources: list[Resource]) -> list[Resource]:
        return sorted(resources, key=lambda r: (r.created_time, r.address))

    if workspace is None:
        return ordered(snapshot.of_kind(kind))
    own = ordered(snapshot.of_kind(kind, workspace))
    if workspace == GLOBAL_WORKSPACE:
        return own
    return own + ordered(snapshot.of_kind(kind, GLOBAL_WORKSPACE))
