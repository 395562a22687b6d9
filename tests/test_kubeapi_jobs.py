"""Jobs in the API emulator, the way Helm hooks run: the pod's command runs as a local
process, with its env, its ConfigMap mounted as files and a kubeconfig for the emulator;
its completion or failure comes back in the Job's status and its log."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.kubeapi import Emulator, User
from tests.kubeapi.fixtures import HttpClient, Kubectl
from tests.kubeapi.podrunner import SubprocessRunner

SCRIPT = """
import json, os, sys, urllib.request, yaml
values = open(sys.argv[1]).read().strip()  # a mounted file, named as the hook names it
config = yaml.safe_load(open(os.environ["KUBECONFIG"]))
server = config["clusters"][0]["cluster"]["server"]
version = json.load(urllib.request.urlopen(server + "/version"))
print(f"values={values} mode={os.environ['MODE']} server={version['gitVersion']}")
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def hook_job(name: str, *, exit_code: int = 0, backoff_limit: int = 0) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"labels": {"app": "hook"}},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": "hook",
                    "containers": [
                        {
                            "name": "hook",
                            "image": "reconciler:dev",
                            "command": ["python", "-c", SCRIPT],
                            "args": ["/etc/hook/values.yaml"],
                            "env": [
                                {
                                    "name": "MODE",
                                    "valueFrom": {
                                        "configMapKeyRef": {"name": "hook", "key": "mode"}
                                    },
                                },
                                {"name": "EXIT", "value": str(exit_code)},
                            ],
                            "volumeMounts": [{"name": "values", "mountPath": "/etc/hook"}],
                        }
                    ],
                    "volumes": [{"name": "values", "configMap": {"name": "hook"}}],
                },
            },
        },
    }


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def setup(kubeapi: Emulator, tmp_path: Path) -> HttpClient:
    kubeapi.job_runner = SubprocessRunner(
        kubeapi, workdir=tmp_path, programs={"python": sys.executable}
    )
    client = HttpClient(
        kubeapi.url, token="emulator-admin-token" if kubeapi.authorizer.enforcing else None
    )
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "hook"},
        "data": {"values.yaml": "replicas: 2", "mode": "apply"},
    }
    assert client.post("/api/v1/namespaces/default/configmaps", configmap).status == 201
    return client


def job_conditions(client: HttpClient, name: str) -> dict[str, str]:
    job = client.get(f"/apis/batch/v1/namespaces/default/jobs/{name}").body
    return {c["type"]: c["reason"] for c in job.get("status", {}).get("conditions", [])}


def test_a_hook_job_runs_and_completes(kubeapi: Emulator, kubectl: Kubectl, tmp_path: Path) -> None:
    client = setup(kubeapi, tmp_path)
    assert client.post("/apis/batch/v1/namespaces/default/jobs", hook_job("install")).status == 201
    wait_for(lambda: "Complete" in job_conditions(client, "install"))
    assert job_conditions(client, "install") == {
        "SuccessCriteriaMet": "CompletionsReached",
        "Complete": "CompletionsReached",
    }
    status = client.get("/apis/batch/v1/namespaces/default/jobs/install").body["status"]
    assert status["succeeded"] == 1 and "active" not in status
    pods = client.get(
        "/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io/job-name%3Dinstall"
    ).body
    assert len(pods["items"]) == 1
    assert pods["items"][0]["status"]["phase"] == "Succeeded"
    log = kubectl("logs", "-l", "job-name=install").stdout
    assert log.strip() == "values=replicas: 2 mode=apply server=v1.37.0-emulator"


def test_a_failing_hook_retries_then_fails_with_its_log(kubeapi: Emulator, tmp_path: Path) -> None:
    client = setup(kubeapi, tmp_path)
    client.post(
        "/apis/batch/v1/namespaces/default/jobs", hook_job("broken", exit_code=3, backoff_limit=1)
    )
    wait_for(lambda: "Failed" in job_conditions(client, "broken"))
    assert job_conditions(client, "broken") == {
        "FailureTarget": "BackoffLimitExceeded",
        "Failed": "BackoffLimitExceeded",
    }
    assert client.get("/apis/batch/v1/namespaces/default/jobs/broken").body["status"]["failed"] == 2
    pods = client.get("/api/v1/namespaces/default/pods").body["items"]
    assert [p["status"]["phase"] for p in pods] == ["Failed", "Failed"]
    name = pods[0]["metadata"]["name"]
    log = client.get(f"/api/v1/namespaces/default/pods/{name}/log").body
    assert "values=replicas: 2" in log


def test_the_hook_runs_as_its_service_account(tmp_path: Path) -> None:
    with Emulator(tokens={"nobody": User(name="nobody")}) as kubeapi:
        client = setup(kubeapi, tmp_path)
        job = hook_job("as-sa")
        job["spec"]["template"]["spec"]["containers"][0]["command"] = [
            "python",
            "-c",
            "import os, yaml, urllib.request, urllib.error\n"
            "c = yaml.safe_load(open(os.environ['KUBECONFIG']))\n"
            "u = c['users'][0]['user']\n"
            "url = c['clusters'][0]['cluster']['server'] + '/api/v1/namespaces/default/secrets'\n"
            "r = urllib.request.Request(url, headers={'Authorization': 'Bearer ' + u['token']})\n"
            "try:\n    urllib.request.urlopen(r)\n"
            "except urllib.error.HTTPError as e:\n    print(e.code, u['as'])\n",
        ]
        client.post("/apis/batch/v1/namespaces/default/jobs", job)
        wait_for(lambda: "Complete" in job_conditions(client, "as-sa"))
        pod = client.get("/api/v1/namespaces/default/pods").body["items"][0]["metadata"]["name"]
        log = client.get(f"/api/v1/namespaces/default/pods/{pod}/log").body
        assert log.strip() == "403 system:serviceaccount:default:hook"
