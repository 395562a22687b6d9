"""The API emulator's storage semantics, over real HTTP: versions, generations, dry runs,
the status split, preconditions, errors, paged lists over one snapshot, and 410 Gone."""

from __future__ import annotations

import json
import time

from tests.kubeapi import Emulator
from tests.kubeapi.fixtures import HttpClient

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"


def deployment(name: str, image: str = "repo/app:1", replicas: int = 2, **labels: str) -> dict:
    labels = {"app": name, **labels}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def configmap(name: str, **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }


def test_create_answers_201_with_server_set_metadata(kubeapi_http: HttpClient) -> None:
    reply = kubeapi_http.post(DEPLOYMENTS, deployment("web"))
    assert reply.status == 201
    meta = reply.body["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1
    assert isinstance(meta["resourceVersion"], str)
    again = kubeapi_http.post(DEPLOYMENTS, deployment("web"))
    assert again.status == 409
    assert again.body["reason"] == "AlreadyExists"
    assert again.body["message"] == 'deployments.apps "web" already exists'


def test_resource_versions_come_from_one_counter_across_types(kubeapi_http: HttpClient) -> None:
    first = int(kubeapi_http.post(CONFIGMAPS, configmap("a")).body["metadata"]["resourceVersion"])
    second = int(
        kubeapi_http.post(DEPLOYMENTS, deployment("b")).body["metadata"]["resourceVersion"]
    )
    third = int(kubeapi_http.post(CONFIGMAPS, configmap("c")).body["metadata"]["resourceVersion"])
    assert first < second < third


def test_generation_moves_on_spec_changes_only(kubeapi_http: HttpClient) -> None:
    kubeapi_http.post(DEPLOYMENTS, deployment("web"))
    labelled = kubeapi_http.patch(
        f"{DEPLOYMENTS}/web", {"metadata": {"labels": {"team": "a"}}}, MERGE
    )
    assert labelled.status == 200
    assert labelled.body["metadata"]["generation"] == 1
    scaled = kubeapi_http.patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 5}}, MERGE)
    assert scaled.body["metadata"]["generation"] == 2
    status = kubeapi_http.patch(f"{DEPLOYMENTS}/web/status", {"status": {"replicas": 7}}, MERGE)
    assert status.body["metadata"]["generation"] == 2


def test_status_is_written_only_through_its_subresource(kubeapi_http: HttpClient) -> None:
    body = deployment("web")
    body["status"] = {"replicas": 9}
    created = kubeapi_http.post(DEPLOYMENTS, body).body
    assert created.get("status", {}).get("replicas") != 9
    kubeapi_http.patch(f"{DEPLOYMENTS}/web/status", {"status": {"observedGeneration": 42}}, MERGE)
    main = kubeapi_http.patch(
        f"{DEPLOYMENTS}/web", {"status": {"observedGeneration": 1}}, MERGE
    ).body
    assert main["status"]["observedGeneration"] == 42
    sneaky = kubeapi_http.patch(
        f"{DEPLOYMENTS}/web/status",
        {"spec": {"replicas": 50}, "status": {"observedGeneration": 43}},
        MERGE,
    ).body
    assert sneaky["spec"]["replicas"] == 2
    assert sneaky["status"]["observedGeneration"] == 43


def test_dry_run_answers_but_stores_nothing(kubeapi_http: HttpClient) -> None:
    before = kubeapi_http.get(CONFIGMAPS).body["metadata"]["resourceVersion"]
    reply = kubeapi_http.post(f"{CONFIGMAPS}?dryRun=All", configmap("ghost"))
    assert reply.status == 201
    assert reply.body["metadata"]["name"] == "ghost"
    assert kubeapi_http.get(f"{CONFIGMAPS}/ghost").status == 404
    kubeapi_http.post(CONFIGMAPS, configmap("real"))
    after_create = kubeapi_http.get(CONFIGMAPS).body["metadata"]["resourceVersion"]
    patched = kubeapi_http.patch(f"{CONFIGMAPS}/real?dryRun=All", {"data": {"k": "changed"}}, MERGE)
    assert patched.body["data"]["k"] == "changed"
    assert kubeapi_http.get(f"{CONFIGMAPS}/real").body["data"]["k"] == "v"
    deleted = kubeapi_http.delete(f"{CONFIGMAPS}/real?dryRun=All")
    assert deleted.status == 200
    assert kubeapi_http.get(f"{CONFIGMAPS}/real").status == 200
    assert kubeapi_http.get(CONFIGMAPS).body["metadata"]["resourceVersion"] == after_create
    assert int(after_create) == int(before) + 1


