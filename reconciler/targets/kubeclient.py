"""The Kubernetes client: the official client set up for one context, and its failures in our terms.

Owns everything that touches the `kubernetes` library, which is imported here only, when
the target is opened, so `reconciler --help` and dir-target runs never load it: loading a
kubeconfig context (or the in-cluster configuration when running in a pod), sending each
request with retries (429 and 5xx after a backoff that honours Retry-After, connection
errors a few times), and turning `ApiException` and urllib3 errors into one `TargetError`
that says what to do: cluster unreachable, CRDs missing, forbidden, namespace missing.

Does not own what the requests are for (server-side apply, reading back, rollouts): that
is kubernetes.py's. Field-manager conflicts and 409s are handed back as `Conflict` for the
driver to re-read or refuse.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from reconciler import errors

FIELD_MANAGER = "runtime-reconciler"
APPLY_PATCH = "application/apply-patch+yaml"
CRD_FIX = "install them: reconciler crds | kubectl apply -f -"
CRD_HINT = "install the CRDs: reconciler crds | kubectl apply -f -"
RBAC_HINT = "grant it to the identity the tool runs as (see examples/rbac/)"
# Throttling and server errors are retried this many times, waiting Retry-After when the
# server says, else an exponential backoff from BACKOFF_SECONDS up to MAX_BACKOFF_SECONDS.
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 5.0
CONNECT_ATTEMPTS = 3  # an unreachable server is reported after seconds, not minutes
REQUEST_TIMEOUT = (5.0, 60.0)  # connect, read
POOL_SIZE = 128
_DENIED_VERB = re.compile(r"cannot (\w+) resource")
PAGE_SIZE = 500  # objects per LIST request: refresh costs about objects / 500 requests
LIST_RESTARTS = 3
IN_CLUSTER_HOST = "KUBERNETES_SERVICE_HOST"  # set in every pod


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One kind the tool writes: its API group, version, plural and whether ours (a CRD)."""

    group: str
    version: str
    plural: str
    custom: bool


