"""Helm 4 against the API emulator: `helm upgrade --install` (server-side apply, releases in
Secrets) with a post-install hook Job that the emulator runs as a local process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.kubeapi import Emulator
from tests.kubeapi.fixtures import HttpClient
from tests.kubeapi.podrunner import SubprocessRunner

HELM = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "helm"

HOOK = """
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    "helm.sh/hook": post-install,post-upgrade
    "helm.sh/hook-delete-policy": before-hook-creation
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: hook
        image: reconciler:dev
        command:
        - python
        - -c
        - "import sys; print('hook saw', sys.argv[1]); sys.exit(int(sys.argv[2]))"
        args: [{{ .Values.greeting | quote }}, {{ .Values.exitCode | quote }}]
"""


def chart(root: Path) -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: trivial\nversion: 0.1.0\n")
    (root / "values.yaml").write_text("greeting: hello\nexitCode: 0\n")
    (root / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )
    (root / "templates" / "hook.yaml").write_text(HOOK)
    return root


def helm(kubeconfig: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}
    env.update(
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_DATA_HOME=str(home / "data"),
    )
    command = [str(HELM), "--kubeconfig", str(kubeconfig), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_helm_installs_upgrades_and_reports_a_failed_hook(
    kubeapi: Emulator, tmp_path: Path
) -> None:
    kubeapi.job_runner = SubprocessRunner(
        kubeapi, workdir=tmp_path, programs={"python": sys.executable}
    )
    kubeconfig = kubeapi.write_kubeconfig(tmp_path / "kubeconfig")
    client = HttpClient(kubeapi.url)
    path = chart(tmp_path / "chart")
    home = tmp_path / "helm"

    installed = helm(
        kubeconfig, home, "upgrade", "--install", "demo", str(path), "--wait", "--timeout", "30s"
    )
    assert installed.returncode == 0, installed.stderr
    assert "STATUS: deployed" in installed.stdout
    settings = client.get("/api/v1/namespaces/default/configmaps/demo-settings").body
    assert settings["data"] == {"greeting": "hello"}
    assert any(m["operation"] == "Apply" for m in settings["metadata"]["managedFields"])
    releases = client.get("/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm").body[
        "items"
    ]
    assert [r["metadata"]["name"] for r in releases] == ["sh.helm.release.v1.demo.v1"]
    pods = client.get("/api/v1/namespaces/default/pods?labelSelector=job-name%3Ddemo-hook").body[
        "items"
    ]
    log = client.get(f"/api/v1/namespaces/default/pods/{pods[0]['metadata']['name']}/log").body
    assert log.strip() == "hook saw hello"

    failed = helm(
        kubeconfig,
        home,
        "upgrade",
        "--install",
        "demo",
        str(path),
        "--set",
        "greeting=bye",
        "--set",
        "exitCode=3",
        "--wait",
        "--timeout",
        "30s",
    )
    assert failed.returncode == 1
    assert "post-upgrade hooks failed" in failed.stderr
    assert "Job/default/demo-hook" in failed.stderr
    history = helm(kubeconfig, home, "history", "demo", "-o", "json")
    assert '"status":"failed"' in history.stdout.replace(" ", "")