def test_put_with_a_stale_resource_version_is_a_conflict(kubeapi_http: HttpClient) -> None:
    created = kubeapi_http.post(CONFIGMAPS, configmap("cm")).body
    fresh = dict(created, data={"k": "1"})
    assert kubeapi_http.put(f"{CONFIGMAPS}/cm", fresh).status == 200
    stale = dict(created, data={"k": "2"})
    reply = kubeapi_http.put(f"{CONFIGMAPS}/cm", stale)
    assert reply.status == 409
    assert reply.body["reason"] == "Conflict"
    assert reply.body["message"] == (
        'Operation cannot be fulfilled on configmaps "cm": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_errors_are_status_bodies_with_real_reasons(kubeapi_http: HttpClient) -> None:
    missing = kubeapi_http.get(f"{DEPLOYMENTS}/nope")
    assert (missing.status, missing.body["kind"], missing.body["reason"]) == (
        404,
        "Status",
        "NotFound",
    )
    assert missing.body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    bad_name = kubeapi_http.post(CONFIGMAPS, configmap("Not_Valid"))
    assert bad_name.status == 422
    assert bad_name.body["reason"] == "Invalid"
    assert bad_name.body["details"]["causes"][0]["field"] == "metadata.name"
    no_ns = kubeapi_http.post("/api/v1/namespaces/absent/configmaps", configmap("x"))
    assert (no_ns.status, no_ns.body["message"]) == (404, 'namespaces "absent" not found')
    kubeapi_http.post(DEPLOYMENTS, deployment("web"))
    unknown_patch = kubeapi_http.patch(f"{DEPLOYMENTS}/web", {"spec": {}}, "text/plain")
    assert (unknown_patch.status, unknown_patch.body["reason"]) == (415, "UnsupportedMediaType")
    apply_without_manager = kubeapi_http.patch(f"{DEPLOYMENTS}/web", "spec: {}", APPLY)
    assert apply_without_manager.status == 400
    assert "fieldManager: Required value" in apply_without_manager.body["message"]


def test_delete_answers_success_and_the_object_is_gone(kubeapi_http: HttpClient) -> None:
    kubeapi_http.post(CONFIGMAPS, configmap("cm"))
    reply = kubeapi_http.request("DELETE", f"{CONFIGMAPS}/cm", {"propagationPolicy": "Foreground"})
    assert reply.status == 200
    assert reply.body["status"] == "Success"
    assert kubeapi_http.get(f"{CONFIGMAPS}/cm").status == 404
    assert kubeapi_http.delete(f"{CONFIGMAPS}/cm").status == 404


def test_label_and_field_selectors(kubeapi_http: HttpClient) -> None:
    kubeapi_http.post(CONFIGMAPS, configmap("a", tier="web", env="prod"))
    kubeapi_http.post(CONFIGMAPS, configmap("b", tier="db", env="prod"))
    kubeapi_http.post(CONFIGMAPS, configmap("c", tier="web"))

    def names(query: str) -> list[str]:
        reply = kubeapi_http.get(f"{CONFIGMAPS}?{query}")
        assert reply.status == 200, reply.body
        return [item["metadata"]["name"] for item in reply.body["items"]]

    assert names("labelSelector=tier%3Dweb") == ["a", "c"]
    assert names("labelSelector=tier%3D%3Dweb,env") == ["a"]
    assert names("labelSelector=tier!%3Dweb") == ["b"]
    assert names("labelSelector=tier+in+(db,cache)") == ["b"]
    assert names("labelSelector=tier+notin+(db)") == ["a", "c"]
    assert names("labelSelector=!env") == ["c"]
    assert names("fieldSelector=metadata.name%3Db") == ["b"]
    assert names("fieldSelector=metadata.namespace%3Ddefault,metadata.name!%3Db") == ["a", "c"]
    bad = kubeapi_http.get(f"{CONFIGMAPS}?fieldSelector=spec.x%3D1")
    assert bad.status == 400


def test_cluster_wide_lists_cover_every_namespace(kubeapi_http: HttpClient) -> None:
    kubeapi_http.post(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
    )
    kubeapi_http.post(DEPLOYMENTS, deployment("a"))
    kubeapi_http.post("/apis/apps/v1/namespaces/team/deployments", deployment("b"))
    reply = kubeapi_http.get("/apis/apps/v1/deployments")
    assert reply.body["kind"] == "DeploymentList"
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in reply.body["items"]] == [
        ("default", "a"),
        ("team", "b"),
    ]


def test_pages_read_one_snapshot(kubeapi_http: HttpClient) -> None:
    for index in range(5):
        kubeapi_http.post(CONFIGMAPS, configmap(f"cm-{index}"))
    first = kubeapi_http.get(f"{CONFIGMAPS}?limit=2").body
    assert [i["metadata"]["name"] for i in first["items"]] == ["cm-0", "cm-1"]
    assert first["metadata"]["remainingItemCount"] == 3
    snapshot_rv = first["metadata"]["resourceVersion"]
    kubeapi_http.delete(f"{CONFIGMAPS}/cm-3")
    kubeapi_http.post(CONFIGMAPS, configmap("cm-2a"))
    second = kubeapi_http.get(f"{CONFIGMAPS}?limit=2&continue={first['metadata']['continue']}").body
    assert [i["metadata"]["name"] for i in second["items"]] == ["cm-2", "cm-3"]
    assert second["metadata"]["resourceVersion"] == snapshot_rv
    third = kubeapi_http.get(f"{CONFIGMAPS}?limit=2&continue={second['metadata']['continue']}").body
    assert [i["metadata"]["name"] for i in third["items"]] == ["cm-4"]
    assert "continue" not in third["metadata"]


