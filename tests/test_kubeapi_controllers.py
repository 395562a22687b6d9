"""The emulator's Deployment controller on the test's clock, RBAC enforcement, CRDs, discovery
and the official Python client: what the Kubernetes target will rely on."""

from __future__ import annotations

import json

import kubernetes
import pytest

from tests.kubeapi import ADMIN_TOKEN, Emulator, User
from tests.kubeapi.fixtures import HttpClient
from tests.test_kubeapi_store import DEPLOYMENTS, MERGE, deployment

STRATEGIC = "application/strategic-merge-patch+json"


def conditions(client: HttpClient, name: str = "web") -> dict[str, tuple[str, str]]:
    status = client.get(f"{DEPLOYMENTS}/{name}").body.get("status", {})
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


def counts(client: HttpClient, name: str = "web") -> tuple[int, int, int, int]:
    status = client.get(f"{DEPLOYMENTS}/{name}").body.get("status", {})
    return (
        status.get("replicas", 0),
        status.get("updatedReplicas", 0),
        status.get("readyReplicas", 0),
        status.get("availableReplicas", 0),
    )


def set_image(client: HttpClient, image: str, name: str = "web") -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}
    assert client.patch(f"{DEPLOYMENTS}/{name}", patch, STRATEGIC).status == 200


def test_a_rolling_update_steps_by_max_surge(kubeapi: Emulator, kubeapi_http: HttpClient) -> None:
    kubeapi_http.post(DEPLOYMENTS, deployment("web", replicas=3))
    status = kubeapi_http.get(f"{DEPLOYMENTS}/web").body["status"]
    assert status["observedGeneration"] == 1
    assert conditions(kubeapi_http)["Progressing"] == ("True", "NewReplicaSetCreated")
    assert conditions(kubeapi_http)["Available"] == ("False", "MinimumReplicasUnavailable")
    kubeapi.clock.advance(1)
    assert counts(kubeapi_http) == (3, 3, 3, 3)
    assert conditions(kubeapi_http) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    set_image(kubeapi_http, "repo/app:2")
    assert kubeapi_http.get(f"{DEPLOYMENTS}/web").body["status"]["observedGeneration"] == 2
    seen = [counts(kubeapi_http)]
    for _ in range(4):
        kubeapi.clock.advance(1)
        seen.append(counts(kubeapi_http))
    # maxSurge 1, maxUnavailable 0: never more than 4 pods, never fewer than 3 available
    assert seen == [(4, 1, 3, 3), (4, 2, 3, 3), (4, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)]
    assert conditions(kubeapi_http)["Progressing"] == ("True", "NewReplicaSetAvailable")


def test_an_image_that_never_gets_ready_exceeds_the_deadline(
    kubeapi: Emulator, kubeapi_http: HttpClient
) -> None:
    body = deployment("web", replicas=2)
    body["spec"]["progressDeadlineSeconds"] = 10
    kubeapi_http.post(DEPLOYMENTS, body)
    kubeapi.clock.advance(2)
    kubeapi.fail_image("repo/app:bad")
    set_image(kubeapi_http, "repo/app:bad")
    kubeapi.clock.advance(5)
    assert conditions(kubeapi_http)["Progressing"][0] == "True"
    assert counts(kubeapi_http) == (3, 1, 2, 2)
    kubeapi.clock.advance(10)
    progressing = {
        c["type"]: c for c in kubeapi_http.get(f"{DEPLOYMENTS}/web").body["status"]["conditions"]
    }
    assert (progressing["Progressing"]["status"], progressing["Progressing"]["reason"]) == (
        "False",
        "ProgressDeadlineExceeded",
    )
    assert progressing["Progressing"]["message"].endswith("has timed out progressing.")
    assert conditions(kubeapi_http)["Available"] == ("True", "MinimumReplicasAvailable")
    set_image(kubeapi_http, "repo/app:1")
    kubeapi.clock.advance(3)
    assert counts(kubeapi_http) == (2, 2, 2, 2)
    assert conditions(kubeapi_http)["Progressing"] == ("True", "NewReplicaSetAvailable")


