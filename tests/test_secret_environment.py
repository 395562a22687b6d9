"""Secret-looking environment values live in a Secret the tool owns, never in plain text.

A runtime `lts` with a token, a database URL carrying a password, a plain log level and a
reference to an existing Secret, and a deployment of one composition on it in workspace
`prod`. On the dir target every file is read as the GitOps tool would; on the kubernetes
target the objects are read from the API emulator over HTTP.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

import reconciler
from reconciler import errors, render
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.upgrade_specs import parse_spec
from reconciler.inputs.values import build_values
from reconciler.targets import crds, open_target
from reconciler.targets.directory import DirTarget
from tests import kubetarget
from tests.kubeapi import Emulator
from tests.kubeapi.fixtures import HttpClient
from tests.kubeapi.rbac import service_account_user
from tests.test_kubernetes_rbac import NAMESPACES as RBAC_NAMESPACES
from tests.test_kubernetes_rbac import TOKEN as RBAC_TOKEN
from tests.test_kubernetes_rbac import rbac_documents, without

TOKEN = "tok-4f1c9e"
PASSWORD = "pw-83hd"
DB_URL = f"postgres://scorer:{PASSWORD}@db.internal/scores"
EXISTING = {"secretKeyRef": {"name": "model-store", "key": "access-key"}}
RUNTIME = "workspaces/global/runtimes/lts"
COMPOSITION = "workspaces/prod/deployments/fraud/compositions/exp-a"
KUBERNETES_VERSION = "1.37"


def values(token: str = TOKEN) -> Any:
    scorer = {"versions": [{"image": {"repository": "scorer", "tag": "v1.5.4"}}]}
    lts = {
        "modelType": "h2o3_mojo",
        "runtimeImage": "h2o3-scorer/versions/v1.5.4",
        "environmentVariables": {
            "LOG_LEVEL": "INFO",
            "SCORER_API_TOKEN": token,
            "SCORES_DB": DB_URL,
            "MODEL_STORE_KEY": EXISTING,
        },
    }
    composition = {"runtimeImages": {"h2o3-scorer": scorer}, "runtimes": {"lts": lts}}
    return build_values([("values.yaml", {"config": {"deployer": {"composition": composition}}})])


def inputs(token: str = TOKEN, *, workspace: str = "prod") -> engine.Inputs:
    declared = {
        "workspaces": {
            workspace: {
                "deployments": {
                    "fraud": {"compositions": [{"experimentId": "exp-a", "runtime": "lts"}]}
                }
            }
        }
    }
    return engine.Inputs(values=values(token), overrides=parse_overrides(declared, source="d.yaml"))


def load(path: Path) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(path.read_text())
    return found


def spec_schema(kind: str) -> dict[str, Any]:
    (found,) = (d for d in crds.definitions() if d["spec"]["names"]["kind"] == kind)
    schema: dict[str, Any] = found["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["spec"]


def container_env(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item for item in container["env"]}


@pytest.fixture
def applied(tmp_path: Path) -> tuple[MemoryBackend, DirTarget]:
    backend, target = MemoryBackend(), DirTarget(tmp_path / "cluster")
    result = engine.apply(backend, target, inputs=inputs())
    assert result.ok, (result.failed, result.roll_failed)
    return backend, target


def test_no_secret_value_is_in_a_runtime_or_deployment_file(
    applied: tuple[MemoryBackend, DirTarget],
) -> None:
    _, target = applied
    files = sorted(target.root.rglob("*.yaml"))
    secrets = [p for p in files if load(p)["kind"] == "Secret"]
    assert sorted(p.relative_to(target.root).as_posix() for p in secrets) == [
        f"{RUNTIME}/secret.yaml",
        f"{COMPOSITION}/secret.yaml",
    ]
    for path in files:
        if path not in secrets:
            text = path.read_text()
            assert TOKEN not in text and PASSWORD not in text, path
    for path in secrets:
        secret = load(path)
        assert secret["stringData"] == {"SCORER_API_TOKEN": TOKEN, "SCORES_DB": DB_URL}
        assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == (
            "runtime-reconciler"
        )


def test_the_objects_reference_the_secret_and_pass_existing_references_through(
    applied: tuple[MemoryBackend, DirTarget],
) -> None:
    _, target = applied
    runtime = load(target.path_of(RUNTIME))
    assert runtime["spec"]["environmentVariables"] == {
        "LOG_LEVEL": "INFO",
        "SCORER_API_TOKEN": {"secretKeyRef": {"name": "lts-env", "key": "SCORER_API_TOKEN"}},
        "SCORES_DB": {"secretKeyRef": {"name": "lts-env", "key": "SCORES_DB"}},
        "MODEL_STORE_KEY": EXISTING,
    }
    assert load(target.path_of(f"{RUNTIME}/secret"))["metadata"]["name"] == "lts-env"
    env = container_env(load(target.path_of(COMPOSITION)))
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "INFO"}
    assert env["SCORER_API_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "fraud-exp-a-env", "key": "SCORER_API_TOKEN"}
    }
    assert env["MODEL_STORE_KEY"]["valueFrom"] == EXISTING
    assert load(target.path_of(f"{COMPOSITION}/secret"))["metadata"]["name"] == "fraud-exp-a-env"


def test_every_file_written_validates(applied: tuple[MemoryBackend, DirTarget]) -> None:
    _, target = applied
    for path in sorted(target.root.rglob("*.yaml")):
        written = load(path)
        if written["apiVersion"] == crds.API_VERSION:
            jsonschema.validate(written["spec"], spec_schema(written["kind"]))
        else:
            assert kubernetes_validate.validate(written, KUBERNETES_VERSION, strict=True)


def test_the_crd_schema_refuses_an_environment_value_of_another_shape() -> None:
    schema = spec_schema("Runtime")["properties"]["environmentVariables"]
    (rule,) = schema["additionalProperties"]["x-kubernetes-validations"]
    assert "has(self.secretKeyRef)" in rule["rule"] and "type(self) == string" in rule["rule"]


def test_a_second_apply_changes_nothing(applied: tuple[MemoryBackend, DirTarget]) -> None:
    backend, target = applied
    again = engine.apply(backend, target, inputs=inputs())
    assert again.ok and not again.plan.has_changes


def test_a_new_secret_value_rolls_like_any_configuration_change(
    applied: tuple[MemoryBackend, DirTarget],
) -> None:
    backend, target = applied
    before = load(target.path_of(COMPOSITION))
    rotated = "tok-rotated-77"
    plan = engine.plan(backend, inputs(rotated))
    assert [o.experiment_id for o in plan.outdated] == ["exp-a"]
    shown = render.plan_text(plan, colour=False)
    assert rotated not in shown and TOKEN not in shown, "plan output keeps redacting"
    result = engine.apply(backend, target, inputs=inputs(rotated))
    assert result.ok
    assert load(target.path_of(f"{RUNTIME}/secret"))["stringData"]["SCORER_API_TOKEN"] == rotated
    assert load(target.path_of(COMPOSITION)) == before, "not rolled until upgraded"
    upgrade = engine.Inputs(
        values=values(rotated),
        overrides=inputs().overrides,
        upgrades=(parse_spec("prod/fraud"),),
    )
    assert engine.apply(backend, target, inputs=upgrade).ok
    after = load(target.path_of(COMPOSITION))
    assert (
        after["spec"]["template"]["metadata"]["annotations"]
        != (before["spec"]["template"]["metadata"]["annotations"])
    ), "the pod template changes, so the workload rolls"
    assert container_env(after) == container_env(before), "the references stay"
    secret = load(target.path_of(f"{COMPOSITION}/secret"))
    assert secret["stringData"]["SCORER_API_TOKEN"] == rotated
    assert not engine.plan(backend, upgrade).has_changes


def test_a_runtime_without_secret_values_has_no_secret(tmp_path: Path) -> None:
    backend, target = MemoryBackend(), DirTarget(tmp_path / "cluster")
    plain = values()
    env = plain.data["config"]["deployer"]["composition"]["runtimes"]["lts"]
    env["environmentVariables"] = {"LOG_LEVEL": "INFO"}
    result = engine.apply(backend, target, inputs=engine.Inputs(values=plain))
    assert result.ok
    assert not target.path_of(f"{RUNTIME}/secret").exists()
    assert "annotations" not in load(target.path_of(RUNTIME))["metadata"] or (
        "runtimes.reconciler.dev/configuration"
        not in load(target.path_of(RUNTIME))["metadata"]["annotations"]
    )


def test_a_malformed_secret_reference_in_values_is_one_clear_error() -> None:
    scorer = {"versions": [{"image": {"repository": "scorer", "tag": "v1.5.4"}}]}
    lts = {
        "modelType": "h2o3_mojo",
        "runtimeImage": "h2o3-scorer",
        "environmentVariables": {"STORE_KEY": {"secretKeyRef": {"name": "model-store"}}},
    }
    composition = {"runtimeImages": {"h2o3-scorer": scorer}, "runtimes": {"lts": lts}}
    with pytest.raises(errors.ValuesError) as caught:
        build_values([("values.yaml", {"config": {"deployer": {"composition": composition}}})])
    assert "environmentVariables.STORE_KEY" in caught.value.summary


def test_the_sdk_accepts_references_to_existing_secrets(tmp_path: Path) -> None:
    client = reconciler.Client(state=tmp_path / "state.json", target=f"dir:{tmp_path / 'cluster'}")
    assert engine.apply(client.backend, client.target, inputs=engine.Inputs(values=values())).ok
    workspace = client.workspaces.create("team")
    image = workspace.runtimes.images.get("h2o3-scorer")
    runtime = workspace.runtimes.create(
        "scoring",
        runtime_image=image,
        model_type="h2o3_mojo",
        environment_variables={"STORE_KEY": EXISTING, "SERVICE_PASSWORD": PASSWORD},
    )
    assert runtime.environment_variables["STORE_KEY"] == EXISTING
    written = (tmp_path / "cluster/workspaces/team/runtimes/scoring.yaml").read_text()
    assert PASSWORD not in written and "model-store" in written
    secret = load(tmp_path / "cluster/workspaces/team/runtimes/scoring/secret.yaml")
    assert secret["stringData"] == {"SERVICE_PASSWORD": PASSWORD}
    with pytest.raises(errors.ArgumentError):
        runtime.update(environment_variables={"STORE_KEY": {"secretKeyRef": {"key": "k"}}})


# The kubernetes target, against the API emulator ------------------------------------------


@pytest.fixture
def cluster(kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch)
    return kubeapi


def read(emulator: Emulator, path: str) -> dict[str, Any]:
    reply = HttpClient(emulator.url).get(path)
    assert reply.status == 200, reply.body
    found: dict[str, Any] = reply.body
    return found


def test_on_a_cluster_the_values_are_in_secrets_beside_the_objects(cluster: Emulator) -> None:
    backend = MemoryBackend()
    with kubetarget.FastClock(cluster):
        result = engine.apply(backend, open_target("kubernetes"), inputs=inputs())
    assert result.ok, (result.failed, result.roll_failed)
    runtime = read(cluster, f"/apis/{crds.API_VERSION}/namespaces/runtime-platform/runtimes/lts")
    deployment = read(cluster, "/apis/apps/v1/namespaces/workspace-prod/deployments/fraud-exp-a")
    for found in (runtime, deployment):
        text = str(found)
        assert TOKEN not in text and PASSWORD not in text
    jsonschema.validate(runtime["spec"], spec_schema("Runtime"))
    assert env_refs(deployment) == {
        "SCORER_API_TOKEN": ("fraud-exp-a-env", "SCORER_API_TOKEN"),
        "SCORES_DB": ("fraud-exp-a-env", "SCORES_DB"),
        "MODEL_STORE_KEY": ("model-store", "access-key"),
    }
    for namespace, name in (("runtime-platform", "lts-env"), ("workspace-prod", "fraud-exp-a-env")):
        secret = read(cluster, f"/api/v1/namespaces/{namespace}/secrets/{name}")
        data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert data == {"SCORER_API_TOKEN": TOKEN, "SCORES_DB": DB_URL}
        assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == (
            "runtime-reconciler"
        )
        written = {k: v for k, v in secret.items() if k in ("apiVersion", "kind", "type", "data")}
        written["metadata"] = {"name": name, "labels": secret["metadata"]["labels"]}
        assert kubernetes_validate.validate(written, KUBERNETES_VERSION, strict=True)
    cluster.faults.reset_log()
    again = engine.apply(backend, open_target("kubernetes"), inputs=inputs())
    assert again.ok and not again.plan.has_changes
    assert not [k for k in cluster.requests if k[0] in ("create", "update", "patch", "delete")]


def env_refs(deployment: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        name: (item["valueFrom"]["secretKeyRef"]["name"], item["valueFrom"]["secretKeyRef"]["key"])
        for name, item in container_env(deployment).items()
        if "valueFrom" in item
    }


def apply_under_rbac(
    documents: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *runs: str
) -> tuple[Emulator, list[engine.ApplyResult]]:
    """Apply once per token value in `runs`, as the shipped service account; the emulator
    is left running for the caller to read (and stop)."""
    user = service_account_user("runtime-platform", "runtime-reconciler")
    emulator = Emulator(tokens={RBAC_TOKEN: user}).start()
    kubetarget.prepare(
        emulator, tmp_path, monkeypatch, namespaces=RBAC_NAMESPACES, token=RBAC_TOKEN
    )
    emulator.apply_objects(documents)
    backend, results = MemoryBackend(), []
    with kubetarget.FastClock(emulator):
        for token in runs:
            given = inputs(token, workspace="fraud-team")
            if token == "":  # no secret value left: the runtime's Secret goes
                env = given.values.data["config"]["deployer"]["composition"]["runtimes"]["lts"]
                env["environmentVariables"] = {"LOG_LEVEL": "INFO"}
            results.append(engine.apply(backend, open_target("kubernetes"), inputs=given))
    return emulator, results


def test_under_the_shipped_rbac_secrets_are_written_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, results = apply_under_rbac(rbac_documents(), tmp_path, monkeypatch, TOKEN, "")
    try:
        assert all(r.ok for r in results), [
            [e.summary for _, e in r.failed] + [e.summary for *_, e in r.roll_failed]
            for r in results
        ]
        target = open_target("kubernetes")  # as the service account
        assert target.get(f"{RUNTIME}/secret") is None, "no secret value left: no Secret"
        composition = "workspaces/fraud-team/deployments/fraud/compositions/exp-a"
        kept = target.get(f"{composition}/secret")
        assert kept is not None and kept["metadata"]["name"] == "fraud-exp-a-env", (
            "the composition not yet upgraded still runs with its Secret"
        )
    finally:
        emulator.stop()


@pytest.mark.parametrize("verb", ["patch", "delete"])
def test_writing_secrets_needs_the_rbac_rule_for_them(
    verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = without("runtime-reconciler-write", "secrets", verb)
    emulator, results = apply_under_rbac(documents, tmp_path, monkeypatch, TOKEN, "")
    emulator.stop()
    failed = results[0] if verb == "patch" else results[1]
    assert not failed.ok
    summaries = [e.summary for _, e in failed.failed] + [e.summary for *_, e in failed.roll_failed]
    assert summaries and all(
        f"forbidden: cannot {verb} secrets in namespace" in s for s in summaries
    ), summaries
