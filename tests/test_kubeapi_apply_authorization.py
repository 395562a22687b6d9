"""An apply that creates its object needs `create` as well as `patch`, as on a real API server.

The API server authorizes an apply PATCH with `patch`; when the object does not exist and
the apply would create it, it also checks `create` for that name (the request's group,
resource, namespace and name) and refuses with the same 403 Status as any other denial
(v1.32 and later). An apply that updates an existing object needs only `patch`. A dry run
is authorized like the real write. Checked over plain HTTP and with the real kubectl.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.kubeapi import ADMIN_TOKEN, Emulator, User
from tests.kubeapi.fixtures import HttpClient, Kubectl
from tests.test_kubeapi_store import APPLY, DEPLOYMENTS, deployment

ROLES = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"
ROLE_BINDINGS = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
REFUSED_CREATE = (
    'deployments.apps "web" is forbidden: User "ci" cannot create resource "deployments" '
    'in API group "apps" in the namespace "default"'
)


def grant(admin: HttpClient, *rules: dict) -> None:
    """Bind a Role with `rules` to user ci in namespace default."""
    assert admin.post(ROLES, {"metadata": {"name": "ci"}, "rules": list(rules)}).status == 201
    binding = {
        "metadata": {"name": "ci"},
        "subjects": [{"kind": "User", "name": "ci"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ci"},
    }
    assert admin.post(ROLE_BINDINGS, binding).status == 201


def deployments_rule(*verbs: str, names: tuple[str, ...] = ()) -> dict:
    rule: dict = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": list(verbs)}
    if names:
        rule["resourceNames"] = list(names)
    return rule


def apply(client: HttpClient, name: str = "web", *, dry_run: bool = False, **kw):
    query = "fieldManager=ci" + ("&dryRun=All" if dry_run else "")
    return client.patch(f"{DEPLOYMENTS}/{name}?{query}", deployment(name, **kw), APPLY)


@pytest.fixture
def cluster() -> Iterator[tuple[Emulator, HttpClient, HttpClient]]:
    emulator = Emulator(tokens={"ci": User(name="ci")}).start()
    try:
        yield emulator, HttpClient(emulator.url, token=ADMIN_TOKEN), HttpClient(emulator.url, "ci")
    finally:
        emulator.stop()


@pytest.mark.parametrize("dry_run", [False, True])
def test_patch_alone_cannot_create_by_apply(cluster, dry_run: bool) -> None:
    _, admin, ci = cluster
    grant(admin, deployments_rule("get", "patch"))
    refused = apply(ci, dry_run=dry_run)
    assert refused.status == 403
    assert refused.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": REFUSED_CREATE,
        "reason": "Forbidden",
        "details": {"name": "web", "group": "apps", "kind": "deployments"},
        "code": 403,
    }
    assert admin.get(f"{DEPLOYMENTS}/web").status == 404, "nothing was created"


def test_patch_alone_updates_an_existing_object_by_apply(cluster) -> None:
    _, admin, ci = cluster
    grant(admin, deployments_rule("get", "patch"))
    assert apply(admin).status == 201, "created by someone who may, under the same manager"
    updated = apply(ci, image="repo/app:2")
    assert updated.status == 200, updated.body
    stored = admin.get(f"{DEPLOYMENTS}/web").body
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "repo/app:2"
    assert apply(ci, image="repo/app:3", dry_run=True).status == 200


def test_patch_and_create_apply_creates(cluster) -> None:
    _, admin, ci = cluster
    grant(admin, deployments_rule("get", "patch", "create"))
    rehearsed = apply(ci, dry_run=True)
    assert rehearsed.status == 201, rehearsed.body
    assert admin.get(f"{DEPLOYMENTS}/web").status == 404, "a dry run stores nothing"
    created = apply(ci)
    assert created.status == 201, created.body
    assert (
        admin.get(f"{DEPLOYMENTS}/web").body["metadata"]["uid"] == created.body["metadata"]["uid"]
    )


def test_create_is_checked_for_the_name_applied(cluster) -> None:
    _, admin, ci = cluster
    grant(admin, deployments_rule("patch"), deployments_rule("create", names=("web",)))
    assert apply(ci, "web").status == 201
    other = apply(ci, "api")
    assert (other.status, other.body["details"]["name"]) == (403, "api")
    assert 'deployments.apps "api" is forbidden: User "ci" cannot create' in other.body["message"]


def test_create_is_checked_only_once_the_object_is_valid(cluster) -> None:
    """The API server validates the object an apply would create before it authorizes the
    create: an invalid object is answered 422 even to someone who may not create."""
    _, admin, ci = cluster
    grant(admin, deployments_rule("patch"))
    broken = deployment("web")
    del broken["spec"]["selector"]
    refused = ci.patch(f"{DEPLOYMENTS}/web?fieldManager=ci", broken, APPLY)
    assert (refused.status, refused.body["reason"]) == (422, "Invalid")


def test_a_cluster_scoped_create_by_apply_is_refused_at_the_cluster_scope(cluster) -> None:
    _, admin, ci = cluster
    role = {
        "metadata": {"name": "ns-patcher"},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}],
    }
    assert admin.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", role).status == 201
    binding = {
        "metadata": {"name": "ns-patcher"},
        "subjects": [{"kind": "User", "name": "ci"}],
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "ns-patcher",
        },
    }
    assert (
        admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding).status == 201
    )
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    refused = ci.patch("/api/v1/namespaces/team?fieldManager=ci", namespace, APPLY)
    assert refused.status == 403
    assert refused.body["message"] == (
        'namespaces "team" is forbidden: User "ci" cannot create resource "namespaces" '
        'in API group "" at the cluster scope'
    )
    assert refused.body["details"] == {"name": "team", "kind": "namespaces"}


def test_servers_before_v1_32_name_neither_user_nor_verb() -> None:
    with Emulator(tokens={"ci": User(name="ci")}, create_denials_before_v1_32=True) as emulator:
        admin, ci = HttpClient(emulator.url, token=ADMIN_TOKEN), HttpClient(emulator.url, "ci")
        grant(admin, deployments_rule("patch"))
        refused = apply(ci)
        assert (refused.status, refused.body["reason"]) == (403, "Forbidden")
        assert refused.body["message"] == 'deployments.apps "web" is forbidden: '
        assert refused.body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
        other = ci.get(f"{DEPLOYMENTS}/web")
        assert other.status == 403 and 'User "ci" cannot get resource' in other.body["message"], (
            "only the create-on-apply check is worded the old way"
        )


def test_kubectl_apply_server_side_needs_create_to_create(tmp_path: Path) -> None:
    with Emulator(tokens={"ci-token": User(name="ci")}) as emulator:
        admin = Kubectl(
            kubeconfig=emulator.write_kubeconfig(tmp_path / "admin"), cache_dir=tmp_path / "cache"
        )
        ci = emulator.write_kubeconfig(tmp_path / "ci", token="ci-token")
        admin("create", "role", "deployer", "--verb=get,list,patch", "--resource=deployments")
        admin("create", "rolebinding", "deployer", "--role=deployer", "--user=ci")
        manifest = yaml.safe_dump(deployment("web"))
        refused = admin(
            "apply", "--server-side", "-f", "-", stdin=manifest, kubeconfig=ci, check=False
        )
        assert refused.returncode == 1
        assert f"Error from server (Forbidden): {REFUSED_CREATE}" in refused.stderr
        can_create = admin("auth", "can-i", "create", "deployments", kubeconfig=ci, check=False)
        assert can_create.stdout.strip() == "no"
        admin("apply", "--server-side", "-f", "-", stdin=manifest)
        bumped = yaml.safe_dump(deployment("web", image="repo/app:2"))
        admin("apply", "--server-side", "-f", "-", stdin=bumped, kubeconfig=ci)
        image = admin(
            "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
        )
        assert image.stdout == "repo/app:2"
