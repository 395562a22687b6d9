"""HTTP: the API server's URL space on the standard library's threading HTTP server.

Owns routing (`/api/v1/...`, `/apis/<group>/<version>/...`, discovery, OpenAPI, the
`/_emulator/` admin endpoints), the verb of each request, authentication and RBAC checks
(and the second check, `create`, of an apply that creates its object), injected faults,
content negotiation (JSON, YAML apply patches, Tables), patch types, and watch streams.
What a write means for the stored object is decided in writes.py and store.py.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from tests.kubeapi import errors, openapi, proto, rbac, selectors, tables, writes
from tests.kubeapi.faults import Request
from tests.kubeapi.registry import ResourceType

if TYPE_CHECKING:
    from tests.kubeapi.emulator import Emulator

JSON = "application/json"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


class Route:
    """A parsed resource URL."""

    def __init__(self, rtype: ResourceType, namespace: str, name: str, subresource: str) -> None:
        self.rtype = rtype
        self.namespace = namespace
        self.name = name
        self.subresource = subresource


def _first(query: dict[str, list[str]], key: str, default: str | None = None) -> str | None:
    values = query.get(key)
    return values[0] if values else default


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubeapi-emulator"
    # Headers and body leave in separate writes; with Nagle's algorithm on, the body then
    # waits for the client's delayed ACK (≈ 40 ms per request on Linux), as a real API
    # server (Go sets TCP_NODELAY) never makes a client wait.
    disable_nagle_algorithm = True
    emulator: Emulator  # set on the subclass the emulator creates

    def log_message(self, format: str, *args: Any) -> None:
        return

    # Plumbing ---------------------------------------------------------------------------

    def _send(self, code: int, body: Any, *, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", JSON)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", "emulator")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _parse_body(self, raw: bytes, *, yaml_ok: bool = False) -> Any:
        try:
            if yaml_ok:
                return yaml.safe_load(raw.decode() or "{}")
            return orjson.loads(raw or b"{}")
        except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise errors.bad_request(f"error decoding request body: {exc}") from exc

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # Dispatch ---------------------------------------------------------------------------

    def _handle(self) -> None:
        emulator = self.emulator
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        raw = self._body() if self.command in ("POST", "PUT", "PATCH", "DELETE") else b""
        try:
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if (
                raw
                and self.command in ("POST", "PUT", "DELETE")
                and content_type == proto.CONTENT_TYPE
            ):
                raw = orjson.dumps(proto.decode(raw))
            elif (
                raw and self.command in ("POST", "PUT", "DELETE") and content_type not in ("", JSON)
            ):
                raise errors.unsupported_media_type(content_type)
            if path.startswith("/_emulator"):
                self._send(
                    200, emulator.admin(self.command, path, self._parse_body(raw) if raw else {})
                )
                return
            user = emulator.authorizer.authenticate(
                self.headers.get("Authorization"),
                impersonate=self.headers.get("Impersonate-User"),
                groups=self.headers.get_all("Impersonate-Group") or [],
            )
            if user is None:
                raise errors.unauthorized()
            route = self._route(path)
            if route is None:
                emulator.faults.record(
                    Request(
                        method=self.command,
                        path=path,
                        query=url.query,
                        verb=self.command.lower(),
                        resource="",
                        user=user.name,
                    )
                )
                if not emulator.authorizer.allows_path(user, path):
                    raise errors.ApiError(
                        403,
                        "Forbidden",
                        f'forbidden: User "{user.name}" cannot {self.command.lower()} '
                        f'path "{path}"',
                    )
                self._non_resource(path)
                return
            verb = self._verb(route, query)
            emulator.faults.record(
                Request(
                    method=self.command,
                    path=path,
                    query=url.query,
                    verb=verb,
                    resource=f"{route.rtype.plural}/{route.subresource}"
                    if route.subresource
                    else route.rtype.plural,
                    user=user.name,
                )
            )
            emulator.faults.check(
                verb=verb, plural=route.rtype.plural, group=route.rtype.group, name=route.name
            )
            self._authorize(user, route, verb)
            self._resource(route, verb, query, raw, user)
        except errors.ApiError as exc:
            self._send(exc.code, exc.body(), headers=exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug here must answer 500, never hang the client
            failure = errors.internal(f"{type(exc).__name__}: {exc}")
            self._send(500, failure.body())
            raise

    def _authorize(self, user: rbac.User, route: Route, verb: str) -> None:
        """Raise the 403 the API server answers when RBAC does not let `user` `verb` there."""
        rtype = route.rtype
        attrs = rbac.Attributes(
            verb=verb,
            group=rtype.group,
            resource=rtype.plural,
            subresource=route.subresource,
            name=route.name,
            namespace=route.namespace,
        )
        if self.emulator.authorizer.allows(user, attrs):
            return
        if (
            verb == "create"
            and self.command == "PATCH"
            and self.emulator.create_denials_before_v1_32
        ):
            raise errors.forbidden_before_v1_32(
                plural=rtype.plural, group=rtype.group, name=route.name
            )
        raise errors.forbidden(
            user=user.name,
            verb=verb,
            plural=rtype.plural,
            subresource=route.subresource,
            group=rtype.group,
            name=route.name,
            namespace=route.namespace,
        )

    def _route(self, path: str) -> Route | None:
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        plural, name, subresource = (
            rest[0],
            rest[1] if len(rest) > 1 else "",
            rest[2] if len(rest) > 2 else "",
        )
        rtype = self.emulator.registry.lookup(group, version, plural)
        if rtype is None:
            raise errors.ApiError(
                404,
                "NotFound",
                "the server could not find the requested resource",
                details={"group": group, "kind": plural},
            )
        if subresource and subresource not in rtype.subresources:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        if not rtype.namespaced and namespace:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return Route(rtype, namespace, name, subresource)

    def _verb(self, route: Route, query: dict[str, list[str]]) -> str:
        method = self.command
        if method in ("GET", "HEAD"):
            if not route.name:
                return "watch" if _first(query, "watch") in ("1", "true") else "list"
            return "get"
        if method == "POST":
            if route.name:
                raise errors.method_not_allowed()
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        return "delete" if route.name else "deletecollection"

    def _non_resource(self, path: str) -> None:
        registry = self.emulator.registry
        if path == "/version":
            self._send(
                200,
                {
                    "major": "1",
                    "minor": "37",
                    "gitVersion": "v1.37.0-emulator",
                    "platform": "linux/amd64",
                    "gitCommit": "emulator",
                    "gitTreeState": "clean",
                    "buildDate": "2026-01-01T00:00:00Z",
                    "goVersion": "go1.25",
                    "compiler": "gc",
                },
            )
        elif path in ("/healthz", "/readyz", "/livez"):
            self._send_text(200, "ok")
        elif path == "/api":
            self._send(200, registry.api_versions())
        elif path == "/apis":
            self._send(200, registry.api_group_list())
        elif path.startswith("/openapi"):
            document = openapi.document(registry, path)
            if document is None:
                raise errors.ApiError(
                    404, "NotFound", "the server could not find the requested resource"
                )
            self._send(200, document)
        else:
            parts = path.strip("/").split("/")
            document = None
            if parts == ["api", "v1"]:
                document = registry.api_resource_list("", "v1")
            elif parts[0] == "apis" and len(parts) == 2:
                document = registry.api_group(parts[1])
            elif parts[0] == "apis" and len(parts) == 3:
                document = registry.api_resource_list(parts[1], parts[2])
            if document is None:
                raise errors.ApiError(
                    404, "NotFound", "the server could not find the requested resource"
                )
            self._send(200, document)

    # Resources --------------------------------------------------------------------------

    def _wants_table(self) -> bool:
        return "as=Table" in (self.headers.get("Accept") or "")

    def _versioned(self, rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("apiVersion") != rtype.api_version and obj.get("kind") == rtype.kind:
            obj = {**obj, "apiVersion": rtype.api_version}
        return obj

    def _resource(
        self, route: Route, verb: str, query: dict[str, list[str]], raw: bytes, user: rbac.User
    ) -> None:
        emulator, rtype = self.emulator, route.rtype
        dry_run = _first(query, "dryRun") == "All"
        manager = _first(query, "fieldManager") or self._default_manager()
        if verb == "get":
            if route.subresource == "log":
                self._send_text(200, emulator.pod_log(route.namespace, route.name))
                return
            obj = emulator.store.get(rtype, route.namespace, route.name)
            if route.subresource == "scale":
                obj = writes.scale_of(obj)
            elif self._wants_table():
                self._send(
                    200,
                    tables.table(
                        rtype,
                        [obj],
                        now=emulator.clock.datetime(),
                        include=_first(query, "includeObject", "Metadata"),
                        list_meta={},
                    ),
                )
                return
            self._send(200, self._versioned(rtype, obj))
        elif verb == "list":
            self._list(route, query)
        elif verb == "watch":
            self._watch(route, query)
        elif verb == "create":
            body = self._parse_body(raw)
            if rtype.kind == "SelfSubjectAccessReview":
                self._send(201, emulator.access_review(user, body))
                return
            obj, _ = writes.create(emulator, route, body, manager=manager, dry_run=dry_run)
            self._send(201, self._versioned(rtype, obj))
        elif verb == "update":
            body = self._parse_body(raw)
            obj, created = writes.replace(emulator, route, body, manager=manager, dry_run=dry_run)
            if route.subresource == "scale":
                obj = writes.scale_of(obj)
            self._send(201 if created else 200, self._versioned(rtype, obj))
        elif verb == "patch":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            patch_type = PATCH_TYPES.get(content_type)
            if patch_type is None:
                raise errors.unsupported_media_type(content_type)
            if patch_type == "strategic" and not rtype.builtin:
                raise errors.unsupported_media_type(content_type)
            body = self._parse_body(raw, yaml_ok=patch_type == "apply")
            if patch_type == "apply" and not _first(query, "fieldManager"):
                raise errors.ApiError(
                    400,
                    "BadRequest",
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                    "is required for apply patch",
                )
            obj, created = writes.patch(
                emulator,
                route,
                patch_type,
                body,
                manager=manager,
                dry_run=dry_run,
                force=_first(query, "force") in ("true", "1"),
                # An apply that creates is authorized twice, as the API server does
                # (endpoints/handlers/patch.go): `patch` for the request, then `create`.
                authorize_create=lambda: self._authorize(user, route, "create"),
            )
            if route.subresource == "scale":
                obj = writes.scale_of(obj)
            self._send(201 if created else 200, self._versioned(rtype, obj))
        elif verb == "delete":
            body = self._parse_body(raw) if raw else {}
            dry_run = dry_run or "All" in (body.get("dryRun") or [])
            gone = emulator.store.delete(rtype, route.namespace, route.name, dry_run=dry_run)
            if body.get("propagationPolicy") == "Orphan" or rtype.kind in ("Namespace",):
                self._send(200, self._versioned(rtype, gone))
                return
            self._send(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": route.name,
                        "group": rtype.group,
                        "kind": rtype.plural,
                        "uid": gone["metadata"].get("uid"),
                    },
                },
            )
        elif verb == "deletecollection":
            predicate = selectors.combine(
                selectors.label_selector(_first(query, "labelSelector")),
                selectors.field_selector(_first(query, "fieldSelector")),
            )
            page = emulator.store.list(
                rtype, route.namespace, predicate=predicate, limit=None, continue_token=None
            )
            for obj in page.items:
                emulator.store.delete(
                    rtype,
                    obj["metadata"].get("namespace", ""),
                    obj["metadata"]["name"],
                    dry_run=dry_run,
                )
            self._send(
                200,
                {
                    "kind": f"{rtype.kind}List",
                    "apiVersion": rtype.api_version,
                    "metadata": {"resourceVersion": emulator.store.resource_version},
                    "items": page.items,
                },
            )

    def _default_manager(self) -> str:
        agent = self.headers.get("User-Agent") or "unknown"
        return agent.split("/")[0]

    def _list(self, route: Route, query: dict[str, list[str]]) -> None:
        emulator, rtype = self.emulator, route.rtype
        predicate = selectors.combine(
            selectors.label_selector(_first(query, "labelSelector")),
            selectors.field_selector(_first(query, "fieldSelector")),
        )
        limit_text = _first(query, "limit")
        try:
            limit = int(limit_text) if limit_text else None
        except ValueError as exc:
            raise errors.bad_request(f"invalid limit {limit_text!r}") from exc
        page = emulator.store.list(
            rtype,
            route.namespace,
            predicate=predicate,
            limit=limit or None,
            continue_token=_first(query, "continue"),
        )
        meta: dict[str, Any] = {"resourceVersion": page.resource_version}
        if page.continue_token:
            meta["continue"] = page.continue_token
        if page.remaining is not None:
            meta["remainingItemCount"] = page.remaining
        if self._wants_table():
            self._send(
                200,
                tables.table(
                    rtype,
                    page.items,
                    now=emulator.clock.datetime(),
                    include=_first(query, "includeObject", "Metadata"),
                    list_meta=meta,
                ),
            )
            return
        # The list is assembled from already-serialised items: cheap for pages of thousands.
        head = orjson.dumps(
            {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version, "metadata": meta}
        )
        items = b",".join(orjson.dumps(self._versioned(rtype, obj)) for obj in page.items)
        self._send(200, head[:-1] + b',"items":[' + items + b"]}")

    def _watch(self, route: Route, query: dict[str, list[str]]) -> None:
        emulator, rtype, store = self.emulator, route.rtype, self.emulator.store
        predicate = selectors.combine(
            selectors.label_selector(_first(query, "labelSelector")),
            selectors.field_selector(_first(query, "fieldSelector")),
        )
        timeout = float(_first(query, "timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        bookmarks = _first(query, "allowWatchBookmarks") in ("true", "1")

        def matches(obj: dict[str, Any]) -> bool:
            if route.namespace and obj["metadata"].get("namespace") != route.namespace:
                return False
            return predicate is None or predicate(obj)

        self.send_response(200)
        self.send_header("Content-Type", JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True

        as_table = self._wants_table()
        include = _first(query, "includeObject", "Metadata") or "Metadata"

        def send(event_type: str, obj: dict[str, Any]) -> None:
            if as_table and event_type in ("ADDED", "MODIFIED", "DELETED"):
                # `kubectl get -w` watches rows: each event carries a one-row Table.
                obj = tables.table(
                    rtype,
                    [obj],
                    now=emulator.clock.datetime(),
                    include=include,
                    list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                )
            line = orjson.dumps({"type": event_type, "object": obj}) + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()

        def stream() -> None:
            if emulator.faults.take_watch_drop():
                return
            rv_text = _first(query, "resourceVersion")
            send_initial = _first(query, "sendInitialEvents")
            with store.changed:
                if send_initial == "true" or (
                    rv_text in (None, "", "0") and send_initial != "false"
                ):
                    initial = [o for o in store.all(rtype.storage) if matches(o)]
                    position = int(store.resource_version)
                else:
                    initial, position = [], int(rv_text)
                    if position < store.compacted_rv:
                        initial = None
            if initial is None:
                send(
                    "ERROR",
                    errors.gone(
                        f"too old resource version: {position} ({store.compacted_rv})"
                    ).body(),
                )
                return
            for obj in initial:
                send("ADDED", self._versioned(rtype, obj))
            if send_initial == "true":
                # The end of the initial events, as a watch-list client waits for it.
                send(
                    "BOOKMARK",
                    {
                        "kind": rtype.kind,
                        "apiVersion": rtype.api_version,
                        "metadata": {
                            "resourceVersion": str(position),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    },
                )
            last_bookmark = time.monotonic()
            while not emulator.stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with store.changed:
                    try:
                        events = store.events_after(position, rtype.storage)
                    except errors.ApiError as exc:
                        send("ERROR", exc.body())
                        return
                    if not events:
                        store.changed.wait(timeout=min(remaining, 0.5))
                        continue
                for event in events:
                    position = event.rv
                    if matches(event.object):
                        send(event.type, self._versioned(rtype, event.object))
                if bookmarks and time.monotonic() - last_bookmark > 5:
                    send(
                        "BOOKMARK",
                        {
                            "kind": rtype.kind,
                            "apiVersion": rtype.api_version,
                            "metadata": {"resourceVersion": str(position)},
                        },
                    )
                    last_bookmark = time.monotonic()

        try:
            stream()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(
    emulator: Emulator, port: int = 0, tls: ssl.SSLContext | None = None
) -> tuple[Server, threading.Thread]:
    handler = type("EmulatorHandler", (Handler,), {"emulator": emulator})
    server = Server(("127.0.0.1", port), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="kubeapi-emulator",
        daemon=True,
    )
    thread.start()
    return server, thread
