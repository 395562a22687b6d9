"""A cluster's Secrets of the tool are refreshed like its other objects, and never shown.

The runtime `lts` of test_secret_environment.py (a token and a database URL with a
password) and its deployment `fraud` in workspace `prod`, applied to the API emulator.
Secrets edited or deleted by hand are drift: listed key by key with the values redacted,
and written again by apply (Secrets before the workloads that read them). Refresh reads
Secrets only in the namespaces where the state expects one, so the tool needs no right to
read every Secret of the cluster.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler import errors, planfile, render, sensitive
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.upgrade_specs import parse_spec
from reconciler.inputs.values import build_values
from reconciler.targets import open_target
from reconciler.targets.kubernetes import KubernetesTarget
from tests import kubetarget
from tests.kubeapi import Emulator
from tests.kubeapi.fixtures import HttpClient, Kubectl
from tests.test_secret_environment import COMPOSITION, DB_URL, PASSWORD, RUNTIME, TOKEN, inputs

EDITED = "tok-edited-by-hand-5521"
PLATFORM, WORKSPACE = "runtime-platform", "workspace-prod"
RUNTIME_SECRET = f"/api/v1/namespaces/{PLATFORM}/secrets/lts-env"
COMPOSITION_SECRET = f"/api/v1/namespaces/{WORKSPACE}/secrets/fraud-exp-a-env"


@pytest.fixture
def cluster(kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch)
    return kubeapi


def deploy(cluster: Emulator, given: engine.Inputs | None = None) -> MemoryBackend:
    backend = MemoryBackend()
    with kubetarget.FastClock(cluster):
        result = engine.apply(backend, open_target("kubernetes"), inputs=given or inputs())
    assert result.ok, (result.failed, result.roll_failed)
    return backend


def stored(cluster: Emulator, path: str) -> dict[str, str] | None:
    reply = HttpClient(cluster.url).get(path)
    if reply.status == 404:
        return None
    assert reply.status == 200, reply.body
    return {k: base64.b64decode(v).decode() for k, v in reply.body["data"].items()}


def shown(the_plan: Any, tmp_path: Path) -> str:
    """Everything a plan shows or saves."""
    saved = tmp_path / "drift.plan"
    planfile.save(the_plan, saved)
    return "\n".join(
        (
            render.plan_text(the_plan),
            render.plan_json(the_plan),
            render.plan_markdown(the_plan),
            saved.read_text(),
        )
    )


def test_a_secret_edited_by_hand_is_drift_shown_without_values_and_corrected(
    cluster: Emulator, kubectl: Kubectl, tmp_path: Path
) -> None:
    backend = deploy(cluster)
    patch = json.dumps({"stringData": {"SCORER_API_TOKEN": EDITED}})
    kubectl("patch", "secret", "lts-env", "-n", PLATFORM, "--type", "merge", "-p", patch)
    cluster.faults.reset_log()
    the_plan = engine.plan(backend, engine.Inputs(), target=open_target("kubernetes"))
    assert cluster.requests["list", "secrets"] == 2, "one list in each namespace with a Secret"
    (item,) = the_plan.drift
    assert item.address == f"{RUNTIME}/secret" and not item.deleted
    assert [(f.path, f.before, f.after) for f in item.fields] == [
        ("stringData.SCORER_API_TOKEN", sensitive.REDACTED, sensitive.REDACTED)
    ]
    assert item.owned_elsewhere == (("stringData.SCORER_API_TOKEN", "kubectl-patch"),)
    text = shown(the_plan, tmp_path)
    assert f"{RUNTIME}/secret" in text
    for value in (TOKEN, EDITED, PASSWORD, base64.b64encode(EDITED.encode()).decode()):
        assert value not in text

    with pytest.raises(errors.ApplyError, match="owned by kubectl-patch"):
        engine.apply(backend, open_target("kubernetes"), inputs=engine.Inputs())
    assert stored(cluster, RUNTIME_SECRET) == {"SCORER_API_TOKEN": EDITED, "SCORES_DB": DB_URL}
    forced = engine.apply(backend, KubernetesTarget(force_conflicts=True), inputs=engine.Inputs())
    assert forced.ok and forced.corrected == [f"{RUNTIME}/secret"]
    assert stored(cluster, RUNTIME_SECRET) == {"SCORER_API_TOKEN": TOKEN, "SCORES_DB": DB_URL}
    assert not engine.plan(backend, engine.Inputs(), target=open_target("kubernetes")).drift


def test_deleted_secrets_are_written_again_before_the_workload_that_reads_them(
    cluster: Emulator,
) -> None:
    backend = deploy(cluster)
    http = HttpClient(cluster.url)
    http.delete(COMPOSITION_SECRET)
    http.delete(f"/apis/apps/v1/namespaces/{WORKSPACE}/deployments/fraud-exp-a")
    the_plan = engine.plan(backend, engine.Inputs(), target=open_target("kubernetes"))
    assert {(d.address, d.deleted) for d in the_plan.drift} == {
        (COMPOSITION, True),
        (f"{COMPOSITION}/secret", True),
    }
    cluster.faults.reset_log()
    with kubetarget.FastClock(cluster):
        result = engine.apply(backend, open_target("kubernetes"), inputs=engine.Inputs())
    assert result.ok and sorted(result.corrected) == [COMPOSITION, f"{COMPOSITION}/secret"]
    writes = [r.path for r in cluster.request_log if r.method == "PATCH"]
    assert writes.index(COMPOSITION_SECRET) < writes.index(
        f"/apis/apps/v1/namespaces/{WORKSPACE}/deployments/fraud-exp-a"
    )
    assert stored(cluster, COMPOSITION_SECRET) == {"SCORER_API_TOKEN": TOKEN, "SCORES_DB": DB_URL}


def test_refresh_only_accepts_a_secret_as_the_cluster_holds_it(
    cluster: Emulator, kubectl: Kubectl
) -> None:
    backend = deploy(cluster)
    patch = json.dumps({"stringData": {"SCORES_DB": "postgres://other/db"}})
    kubectl("patch", "secret", "fraud-exp-a-env", "-n", WORKSPACE, "--type", "merge", "-p", patch)
    found, written = engine.refresh_only(backend, open_target("kubernetes"))
    assert [d.address for d in found.drift] == [f"{COMPOSITION}/secret"]
    assert written is not None and written.serial == 2
    assert not engine.plan(backend, engine.Inputs(), target=open_target("kubernetes")).drift
    assert stored(cluster, COMPOSITION_SECRET) == {
        "SCORER_API_TOKEN": TOKEN,
        "SCORES_DB": "postgres://other/db",
    }


def test_secrets_are_not_listed_where_none_is_expected(cluster: Emulator) -> None:
    given = inputs()
    runtime = given.values.data["config"]["deployer"]["composition"]["runtimes"]["lts"]
    runtime["environmentVariables"] = {"LOG_LEVEL": "INFO"}
    backend = deploy(cluster, given)
    cluster.faults.reset_log()
    assert not engine.plan(backend, engine.Inputs(), target=open_target("kubernetes")).drift
    assert cluster.requests["list", "secrets"] == 0
    assert cluster.requests["list", "deployments"] == 1


def test_secrets_go_on_the_wire_as_data_so_the_cluster_tracks_what_it_stores(
    cluster: Emulator,
) -> None:
    deploy(cluster)
    secret = HttpClient(cluster.url).get(RUNTIME_SECRET).body
    (ours,) = [
        m for m in secret["metadata"]["managedFields"] if m["manager"] == "runtime-reconciler"
    ]
    assert set(ours["fieldsV1"]["f:data"]) == {"f:SCORER_API_TOKEN", "f:SCORES_DB"}
    assert "f:stringData" not in ours["fieldsV1"]
    assert open_target("kubernetes").get(f"{RUNTIME}/secret")["stringData"] == {  # type: ignore[index]
        "SCORER_API_TOKEN": TOKEN,
        "SCORES_DB": DB_URL,
    }


def two_versions(env: dict[str, Any]) -> engine.Inputs:
    """`lts` on the latest version of its image (v1.5.4 and v1.6.0), with `env`."""
    versions = [{"image": {"repository": "scorer", "tag": tag}} for tag in ("v1.5.4", "v1.6.0")]
    lts = {"modelType": "h2o3_mojo", "runtimeImage": "h2o3-scorer", "environmentVariables": env}
    composition = {
        "runtimeImages": {"h2o3-scorer": {"versions": versions}},
        "runtimes": {"lts": lts},
    }
    declared = {
        "workspaces": {
            "prod": {
                "deployments": {
                    "fraud": {"compositions": [{"experimentId": "exp-a", "runtime": "lts"}]}
                }
            }
        }
    }
    data = {"config": {"deployer": {"composition": composition}}}
    return engine.Inputs(
        values=build_values([("values.yaml", data)]),
        overrides=parse_overrides(declared, source="d.yaml"),
    )


def test_a_composition_secret_goes_only_once_a_workload_without_it_serves(
    cluster: Emulator,
) -> None:
    backend = MemoryBackend()
    first = two_versions({"SCORER_API_TOKEN": TOKEN})
    first.values.data["config"]["deployer"]["composition"]["runtimeImages"]["h2o3-scorer"][
        "versions"
    ].pop()  # v1.5.4 only, to begin with
    with kubetarget.FastClock(cluster):
        assert engine.apply(backend, open_target("kubernetes"), inputs=first).ok
        # v1.6.0 arrives and the token goes; the composition still runs v1.5.4 with it.
        assert engine.apply(
            backend, open_target("kubernetes"), inputs=two_versions({"LOG_LEVEL": "INFO"})
        ).ok
        assert stored(cluster, COMPOSITION_SECRET) == {"SCORER_API_TOKEN": TOKEN}
        cluster.fail_image("scorer:v1.6.0")
        upgrade = engine.Inputs(upgrades=(parse_spec("workspaces/prod/deployments/fraud"),))
        failed = engine.apply(backend, open_target("kubernetes"), inputs=upgrade)
        assert len(failed.roll_failed) == 1 and "rolled back to v1.5.4" in (
            failed.roll_failed[0][2].summary
        )
        assert stored(cluster, COMPOSITION_SECRET) == {"SCORER_API_TOKEN": TOKEN}
        cluster.heal_image("scorer:v1.6.0")
        assert engine.apply(backend, open_target("kubernetes"), inputs=upgrade).ok
    assert stored(cluster, COMPOSITION_SECRET) is None


def test_a_secret_of_someone_elses_with_the_name_is_never_written_over_or_removed(
    cluster: Emulator,
) -> None:
    theirs = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "lts-env", "namespace": PLATFORM},
        "data": {"THEIR_KEY": base64.b64encode(b"their value").decode()},
    }
    cluster.apply_objects([theirs], manager="their-tool")
    before = HttpClient(cluster.url).get(RUNTIME_SECRET).body
    backend = MemoryBackend()
    with kubetarget.FastClock(cluster):
        result = engine.apply(backend, open_target("kubernetes"), inputs=inputs())
    ((change, error),) = result.failed
    assert change.address == RUNTIME
    assert f"secrets {PLATFORM}/lts-env exists and is not the tool's" in error.summary
    # A later run, the token gone, writes the runtime and leaves their Secret alone.
    given = inputs()
    runtime = given.values.data["config"]["deployer"]["composition"]["runtimes"]["lts"]
    runtime["environmentVariables"] = {"LOG_LEVEL": "INFO"}
    with kubetarget.FastClock(cluster):
        assert engine.apply(backend, open_target("kubernetes"), inputs=given).ok
    assert HttpClient(cluster.url).get(RUNTIME_SECRET).body == before
