"""Applying to a cluster: the official client over real HTTP against the API emulator.

A catalog of one scorer (v1.5.4, v1.6.0) and an LTS runtime pinned to v1.5.4, and two
deployments of two compositions each in workspace `prod`: the catalog lands in the
platform namespace, the compositions as Deployments in `workspace-prod`. Rollouts run on
the emulator's simulated clock, advanced quickly (kubetarget.FastClock).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from reconciler import errors, render
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.upgrade_specs import parse_spec
from reconciler.targets import crds, manifests, open_target
from reconciler.targets.kubernetes import KubernetesTarget
from tests import kubetarget
from tests.kubeapi import Emulator
from tests.kubeapi.fixtures import HttpClient, Kubectl
from tests.runner import reconciler
from tests.test_rollouts import values

PLATFORM, WORKSPACE = "runtime-platform", "workspace-prod"
DEPLOYMENTS = ["workspaces/prod/deployments/model-0", "workspaces/prod/deployments/model-1"]
LTS = "workspaces/global/runtimes/lts"
WRITES = ("create", "update", "patch", "delete")


def declared(workspace: str = "prod") -> dict[str, Any]:
    """Two deployments of two compositions each, as an overrides file declares them."""
    return {
        "workspaces": {
            workspace: {
                "deployments": {
                    f"model-{n}": {
                        "compositions": [
                            {"experimentId": "exp-a", "runtime": "lts"},
                            {"experimentId": "exp-b", "runtime": "lts"},
                        ]
                    }
                    for n in range(2)
                }
            }
        }
    }


def inputs(workspace: str = "prod") -> engine.Inputs:
    overrides = parse_overrides(declared(workspace), source="d.yaml")
    return engine.Inputs(values=values(), overrides=overrides)


def upgrade_all() -> engine.Inputs:
    return engine.Inputs(upgrades=tuple(parse_spec(a) for a in DEPLOYMENTS))


@pytest.fixture
def cluster(kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch)
    return kubeapi


def listed(emulator: Emulator, path: str) -> list[dict[str, Any]]:
    reply = HttpClient(emulator.url).get(path)
    assert reply.status == 200, reply.body
    return sorted(reply.body["items"], key=lambda o: o["metadata"]["name"])


def deployments(emulator: Emulator) -> list[dict[str, Any]]:
    return listed(emulator, f"/apis/apps/v1/namespaces/{WORKSPACE}/deployments")


def image(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def writes(emulator: Emulator) -> int:
    return sum(n for (verb, _), n in emulator.requests.items() if verb in WRITES)


def deploy(emulator: Emulator, target: Any = None) -> tuple[MemoryBackend, engine.ApplyResult]:
    backend = MemoryBackend()
    with kubetarget.FastClock(emulator):
        result = engine.apply(backend, target or open_target("kubernetes"), inputs=inputs())
    assert result.ok, (result.failed, result.roll_failed)
    return backend, result


def test_a_first_apply_writes_the_catalog_and_the_deployments(cluster: Emulator) -> None:
    deploy(cluster)
    group = f"/apis/{crds.GROUP}/{crds.VERSION}/namespaces/{PLATFORM}"
    assert [o["metadata"]["name"] for o in listed(cluster, f"{group}/runtimeimages")] == [
        "h2o3-scorer"
    ]
    assert [o["metadata"]["name"] for o in listed(cluster, f"{group}/runtimeimageversions")] == [
        "h2o3-scorer.v1.5.4",
        "h2o3-scorer.v1.6.0",
    ]
    assert [o["metadata"]["name"] for o in listed(cluster, f"{group}/runtimes")] == ["lts"]
    running = deployments(cluster)
    assert [d["metadata"]["name"] for d in running] == [
        "model-0-exp-a",
        "model-0-exp-b",
        "model-1-exp-a",
        "model-1-exp-b",
    ]
    for deployment in running:
        assert image(deployment) == "scorer:v1.5.4"
        assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == (
            "runtime-reconciler"
        )
        assert deployment["status"]["availableReplicas"] == deployment["spec"]["replicas"]
        (entry,) = deployment["metadata"]["managedFields"]
        assert (entry["manager"], entry["operation"]) == ("runtime-reconciler", "Apply")


def test_every_object_written_validates(cluster: Emulator) -> None:
    _, result = deploy(cluster)
    assert result.state is not None
    target = open_target("kubernetes")
    schemas = {
        d["spec"]["names"]["kind"]: d["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for d in crds.definitions()
    }
    catalog = [target.get(r.address) for r in result.state.resources]
    compositions = [
        target.get(f"{d.address}/compositions/{c.experiment_id}")
        for d in result.state.deployments
        for c in d.compositions
    ]
    assert len(catalog) == 4 and len(compositions) == 4
    for written in catalog:
        assert written is not None
        jsonschema.validate(written["spec"], schemas[written["kind"]]["properties"]["spec"])
    for written in compositions:
        assert written is not None
        assert kubernetes_validate.validate(written, "1.37", strict=True) == "1.37"


def test_a_second_apply_changes_nothing(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    cluster.faults.reset_log()
    again = engine.apply(backend, open_target("kubernetes"), inputs=inputs())
    assert again.ok and not again.plan.has_changes
    assert writes(cluster) == 0


def written_by_clients(emulator: Emulator) -> dict[str, Any]:
    """Each object's labels, spec and field managers (status is the controllers')."""
    return {
        o["metadata"]["name"]: (
            o["metadata"].get("labels"),
            o["spec"],
            sorted(m["manager"] for m in o["metadata"]["managedFields"]),
        )
        for o in listed(emulator, f"/apis/{crds.GROUP}/{crds.VERSION}/runtimes")
        + deployments(emulator)
    }


def test_objects_not_ours_are_left_alone(cluster: Emulator) -> None:
    foreign_runtime = {
        "apiVersion": crds.API_VERSION,
        "kind": "Runtime",
        "metadata": {"name": "hand-made", "namespace": PLATFORM},
        "spec": {
            "modelType": "h2o3_mojo",
            "runtimeImage": "workspaces/global/runtimeImages/h2o3-scorer",
            "state": "ACTIVE",
        },
    }
    legacy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "legacy", "namespace": WORKSPACE},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "legacy"}},
            "template": {
                "metadata": {"labels": {"app": "legacy"}},
                "spec": {"containers": [{"name": "app", "image": "legacy:1"}]},
            },
        },
    }
    cluster.apply_objects([foreign_runtime, legacy])
    before = written_by_clients(cluster)
    deploy(cluster)
    target = open_target("kubernetes")
    hand_made = "workspaces/global/runtimes/hand-made"
    assert target.get(hand_made) is None, "an object without our label is not read"
    target.delete(hand_made)
    after = written_by_clients(cluster)
    assert {name: after[name] for name in before} == before


THEIRS = {
    "lts": {
        "apiVersion": crds.API_VERSION,
        "kind": "Runtime",
        "metadata": {"name": "lts", "namespace": PLATFORM},
        "spec": {
            "modelType": "theirs",
            "runtimeImage": "workspaces/global/runtimeImages/theirs",
            "state": "ACTIVE",
        },
    },
    "model-0-exp-a": {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "model-0-exp-a", "namespace": WORKSPACE},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "theirs"}},
            "template": {
                "metadata": {"labels": {"app": "theirs"}},
                "spec": {"containers": [{"name": "app", "image": "theirs:1"}]},
            },
        },
    },
}


@pytest.mark.parametrize(
    ("name", "address", "where"),
    [
        ("lts", LTS, f"runtimes.runtimes.reconciler.dev {PLATFORM}/lts"),
        (
            "model-0-exp-a",
            f"{DEPLOYMENTS[0]}/compositions/exp-a",
            f"deployments.apps {WORKSPACE}/model-0-exp-a",
        ),
    ],
)
def test_an_object_not_ours_with_a_name_the_tool_writes_is_never_written_over(
    name: str, address: str, where: str, cluster: Emulator
) -> None:
    """Someone's own Runtime `lts`, or Deployment `model-0-exp-a`, unlabelled: the tool
    refuses to take it over, names it, and writes what does not depend on it."""
    cluster.apply_objects([THEIRS[name]])
    before = written_by_clients(cluster)[name]
    with kubetarget.FastClock(cluster):
        result = engine.apply(MemoryBackend(), open_target("kubernetes"), inputs=inputs())
    failures = [(c.address, e) for c, e in result.failed] + [
        (f"{c.address}/compositions/{experiment}", e) for c, experiment, e in result.roll_failed
    ]
    ((failed, error),) = failures
    assert failed == address
    assert error.summary == (
        f"{address}: {where} exists and is not the tool's (it lacks the label "
        "app.kubernetes.io/managed-by=runtime-reconciler): the tool does not write over it"
    )
    assert "label it app.kubernetes.io/managed-by=runtime-reconciler" in error.hint
    assert written_by_clients(cluster)[name] == before, "left exactly as it was"
    if name == "model-0-exp-a":
        assert len(result.applied) == 4 and len(result.rolled) == 3, "the rest is written"
    # One listing of the objects not ours per kind and namespace written, not per object.
    foreign_lists = [
        r.path for r in cluster.request_log if r.method == "GET" and "%21%3D" in r.query
    ]
    assert foreign_lists and len(foreign_lists) == len(set(foreign_lists)), foreign_lists


def test_a_field_another_manager_owns_is_a_conflict_until_forced(cluster: Emulator) -> None:
    _, result = deploy(cluster)
    assert result.state is not None
    lts = result.state.by_address[LTS]
    edited = {
        "apiVersion": crds.API_VERSION,
        "kind": "Runtime",
        "metadata": {"name": "lts", "namespace": PLATFORM},
        "spec": {"description": "hot fix by hand"},
    }
    cluster.apply_objects([edited], manager="ops-console")
    ours = manifests.manifest(lts)
    with pytest.raises(errors.TargetError) as refused:
        open_target("kubernetes").put(LTS, ours)
    message = str(refused.value)
    assert ".spec.description (owned by ops-console)" in message
    assert "--force-conflicts" in message
    live = listed(cluster, f"/apis/{crds.GROUP}/{crds.VERSION}/namespaces/{PLATFORM}/runtimes")
    assert live[0]["spec"]["description"] == "hot fix by hand", "refused: nothing changed"

    KubernetesTarget(force_conflicts=True).put(LTS, ours)
    live = listed(cluster, f"/apis/{crds.GROUP}/{crds.VERSION}/namespaces/{PLATFORM}/runtimes")
    assert live[0]["spec"]["description"] == ours["spec"]["description"]
    assert open_target("kubernetes").get(LTS) == ours


def test_an_upgrade_waits_for_every_rollout(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    with kubetarget.FastClock(cluster):
        result = engine.apply(backend, open_target("kubernetes"), inputs=upgrade_all())
    assert result.ok and len(result.rolled) == 4
    for deployment in deployments(cluster):
        assert image(deployment) == "scorer:v1.6.0"
        status, wanted = deployment["status"], deployment["spec"]["replicas"]
        # apply returned only once each rollout had finished, as `kubectl rollout status`
        assert status["observedGeneration"] == deployment["metadata"]["generation"] == 2
        assert status["updatedReplicas"] == status["availableReplicas"] == wanted
        assert status["replicas"] == wanted, "no old replica left"


def test_a_rollout_past_its_progress_deadline_is_rolled_back(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    cluster.fail_image("scorer:v1.6.0")
    with kubetarget.FastClock(cluster, step=10.0):
        result = engine.apply(backend, open_target("kubernetes"), inputs=upgrade_all())
    assert not result.ok and len(result.roll_failed) == 4
    for _, _, error in result.roll_failed:
        assert "ProgressDeadlineExceeded" in error.summary
        assert error.summary.endswith("rolled back to v1.5.4")
    assert result.state is None or all(
        c.image_version.endswith("v1.5.4") for d in result.state.deployments for c in d.compositions
    )
    for deployment in deployments(cluster):
        assert image(deployment) == "scorer:v1.5.4"
        assert deployment["status"]["availableReplicas"] == deployment["spec"]["replicas"]


def test_a_rollout_that_does_not_finish_in_time_fails(cluster: Emulator) -> None:
    deploy(cluster)
    target = open_target("kubernetes")
    address = f"{DEPLOYMENTS[0]}/compositions/exp-a"
    manifest = target.get(address)
    assert manifest is not None
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "scorer:v1.6.0"
    with pytest.raises(errors.TargetError, match=r"did not finish within 0.3s"):
        target.roll(address, manifest, timeout=0.3)  # the clock stands still: no progress


def test_conflict_throttling_and_server_error_storms_are_survived(cluster: Emulator) -> None:
    cluster.faults.conflict_next_writes(3)
    cluster.faults.throttle_next(3, retry_after=0)
    cluster.faults.fail_next(3, code=500)
    cluster.faults.fail_next(2, code=503, verbs=["get"])
    deploy(cluster)
    assert len(deployments(cluster)) == 4
    patches = sum(n for (verb, _), n in cluster.requests.items() if verb == "patch")
    assert patches == 8 + 9, "eight objects, nine writes refused and retried"


def test_an_endless_server_error_is_reported_once_retries_run_out(cluster: Emulator) -> None:
    cluster.faults.fail_next(100, code=500, resource="runtimeimages")
    result = engine.apply(MemoryBackend(), open_target("kubernetes"), inputs=inputs())
    assert not result.ok
    (change, error), *_ = result.failed
    assert change.address == "workspaces/global/runtimeImages/h2o3-scorer"
    assert "failed: InternalError" in error.summary
    assert cluster.requests["patch", "runtimeimages"] == 8


def test_an_unreachable_cluster_names_the_context_and_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = Emulator().start()
    kubetarget.prepare(emulator, tmp_path, monkeypatch)
    url = emulator.url
    emulator.stop()
    with pytest.raises(errors.TargetError) as unreachable:
        open_target("kubernetes").put(LTS, {"kind": "Runtime", "metadata": {}})
    assert f"cannot reach the Kubernetes cluster of context emulator at {url}" in str(
        unreachable.value
    )


def test_missing_crds_are_reported_with_the_command_that_installs_them(
    kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write
) -> None:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch, install_crds=False)
    values_file = write("values.yaml", json.dumps(values().data))
    run = reconciler(
        "apply",
        "-f",
        values_file,
        "--auto-approve",
        "--target",
        "kubernetes",
        "--state",
        str(tmp_path / "state.json"),
        cwd=tmp_path,
    )
    assert run.code == 1
    assert "the tool's CRDs are not installed" in run.out + run.err
    assert "reconciler crds | kubectl apply -f -" in run.out + run.err


def test_a_missing_namespace_is_named_or_created_on_request(
    kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch, namespaces=())
    address = "workspaces/global/runtimeImages/h2o3-scorer"
    document = {
        "apiVersion": crds.API_VERSION,
        "kind": "RuntimeImage",
        "metadata": {"name": "h2o3-scorer", "labels": {"app.kubernetes.io/managed-by": "x"}},
        "spec": {"state": "ACTIVE"},
    }
    with pytest.raises(errors.TargetError, match="namespace runtime-platform does not exist"):
        open_target("kubernetes").put(address, document)
    KubernetesTarget(create_namespaces=True).put(address, document)
    assert HttpClient(kubeapi.url).get(f"/api/v1/namespaces/{PLATFORM}").status == 200


def test_drift_is_planned_field_by_field_and_corrected_by_apply(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    edited = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "model-0-exp-a", "namespace": WORKSPACE},
        "spec": {"replicas": 5},
    }
    cluster.apply_objects([edited], manager="kubectl-edit")
    HttpClient(cluster.url).delete(
        f"/apis/{crds.GROUP}/{crds.VERSION}/namespaces/{PLATFORM}/runtimes/lts"
    )
    target = KubernetesTarget(force_conflicts=True)
    cluster.faults.reset_log()
    the_plan = engine.plan(backend, engine.Inputs(), target=target)
    assert cluster.requests["list", "deployments"] == 1, "one paged list per kind"
    assert sum(n for (verb, _), n in cluster.requests.items() if verb != "list") == 0
    by_address = {d.address: d for d in the_plan.drift}
    assert set(by_address) == {LTS, f"{DEPLOYMENTS[0]}/compositions/exp-a"}
    assert by_address[LTS].deleted
    (field,) = by_address[f"{DEPLOYMENTS[0]}/compositions/exp-a"].fields
    assert (field.path, field.before, field.after) == ("spec.replicas", 1, 5)
    owned = by_address[f"{DEPLOYMENTS[0]}/compositions/exp-a"].owned_elsewhere
    assert owned == (("spec.replicas", "kubectl-edit"),)
    assert the_plan.has_changes
    text = render.plan_text(the_plan)
    assert "Changed outside the tool" in text and "spec.replicas: 5 → 1" in text
    assert "deleted outside the tool" in text
    # Said once, in the conflicts (the writes that take the field back are what conflict).
    assert "is owned by" not in text
    assert "(--force-conflicts: apply will take these over)" in text
    assert ".spec.replicas owned by kubectl-edit" in text
    assert text.rstrip().endswith("2 changed outside the tool to write again.")
    shown = json.loads(render.plan_json(the_plan))
    schema = json.loads((Path(__file__).parents[1] / "schemas/plan.schema.json").read_text())
    jsonschema.validate(shown, schema)
    assert {"path": "spec.replicas", "before": 1, "after": 5} in [
        f for d in shown["drift"] for f in d["fields"]
    ]

    assert [(c.address, c.path, c.manager) for c in the_plan.conflicts] == [
        (f"{DEPLOYMENTS[0]}/compositions/exp-a", ".spec.replicas", "kubectl-edit")
    ]
    cluster.faults.reset_log()
    with pytest.raises(errors.ApplyError, match=r"spec.replicas \(owned by kubectl-edit\)"):
        engine.apply(backend, open_target("kubernetes"), inputs=engine.Inputs())
    # Refused before the first write: the deleted runtime did not come back either.
    assert writes(cluster) == 0 and open_target("kubernetes").get(LTS) is None
    with kubetarget.FastClock(cluster):
        result = engine.apply(backend, target, inputs=engine.Inputs())
    assert result.ok and result.corrected == [LTS, f"{DEPLOYMENTS[0]}/compositions/exp-a"]
    assert not engine.plan(backend, engine.Inputs(), target=target).drift
    assert {d["metadata"]["name"]: d["spec"]["replicas"] for d in deployments(cluster)}[
        "model-0-exp-a"
    ] == 1


def test_refresh_false_plans_from_state_alone(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    HttpClient(cluster.url).delete(
        f"/apis/{crds.GROUP}/{crds.VERSION}/namespaces/{PLATFORM}/runtimes/lts"
    )
    cluster.faults.reset_log()
    target = open_target("kubernetes")
    assert not engine.plan(backend, engine.Inputs(), target=target, refresh=False).has_changes
    assert not cluster.requests
    result = engine.apply(backend, target, inputs=engine.Inputs(), refresh=False)
    assert result.ok and not result.plan.has_changes and writes(cluster) == 0


def test_refresh_reads_pages_and_restarts_an_expired_listing(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    target = KubernetesTarget(page_size=2)
    cluster.faults.reset_log()
    assert len(target.observe()) == 8
    assert cluster.requests["list", "deployments"] == 2, "four Deployments in pages of two"
    first = sum(n for (verb, _), n in cluster.requests.items() if verb == "list")
    cluster.faults.reset_log()
    cluster.expire_next_continue()
    assert len(target.observe()) == 8, "the expired listing started again, nothing lost"
    listed = sum(n for (verb, _), n in cluster.requests.items() if verb == "list")
    assert listed > first, "the listing whose token expired was read again from its start"
    assert not engine.plan(backend, engine.Inputs(), target=target).drift


def test_after_max_failures_no_further_upgrade_starts(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    cluster.fail_image("scorer:v1.6.0")
    with kubetarget.FastClock(cluster, step=10.0):
        result = engine.apply(
            backend, open_target("kubernetes"), inputs=upgrade_all(), parallelism=1, max_failures=1
        )
    assert len(result.roll_failed) == 1 and not result.rolled
    assert len(result.roll_not_attempted) == 3 and not result.ok
    assert {image(d) for d in deployments(cluster)} == {"scorer:v1.5.4"}
    report = render.apply_text(
        0,
        [],
        [],
        serial=None,
        interrupted=False,
        roll_failed=result.roll_failed,
        roll_not_attempted=result.roll_not_attempted,
    )
    assert "not attempted (exp-a, exp-b): rollouts stopped after failures" in report
    assert "deployments: 1 failed, 2 not attempted." in report

    cluster.heal_image("scorer:v1.6.0")
    with kubetarget.FastClock(cluster):
        rerun = engine.apply(backend, open_target("kubernetes"), inputs=upgrade_all())
    assert rerun.ok and len(rerun.rolled) == 4, "a re-run continues where it stopped"


def test_canaries_roll_first_and_the_rest_wait_for_them(cluster: Emulator) -> None:
    backend, _ = deploy(cluster)
    cluster.fail_image("scorer:v1.6.0")
    with kubetarget.FastClock(cluster, step=10.0):
        result = engine.apply(backend, open_target("kubernetes"), inputs=upgrade_all(), canary=1)
    assert {c.address for c, _, _ in result.roll_failed} == {DEPLOYMENTS[0]}
    assert {c.address for c, _ in result.roll_not_attempted} == {DEPLOYMENTS[1]}
    cluster.heal_image("scorer:v1.6.0")
    with kubetarget.FastClock(cluster):
        healthy = engine.apply(backend, open_target("kubernetes"), inputs=upgrade_all(), canary=1)
    assert healthy.ok and len(healthy.rolled) == 4


def test_namespaces_follow_the_configured_pattern_and_are_created_on_request(
    kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch, namespaces=())
    monkeypatch.setenv("RECONCILER_PLATFORM_NAMESPACE", "ml-platform")
    monkeypatch.setenv("RECONCILER_WORKSPACE_NAMESPACE", "team-{workspace}")
    monkeypatch.setenv("RECONCILER_CREATE_NAMESPACES", "1")
    deploy(kubeapi)
    http = HttpClient(kubeapi.url)
    assert http.get("/api/v1/namespaces/ml-platform").status == 200
    runtimes = f"/apis/{crds.GROUP}/{crds.VERSION}/namespaces/ml-platform/runtimes"
    assert [o["metadata"]["name"] for o in listed(kubeapi, runtimes)] == ["lts"]
    names = listed(kubeapi, "/apis/apps/v1/namespaces/team-prod/deployments")
    assert len(names) == 4
    monkeypatch.setenv("RECONCILER_WORKSPACE_NAMESPACE", "team")
    with pytest.raises(errors.UsageError, match="does not name the workspace"):
        open_target("kubernetes")


def test_kubectl_agrees_the_rollouts_are_done(cluster: Emulator, kubectl: Kubectl) -> None:
    deploy(cluster)
    for name in ("model-0-exp-a", "model-1-exp-b"):
        done = kubectl("rollout", "status", f"deployment/{name}", "-n", WORKSPACE, "--timeout=5s")
        assert "successfully rolled out" in done.stdout
    ours = kubectl(
        "get",
        "deployments",
        "-A",
        "-l",
        "app.kubernetes.io/managed-by=runtime-reconciler",
        "-o",
        "name",
    )
    assert len(ours.stdout.split()) == 4


def test_throttling_waits_as_long_as_retry_after_says(cluster: Emulator) -> None:
    waits: list[float] = []
    target = KubernetesTarget(sleep=waits.append)
    cluster.faults.throttle_next(2, retry_after=3)
    document = {
        "apiVersion": crds.API_VERSION,
        "kind": "RuntimeImage",
        "metadata": {"name": "h2o3-scorer", "labels": {"app.kubernetes.io/managed-by": "x"}},
        "spec": {"state": "ACTIVE"},
    }
    target.put("workspaces/global/runtimeImages/h2o3-scorer", document)
    assert waits == [3.0, 3.0]
    assert cluster.requests["patch", "runtimeimages"] == 3
