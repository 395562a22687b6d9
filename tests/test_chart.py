"""The Helm chart (examples/chart/), checked with the real Helm 4 binary.

It lints clean, renders valid Kubernetes 1.37 objects for its defaults and for S3 state,
PVC state, a bigger catalog and another image tag; it ships the catalog's own values
schema and CRDs; its ConfigMap carries the composition exactly as Helm merged it, which
the tool plans exactly as it plans the original file; its hook Job runs the documented
command under a locked-down security context; and Helm refuses invalid catalog values.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from reconciler.inputs import schema
from tests.runner import EXAMPLES, REPO, reconciler

CHART = EXAMPLES / "chart"
HELM = REPO / ".venv/bin/helm"
RELEASE, NAMESPACE = "catalog", "ml-platform"
FULLNAME = f"{RELEASE}-runtime-reconciler"
# Helm's default `--timeout` for hooks: the Job must give up (and say why) before Helm does.
HELM_DEFAULT_TIMEOUT = 300
PVC_ARGS = [
    "apply",
    "--auto-approve",
    "-f",
    "/etc/reconciler/values.yaml",
    "--target",
    "kubernetes",
    "--state",
    "/var/lib/reconciler/state.json",
    "--lock-timeout",
    "60s",
]
S3_URL = "s3://platform-state/runtime-catalog/reconciler.state.json"


def helm(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """The real `helm`, with its config, cache and data kept out of the user's home."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return subprocess.run(
        [str(HELM), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def render(home: Path, *args: str) -> list[dict[str, Any]]:
    done = helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--include-crds",
        *args,
        home=home,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (only,) = one(docs, "Job")["spec"]["template"]["spec"]["containers"]
    return only


def rendered_values(docs: list[dict[str, Any]]) -> dict[str, Any]:
    configmap = one(docs, "ConfigMap", f"{FULLNAME}-values")
    return yaml.safe_load(configmap["data"]["values.yaml"])


def coalesce(defaults: Any, given: Any) -> Any:
    """Helm's coalescing of plain values: maps merge key by key, anything else replaces."""
    if not (isinstance(defaults, dict) and isinstance(given, dict)):
        return copy.deepcopy(given)
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        merged[key] = coalesce(defaults.get(key), value)
    return merged


def composition(values: dict[str, Any]) -> dict[str, Any]:
    return values["config"]["deployer"]["composition"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


@pytest.fixture(scope="module")
def default_docs(home: Path) -> list[dict[str, Any]]:
    return render(home)


def test_the_chart_ships_the_catalog_schema_and_crds_unchanged() -> None:
    assert (CHART / "values.schema.json").read_bytes() == (
        REPO / "schemas/values.schema.json"
    ).read_bytes(), "copy schemas/values.schema.json to examples/chart/values.schema.json"
    shipped = {p.name: p.read_bytes() for p in (CHART / "crds").iterdir()}
    generated = {p.name: p.read_bytes() for p in (EXAMPLES / "crds").iterdir()}
    assert shipped == generated, "copy examples/crds/*.yaml to examples/chart/crds/"


def test_the_values_schema_checks_only_the_composition() -> None:
    root = schema.load_schema("values.schema.json")
    assert "additionalProperties" not in root, "the chart's own keys must stay allowed"
    assert set(root["properties"]) == {"config"}
    assert "additionalProperties" not in root["properties"]["config"]
    assert root["definitions"]["composition"]["additionalProperties"] is False


SCENARIOS = {
    "defaults": [],
    "s3 state": [
        "--set", f"state.s3.url={S3_URL}",
        "--set", "state.s3.endpoint=http://seaweedfs.storage:8333",
        "--set", "state.s3.region=eu-west-1",
        "--set", "state.s3.pathStyle=true",
        "--set", "state.s3.credentialsSecret=catalog-state-s3",
    ],
    "existing pvc": ["--set", "state.persistentVolumeClaim.existingClaim=catalog-state"],
    "bigger catalog": [
        "-f", str(EXAMPLES / "values.yaml"),
        "-f", str(EXAMPLES / "values-release.yaml"),
        "--set", "rbac.workspaceNamespaces={workspace-fraud-team,workspace-risk}",
        "--set", "rbac.createNamespaces=true",
    ],
    "image tag": ["--set", "image.tag=0.2.0-rc.1", "--set", "rbac.clusterWideWrites=true"],
}  # fmt: skip


@pytest.mark.parametrize("scenario", ["defaults", "s3 state"])
def test_helm_lint_strict_is_clean(home: Path, scenario: str) -> None:
    done = helm("lint", "--strict", str(CHART), *SCENARIOS[scenario], home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_object_is_valid_for_kubernetes(home: Path, scenario: str) -> None:
    docs = render(home, *SCENARIOS[scenario])
    kinds = {doc["kind"] for doc in docs}
    assert {"CustomResourceDefinition", "ConfigMap", "Job", "ServiceAccount"} <= kinds
    assert {"ClusterRole", "ClusterRoleBinding"} <= kinds
    for doc in docs:
        # An unknown kind would raise SchemaNotFoundError: every object must be checked.
        assert kubernetes_validate.validate(doc, "1.37", strict=True) == "1.37", doc["kind"]


def test_the_configmap_holds_the_default_composition_exactly(
    default_docs: list[dict[str, Any]],
) -> None:
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert rendered_values(default_docs) == {
        "config": {"deployer": {"composition": composition(chart_values)}}
    }


def test_the_configmap_holds_the_composition_helm_merged(home: Path, tmp_path: Path) -> None:
    docs = render(home, *SCENARIOS["bigger catalog"])
    expected: Any = yaml.safe_load((CHART / "values.yaml").read_text())
    for layer in ("values.yaml", "values-release.yaml"):
        expected = coalesce(expected, yaml.safe_load((EXAMPLES / layer).read_text()))
    values = rendered_values(docs)
    assert values == {"config": {"deployer": {"composition": composition(expected)}}}
    assert set(values) == {"config"}, "only the catalog reaches the hook"

    # The hook plans the rendered file exactly as the tool plans what Helm merged.
    hook_file = tmp_path / "hook-values.yaml"
    hook_file.write_text(one(docs, "ConfigMap")["data"]["values.yaml"])
    merged_file = tmp_path / "merged.yaml"
    merged_file.write_text(json.dumps(expected))
    from_hook = reconciler("plan", "-f", str(hook_file), "--json", cwd=tmp_path)
    from_merge = reconciler("plan", "-f", str(merged_file), "--json", cwd=tmp_path)
    assert from_hook.code == 0, from_hook.err
    hooked, merged = json.loads(from_hook.out), json.loads(from_merge.out)
    assert hooked["changes"] == merged["changes"] and hooked["summary"] == merged["summary"]
    assert hooked["summary"]["add"] > 20


def test_the_hook_job_runs_the_documented_command(default_docs: list[dict[str, Any]]) -> None:
    job = one(default_docs, "Job", f"{FULLNAME}-apply")
    assert container(default_docs)["args"] == PVC_ARGS
    readme = (CHART / "README.md").read_text()
    assert f"reconciler {' '.join(PVC_ARGS)}" in readme
    assert f"reconciler {' '.join(PVC_ARGS).replace('/var/lib/reconciler/state.json', S3_URL)}" in (
        readme
    )
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,post-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert 0 < job["spec"]["activeDeadlineSeconds"] < HELM_DEFAULT_TIMEOUT
    assert job["spec"]["backoffLimit"] == 1
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == FULLNAME
    mounts = {m["mountPath"]: m["name"] for m in container(default_docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/etc/reconciler"]]["configMap"]["name"] == f"{FULLNAME}-values"
    assert volumes[mounts["/var/lib/reconciler"]]["persistentVolumeClaim"]["claimName"] == (
        f"{FULLNAME}-state"
    )
    claim = one(default_docs, "PersistentVolumeClaim", f"{FULLNAME}-state")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_the_hook_runs_non_root_on_a_read_only_filesystem(
    default_docs: list[dict[str, Any]],
) -> None:
    pod = one(default_docs, "Job")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container(default_docs)["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in container(default_docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert container(default_docs)["resources"]["limits"]["memory"]


def test_s3_state_uses_the_url_and_the_credentials_secret(home: Path) -> None:
    docs = render(home, *SCENARIOS["s3 state"])
    hook = container(docs)
    assert hook["args"] == [
        S3_URL if a == "/var/lib/reconciler/state.json" else a for a in PVC_ARGS
    ]
    env = {e["name"]: e.get("value") for e in hook["env"]}
    assert env["AWS_ENDPOINT_URL_S3"] == "http://seaweedfs.storage:8333"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["RECONCILER_S3_PATH_STYLE"] == "1"
    assert env["RECONCILER_PLATFORM_NAMESPACE"] == NAMESPACE
    assert hook["envFrom"] == [{"secretRef": {"name": "catalog-state-s3"}}]
    assert "/var/lib/reconciler" not in {m["mountPath"] for m in hook["volumeMounts"]}
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]


def test_an_existing_claim_is_used_and_none_is_created(home: Path) -> None:
    docs = render(home, *SCENARIOS["existing pvc"])
    pod = one(docs, "Job")["spec"]["template"]["spec"]
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["catalog-state"]
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]


def test_the_checksum_follows_the_values_not_the_image(
    home: Path, default_docs: list[dict[str, Any]]
) -> None:
    def checksum(docs: list[dict[str, Any]]) -> str:
        return one(docs, "Job")["spec"]["template"]["metadata"]["annotations"]["checksum/values"]

    assert len(checksum(default_docs)) == len(hashlib.sha256().hexdigest())
    retagged = render(home, *SCENARIOS["image tag"])
    assert (
        container(retagged)["image"] == "ghcr.io/runtime-reconciler/runtime-reconciler:0.2.0-rc.1"
    )
    assert container(default_docs)["image"].endswith(":0.1.0"), "default: the appVersion"
    assert checksum(retagged) == checksum(default_docs)
    changed = render(
        home, "--set", "config.deployer.composition.runtimes.dai-mojo.state=DEPRECATED"
    )
    assert checksum(changed) != checksum(default_docs)


def test_the_chart_grants_the_rules_of_examples_rbac(home: Path) -> None:
    docs = render(home, *SCENARIOS["bigger catalog"])
    shipped = {
        doc["metadata"]["name"].removeprefix("runtime-reconciler-"): doc["rules"]
        for path in sorted((EXAMPLES / "rbac").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == "ClusterRole"
    }
    charted = {
        doc["metadata"]["name"].removeprefix(f"{FULLNAME}-"): doc["rules"]
        for doc in docs
        if doc["kind"] == "ClusterRole"
    }
    assert charted == shipped
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == {
        NAMESPACE,
        "workspace-fraud-team",
        "workspace-risk",
    }
    assert {b["roleRef"]["name"] for b in bindings} == {f"{FULLNAME}-write"}
    subject = {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
    for binding in [*bindings, *(d for d in docs if d["kind"] == "ClusterRoleBinding")]:
        assert binding["subjects"] == [subject]
    assert one(docs, "ServiceAccount")["metadata"]["name"] == FULLNAME


def test_cluster_wide_writes_bind_the_write_role_once(home: Path) -> None:
    docs = render(home, *SCENARIOS["image tag"])
    assert not [d for d in docs if d["kind"] == "RoleBinding"]
    one(docs, "ClusterRoleBinding", f"{FULLNAME}-write")


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            "config.deployer.composition.runtimes.h2o3-mojo.state=BOGUS",
            "/config/deployer/composition/runtimes/h2o3-mojo/state",
        ),
        ("config.deployer.composition.runtimes.h2o3-mojo.colour=blue", "colour"),
        ("config.deployer.composition.runtimeImages.Bad_Id.versions=null", "Bad_Id"),
        ("state.s3.url=https://example.com/state.json", "is not an S3 URL"),
    ],
)
def test_helm_refuses_invalid_values(home: Path, flag: str, message: str) -> None:
    done = helm("template", RELEASE, str(CHART), "--set", flag, home=home)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_the_chart_keeps_its_own_keys_open(home: Path) -> None:
    docs = render(home, "--set", "hook.podAnnotations.team=ml-platform", "--set", "extra.key=1")
    annotations = one(docs, "Job")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["team"] == "ml-platform"


def test_the_hook_command_applies_the_rendered_file_and_a_rerun_changes_nothing(
    default_docs: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The Job's own arguments, with only the cluster swapped for the dir target and the
    pod's paths for the test's: what Helm rendered applies, and the next sync is a no-op."""
    values = tmp_path / "etc/reconciler/values.yaml"
    values.parent.mkdir(parents=True)
    values.write_text(one(default_docs, "ConfigMap")["data"]["values.yaml"])
    state = tmp_path / "var/lib/reconciler/state.json"
    local = {
        "/etc/reconciler/values.yaml": str(values),
        "/var/lib/reconciler/state.json": str(state),
        "kubernetes": f"dir:{tmp_path / 'cluster'}",
    }
    args = [local.get(arg, arg) for arg in container(default_docs)["args"]]
    first = reconciler(*args, cwd=tmp_path)
    assert first.code == 0, first.err
    assert "Apply complete!" in first.out
    assert json.loads(state.read_text())["serial"] == 1
    rerun = reconciler(*args, cwd=tmp_path)
    assert rerun.code == 0, rerun.err
    assert "No changes" in rerun.out
    assert json.loads(state.read_text())["serial"] == 1