def test_an_expired_continue_token_is_410_gone(kubeapi: Emulator, kubeapi_http: HttpClient) -> None:
    for index in range(3):
        kubeapi_http.post(CONFIGMAPS, configmap(f"cm-{index}"))
    token = kubeapi_http.get(f"{CONFIGMAPS}?limit=1").body["metadata"]["continue"]
    kubeapi.expire_next_continue()
    gone = kubeapi_http.get(f"{CONFIGMAPS}?limit=1&continue={token}")
    assert (gone.status, gone.body["reason"], gone.body["code"]) == (410, "Expired", 410)
    assert kubeapi_http.get(f"{CONFIGMAPS}?limit=1&continue={token}").status == 200
    kubeapi.compact()
    assert kubeapi_http.get(f"{CONFIGMAPS}?limit=1&continue={token}").status == 410


def test_ten_thousand_deployments_page_quickly(kubeapi: Emulator, kubeapi_http: HttpClient) -> None:
    kubeapi.apply_objects(
        [
            {**deployment(f"d-{i:05d}"), "metadata": {"name": f"d-{i:05d}", "namespace": "default"}}
            for i in range(10_000)
        ]
    )

    def page_times() -> list[float]:
        token, times = "", []
        while True:
            started = time.monotonic()
            reply = kubeapi_http.get(
                "/apis/apps/v1/deployments?limit=500" + (f"&continue={token}" if token else "")
            )
            times.append(time.monotonic() - started)
            assert len(reply.body["items"]) == 500
            token = reply.body["metadata"].get("continue", "")
            if not token:
                return times

    # The better of two listings per page: a busy machine slows one, not the emulator.
    times = [min(pair) for pair in zip(page_times(), page_times(), strict=True)]
    assert len(times) == 20
    assert max(times) < 1.0
    assert sum(times) / len(times) < 0.25


def test_injected_faults_answer_as_the_real_server_would(
    kubeapi: Emulator, kubeapi_http: HttpClient
) -> None:
    kubeapi.faults.throttle_next(1, retry_after=3)
    throttled = kubeapi_http.post(CONFIGMAPS, configmap("a"))
    assert (throttled.status, throttled.body["reason"], throttled.headers["Retry-After"]) == (
        429,
        "TooManyRequests",
        "3",
    )
    kubeapi.faults.conflict_next_writes(1)
    assert kubeapi_http.post(CONFIGMAPS, configmap("a")).status == 409
    kubeapi.faults.fail_next(1)
    assert kubeapi_http.post(CONFIGMAPS, configmap("a")).status == 500
    assert kubeapi_http.post(CONFIGMAPS, configmap("a")).status == 201
    admin = kubeapi_http.post(
        "/_emulator/faults", {"fault": "error", "count": 1, "code": 503, "verbs": ["list"]}
    )
    assert admin.status == 200
    assert kubeapi_http.get(CONFIGMAPS).status == 503
    assert kubeapi.requests["list", "configmaps"] == 1
    assert kubeapi.requests["create", "configmaps"] == 4


def test_watch_streams_changes_from_a_resource_version(
    kubeapi: Emulator, kubeapi_http: HttpClient
) -> None:
    rv = kubeapi_http.post(CONFIGMAPS, configmap("a")).body["metadata"]["resourceVersion"]
    kubeapi_http.patch(f"{CONFIGMAPS}/a", {"data": {"k": "2"}}, MERGE)
    kubeapi_http.delete(f"{CONFIGMAPS}/a")
    reply = kubeapi_http.get(f"{CONFIGMAPS}?watch=1&resourceVersion={rv}&timeoutSeconds=1")
    events = [line for line in reply.body.splitlines() if line]
    decoded = [json.loads(e) for e in events]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in decoded] == [
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]
    kubeapi.compact()
    expired = kubeapi_http.get(f"{CONFIGMAPS}?watch=1&resourceVersion={rv}&timeoutSeconds=1")
    assert json.loads(expired.body.splitlines()[0])["object"]["code"] == 410


def test_a_dropped_watch_ends_at_once(kubeapi: Emulator, kubeapi_http: HttpClient) -> None:
    kubeapi.faults.drop_next_watch()
    started = time.monotonic()
    reply = kubeapi_http.get(f"{CONFIGMAPS}?watch=1&timeoutSeconds=5")
    assert reply.status == 200
    assert time.monotonic() - started < 2
