"""What every SDK object and collection shares, whatever kind of thing it names.

An SDK object is a handle: it keeps what names a thing in the state (an address, a
workspace's name, a deployment's experiment) and reads the thing afresh on every property
access, so it never shows a stale value after another client's change; `read()` gives
the object as one snapshot, for properties that must agree with each other. Objects read as
mappings over their `FIELDS` (`runtime["uid"]`), which are also what tables show and
lists filter by, and two objects are equal when they are of one type and name one thing.
A `Collection` lists, counts, filters and gets the objects of one scope.

Owns no rule about resources: what a workspace sees and what the SDK may change is
objects.py's; what each kind of object shows is its own module's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from reconciler import errors
from reconciler.addresses import name_of, workspace_of
from reconciler.sdk.session import Session, Snapshot
from reconciler.sdk.tables import Table


def timestamp(text: str) -> datetime | None:
    """A time as the state records it; None where none was recorded."""
    return datetime.fromisoformat(text) if text else None


class Entity:
    """Reads as a mapping over `FIELDS`; equal to another that names the same thing."""

    FIELDS: ClassVar[tuple[str, ...]]  # mapping keys, table columns, list filters

    def _identity(self) -> tuple[str, ...]:
        """What the object names, as strings."""
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        if key not in self.FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.FIELDS

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._identity() == self._identity()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._identity()))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {' '.join(self._identity())}>"


H = TypeVar("H", bound="Handle")


class Handle(Entity):
    """The object naming the record at `address`: a catalog resource or a deployment.

    `pinned` fixes the snapshot read from: tables render and filter a consistent view
    with it. Objects handed to users are never pinned.
    """

    def __init__(self, session: Session, address: str, *, pinned: Snapshot | None = None) -> None:
        self._session = session
        self._address = address
        self._pinned = pinned

    def _snapshot(self) -> Snapshot:
        return self._pinned or self._session.snapshot()

    def read(self: H) -> H:
        """This object as the state is now, every property read from that one snapshot
        (the object itself reads the state afresh on each property access)."""
        return type(self)(self._session, self._address, pinned=self._session.snapshot())

    def _identity(self) -> tuple[str, ...]:
        return (self._address,)

    @property
    def address(self) -> str:
        """The resource name, as plans and `reconciler state` show it."""
        return self._address

    @property
    def workspace(self) -> str:
        return workspace_of(self._address)


class Record(Protocol):
    """What a collection needs of a state record (a resource, a deployment)."""

    @property
    def address(self) -> str: ...

    @property
    def uid(self) -> str: ...


T = TypeVar("T", bound=Handle)


class Collection(Generic[T]):
    """The objects of one kind within a scope; subclasses say which and in what order."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("name", "uid")
    OBJECT: type[T]

    def __init__(self, session: Session) -> None:
        self._session = session

    def _scope(self, snapshot: Snapshot) -> Sequence[Record]:
        """The records of the scope, in the order `list()` shows them."""
        raise NotImplementedError

    def _describe_scope(self) -> str:
        raise NotImplementedError

    def _label(self) -> str:
        """What `get()` calls the objects when it finds none ("runtime image")."""
        raise NotImplementedError

    def _list_hint(self) -> str:
        return f"list() shows the uids of {self._describe_scope()}"

    def _match(self, key: str, record: Record) -> bool:
        return key in (record.uid, record.address, name_of(record.address))

    def list(self, **filters: Any) -> Table[T]:
        """A table of the objects whose fields equal every `filters` value."""
        for key in filters:
            if key not in self.OBJECT.FIELDS:
                raise errors.FilterError(
                    f"cannot filter {self._describe_scope()} by {key!r}",
                    hint=f"filter by one of: {', '.join(self.OBJECT.FIELDS)}",
                )
        snapshot = self._session.snapshot()
        rows, entries = [], []
        for record in self._scope(snapshot):
            pinned = self.OBJECT(self._session, record.address, pinned=snapshot)
            if all(getattr(pinned, key) == value for key, value in filters.items()):
                rows.append(tuple(getattr(pinned, column) for column in self.COLUMNS))
                entries.append(self.OBJECT(self._session, record.address))
        return Table(columns=self.COLUMNS, rows=rows, entries=entries)

    def count(self, **filters: Any) -> int:
        return len(self.list(**filters))

    def get(self, uid: str) -> T:
        """The object with this uid (its id or address work too)."""
        for record in self._scope(self._session.snapshot()):
            if self._match(uid, record):
                return self.OBJECT(self._session, record.address)
        raise errors.NotFoundError(
            f"no {self._label()} with uid or id {uid!r} in {self._describe_scope()}",
            hint=self._list_hint(),
        )

    def __iter__(self) -> Iterator[T]:
        return iter(self.list())

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._describe_scope()}>"
