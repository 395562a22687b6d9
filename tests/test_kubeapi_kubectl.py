"""The API emulator as the real kubectl (v1.37) sees it: an emulator is only as good as the
real client that agrees with it."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import kubernetes
import yaml

from tests.kubeapi import Emulator, User
from tests.kubeapi.fixtures import KUBECTL, Kubectl

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  progressDeadlineSeconds: 30
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: repo/web:1
      - name: sidecar
        image: repo/sidecar:1
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: runtimes.runtimes.reconciler.dev
spec:
  group: runtimes.reconciler.dev
  scope: Namespaced
  names: {plural: runtimes, singular: runtime, kind: Runtime, shortNames: [rt]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Model Type, type: string, jsonPath: .spec.modelType}
    - {name: State, type: string, jsonPath: .status.state}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [modelType]
            properties:
              modelType: {type: string}
              replicas: {type: integer}
          status:
            type: object
            properties:
              state: {type: string, enum: [ACTIVE, DEPRECATED, DISABLED]}
"""


def configmaps(count: int, **labels: str) -> str:
    docs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}", "labels": labels},
            "data": {"index": str(i)},
        }
        for i in range(count)
    ]
    return yaml.safe_dump_all(docs)


def rollout_status(
    kubectl: Kubectl, kubeapi: Emulator, *, advance: float
) -> subprocess.CompletedProcess:
    """`kubectl rollout status` while the clock moves on: the controller acts as time passes."""
    command = [
        str(KUBECTL),
        "--kubeconfig",
        str(kubectl.kubeconfig),
        "--cache-dir",
        str(kubectl.cache_dir),
        "rollout",
        "status",
        "deployment/web",
        "--timeout=60s",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def tick() -> None:
        moved = 0.0
        while moved < advance and process.poll() is None:
            time.sleep(0.05)
            kubeapi.clock.advance(1)
            moved += 1

    mover = threading.Thread(target=tick)
    mover.start()
    out, err = process.communicate(timeout=90)
    mover.join()
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def test_get_prints_tables_and_yaml(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=configmaps(2, tier="web"))
    table = kubectl("get", "configmaps").stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert [line.split()[0] for line in table[1:]] == ["cm-0", "cm-1"]
    obj = yaml.safe_load(kubectl("get", "configmap", "cm-1", "-o", "yaml").stdout)
    assert obj["kind"] == "ConfigMap"
    assert obj["data"] == {"index": "1"}
    assert obj["metadata"]["resourceVersion"].isdigit()


def test_get_in_chunks_follows_continue_tokens(kubeapi: Emulator, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=configmaps(5))
    kubeapi.faults.reset_log()
    names = kubectl("get", "configmaps", "--chunk-size=2", "-o", "name").stdout.split()
    assert names == [f"configmap/cm-{i}" for i in range(5)]
    lists = [r for r in kubeapi.request_log if r.verb == "list" and r.resource == "configmaps"]
    assert len(lists) == 3
    assert all("limit=2" in r.query for r in lists)
    assert ["continue=" in r.query for r in lists] == [False, True, True]


def test_label_selectors(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=configmaps(2, tier="web"))
    kubectl("create", "configmap", "db", "--from-literal=a=b")
    kubectl("label", "configmap", "db", "tier=db")
    assert kubectl("get", "cm", "-l", "tier=db", "-o", "name").stdout.split() == ["configmap/db"]
    assert kubectl("get", "cm", "-l", "tier in (web)", "-o", "name").stdout.split() == [
        "configmap/cm-0",
        "configmap/cm-1",
    ]
    assert kubectl("get", "cm", "-l", "tier!=web", "-o", "name").stdout.split() == ["configmap/db"]


def test_create_and_delete(kubectl: Kubectl) -> None:
    assert (
        "configmap/solo created"
        in kubectl("create", "configmap", "solo", "--from-literal=k=v").stdout
    )
    assert kubectl("create", "configmap", "solo", check=False).returncode == 1
    again = kubectl("create", "configmap", "solo", "--from-literal=k=v", check=False)
    assert 'configmaps "solo" already exists' in again.stderr
    assert 'configmap "solo" deleted' in kubectl("delete", "configmap", "solo").stdout
    missing = kubectl("get", "configmap", "solo", check=False)
    assert missing.returncode == 1
    assert 'configmaps "solo" not found' in missing.stderr


def test_server_side_apply_owns_fields_and_names_conflicts(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(DEPLOYMENT)
    created = kubectl(
        "apply", "--server-side", "-f", str(manifest), "--field-manager=runtime-reconciler"
    )
    assert "deployment.apps/web serverside-applied" in created.stdout
    rv = kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}").stdout
    kubectl("apply", "--server-side", "-f", str(manifest), "--field-manager=runtime-reconciler")
    assert (
        kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}").stdout == rv
    )

    other = tmp_path / "other.yaml"
    other.write_text(DEPLOYMENT.replace("replicas: 3", "replicas: 5"))
    refused = kubectl(
        "apply", "--server-side", "-f", str(other), "--field-manager=platform-team", check=False
    )
    assert refused.returncode == 1
    assert 'conflict with "runtime-reconciler"' in refused.stderr
    assert ".spec.replicas" in refused.stderr
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        str(other),
        "--field-manager=platform-team",
    )
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "5"
    managers = yaml.safe_load(
        kubectl("get", "deploy", "web", "-o", "yaml", "--show-managed-fields").stdout
    )
    assert {"platform-team", "runtime-reconciler"} <= {
        m["manager"] for m in managers["metadata"]["managedFields"]
    }