class Conflict(Exception):
    """A 409: `fields` lists (manager, field) pairs when other field managers own fields
    the apply sets; empty when the object changed underneath the write."""

    def __init__(self, message: str, fields: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.fields = fields


class NamespaceMissing(errors.TargetError):
    """The namespace an object is written to does not exist."""


class Cluster:
    """The custom-objects API of one cluster, whose every failure is a `TargetError`.

    `context` and `server` name the cluster in messages. `sleep` is how the client waits
    between retries.
    """

    def __init__(
        self, *, api_client: Any, context: str, server: str, sleep: Callable[[float], None]
    ) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.objects = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.context = context
        self.server = server
        self.sleep = sleep

    # Requests ---------------------------------------------------------------------------

    def apply(
        self, kind: Resource, namespace: str, name: str, body: dict[str, Any], *, force: bool
    ) -> dict[str, Any]:
        """Server-side apply `body` under the tool's field manager; the live object."""
        return self._object(
            "patch",
            kind,
            namespace,
            name,
            body,
            field_manager=FIELD_MANAGER,
            force=force,
            _content_type=APPLY_PATCH,
        )

    def read(self, kind: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        """The live object, or None when there is none."""
        try:
            return self._object("get", kind, namespace, name)
        except _Missing:
            return None

    def list_all(
        self,
        kind: Resource,
        *,
        label_selector: str,
        page_size: int = PAGE_SIZE,
        namespace: str = "",
    ) -> list[dict[str, Any]]:
        """Every object of `kind` matching `label_selector`, in `namespace` ("": every
        namespace; Secrets are only ever listed in one), read in pages of `page_size`; an
        expired continue token (410 Gone) restarts the listing."""
        for _ in range(LIST_RESTARTS):
            items: list[dict[str, Any]] = []
            token: str | None = None
            try:
                while True:
                    page = self._send(
                        self._lister(
                            kind,
                            namespace,
                            label_selector=label_selector,
                            limit=page_size,
                            _continue=token,
                            _request_timeout=REQUEST_TIMEOUT,
                        ),
                        verb="list",
                        kind=kind,
                        namespace=namespace,
                    )
                    items += page.get("items") or []
                    token = (page.get("metadata") or {}).get("continue") or None
                    if token is None:
                        return items
            except _Gone:
                continue
        raise errors.TargetError(
            f"listing {kind.plural} kept expiring ({LIST_RESTARTS} restarts)",
            hint="the cluster compacts faster than the tool reads; run again",
        )

    def _lister(self, kind: Resource, namespace: str, **options: Any) -> Callable[[], Any]:
        """The call that reads one page of a listing."""
        if kind == SECRETS:
            call = functools.partial(
                self.core.list_namespaced_secret, namespace, _preload_content=False, **options
            )
            return lambda: _json(call())
        if namespace:
            return functools.partial(
                self.objects.list_namespaced_custom_object,
                kind.group,
                kind.version,
                namespace,
                kind.plural,
                **options,
            )
        return functools.partial(
            self.objects.list_cluster_custom_object,
            kind.group,
            kind.version,
            kind.plural,
            **options,
        )

    def list_version(self, kind: Resource, *, label_selector: str) -> str:
        """The resourceVersion of a listing of `kind` in every namespace now: where a watch
        that must not replay history starts (one request, one object at most)."""
        page = self._send(
            self._lister(
                kind, "", label_selector=label_selector, limit=1, _request_timeout=REQUEST_TIMEOUT
            ),
            verb="list",
            kind=kind,
            namespace="",
        )
        return str((page.get("metadata") or {}).get("resourceVersion", ""))

    def watch(
        self, kind: Resource, *, label_selector: str, resource_version: str, seconds: int
    ) -> Iterator[dict[str, Any]]:
        """The events (`{"type", "object"}`) on objects of `kind` matching `label_selector`
        in every namespace, after `resource_version`, for up to `seconds`; bookmarks
        included. Ends when the server closes the watch or the connection drops (the
        caller watches again from the last version it saw); a version too old to watch
        from is `Gone`, and a refused watch a `TargetError` like any refused request."""
        import urllib3
        from kubernetes.client.exceptions import ApiException
        from kubernetes.watch.watch import iter_resp_lines

        try:
            response: Any = self.objects.list_cluster_custom_object(
                kind.group,
                kind.version,
                kind.plural,
                label_selector=label_selector,
                watch=True,
                resource_version=resource_version,
                timeout_seconds=seconds,
                allow_watch_bookmarks=True,
                _preload_content=False,
                _request_timeout=(REQUEST_TIMEOUT[0], seconds + REQUEST_TIMEOUT[1]),
            )
        except ApiException as exc:
            raise self._translate(exc, verb="watch", kind=kind, namespace="") from exc
        except urllib3.exceptions.HTTPError:
            return
        try:
            for line in iter_resp_lines(response):  # type: ignore[no-untyped-call]
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise Gone(str(status.get("message", "")))
                    return  # any other error ends this watch: the caller watches again
                yield event
        except (urllib3.exceptions.HTTPError, ValueError):
            return
        finally:
            response.release_conn()

    def remove(self, kind: Resource, namespace: str, name: str) -> None:
        """Delete the object; one that is not there is not an error."""
        try:
            self._object("delete", kind, namespace, name)
        except _Missing:
            return

    def _object(
        self, verb: str, kind: Resource, namespace: str, name: str, *body: Any, **options: Any
    ) -> dict[str, Any]:
        """One request on one named object: Secrets through the core API (read as plain
        mappings, like custom objects), the catalog's kinds through the custom objects API."""
        if kind == SECRETS:
            method = getattr(self.core, f"{_CORE_VERBS[verb]}_namespaced_secret")
            call = functools.partial(
                method, name, namespace, *body, _preload_content=False, **options
            )
            return self._send(
                lambda: _json(call(_request_timeout=REQUEST_TIMEOUT)),
                verb=verb,
                kind=kind,
                namespace=namespace,
            )
        method = getattr(self.objects, f"{verb}_namespaced_custom_object")
        return self._send(
            functools.partial(
                method,
                kind.group,
                kind.version,
                namespace,
                kind.plural,
                name,
                *body,
                _request_timeout=REQUEST_TIMEOUT,
                **options,
            ),
            verb=verb,
            kind=kind,
            namespace=namespace,
        )

    def create_namespace(self, namespace: str) -> None:
        """Create the namespace; one that exists already is not an error."""
        from kubernetes import client

        body = client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
        try:
            self._send(
                lambda: self.core.create_namespace(body, _request_timeout=REQUEST_TIMEOUT),
                verb="create",
                kind=NAMESPACES,
                namespace="",
            )
        except Conflict:
            return  # AlreadyExists: someone made it first

    # Retries and error translation --------------------------------------------------------

    def _send(
        self, call: Callable[[], Any], *, verb: str, kind: Resource, namespace: str
    ) -> dict[str, Any]:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        attempt, unreachable = 0, 0
        while True:
            attempt += 1
            try:
                found = call()
                return found if isinstance(found, dict) else {}
            except ApiException as exc:
                if (exc.status == 429 or (exc.status or 0) >= 500) and attempt < MAX_ATTEMPTS:
                    self.sleep(_wait(exc, attempt))
                    continue
                raise self._translate(exc, verb=verb, kind=kind, namespace=namespace) from exc
            except urllib3.exceptions.HTTPError as exc:
                unreachable += 1
                if unreachable < CONNECT_ATTEMPTS:
                    self.sleep(BACKOFF_SECONDS * 2**unreachable)
                    continue
                raise errors.TargetError(
                    f"cannot reach the Kubernetes cluster of context {self.context} "
                    f"at {self.server}",
                    detail=f"{type(exc).__name__} after {unreachable} attempts",
                    hint="check that the cluster is up and the kubeconfig context points at it "
                    "(kubectl --context CONTEXT cluster-info)",
                ) from exc

    def _translate(self, exc: Any, *, verb: str, kind: Resource, namespace: str) -> Exception:
        status = _status(exc)
        reason = status.get("reason", "")
        message = status.get("message", "") or str(exc.reason or "")
        details = status.get("details") or {}
        where = f" in namespace {namespace}" if namespace else ""
        resource = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
        if exc.status == 410:
            return _Gone(message)
        if exc.status == 404 and details.get("kind") == "namespaces":
            return NamespaceMissing(
                f"namespace {details.get('name') or namespace} does not exist",
                detail=message,
                hint="create it (kubectl create namespace NAME), or let the tool create "
                "missing namespaces (create_namespaces=True)",
            )
        if exc.status == 404 and kind.custom and not details.get("name"):
            return errors.TargetError(
                # The fix is in the summary: apply reports list each failure's summary.
                f"the cluster of context {self.context} does not serve {resource}: "
                f"the tool's CRDs are not installed ({CRD_FIX})",
                detail=message,
                hint=CRD_HINT,
            )
        if exc.status == 404:
            return _Missing(message)
        if exc.status == 403:
            return errors.TargetError(
                f"forbidden: cannot {_denied_verb(message, verb)} {resource}{where}",
                detail=message,
                hint=RBAC_HINT,
            )
        if exc.status == 409:
            causes = details.get("causes") or []
            owned = [
                (_manager(c.get("message", "")), c.get("field", ""))
                for c in causes
                if c.get("reason") == "FieldManagerConflict"
            ]
            return Conflict(message, owned)
        if exc.status == 401:
            return errors.TargetError(
                f"the cluster of context {self.context} did not accept the credentials",
                detail=message,
                hint="refresh the kubeconfig's credentials",
            )
        summary = f"{verb} {resource}{where} failed: {reason or exc.status}"
        return errors.TargetError(summary, detail=message, hint="fix the cause and run again")


NAMESPACES = Resource(group="", version="v1", plural="namespaces", custom=False)
# Secrets are in the core API, which the custom-objects calls cannot address.
SECRETS = Resource(group="", version="v1", plural="secrets", custom=False)


# The core API names its calls read_* where the custom objects API says get_*.
_CORE_VERBS = {"get": "read", "patch": "patch", "delete": "delete"}


def _json(response: Any) -> dict[str, Any]:
    """The body of a response read without the client's models (core objects as mappings,
    like the custom objects)."""
    found = json.loads(response.data or b"{}")
    return found if isinstance(found, dict) else {}


class _Gone(Exception):
    """A 410: the continue token of a paged list expired."""


class Gone(_Gone):
    """A 410 on a watch: the version it was to start from is no longer kept."""


class _Missing(Exception):
    """A 404 for one object (the kind is served): the callers' "nothing there"."""


def _status(exc: Any) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _denied_verb(message: str, verb: str) -> str:
    """The verb RBAC refused, for a 403 on a request sent as `verb`.

    The API server names it ("cannot create resource ..."): an apply that would create its
    object is also checked for `create`, and a refusal names `create`. Servers before
    v1.32 word that one refusal without user or verb (`<resource> "<name>" is forbidden: `),
    while refusing the patch itself always names `patch`; every patch this client sends is
    an apply, so a patch refused without a verb was refused its create.
    """
    denied = _DENIED_VERB.search(message)
    if denied:
        return denied[1]
    return "create" if verb == "patch" else verb


def _wait(exc: Any, attempt: int) -> float:
    headers = exc.headers or {}
    given = headers.get("Retry-After")
    if given is not None:
        try:
            return min(float(given), MAX_BACKOFF_SECONDS)
        except ValueError:
            pass
    return float(min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))


def _manager(message: str) -> str:
    """`conflict with "kubectl-edit" using apps/v1` → `kubectl-edit`."""
    _, quote, rest = message.partition('"')
    return rest.partition('"')[0] if quote else message


def connect(context: str | None, *, sleep: Callable[[float], None] = time.sleep) -> Cluster:
    """The cluster of kubeconfig `context` (None: the current one, or in-cluster in a pod)."""
    try:
        from kubernetes import client, config
    except ImportError as exc:
        raise errors.TargetError(
            "the kubernetes target needs the kubernetes client, which is not installed",
            hint="pip install 'runtime-reconciler[kubernetes]'",
        ) from exc

    configuration = client.Configuration()
    in_pod = IN_CLUSTER_HOST in os.environ and not os.environ.get("KUBECONFIG")
    try:
        if context is None and in_pod:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            name = "in-cluster"
        else:
            # Read KUBECONFIG now: the library reads it once, when first imported.
            files = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=files,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            name = context or _current_context(files)
    except (config.ConfigException, OSError) as exc:
        raise errors.TargetError(
            f"cannot load the Kubernetes configuration for context {context or '(current)'}",
            detail=str(exc),
            hint="set KUBECONFIG or ~/.kube/config, and name an existing context "
            "(kubectl config get-contexts)",
        ) from exc
    configuration.retries = False  # retried here, where 429 and Retry-After are understood
    # Connections kept for reuse: the library's default (5 a CPU) is below the parallelism
    # apply and rollouts run with, and each request past it would open (and log dropping)
    # a connection of its own.
    configuration.connection_pool_maxsize = POOL_SIZE
    return Cluster(
        api_client=client.ApiClient(configuration),
        context=name,
        server=configuration.host,
        sleep=sleep,
    )


def _current_context(files: str) -> str:
    from kubernetes import config

    try:
        _, current = config.list_kube_config_contexts(files)  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError):
        return "(current)"
    return str(current.get("name", "(current)"))