def test_rbac_answers_403_with_the_real_message(tmp_path) -> None:
    tokens = {"ci": User(name="ci")}
    with Emulator(tokens=tokens) as kubeapi:
        admin = HttpClient(kubeapi.url, token=ADMIN_TOKEN)
        ci = HttpClient(kubeapi.url, token="ci")
        rules = [
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
            {"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["patch"]},
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "verbs": ["update"],
                "resourceNames": ["mine"],
            },
        ]
        admin.post(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
            {"metadata": {"name": "ci"}, "rules": rules},
        )
        admin.post(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            {
                "metadata": {"name": "ci"},
                "subjects": [{"kind": "User", "name": "ci"}],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ci"},
            },
        )
        admin.post(DEPLOYMENTS, deployment("x"))
        assert ci.get(DEPLOYMENTS).status == 200
        assert ci.patch(f"{DEPLOYMENTS}/x/status", {"status": {}}, MERGE).status == 200
        refused = ci.patch(f"{DEPLOYMENTS}/x", {"spec": {"replicas": 1}}, MERGE)
        assert (refused.status, refused.body["reason"]) == (403, "Forbidden")
        assert refused.body["message"] == (
            'deployments.apps "x" is forbidden: User "ci" cannot patch resource "deployments" '
            'in API group "apps" in the namespace "default"'
        )
        listing = ci.get("/apis/apps/v1/namespaces/kube-system/deployments")
        assert listing.body["message"] == (
            'deployments.apps is forbidden: User "ci" cannot list resource "deployments" '
            'in API group "apps" in the namespace "kube-system"'
        )
        cluster = ci.get("/api/v1/namespaces")
        assert cluster.body["message"] == (
            'namespaces is forbidden: User "ci" cannot list resource "namespaces" '
            'in API group "" at the cluster scope'
        )
        admin.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "mine"}})
        admin.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "theirs"}})
        assert (
            ci.put(
                "/api/v1/namespaces/default/configmaps/mine", {"metadata": {"name": "mine"}}
            ).status
            == 200
        )
        assert (
            ci.put(
                "/api/v1/namespaces/default/configmaps/theirs", {"metadata": {"name": "theirs"}}
            ).status
            == 403
        )
        assert HttpClient(kubeapi.url).get(DEPLOYMENTS).status == 401
        assert ci.get("/apis/apps/v1").status == 200


