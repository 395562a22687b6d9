"""Conflicts with other field managers, found at plan time and refused before apply writes.

Server-side apply's rule: applying a field another field manager owns, to a value other
than the one the object holds, is a conflict; applying the value it has shares the field.
So a field someone set to the very value the tool wrote (no drift) is a conflict as soon
as a plan changes it. A plan made with a refresh lists those fields with their managers;
apply refuses such a plan with nothing written unless `--force-conflicts`, which takes
them over. The cluster is the API emulator, driven over HTTP by the official client and
by the real kubectl; for each kind of edit, the conflicts a plan lists are the ones the
server answers when the same write is sent.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler import errors, planfile, render
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.values import Values, build_values
from reconciler.planning import plan_codec
from reconciler.planning.plan import Conflict, Plan
from reconciler.targets import conflicts, crds, open_target
from reconciler.targets.kubernetes import KubernetesTarget
from tests import kubetarget
from tests.kubeapi import Emulator
from tests.kubeapi.fixtures import HttpClient, Kubectl
from tests.runner import reconciler
from tests.test_kubernetes_target import (
    DEPLOYMENTS,
    LTS,
    PLATFORM,
    WORKSPACE,
    declared,
    deployments,
    image,
    upgrade_all,
    writes,
)

SCHEMA = json.loads((Path(__file__).parents[1] / "schemas/plan.schema.json").read_text())
RUNTIMES = f"/apis/{crds.GROUP}/{crds.VERSION}/namespaces/{PLATFORM}/runtimes"
CANARY = "workspaces/global/runtimes/canary"
CONTAINER = '.spec.template.spec.containers[name="scorer"]'
IMAGE_FIELD = f"{CONTAINER}.image"
SECRET = "s3cret-value-never-shown"
# How the target's error names each field the server refused (kubernetes._owned_elsewhere).
SERVER_NAMED = re.compile(r"(\S+) \(owned by ([^)]+)\)")


def catalog(
    *,
    description: str = "the long-term scorer",
    log_level: str = "INFO",
    token: str = SECRET,
    canary: bool = False,
) -> Values:
    """One scorer (v1.5.4, v1.6.0), the runtime `lts` on v1.5.4, and with `canary` a second
    runtime: a change elsewhere in the plan, to see that a refused apply writes none of it."""
    scorer = {
        "versions": [
            {"image": {"repository": "scorer", "tag": "v1.5.4"}},
            {"image": {"repository": "scorer", "tag": "v1.6.0"}},
        ]
    }
    lts = {
        "modelType": "h2o3_mojo",
        "runtimeImage": "h2o3-scorer/versions/v1.5.4",
        "description": description,
        "environmentVariables": {"LOG_LEVEL": log_level, "SCORER_API_TOKEN": token},
    }
    runtimes: dict[str, Any] = {"lts": lts}
    if canary:
        runtimes["canary"] = {"modelType": "h2o3_mojo", "runtimeImage": "h2o3-scorer"}
    composition = {"runtimeImages": {"h2o3-scorer": scorer}, "runtimes": runtimes}
    return build_values([("values.yaml", {"config": {"deployer": {"composition": composition}}})])


def runtime_edit(**spec: Any) -> dict[str, Any]:
    """What another tool applies to the runtime `lts`: only the fields it has an opinion on."""
    return {
        "apiVersion": crds.API_VERSION,
        "kind": "Runtime",
        "metadata": {"name": "lts", "namespace": PLATFORM},
        "spec": spec,
    }


@pytest.fixture
def cluster(kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch)
    return kubeapi


def deploy(emulator: Emulator) -> MemoryBackend:
    backend = MemoryBackend()
    inputs = engine.Inputs(values=catalog(), overrides=parse_overrides(declared(), source="d.yaml"))
    with kubetarget.FastClock(emulator):
        result = engine.apply(backend, open_target("kubernetes"), inputs=inputs)
    assert result.ok, (result.failed, result.roll_failed)
    return backend


def live_lts(emulator: Emulator) -> dict[str, Any]:
    reply = HttpClient(emulator.url).get(f"{RUNTIMES}/lts")
    assert reply.status == 200, reply.body
    return dict(reply.body)


def owners_of(live: dict[str, Any], field: str) -> set[str]:
    """The managers whose managed fields hold `spec.<field>`."""
    return {
        entry["manager"]
        for entry in live["metadata"]["managedFields"]
        if f"f:{field}" in entry.get("fieldsV1", {}).get("f:spec", {})
    }


def found(the_plan: Plan) -> list[tuple[str, str, str]]:
    return [(c.address, c.path, c.manager) for c in the_plan.conflicts]


def serial(backend: MemoryBackend) -> int:
    document, _ = engine.read_state(backend)
    assert document is not None
    return document.serial


def test_a_field_set_to_the_same_value_by_another_manager_conflicts_once_the_plan_changes_it(
    cluster: Emulator, kubectl: Kubectl, tmp_path: Path
) -> None:
    backend = deploy(cluster)
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(runtime_edit(description="the long-term scorer")))
    kubectl("apply", "--server-side", "--field-manager=ops", "-f", str(edit))
    assert owners_of(live_lts(cluster), "description") == {"ops", "runtime-reconciler"}
    target = open_target("kubernetes")
    assert not engine.plan(backend, engine.Inputs(values=catalog()), target=target).has_changes, (
        "the same value is shared ownership: no drift, nothing to plan"
    )

    changed = engine.Inputs(values=catalog(description="the short-term scorer", canary=True))
    cluster.faults.reset_log()
    the_plan = engine.plan(backend, changed, target=target)
    assert sum(n for (verb, _), n in cluster.requests.items() if verb != "list") == 0, (
        "conflicts come from the refresh's own lists"
    )
    assert found(the_plan) == [(LTS, ".spec.description", "ops")]
    assert not the_plan.drift and not the_plan.force_conflicts
    assert the_plan.summary.add == 1 and the_plan.summary.change == 1, "conflicts are no changes"

    text = render.plan_text(the_plan)
    assert render.CONFLICTS_REFUSED in text
    assert "apply will refuse these unless --force-conflicts" in text
    assert f"{LTS}\n        .spec.description owned by ops" in text
    shown = json.loads(render.plan_json(the_plan))
    jsonschema.validate(shown, SCHEMA)
    assert shown["conflicts"] == [{"address": LTS, "path": ".spec.description", "manager": "ops"}]
    assert shown["force_conflicts"] is False
    markdown = render.plan_markdown(the_plan)
    folded = markdown.index("<details>")
    assert -1 < markdown.index(render.CONFLICTS_REFUSED) < folded, "always visible, not folded"
    assert f"- `{LTS}`: `.spec.description` owned by `ops`" in markdown[:folded]

    before = serial(backend)
    cluster.faults.reset_log()
    with pytest.raises(errors.ApplyError) as refused:
        engine.apply(backend, open_target("kubernetes"), inputs=changed)
    assert "nothing was written" in refused.value.summary
    assert f"{LTS}: .spec.description (owned by ops)" in refused.value.detail
    assert "--force-conflicts" in refused.value.hint
    assert writes(cluster) == 0, "refused before the first write: the new runtime is not there"
    assert open_target("kubernetes").get(CANARY) is None
    assert serial(backend) == before
    assert live_lts(cluster)["spec"]["description"] == "the long-term scorer"

    result = engine.apply(backend, KubernetesTarget(force_conflicts=True), inputs=changed)
    assert result.ok
    live = live_lts(cluster)
    assert live["spec"]["description"] == "the short-term scorer"
    assert owners_of(live, "description") == {"runtime-reconciler"}, "taken over"
    assert open_target("kubernetes").get(CANARY) is not None
    again = engine.plan(backend, changed, target=target)
    assert not again.has_changes and not again.conflicts


def test_a_co_owned_field_the_plan_does_not_change_is_no_conflict(cluster: Emulator) -> None:
    backend = deploy(cluster)
    cluster.apply_objects(
        [runtime_edit(modelType="h2o3_mojo", environmentVariables={"LOG_LEVEL": "INFO"})],
        manager="ops",
    )
    changed = engine.Inputs(values=catalog(description="the short-term scorer"))
    the_plan = engine.plan(backend, changed, target=open_target("kubernetes"))
    assert the_plan.summary.change == 1 and not the_plan.conflicts
    assert render.CONFLICTS_REFUSED not in render.plan_text(the_plan)
    assert "conflicts" not in plan_codec.to_dict(the_plan)

    assert engine.apply(backend, open_target("kubernetes"), inputs=changed).ok
    live = live_lts(cluster)
    assert live["spec"]["description"] == "the short-term scorer"
    assert owners_of(live, "modelType") == {"ops", "runtime-reconciler"}, "still shared"


def test_a_conflict_names_the_field_never_its_value(cluster: Emulator) -> None:
    backend = deploy(cluster)
    cluster.apply_objects([runtime_edit(environmentVariables={"LOG_LEVEL": "INFO"})], manager="ops")
    changed = engine.Inputs(values=catalog(log_level="DEBUG"))
    the_plan = engine.plan(backend, changed, target=open_target("kubernetes"))
    assert found(the_plan) == [(LTS, ".spec.environmentVariables.LOG_LEVEL", "ops")]
    for shown in (
        render.plan_text(the_plan),
        render.plan_json(the_plan),
        render.plan_markdown(the_plan),
    ):
        assert ".spec.environmentVariables.LOG_LEVEL" in shown
        assert SECRET not in shown
    with pytest.raises(errors.ApplyError) as refused:
        engine.apply(backend, open_target("kubernetes"), inputs=changed)
    assert SECRET not in str(refused.value)


def test_a_secret_value_another_manager_co_owns_conflicts_by_its_key_alone(
    cluster: Emulator,
) -> None:
    backend = deploy(cluster)
    shared = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "lts-env", "namespace": PLATFORM},
        "data": {"SCORER_API_TOKEN": base64.b64encode(SECRET.encode()).decode()},
    }
    cluster.apply_objects([shared], manager="vault-sync")
    target = open_target("kubernetes")
    assert not engine.plan(backend, engine.Inputs(values=catalog()), target=target).has_changes

    rotated = "r0tated-value-never-shown"
    changed = engine.Inputs(values=catalog(token=rotated))
    the_plan = engine.plan(backend, changed, target=target)
    assert found(the_plan) == [(f"{LTS}/secret", ".data.SCORER_API_TOKEN", "vault-sync")]
    for shown in (
        render.plan_text(the_plan),
        render.plan_json(the_plan),
        render.plan_markdown(the_plan),
    ):
        assert ".data.SCORER_API_TOKEN" in shown and "vault-sync" in shown
        assert SECRET not in shown and rotated not in shown
    cluster.faults.reset_log()
    with pytest.raises(errors.ApplyError) as refused:
        engine.apply(backend, target, inputs=changed)
    assert writes(cluster) == 0
    assert SECRET not in str(refused.value) and rotated not in str(refused.value)
    prior, _ = engine.read_state(backend)
    assert prior is not None
    (secret,) = [
        document
        for address, document in conflicts.writes(the_plan, prior.by_address, expected={})
        if address == f"{LTS}/secret"
    ]
    with pytest.raises(errors.TargetError) as answered:
        target.put(f"{LTS}/secret", secret)
    assert SERVER_NAMED.findall(answered.value.summary) == [
        (".data.SCORER_API_TOKEN", "vault-sync")
    ], "the server refuses the same write for the same field"
    assert engine.apply(backend, KubernetesTarget(force_conflicts=True), inputs=changed).ok
    assert not engine.plan(backend, changed, target=target).has_changes


def test_a_rollout_over_an_image_another_manager_set_is_a_conflict_until_forced(
    cluster: Emulator, kubectl: Kubectl
) -> None:
    backend = deploy(cluster)
    kubectl("set", "image", "-n", WORKSPACE, "deployment/model-0-exp-a", "scorer=scorer:hotfix")
    target = open_target("kubernetes")
    the_plan = engine.plan(backend, upgrade_all(), target=target)
    exp_a = f"{DEPLOYMENTS[0]}/compositions/exp-a"
    assert found(the_plan) == [(exp_a, IMAGE_FIELD, "kubectl-set")], (
        "the hot fix is drift, and both the correction and the upgrade write over it: once"
    )
    assert [d.address for d in the_plan.drift] == [exp_a]

    cluster.faults.reset_log()
    with pytest.raises(errors.ApplyError, match="owned by kubectl-set"):
        engine.apply(backend, target, inputs=upgrade_all())
    assert writes(cluster) == 0
    with kubetarget.FastClock(cluster):
        result = engine.apply(backend, KubernetesTarget(force_conflicts=True), inputs=upgrade_all())
    assert result.ok, (result.failed, result.roll_failed)
    assert {image(d) for d in deployments(cluster)} == {"scorer:v1.6.0"}


def test_a_saved_plan_keeps_its_conflicts_and_older_plans_without_them_still_read(
    tmp_path: Path,
) -> None:
    conflict = Conflict(address=LTS, path=".spec.description", manager="ops")
    the_plan = Plan(
        tool_version=engine.TOOL_VERSION,
        prior_lineage=None,
        prior_serial=0,
        changes=(),
        conflicts=(conflict,),
        force_conflicts=True,
    )
    planfile.save(the_plan, tmp_path / "p.plan")
    loaded = planfile.load(tmp_path / "p.plan")
    assert loaded.conflicts == (conflict,) and loaded.force_conflicts
    without = plan_codec.to_dict(Plan(engine.TOOL_VERSION, None, 0, ()))
    assert "conflicts" not in without and "force_conflicts" not in without
    assert plan_codec.from_dict(without).conflicts == ()


def test_the_cli_plans_conflicts_and_applies_them_only_when_forced(
    cluster: Emulator, tmp_path: Path
) -> None:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(json.dumps(catalog().data))
    common = ("-f", str(values_file), "--target", "kubernetes", "--state", str(tmp_path / "s.json"))
    first = reconciler("apply", *common, "--auto-approve", cwd=tmp_path)
    assert first.code == 0, first.out + first.err
    cluster.apply_objects([runtime_edit(description="the long-term scorer")], manager="ops")
    change = ("--set", "config.deployer.composition.runtimes.lts.description=short-term")

    planned = reconciler("plan", *common, *change, "--detailed-exitcode", cwd=tmp_path)
    assert planned.code == 2, planned.out + planned.err
    assert render.CONFLICTS_REFUSED in planned.out
    assert f"{LTS}\n        .spec.description owned by ops" in planned.out
    as_json = reconciler("plan", *common, *change, "--json", cwd=tmp_path)
    assert json.loads(as_json.out)["conflicts"] == [
        {"address": LTS, "path": ".spec.description", "manager": "ops"}
    ]

    refused = reconciler("apply", *common, *change, "--auto-approve", cwd=tmp_path)
    assert refused.code == 1
    assert "nothing was written" in refused.err
    assert ".spec.description (owned by ops)" in refused.err and "--force-conflicts" in refused.err
    assert live_lts(cluster)["spec"]["description"] == "the long-term scorer"

    saved = tmp_path / "forced.plan"
    forced_plan = reconciler(
        "plan", *common, *change, "--force-conflicts", "--out", str(saved), cwd=tmp_path
    )
    assert forced_plan.code == 0, forced_plan.err
    assert render.CONFLICTS_FORCED in forced_plan.out
    assert "apply will take these over" in forced_plan.out
    shown = reconciler("show", str(saved), "--format", "markdown", cwd=tmp_path)
    assert render.CONFLICTS_FORCED in shown.out

    state = ("--target", "kubernetes", "--state", str(tmp_path / "s.json"))
    unforced = reconciler("apply", str(saved), *state, cwd=tmp_path)
    assert unforced.code == 1
    assert "made with --force-conflicts" in unforced.err
    assert live_lts(cluster)["spec"]["description"] == "the long-term scorer"
    applied = reconciler("apply", str(saved), *state, "--force-conflicts", cwd=tmp_path)
    assert applied.code == 0, applied.out + applied.err
    assert live_lts(cluster)["spec"]["description"] == "short-term"
    assert owners_of(live_lts(cluster), "description") == {"runtime-reconciler"}


def container(**fields: Any) -> dict[str, Any]:
    return {"template": {"spec": {"containers": [{"name": "scorer", **fields}]}}}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"spec": {"replicas": 1}}, []),
        ({"spec": {"replicas": 3}}, [".spec.replicas"]),
        ({"spec": container(image="scorer:v1.5.4")}, [IMAGE_FIELD]),
        (
            {"spec": container(env=[{"name": "LOG_LEVEL", "value": "WARN"}])},
            [f'{CONTAINER}.env[name="LOG_LEVEL"].value'],
        ),
        ({"spec": container(readinessProbe={"httpGet": {"path": "/readyz"}})}, []),
        (
            {"spec": container(ports=[{"containerPort": 8080, "name": "web"}])},
            [f"{CONTAINER}.ports[containerPort=8080].name"],
        ),
        ({"metadata": {"labels": {"team": "ml"}}}, []),
        ({"metadata": {"labels": {"app.kubernetes.io/managed-by": "runtime-reconciler"}}}, []),
        (
            {"metadata": {"annotations": {"runtimes.reconciler.dev/runtime": "elsewhere"}}},
            [".metadata.annotations.runtimes.reconciler.dev/runtime"],
        ),
    ],
    ids=[
        "same-replicas",
        "other-replicas",
        "same-image",
        "other-env-value",
        "same-probe",
        "other-port-name",
        "foreign-label",
        "same-label",
        "other-annotation",
    ],
)
def test_the_plan_names_the_conflicts_the_server_answers_for_the_same_write(
    cluster: Emulator, edit: dict[str, Any], expected: list[str]
) -> None:
    backend = deploy(cluster)
    exp_a = f"{DEPLOYMENTS[0]}/compositions/exp-a"
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        **edit,
        "metadata": {"name": "model-0-exp-a", "namespace": WORKSPACE, **edit.get("metadata", {})},
    }
    cluster.apply_objects([patch], manager="ops")
    target = open_target("kubernetes")
    the_plan = engine.plan(backend, upgrade_all(), target=target)
    prior, _ = engine.read_state(backend)
    assert prior is not None
    (document,) = [
        document
        for address, document in conflicts.writes(the_plan, prior.by_address, expected={})
        if address == exp_a
    ]
    planned = {(c.path, c.manager) for c in conflicts.find([(exp_a, document)], target.observe())}
    try:
        target.put(exp_a, document)
        answered: set[tuple[str, str]] = set()
    except errors.TargetError as refused:
        answered = set(SERVER_NAMED.findall(refused.summary))
    assert planned == answered
    assert planned == {(path, "ops") for path in expected}
