"""What every SDK catalog object and collection shares.

A `CatalogObject` is a handle on one resource: it keeps the resource's address and reads
the resource from the current state on every property access, so it never shows a stale
value after another client's change. Objects also read as mappings (`runtime["uid"]`)
over their `FIELDS`. A `Collection` lists, counts, filters and gets the objects of one
kind within a scope (a workspace and the bootstrap-managed `global` catalog it sees, an
image's versions, or every workspace).

Also owns the rules the SDK checks before asking the engine for anything: ids derived
from display names, which resources a workspace sees, and that only API-managed
resources are updated or deleted. State changes (`deprecate`, `disable`, `enable`) are
plain requests: the ceiling rule is desired.py's, run by the engine under the lock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from reconciler import ceiling, errors
from reconciler.model import GLOBAL_WORKSPACE, ID_PATTERN, Kind, Resource, State
from reconciler.overrides import Overrides, StateRequest
from reconciler.sdk.session import SOURCE, Session, Snapshot, workspace_of
from reconciler.sdk.tables import Table

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
    if not isinstance(name, str) or not name.strip():
        raise errors.InputError(f"a {label} needs a name", hint='pass name="My Custom Scorer"')
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")
    if not ID_PATTERN.match(slug):
        raise errors.InputError(
            f"cannot derive a {label} id from the name {name!r} (got {slug!r})",
            detail="ids are the name in lowercase with other characters turned into '-': they "
            "must start with a letter, end with a letter or digit, and be at most 63 long",
            hint="choose a name that starts with a letter and is at most 63 characters long",
        )
    return slug


def check_uid(uid: str | None, snapshot: Snapshot) -> None:
    if uid is None:
        return
    if not isinstance(uid, str) or not uid.strip():
        raise errors.InputError(f"uid must be a non-empty string, not {uid!r}")
    owner = snapshot.uid_taken(uid)
    if owner is not None:
        raise errors.ConflictError(
            f"uid {uid} is already used by {owner}",
            hint="leave uid out to get a new one, or pass a uid no other resource has",
        )


def check_workspace_writable(workspace: str) -> None:
    if workspace == GLOBAL_WORKSPACE:
        raise errors.ManagedByBootstrapError(
            "workspace global holds the bootstrap-managed catalog: nothing is created in it "
            "through the SDK",
            hint="create it in a workspace of your own, or declare it in the Helm values.yaml "
            "and redeploy",
        )


def check_id_free(snapshot: Snapshot, *, kind: Kind, addresses: tuple[str, ...], name: str) -> None:
    """Refuse a new resource whose id is already taken where the workspace would see it."""
    for address in addresses:
        taken = snapshot.resources.get(address)
        if taken is not None:
            shown = taken.spec.get("display_name") or address.rsplit("/", 1)[1]
            raise errors.ConflictError(
                f"cannot create {KIND_LABELS[kind]} {name!r}: {address} already exists "
                f"(named {shown!r})",
                detail="the id is derived from the name, and ids are unique among what a "
                "workspace sees: its own resources and the bootstrap-managed ones of global",
                hint="choose another name, or retrieve the existing one with get()",
            )


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


def _time(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class CatalogObject:
    """A handle on the resource at `address`, read afresh from the state on each access.

    `pinned` fixes the snapshot read from: tables render and filter a consistent view
    with it. Objects handed to users are never pinned.
    """

    KIND: ClassVar[Kind]
    FIELDS: ClassVar[tuple[str, ...]]  # mapping keys, list filters

    def __init__(self, session: Session, address: str, *, pinned: Snapshot | None = None) -> None:
        self._session = session
        self._address = address
        self._pinned = pinned

    # Reading ---------------------------------------------------------------------------

    def _read(self) -> tuple[Resource, Snapshot]:
        snapshot = self._pinned or self._session.snapshot()
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

    def _pin(self, snapshot: Snapshot) -> CatalogObject:
        return type(self)(self._session, self._address, pinned=snapshot)

    @property
    def address(self) -> str:
        """The resource name, as plans and `reconciler state` show it."""
        return self._address

    @property
    def workspace(self) -> str:
        return workspace_of(self._address)

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
        return _time(self._resource.state_updated_time)

    @property
    def created_time(self) -> datetime | None:
        return _time(self._resource.created_time)

    @property
    def last_modified_time(self) -> datetime | None:
        return _time(self._resource.last_modified_time)

    @property
    def managed_by_bootstrap(self) -> bool:
        """True for resources declared in the Helm values (workspace `global`)."""
        return self._resource.managed_by_bootstrap

    # Mapping access --------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if key not in self.FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.FIELDS

    def to_dict(self) -> dict[str, Any]:
        """Every field, read from one snapshot."""
        pinned = self._pin(self._read()[1])
        return {key: getattr(pinned, key) for key in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CatalogObject) and (type(other), other.address) == (
            type(self),
            self._address,
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._address))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._address}>"

    # Changing --------------------------------------------------------------------------

    def _existing(self, snapshot: Snapshot) -> Resource:
        return existing(snapshot, self._address, kind=self.KIND)

    def _api_managed(self, snapshot: Snapshot, *, doing: str) -> Resource:
        return api_managed(snapshot, self._address, kind=self.KIND, doing=doing)

    def _move(self, target: State, reason: str) -> None:
        if not isinstance(reason, str):
            raise errors.InputError(f"reason must be a string, not {reason!r}")

        def build(snapshot: Snapshot) -> Overrides:
            self._existing(snapshot)
            request = StateRequest(address=self._address, state=target, reason=reason, path="")
            return sdk_requests(state_requests=(request,))

        self._session.commit(build)

    def deprecate(self, reason: str = "") -> None:
        """Discourage use: still usable, with a warning. Refused where the platform disables it."""
        self._move(State.DEPRECATED, reason)

    def disable(self, reason: str = "") -> None:
        """Refuse new deployments and upgrades; running ones keep running. Always allowed."""
        self._move(State.DISABLED, reason)


T = TypeVar("T", bound=CatalogObject)


class Collection(Generic[T]):
    """The objects of one kind within a scope; subclasses say which and in what order."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("name", "uid")
    OBJECT: type[T]

    def __init__(self, session: Session) -> None:
        self._session = session

    def _scope(self, snapshot: Snapshot) -> list[Resource]:
        raise NotImplementedError

    def _describe_scope(self) -> str:
        raise NotImplementedError

    def _ordered(self, snapshot: Snapshot) -> list[Resource]:
        return self._scope(snapshot)

    def _match(self, key: str, resource: Resource) -> bool:
        return key in (resource.uid, resource.address, resource.address.rsplit("/", 1)[1])

    def list(self, **filters: Any) -> Table[T]:
        """A table of the objects whose fields equal every `filters` value."""
        for key in filters:
            if key not in self.OBJECT.FIELDS:
                raise errors.UsageError(
                    f"cannot filter {self._describe_scope()} by {key!r}",
                    hint=f"filter by one of: {', '.join(self.OBJECT.FIELDS)}",
                )
        snapshot = self._session.snapshot()
        rows, entries = [], []
        for resource in self._ordered(snapshot):
            pinned = self.OBJECT(self._session, resource.address, pinned=snapshot)
            if all(getattr(pinned, key) == value for key, value in filters.items()):
                rows.append(tuple(getattr(pinned, column) for column in self.COLUMNS))
                entries.append(self.OBJECT(self._session, resource.address))
        return Table(columns=self.COLUMNS, rows=rows, entries=entries)

    def count(self, **filters: Any) -> int:
        return len(self.list(**filters))

    def get(self, uid: str) -> T:
        """The object with this uid (its id or address work too)."""
        snapshot = self._session.snapshot()
        for resource in self._ordered(snapshot):
            if self._match(uid, resource):
                return self.OBJECT(self._session, resource.address)
        raise errors.NotFoundError(
            f"no {KIND_LABELS[self.OBJECT.KIND]} with uid or id {uid!r} in "
            f"{self._describe_scope()}",
            hint=f"list() shows the uids of {self._describe_scope()}",
        )

    def __iter__(self) -> Iterator[T]:
        return iter(self.list())

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._describe_scope()}>"


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