def test_diff_shows_changes_and_changes_nothing(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(DEPLOYMENT)
    kubectl("apply", "-f", str(manifest))
    before = kubectl("get", "deploy", "web", "-o", "yaml").stdout
    manifest.write_text(DEPLOYMENT.replace("repo/web:1", "repo/web:2"))
    diff = kubectl("diff", "-f", str(manifest), check=False)
    assert diff.returncode == 1, diff.stderr
    assert "-      - image: repo/web:1" in diff.stdout
    assert "+      - image: repo/web:2" in diff.stdout
    assert kubectl("get", "deploy", "web", "-o", "yaml").stdout == before


def test_set_image_patches_one_container(kubeapi: Emulator, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    kubectl("set", "image", "deployment/web", "main=repo/web:2")
    images = kubectl(
        "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}"
    ).stdout
    assert images.split() == ["repo/web:2", "repo/sidecar:1"]
    patches = [r for r in kubeapi.request_log if r.verb == "patch" and r.resource == "deployments"]
    assert patches[-1].query.startswith("fieldManager=kubectl-set")
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.generation}").stdout == "2"


def test_rollout_status_waits_for_the_controller(kubeapi: Emulator, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    kubeapi.clock.advance(5)
    kubectl("set", "image", "deployment/web", "main=repo/web:2")
    done = rollout_status(kubectl, kubeapi, advance=30)
    assert done.returncode == 0, done.stderr
    assert 'deployment "web" successfully rolled out' in done.stdout
    table = kubectl("get", "deploy", "web").stdout.splitlines()
    assert table[1].split()[:4] == ["web", "3/3", "3", "3"]


def test_rollout_status_fails_on_progress_deadline_and_recovers(
    kubeapi: Emulator, kubectl: Kubectl
) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    kubeapi.clock.advance(5)
    kubeapi.fail_image("repo/web:broken")
    kubectl("set", "image", "deployment/web", "main=repo/web:broken")
    failed = rollout_status(kubectl, kubeapi, advance=60)
    assert failed.returncode == 1
    assert 'deployment "web" exceeded its progress deadline' in failed.stderr
    kubectl("set", "image", "deployment/web", "main=repo/web:1")
    recovered = rollout_status(kubectl, kubeapi, advance=30)
    assert recovered.returncode == 0, recovered.stderr


def test_custom_resources_after_installing_their_crd(kubectl: Kubectl) -> None:
    assert kubectl("get", "runtimes", check=False).returncode == 1
    kubectl("apply", "-f", "-", stdin=CRD)
    kubectl(
        "wait",
        "--for=condition=Established",
        "crd/runtimes.runtimes.reconciler.dev",
        "--timeout=10s",
    )
    runtime = (
        "apiVersion: runtimes.reconciler.dev/v1\nkind: Runtime\n"
        "metadata: {name: h2o3}\nspec: {modelType: h2o3_mojo}\n"
    )
    kubectl("apply", "--server-side", "-f", "-", stdin=runtime)
    table = kubectl("get", "rt").stdout.splitlines()
    assert table[0].split() == ["NAME", "MODEL", "TYPE", "STATE"]
    assert table[1].split() == ["h2o3", "h2o3_mojo"]  # no status yet: an empty State cell
    invalid = kubectl(
        "apply",
        "--server-side",
        "-f",
        "-",
        check=False,
        stdin=runtime.replace("h2o3}", "bad}").replace("modelType: h2o3_mojo", "replicas: many"),
    )
    assert invalid.returncode == 1
    assert "spec.replicas" in invalid.stderr
    assert "spec.modelType: Required value" in invalid.stderr
    kubectl("delete", "crd", "runtimes.runtimes.reconciler.dev")
    assert kubectl("get", "runtimes", check=False).returncode == 1


def test_auth_can_i_answers_from_rbac(tmp_path: Path) -> None:
    with Emulator(tokens={"ci-token": User(name="ci", groups=("ci",))}) as kubeapi:
        admin = Kubectl(
            kubeconfig=kubeapi.write_kubeconfig(tmp_path / "admin"), cache_dir=tmp_path / "cache"
        )
        admin(
            "create",
            "role",
            "deployer",
            "--verb=get,list,patch",
            "--resource=deployments,deployments/status",
        )
        admin("create", "rolebinding", "deployer", "--role=deployer", "--user=ci")
        ci = kubeapi.write_kubeconfig(tmp_path / "ci", token="ci-token")
        assert admin("auth", "can-i", "patch", "deployments", kubeconfig=ci).stdout.strip() == "yes"
        assert (
            admin("auth", "can-i", "patch", "deployments/status", kubeconfig=ci).stdout.strip()
            == "yes"
        )
        refused = admin("auth", "can-i", "delete", "deployments", kubeconfig=ci, check=False)
        assert (refused.returncode, refused.stdout.strip()) == (1, "no")
        elsewhere = admin(
            "auth", "can-i", "get", "deployments", "-n", "kube-system", kubeconfig=ci, check=False
        )
        assert elsewhere.stdout.strip() == "no"
        forbidden = admin("delete", "deployment", "x", kubeconfig=ci, check=False)
        assert (
            'deployments.apps "x" is forbidden: User "ci" cannot delete resource "deployments" '
            'in API group "apps" in the namespace "default"'
        ) in forbidden.stderr


def test_the_shipped_crds_serve_validate_and_prune(kubectl: Kubectl) -> None:
    crds = Path(__file__).resolve().parents[1] / "examples" / "chart" / "crds"
    kubectl("apply", "--server-side", "-f", str(crds))
    runtime = (
        "apiVersion: runtimes.reconciler.dev/v1\nkind: Runtime\n"
        "metadata: {name: h2o3-mojo}\n"
        "spec: {modelType: h2o3_mojo, runtimeImage: workspaces/global/runtimeImages/h2o,"
        " state: ACTIVE, unknownField: 1}\n"
    )
    kubectl(
        "apply", "--server-side", "--field-manager=runtime-reconciler", "-f", "-", stdin=runtime
    )
    table = kubectl("get", "runtimes").stdout.splitlines()
    assert table[0].split()[:5] == ["NAME", "MODEL", "TYPE", "IMAGE", "STATE"]
    assert table[1].split()[:4] == [
        "h2o3-mojo",
        "h2o3_mojo",
        "workspaces/global/runtimeImages/h2o",
        "ACTIVE",
    ]
    spec = yaml.safe_load(kubectl("get", "runtime", "h2o3-mojo", "-o", "yaml").stdout)["spec"]
    assert "unknownField" not in spec
    refused = kubectl(
        "apply",
        "--server-side",
        "-f",
        "-",
        check=False,
        stdin=runtime.replace("h2o3-mojo}", "bad}").replace("ACTIVE", "RETIRED"),
    )
    assert refused.returncode == 1
    assert 'spec.state: Unsupported value: "RETIRED"' in refused.stderr


def test_over_https_kubectl_authenticates_with_its_bearer_token(tmp_path: Path) -> None:
    with Emulator(tokens={"ci-token": User(name="ci")}, tls=True) as kubeapi:
        assert kubeapi.url.startswith("https://127.0.0.1:")
        admin = Kubectl(
            kubeconfig=kubeapi.write_kubeconfig(tmp_path / "admin"), cache_dir=tmp_path / "cache"
        )
        admin("create", "role", "reader", "--verb=get,list", "--resource=configmaps")
        admin("create", "rolebinding", "reader", "--role=reader", "--user=ci")
        ci = kubeapi.write_kubeconfig(tmp_path / "ci", token="ci-token")
        assert "as:" not in ci.read_text()
        assert admin("auth", "can-i", "list", "configmaps", kubeconfig=ci).stdout.strip() == "yes"
        refused = admin("create", "configmap", "x", kubeconfig=ci, check=False)
        expected = 'User "ci" cannot create resource "configmaps" in API group "" in the namespace'
        assert f'{expected} "default"' in refused.stderr
        with kubernetes.config.new_client_from_config(str(ci)) as api_client:
            core = kubernetes.client.CoreV1Api(api_client)
            assert core.list_namespaced_config_map("default").items == []


def test_scale_and_secrets(kubeapi: Emulator, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    kubectl("scale", "deployment/web", "--replicas=5")
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "5"
    kubeapi.clock.advance(2)
    assert (
        kubectl("get", "deploy", "web", "-o", "jsonpath={.status.availableReplicas}").stdout == "5"
    )
    kubectl("create", "secret", "generic", "creds", "--from-literal=token=s3cr3t")
    data = kubectl("get", "secret", "creds", "-o", "jsonpath={.data.token}").stdout
    assert data == "czNjcjN0"
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: plain}\nstringData: {password: hunter2}\n"
    )
    kubectl("apply", "-f", "-", stdin=secret)
    stored = yaml.safe_load(kubectl("get", "secret", "plain", "-o", "yaml").stdout)
    assert stored["data"] == {"password": "aHVudGVyMg=="}
    assert "stringData" not in stored


def test_get_watch_prints_rows_as_they_change(kubeapi: Emulator, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    command = [
        str(KUBECTL),
        "--kubeconfig",
        str(kubectl.kubeconfig),
        "--cache-dir",
        str(kubectl.cache_dir),
        "get",
        "deployment",
        "web",
        "--watch",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().split() == [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
        ]
        assert process.stdout.readline().split()[:2] == ["web", "0/3"]
        deadline = time.monotonic() + 30
        while not any(r.verb == "watch" for r in kubeapi.request_log):
            assert time.monotonic() < deadline, "kubectl never started watching"
            time.sleep(0.05)
        time.sleep(0.2)  # the watch request is logged just before its stream opens
        kubeapi.clock.advance(1)
        assert process.stdout.readline().split()[:2] == ["web", "3/3"]
    finally:
        process.kill()
        process.communicate()
