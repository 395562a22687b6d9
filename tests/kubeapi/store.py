"""The object store: every object of every type, versioned by one global counter.

Owns what the API server's storage layer guarantees: resourceVersion from one counter (a
string on the wire), uid, creationTimestamp, generation bumped on spec changes only, the
split between a resource and its `/status` subresource, resourceVersion preconditions,
dry runs that are answered but never stored, consistent paged list snapshots, and the event
log watches read from. How a request body becomes the new object (patches, server-side
apply) is decided by the caller's `mutate` function; HTTP lives in server.py.
"""

from __future__ import annotations

import base64
import bisect
import collections
import dataclasses
import threading
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from tests.kubeapi import errors
from tests.kubeapi.registry import ResourceType
from tests.kubeapi.selectors import Predicate

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects

# Set by the server on every write; a client's value is only a precondition.
SERVER_SET_METADATA = ("uid", "creationTimestamp", "generation", "resourceVersion")
# How many paged-list snapshots stay readable before their continue tokens expire (410).
SNAPSHOTS_KEPT = 64
# How many watch events stay readable before a watch from an older resourceVersion is 410.
EVENTS_KEPT = 200_000
EXPIRED_CONTINUE_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """A committed change, as a watch reports it: `object` is the new object (the last
    state for DELETED)."""

    rv: int
    storage: tuple[str, str]
    type: str  # ADDED | MODIFIED | DELETED
    object: Obj


@dataclasses.dataclass(frozen=True, kw_only=True)
class Page:
    items: list[Obj]
    resource_version: str
    continue_token: str
    remaining: int | None


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _clone(obj: Obj) -> Obj:
    """A deep copy; stored objects are plain JSON, and a JSON round trip is several times
    faster than copy.deepcopy."""
    return orjson.loads(orjson.dumps(obj))


def _without_times(obj: Obj) -> Obj:
    meta = dict(obj["metadata"])
    meta.pop("resourceVersion", None)
    if "managedFields" in meta:
        meta["managedFields"] = [
            {k: v for k, v in e.items() if k != "time"} for e in meta["managedFields"]
        ]
    return {**obj, "metadata": meta}


def _unchanged(live: Obj, new: Obj) -> bool:
    """A write that changes nothing but managedFields timestamps is a no-op, as on a real
    API server: no new resourceVersion, no watch event."""
    return _without_times(live) == _without_times(new)