def test_discovery_lists_kinds_subresources_and_crds(kubeapi_http: HttpClient) -> None:
    apps = {r["name"]: r for r in kubeapi_http.get("/apis/apps/v1").body["resources"]}
    assert apps["deployments"]["kind"] == "Deployment"
    assert apps["deployments"]["namespaced"] is True
    assert "deploy" in apps["deployments"]["shortNames"]
    assert "patch" in apps["deployments/status"]["verbs"]
    groups = [g["name"] for g in kubeapi_http.get("/apis").body["groups"]]
    assert "runtimes.reconciler.dev" not in groups
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "runtimes.runtimes.reconciler.dev"},
        "spec": {
            "group": "runtimes.reconciler.dev",
            "scope": "Namespaced",
            "names": {"plural": "runtimes", "singular": "runtime", "kind": "Runtime"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"replicas": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    assert (
        kubeapi_http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status
        == 201
    )
    assert "runtimes.reconciler.dev" in [
        g["name"] for g in kubeapi_http.get("/apis").body["groups"]
    ]
    resources = [
        r["name"] for r in kubeapi_http.get("/apis/runtimes.reconciler.dev/v1").body["resources"]
    ]
    assert resources == ["runtimes", "runtimes/status"]
    path = "/apis/runtimes.reconciler.dev/v1/namespaces/default/runtimes"
    bad = kubeapi_http.post(
        path,
        {
            "apiVersion": "runtimes.reconciler.dev/v1",
            "kind": "Runtime",
            "metadata": {"name": "r"},
            "spec": {"replicas": "two"},
        },
    )
    assert (bad.status, bad.body["reason"]) == (422, "Invalid")
    assert bad.body["details"]["causes"][0]["field"] == "spec.replicas"
    smp = kubeapi_http.patch(f"{path}/r", {"spec": {}}, STRATEGIC)
    assert smp.status == 415
    kubeapi_http.delete(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/runtimes.runtimes.reconciler.dev"
    )
    assert kubeapi_http.get(path).status == 404


def test_the_official_python_client_pages_applies_and_dry_runs(kubeapi: Emulator, tmp_path) -> None:
    config = kubernetes.client.Configuration()
    config.host = kubeapi.url
    with kubernetes.client.ApiClient(config) as api_client:
        apps = kubernetes.client.AppsV1Api(api_client)
        for index in range(5):
            body = deployment(f"d{index}")
            apps.patch_namespaced_deployment(
                f"d{index}",
                "default",
                body,
                field_manager="runtime-reconciler",
                _content_type="application/apply-patch+yaml",
            )
        kubeapi.faults.reset_log()
        names, token = [], None
        while True:
            page = apps.list_namespaced_deployment("default", limit=2, _continue=token)
            names += [d.metadata.name for d in page.items]
            token = page.metadata._continue
            if not token:
                break
        assert names == ["d0", "d1", "d2", "d3", "d4"]
        assert kubeapi.requests["list", "deployments"] == 3
        dry = apps.patch_namespaced_deployment(
            "d0", "default", {"spec": {"replicas": 9}}, dry_run="All"
        )
        assert dry.spec.replicas == 9
        assert apps.read_namespaced_deployment("d0", "default").spec.replicas == 2
        kubeapi.faults.conflict_next_writes(1)
        with pytest.raises(kubernetes.client.ApiException) as conflict:
            apps.patch_namespaced_deployment("d0", "default", {"spec": {"replicas": 3}})
        assert conflict.value.status == 409
        other = deployment("d0", replicas=7)
        with pytest.raises(kubernetes.client.ApiException) as owned:
            apps.patch_namespaced_deployment(
                "d0",
                "default",
                other,
                field_manager="someone-else",
                _content_type="application/apply-patch+yaml",
            )
        assert owned.value.status == 409
        status = json.loads(owned.value.body)
        assert (
            status["message"]
            == 'Apply failed with 1 conflict: conflict with "runtime-reconciler": .spec.replicas'
        )


def test_the_python_client_watches_and_is_refused_by_rbac(tmp_path) -> None:
    with Emulator(tokens={"reader": User(name="reader")}) as kubeapi:
        kubeconfig = kubeapi.write_kubeconfig(tmp_path / "reader", token="reader")
        admin = HttpClient(kubeapi.url, token=ADMIN_TOKEN)
        admin.post(DEPLOYMENTS, deployment("web"))
        api_client = kubernetes.config.new_client_from_config(str(kubeconfig))
        with api_client:
            apps = kubernetes.client.AppsV1Api(api_client)
            with pytest.raises(kubernetes.client.ApiException) as refused:
                apps.list_namespaced_deployment("default")
            assert refused.value.status == 403
            assert (
                'User "reader" cannot list resource "deployments"'
                in json.loads(refused.value.body)["message"]
            )
        admin_client = kubernetes.config.new_client_from_config(
            str(kubeapi.write_kubeconfig(tmp_path / "admin"))
        )
        with admin_client:
            apps = kubernetes.client.AppsV1Api(admin_client)
            listed = apps.list_namespaced_deployment("default")
            set_image(admin, "repo/app:2")
            events = []
            stream = kubernetes.watch.Watch().stream(
                apps.list_namespaced_deployment,
                "default",
                resource_version=listed.metadata.resource_version,
                timeout_seconds=1,
            )
            for event in stream:
                events.append(
                    (event["type"], event["object"].spec.template.spec.containers[0].image)
                )
            assert ("MODIFIED", "repo/app:2") in events


def test_tables_for_kubectl_get(kubeapi: Emulator, kubeapi_http: HttpClient) -> None:
    kubeapi_http.post(DEPLOYMENTS, deployment("web", replicas=2))
    kubeapi.clock.advance(130)
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    table = kubeapi_http.get(DEPLOYMENTS, headers=accept).body
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
    ]
    assert table["rows"][0]["cells"] == ["web", "2/2", 2, 2, "2m10s"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
