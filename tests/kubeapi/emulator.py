"""The Kubernetes API emulator: one object that ties store, server, controllers, RBAC and faults.

Owns the lifecycle (`start()` on 127.0.0.1 with a free port, `stop()`), the kubeconfig it
hands to clients, the wiring between the parts (CRDs registering their types, the
Deployment and Job controllers reacting to writes, the clock driving them), access reviews,
and the `/_emulator/` admin endpoints that give out-of-process users the same controls as
the Python API.
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from tests.kubeapi import errors, rbac, ssa, tls, writes
from tests.kubeapi.clock import Clock
from tests.kubeapi.deployments import DeploymentController
from tests.kubeapi.faults import Faults
from tests.kubeapi.jobs import JobController
from tests.kubeapi.registry import Registry, ResourceType
from tests.kubeapi.server import serve
from tests.kubeapi.store import Store

ADMIN_TOKEN = "emulator-admin-token"
CRD_STORAGE = ("apiextensions.k8s.io", "customresourcedefinitions")


class Emulator:
    """A Kubernetes API server for tests.

    `tokens` maps bearer tokens to users; given any, RBAC is enforced for them and an admin
    token (`ADMIN_TOKEN`, group system:masters) is added for setup. Without tokens every
    request is an admin's. `realtime=True` runs controllers on the wall clock.
    `create_denials_before_v1_32=True` words a refused create-on-apply as API servers
    before v1.32 did (`<resource> "<name>" is forbidden: `, naming neither user nor verb),
    for clients that must still understand them.
    """

    def __init__(
        self,
        *,
        tokens: dict[str, rbac.User] | None = None,
        realtime: bool = False,
        pod_ready_seconds: float = 1.0,
        tls: bool = False,
        create_denials_before_v1_32: bool = False,
    ) -> None:
        self.clock = Clock(realtime=realtime)
        self.create_denials_before_v1_32 = create_denials_before_v1_32
        self.registry = Registry()
        self.faults = Faults()
        self.store = Store(
            clock=self.clock.rfc3339, validate=writes.validate, record_update=ssa.record_update
        )
        tokens = dict(tokens or {})
        if tokens:
            tokens.setdefault(
                ADMIN_TOKEN,
                rbac.User(name="admin", groups=(rbac.ADMIN_GROUP, "system:authenticated")),
            )
        self.authorizer = rbac.Authorizer(
            tokens=tokens, lookup=self.store.find, list_all=self.store.all
        )
        self.deployments = DeploymentController(self, pod_ready_seconds=pod_ready_seconds)
        self.jobs = JobController(self)
        self.store.listeners += [self._on_crd, self.deployments.on_change, self.jobs.on_change]
        self.clock.tickers += [self.deployments.tick, self.jobs.tick]
        self.stopping = threading.Event()
        self._server = None
        self.tls = tls
        self.ca_certificate: bytes | None = None
        self._thread = None

    # Lifecycle --------------------------------------------------------------------------

    def start(self, port: int = 0) -> Emulator:
        context = None
        if self.tls:
            directory = Path(tempfile.mkdtemp(prefix="kubeapi-tls-"))
            cert, key = tls.self_signed(directory)
            self.ca_certificate = cert.read_bytes()
            context = tls.server_context(cert, key)
        self._server, self._thread = serve(self, port, context)
        self.clock.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with self.store.changed:
            self.store.changed.notify_all()
        self.clock.stop()
        self.jobs.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        token: str | None = None,
        context: str = "emulator",
        namespace: str | None = None,
    ) -> Path:
        """A kubeconfig for this emulator; without a token an admin's when RBAC is enforced."""
        if token is None and (self.authorizer.enforcing or self.tls):
            token = ADMIN_TOKEN  # over HTTPS, kubectl prompts for a login when given none
        user: dict[str, Any] = {"token": token} if token else {}
        identity = self.authorizer.tokens.get(token) if token else None
        if identity is not None and not self.tls:
            # kubectl keeps tokens for TLS; over plain HTTP it names the user this way.
            user["as"] = identity.name
            extra = [g for g in identity.groups if g != "system:authenticated"]
            if extra:
                user["as-groups"] = extra
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_certificate is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_certificate).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": user}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }
        target = Path(path)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    # Controls ---------------------------------------------------------------------------

    @property
    def requests(self):
        """Requests per (verb, resource), e.g. `emulator.requests["list", "deployments"]`."""
        return self.faults.counts

    @property
    def request_log(self):
        return self.faults.log

    def add_token(self, token: str, user: str, groups: tuple[str, ...] = ()) -> None:
        self.authorizer.tokens[token] = rbac.User(
            name=user, groups=(*groups, "system:authenticated")
        )
        self.authorizer.tokens.setdefault(
            ADMIN_TOKEN, rbac.User(name="admin", groups=(rbac.ADMIN_GROUP, "system:authenticated"))
        )

    def service_account_token(self, namespace: str, name: str) -> str | None:
        """A token that authenticates as the service account (issued on first use, as the
        cluster mounts one into every pod); None when RBAC is off."""
        if not self.authorizer.enforcing:
            return None
        user = rbac.service_account_user(namespace, name)
        for token, known in self.authorizer.tokens.items():
            if known.name == user.name:
                return token
        token = f"serviceaccount-{namespace}-{name}"
        self.authorizer.tokens[token] = user
        return token

    def fail_image(self, image: str) -> None:
        """Pods running `image` never become ready: their rollouts end in
        ProgressDeadlineExceeded."""
        self.deployments.fail_image(image)

    def heal_image(self, image: str) -> None:
        self.deployments.heal_image(image)

    def step(self) -> None:
        self.clock.step()

    def compact(self) -> None:
        self.store.compact()

    def expire_next_continue(self, count: int = 1) -> None:
        self.store.expire_next_continue += count

    @property
    def job_runner(self):
        return self.jobs.runner

    @job_runner.setter
    def job_runner(self, runner) -> None:
        self.jobs.runner = runner

    def pod_log(self, namespace: str, name: str) -> str:
        rtype = self.registry.lookup("", "v1", "pods")
        assert rtype is not None
        self.store.get(rtype, namespace, name)
        return self.jobs.logs.get((namespace, name), "")

    def apply_objects(
        self, documents: list[dict[str, Any]], *, manager: str = "emulator-setup"
    ) -> None:
        """Create or update objects directly (test setup), as server-side apply would."""
        from tests.kubeapi.server import Route

        for doc in documents:
            rtype = self.registry.by_kind(doc["apiVersion"], doc["kind"])
            if rtype is None:
                raise ValueError(f"no such kind {doc['apiVersion']}/{doc['kind']}")
            namespace = doc["metadata"].get("namespace", "default") if rtype.namespaced else ""
            route = Route(rtype, namespace, doc["metadata"]["name"], "")
            writes.patch(self, route, "apply", doc, manager=manager, dry_run=False, force=True)

    # Wiring -----------------------------------------------------------------------------

    def _on_crd(self, rtype: ResourceType, event: str, old: dict | None, new: dict) -> None:
        if rtype.storage != CRD_STORAGE:
            return
        name = new["metadata"]["name"]
        if event == "DELETED":
            storage = (new["spec"]["group"], new["spec"]["names"]["plural"])
            self.registry.unregister_crd(name)
            self.store.drop_storage(storage)
            return
        self.registry.register_crd(new)
        conditions = {c.get("type") for c in (new.get("status") or {}).get("conditions", [])}
        if "Established" in conditions:
            return
        stamp = self.clock.rfc3339()
        status = {
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": stamp,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": stamp,
                },
            ],
            "acceptedNames": new["spec"]["names"],
            "storedVersions": [
                v["name"] for v in new["spec"].get("versions", []) if v.get("storage")
            ],
        }
        self.store.commit(
            rtype, "", name, lambda live: {**live, "status": status}, subresource="status"
        )

    def access_review(self, user: rbac.User, body: dict[str, Any]) -> dict[str, Any]:
        spec = body.get("spec") or {}
        resource = spec.get("resourceAttributes")
        if resource:
            attrs = rbac.Attributes(
                verb=resource.get("verb", ""),
                group=resource.get("group", ""),
                resource=resource.get("resource", ""),
                subresource=resource.get("subresource", ""),
                name=resource.get("name", ""),
                namespace=resource.get("namespace", ""),
            )
            allowed = self.authorizer.allows(user, attrs)
        else:
            path = (spec.get("nonResourceAttributes") or {}).get("path", "")
            allowed = self.authorizer.allows_path(user, path)
        return {
            **body,
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": None},
            "status": {"allowed": allowed, **({} if allowed else {"reason": ""})},
        }

    def admin(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """`/_emulator/…`: the Python controls for processes that only have the URL."""
        action = path[len("/_emulator/") :] if path.startswith("/_emulator/") else ""
        if action == "requests" and method == "GET":
            return {
                "requests": [
                    {"verb": v, "resource": r, "count": n}
                    for (v, r), n in sorted(self.requests.items())
                ]
            }
        if action == "requests" and method == "DELETE":
            self.faults.reset_log()
            return {}
        if method != "POST":
            raise errors.method_not_allowed()
        if action == "faults":
            kind = body.get("fault", "")
            if kind == "expire-continue":
                self.expire_next_continue(int(body.get("count", 1)))
            elif kind == "drop-watch":
                self.faults.drop_next_watch(int(body.get("count", 1)))
            elif kind in ("conflict", "throttle", "error"):
                self.faults.inject(
                    kind,
                    int(body.get("count", 1)),
                    verbs=body.get("verbs"),
                    resource=body.get("resource"),
                    code=int(body.get("code", 500)),
                    retry_after=int(body.get("retryAfter", 1)),
                )
            else:
                raise errors.bad_request(
                    f"unknown fault {kind!r}: "
                    "conflict, throttle, error, expire-continue or drop-watch"
                )
            return {}
        if action == "clock/advance":
            self.clock.advance(float(body.get("seconds", 1)))
            return {"now": self.clock.rfc3339()}
        if action == "fail-image":
            self.fail_image(body["image"])
            return {}
        if action == "heal-image":
            self.heal_image(body["image"])
            return {}
        if action == "compact":
            self.compact()
            return {}
        raise errors.ApiError(404, "NotFound", f"no emulator control {action!r}")