def _encode_token(rv: int, start: Key) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{start[0]}/{start[1]}"})
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str) -> tuple[int, Key]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        namespace, _, name = data["start"].partition("/")
        return int(data["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request(f"invalid continue token: {exc}") from exc


class Store:
    """All objects, keyed by a type's storage identity and (namespace, name).

    `clock()` gives the current time as an RFC 3339 string (the emulator's controlled
    clock). `validate(rtype, obj)` raises ApiError for an object the type refuses;
    `record_update(old, new, manager, kind)` maintains managedFields for non-apply writes.
    Listeners are called after a non-dry-run commit, outside the lock.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], str],
        validate: Callable[[ResourceType, Obj], None],
        record_update: Callable[..., Obj],
    ) -> None:
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self._clock = clock
        self._validate = validate
        self._record_update = record_update
        self._objects: dict[tuple[str, str], dict[Key, Obj]] = collections.defaultdict(dict)
        self._rv = 0
        self._snapshots: collections.OrderedDict[tuple, list[tuple[Key, Obj]]] = (
            collections.OrderedDict()
        )
        self.events: collections.deque[Event] = collections.deque()
        self.compacted_rv = 0
        self.listeners: list[Callable[[ResourceType, str, Obj | None, Obj], None]] = []
        self.expire_next_continue = 0
        for name in DEFAULT_NAMESPACES:
            self._objects[("", "namespaces")][("", name)] = self._stamp_new(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
                has_generation=False,
            )

    # Reads ------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        obj = self._objects[rtype.storage].get((namespace, name))
        if obj is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        return obj

    def find(self, storage: tuple[str, str], namespace: str, name: str) -> Obj | None:
        return self._objects[storage].get((namespace, name))

    def all(self, storage: tuple[str, str]) -> list[Obj]:
        with self._lock:
            return list(self._objects[storage].values())

    def namespace_exists(self, name: str) -> bool:
        return ("", name) in self._objects[("", "namespaces")]

    def list(
        self,
        rtype: ResourceType,
        namespace: str,
        *,
        predicate: Predicate | None,
        limit: int | None,
        continue_token: str | None,
    ) -> Page:
        """One page of a list. Every page of one listing reads the snapshot the first page
        took, so objects written meanwhile neither appear nor vanish halfway through."""
        with self._lock:
            if continue_token:
                rv, start = _decode_token(continue_token)
                snapshot = self._snapshots.get((rtype.storage, namespace, rv))
                if snapshot is None or self.expire_next_continue:
                    self.expire_next_continue = max(0, self.expire_next_continue - 1)
                    raise errors.gone(EXPIRED_CONTINUE_MESSAGE)
                position = bisect.bisect_right(snapshot, start, key=lambda entry: entry[0])
            else:
                rv = self._rv
                objects = self._objects[rtype.storage]
                if namespace:
                    snapshot = sorted(
                        ((k, o) for k, o in objects.items() if k[0] == namespace),
                        key=lambda e: e[0],
                    )
                else:
                    snapshot = sorted(objects.items(), key=lambda e: e[0])
                if limit:
                    self._snapshots[(rtype.storage, namespace, rv)] = snapshot
                    while len(self._snapshots) > SNAPSHOTS_KEPT:
                        self._snapshots.popitem(last=False)
                position = 0
        items: list[Obj] = []
        index = position
        while index < len(snapshot) and (not limit or len(items) < limit):
            obj = snapshot[index][1]
            if predicate is None or predicate(obj):
                items.append(obj)
            index += 1
        token, remaining = "", None
        if limit and index < len(snapshot):
            token = _encode_token(rv, snapshot[index - 1][0])
            rest = snapshot[index:]
            remaining = len(rest) if predicate is None else sum(1 for _, o in rest if predicate(o))
            if remaining == 0:
                token, remaining = "", None
        return Page(
            items=items, resource_version=str(rv), continue_token=token, remaining=remaining
        )

    # Writes -----------------------------------------------------------------------------

    def _stamp_new(self, obj: Obj, *, has_generation: bool) -> Obj:
        self._rv += 1
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self._clock()
        meta["resourceVersion"] = str(self._rv)
        if has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        return obj

    def commit(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        mutate: Callable[[Obj | None], Obj],
        *,
        subresource: str = "",
        dry_run: bool = False,
        manager: str | None = None,
        allow_create: bool = False,
        is_apply: bool = False,
        before_create: Callable[[], None] | None = None,
    ) -> tuple[Obj, bool]:
        """Write one object: `mutate(copy_of_live_or_None)` returns the object to store.

        Returns (stored object, created). The live object is never changed in place.
        `before_create` runs when the write creates the object, once it is valid (dry run
        or not), and may refuse it by raising: the API server authorizes a create made by
        an apply at that point, after validation.
        """
        with self._lock:
            objects = self._objects[rtype.storage]
            key = (namespace, name)
            live = objects.get(key)
            if live is None and not allow_create:
                raise errors.not_found(rtype.plural, rtype.group, name)
            if live is None and namespace and not self.namespace_exists(namespace):
                raise errors.not_found("namespaces", "", namespace)
            new = mutate(_clone(live) if live is not None else None)
            if rtype.storage == ("", "secrets"):
                # Before ownership is recorded: a write of stringData changes data, the
                # field the server stores and an update's manager owns.
                _merge_string_data(new)
            new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
            meta = new.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise errors.bad_request(
                    f"the name of the object ({meta.get('name')}) does not match "
                    f"the name on the URL ({name})"
                )
            meta["name"] = name
            if rtype.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            if live is None:
                new = self._finish_create(rtype, new, manager=manager, is_apply=is_apply)
            else:
                new = self._finish_update(
                    rtype, live, new, subresource=subresource, manager=manager, is_apply=is_apply
                )
            self._validate(rtype, new)
            if live is None and before_create is not None:
                before_create()
            if live is not None and _unchanged(live, new):
                return live, False
            if dry_run:
                if live is None:
                    meta = new["metadata"]
                    meta.update(uid=str(uuid.uuid4()), creationTimestamp=self._clock())
                    meta.pop("resourceVersion", None)
                return new, live is None
            self._rv += 1
            new["metadata"]["resourceVersion"] = str(self._rv)
            if live is None:
                new["metadata"]["uid"] = str(uuid.uuid4())
                new["metadata"]["creationTimestamp"] = self._clock()
            objects[key] = new
            event = Event(
                rv=self._rv,
                storage=rtype.storage,
                type="ADDED" if live is None else "MODIFIED",
                object=new,
            )
            self._log(event)
        for listener in self.listeners:
            listener(rtype, event.type, live, new)
        return new, live is None

    def _finish_create(
        self, rtype: ResourceType, new: Obj, *, manager: str | None, is_apply: bool
    ) -> Obj:
        meta = new["metadata"]
        for field in SERVER_SET_METADATA:
            meta.pop(field, None)
        if "status" in rtype.subresources:
            new.pop("status", None)
        if rtype.has_generation:
            meta["generation"] = 1
        if manager and not is_apply:
            new = self._record_update(
                None, new, manager=manager, kind=rtype.kind, schema=rtype.schema, now=self._clock()
            )
        return new

    def _finish_update(
        self,
        rtype: ResourceType,
        live: Obj,
        new: Obj,
        *,
        subresource: str,
        manager: str | None,
        is_apply: bool,
    ) -> Obj:
        meta, live_meta = new["metadata"], live["metadata"]
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv and wanted_rv != live_meta["resourceVersion"]:
            raise errors.conflict(rtype.plural, rtype.group, live_meta["name"])
        if subresource == "status":
            # A status write changes status only (and keeps managedFields bookkeeping).
            kept = _clone(live)
            kept["status"] = new.get("status")
            if kept["status"] is None:
                kept.pop("status")
            kept["metadata"]["managedFields"] = meta.get(
                "managedFields", live_meta.get("managedFields")
            )
            if kept["metadata"]["managedFields"] is None:
                kept["metadata"].pop("managedFields")
            new, meta = kept, kept["metadata"]
        elif "status" in rtype.subresources:
            if "status" in live:
                new["status"] = _clone(live["status"])
            else:
                new.pop("status", None)
        for field in ("uid", "creationTimestamp"):
            meta[field] = live_meta[field]
        meta["resourceVersion"] = live_meta["resourceVersion"]
        if rtype.has_generation:
            changed = _spec_part(new) != _spec_part(live)
            meta["generation"] = live_meta.get("generation", 1) + (1 if changed else 0)
        else:
            meta.pop("generation", None)
        if manager and not is_apply:
            new = self._record_update(
                live, new, manager=manager, kind=rtype.kind, schema=rtype.schema, now=self._clock()
            )
        return new

    def delete(
        self, rtype: ResourceType, namespace: str, name: str, *, dry_run: bool = False
    ) -> Obj:
        with self._lock:
            objects = self._objects[rtype.storage]
            live = objects.get((namespace, name))
            if live is None:
                raise errors.not_found(rtype.plural, rtype.group, name)
            if dry_run:
                return live
            del objects[(namespace, name)]
            self._rv += 1
            gone = _clone(live)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            event = Event(rv=self._rv, storage=rtype.storage, type="DELETED", object=gone)
            self._log(event)
            if rtype.storage == ("", "namespaces"):
                for storage, objs in self._objects.items():
                    for key in [k for k in objs if k[0] == name]:
                        self._rv += 1
                        removed = objs.pop(key)
                        self._log(
                            Event(rv=self._rv, storage=storage, type="DELETED", object=removed)
                        )
        for listener in self.listeners:
            listener(rtype, "DELETED", live, gone)
        return gone

    def drop_storage(self, storage: tuple[str, str]) -> None:
        """Forget every object of a type (its CRD was deleted)."""
        with self._lock:
            for obj in self._objects.pop(storage, {}).values():
                self._rv += 1
                self._log(Event(rv=self._rv, storage=storage, type="DELETED", object=obj))

    # Watch support ----------------------------------------------------------------------

    def _log(self, event: Event) -> None:
        self.events.append(event)
        while len(self.events) > EVENTS_KEPT:
            self.compacted_rv = self.events.popleft().rv
        self.changed.notify_all()

    def compact(self) -> None:
        """Forget history: older continue tokens and watch positions answer 410 Gone."""
        with self._lock:
            self._snapshots.clear()
            self.events.clear()
            self.compacted_rv = self._rv

    def events_after(self, rv: int, storage: tuple[str, str]) -> list[Event]:
        """Events of one type newer than `rv` (caller holds `changed`)."""
        if rv < self.compacted_rv:
            raise errors.gone(f"too old resource version: {rv} ({self.compacted_rv})")
        newer: list[Event] = []
        for event in reversed(self.events):
            if event.rv <= rv:
                break
            if event.storage == storage:
                newer.append(event)
        newer.reverse()
        return newer


def _merge_string_data(secret: Obj) -> None:
    """A Secret's stringData joins its data (base64-encoded), as the API server stores it."""
    strings = secret.pop("stringData", None)
    if strings:
        data = secret.get("data") or {}
        for key, text in strings.items():
            data[key] = base64.b64encode(str(text).encode()).decode()
        secret["data"] = data
