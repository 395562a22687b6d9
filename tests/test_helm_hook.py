"""The chart's hook exercised the way Helm runs it: `helm upgrade --install` of
`examples/chart` with the real Helm 4 binary against the API emulator, the state in S3
(SeaweedFS), and the hook Job's pod run by the emulator as a local `reconciler` process with
the Job's args, env, mounted ConfigMap and the chart's own ServiceAccount and RBAC.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import Kind
from reconciler.targets import crds
from tests import s3server
from tests.kubeapi import Emulator, rbac
from tests.kubeapi.fixtures import KUBECTL
from tests.kubeapi.podrunner import SubprocessRunner

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "examples" / "chart"
HELM = ROOT / ".venv" / "bin" / "helm"
RECONCILER = Path(sys.executable).parent / "reconciler"
IMAGE = "ghcr.io/runtime-reconciler/runtime-reconciler"
RELEASE, NAMESPACE = "catalog", "ml-platform"
FULLNAME = f"{RELEASE}-runtime-reconciler"
JOB = f"{FULLNAME}-apply"
CREDENTIALS = "s3-credentials"


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The hook pod gets its S3 credentials from the chart's Secret reference only, never
    # from the test's own environment.
    for name in list(os.environ):
        if name.startswith(("AWS_", "RECONCILER_")):
            monkeypatch.delenv(name)
    # Any token table turns RBAC on: Helm acts as the admin, the hook as its ServiceAccount
    # with only the rules the chart grants.
    emulator = Emulator(tokens={"viewer": rbac.User(name="viewer")}).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def state_url(s3_server: s3server.S3Server, s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/{uuid.uuid4().hex}/reconciler.state.json"


class Release:
    """One release of the chart in one emulator, installed and upgraded by real Helm."""

    def __init__(
        self, emulator: Emulator, s3: s3server.S3Server, state_url: str, tmp_path: Path
    ) -> None:
        self.emulator, self.s3, self.state_url, self.tmp = emulator, s3, state_url, tmp_path
        self.kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig")
        self.runner = SubprocessRunner(
            emulator,
            workdir=tmp_path / "pods",
            programs={"reconciler": str(RECONCILER)},
            entrypoints={IMAGE: ["reconciler"]},  # the Dockerfile's ENTRYPOINT
        )
        # Every attempt's exit code and log, oldest first: a succeeded hook Job is deleted
        # by Helm (hook-succeeded), its pods with it, so its log is read here.
        self.attempts: list[tuple[int, str]] = []
        emulator.job_runner = self._run
        env = s3.env()
        emulator.apply_objects(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": CREDENTIALS, "namespace": NAMESPACE},
                    "stringData": {
                        "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
                        "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
                    },
                },
            ]
        )
        self.settings = [
            f"state.s3.url={state_url}",
            f"state.s3.endpoint={env['AWS_ENDPOINT_URL_S3']}",
            f"state.s3.region={env['AWS_REGION']}",
            "state.s3.pathStyle=true",
            f"state.s3.credentialsSecret={CREDENTIALS}",
        ]

    def helm(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}
        home = self.tmp / "helm"
        env.update(
            HELM_CACHE_HOME=str(home / "cache"),
            HELM_CONFIG_HOME=str(home / "config"),
            HELM_DATA_HOME=str(home / "data"),
        )
        command = [str(HELM), "--kubeconfig", str(self.kubeconfig), *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    def upgrade(self, *values: Path) -> subprocess.CompletedProcess[str]:
        """`helm upgrade --install` with the -f files a platform team passes, and the state
        settings of this release as --set flags."""
        args = ["upgrade", "--install", RELEASE, str(CHART), "-n", NAMESPACE]
        for path in values:
            args += ["-f", str(path)]
        for setting in self.settings:
            args += ["--set", setting]
        return self.helm(*args, "--wait", "--timeout", "60s")

    def state(self) -> dict[str, Any]:
        bucket, key = self.state_url.removeprefix("s3://").split("/", 1)
        body = self.s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return json.loads(body)

    def catalog(self, kind: Kind) -> dict[str, dict[str, Any]]:
        """The catalog objects of one kind in the emulator, by name."""
        objects = self.emulator.store.all((crds.GROUP, crds.plural_of(kind)))
        return {o["metadata"]["name"]: o for o in objects}

    def _run(self, job: dict[str, Any]) -> tuple[int, str]:
        exit_code, log = self.runner(job)
        self.attempts.append((exit_code, log))
        return exit_code, log

    def failure(self, done: subprocess.CompletedProcess[str]) -> str:
        logs = "".join(log for _, log in self.attempts)
        return f"{done.stderr}\n--- hook logs ---\n{logs}"

    def last_log(self) -> str:
        return self.attempts[-1][1]


@pytest.fixture
def release(
    cluster: Emulator, s3_server: s3server.S3Server, state_url: str, tmp_path: Path
) -> Release:
    return Release(cluster, s3_server, state_url, tmp_path)


def kubectl(release: Release, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    command = [str(KUBECTL), "--kubeconfig", str(release.kubeconfig), *args]
    command += ["--cache-dir", str(release.tmp / "kube-cache")]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def addresses(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["address"]: r for r in state["resources"]}


H2O3 = "workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer"
DAI = "workspaces/global/runtimeImages/h2oai-dai-mojo-scorer"
DEFAULT_CATALOG = {
    H2O3,
    f"{H2O3}/versions/v1.5.4",
    f"{H2O3}/versions/v1.6.0",
    DAI,
    f"{DAI}/versions/v1.12.0",
    "workspaces/global/runtimes/h2o3-mojo",
    "workspaces/global/runtimes/dai-mojo",
}

# The next release of the catalog: a new H2O-3 version, and the DAI image (with the runtime
# that uses it) removed, which in Helm values means setting the keys to null.
NEXT_RELEASE = """
config:
  deployer:
    composition:
      runtimeImages:
        h2oai-h2o3mojo-scorer:
          versions:
            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.5.4"}
              state: DEPRECATED
              stateReason: "Superseded by v1.6.0"
            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.6.0"}
            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.7.0"}
        h2oai-dai-mojo-scorer: null
      runtimes:
        dai-mojo: null
"""


def test_install_upgrade_and_rerun(release: Release, tmp_path: Path) -> None:
    installed = release.upgrade()
    assert installed.returncode == 0, release.failure(installed)
    assert "STATUS: deployed" in installed.stdout
    first = release.state()
    assert first["serial"] == 1
    assert set(addresses(first)) == DEFAULT_CATALOG
    assert set(release.catalog(Kind.IMAGE)) == {"h2oai-h2o3mojo-scorer", "h2oai-dai-mojo-scorer"}
    assert len(release.catalog(Kind.VERSION)) == 3
    assert set(release.catalog(Kind.RUNTIME)) == {"h2o3-mojo", "dai-mojo"}
    assert {o["metadata"]["namespace"] for o in release.catalog(Kind.IMAGE).values()} == {NAMESPACE}
    assert len(release.attempts) == 1
    assert "Apply complete! 7 applied, 0 failed" in release.last_log()
    # Under enforced RBAC, the catalog was written as the chart's ServiceAccount, with the
    # least-privilege rules the chart grants it, never as Helm's admin.
    writers = {
        r.user
        for r in release.emulator.request_log
        if r.method in ("POST", "PATCH", "PUT") and r.path.startswith(f"/apis/{crds.GROUP}/")
    }
    assert writers == {rbac.service_account_user(NAMESPACE, FULLNAME).name}

    values = tmp_path / "next-release.yaml"
    values.write_text(NEXT_RELEASE)
    upgraded = release.upgrade(values)
    assert upgraded.returncode == 0, release.failure(upgraded)
    second = release.state()
    assert second["serial"] == 2
    resources = addresses(second)
    assert set(resources) == DEFAULT_CATALOG | {f"{H2O3}/versions/v1.7.0"}
    for address in (DAI, f"{DAI}/versions/v1.12.0", "workspaces/global/runtimes/dai-mojo"):
        assert resources[address]["platform"] == {
            "state": "DISABLED",
            "reason": "removed from Helm values",
        }, address
    images = release.catalog(Kind.IMAGE)
    assert images["h2oai-dai-mojo-scorer"]["spec"]["state"] == "DISABLED"  # kept, not deleted
    assert images["h2oai-h2o3mojo-scorer"]["spec"]["state"] == "ACTIVE"
    assert len(release.catalog(Kind.VERSION)) == 4
    assert release.catalog(Kind.RUNTIME)["dai-mojo"]["spec"]["state"] == "DISABLED"

    rerun = release.upgrade(values)
    assert rerun.returncode == 0, release.failure(rerun)
    assert release.state()["serial"] == 2
    assert "No changes" in release.last_log()
    history = release.helm("history", RELEASE, "-n", NAMESPACE, "-o", "json")
    assert [r["status"] for r in json.loads(history.stdout)] == ["superseded"] * 2 + ["deployed"]


class KillAfterWrites:
    """SIGKILL the first hook process once `writes` catalog objects exist in the cluster:
    a node lost, or an OOM kill, in the middle of an apply."""

    def __init__(self, release: Release, tmp_path: Path, writes: int) -> None:
        self.release, self.writes = release, writes
        self.pidfile = tmp_path / "hook.pid"
        # `exec` keeps the pid: the pid the wrapper writes is the reconciler's own.
        wrapper = tmp_path / "reconciler-with-pid"
        wrapper.write_text(f'#!/bin/sh\necho $$ > "{self.pidfile}"\nexec "{RECONCILER}" "$@"\n')
        wrapper.chmod(0o755)
        release.runner.programs["reconciler"] = str(wrapper)
        self.killed_at: int | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _count(self) -> int:
        return sum(len(self.release.catalog(kind)) for kind in Kind)

    def _watch(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.pidfile.exists() and (count := self._count()) >= self.writes:
                os.kill(int(self.pidfile.read_text()), signal.SIGKILL)
                self.killed_at = count
                return
            time.sleep(0.001)


def test_a_hook_killed_mid_apply_is_retried_by_the_job_and_converges(
    release: Release, tmp_path: Path
) -> None:
    killer = KillAfterWrites(release, tmp_path, writes=2)
    killer.start()
    # A killed run leaves its S3 lock behind; a short TTL lets the retry take it over
    # within the lock timeout instead of waiting out the default two minutes.
    values = tmp_path / "short-lock-ttl.yaml"
    values.write_text("hook:\n  lockTTL: 2\n")
    installed = release.upgrade(values)
    assert installed.returncode == 0, release.failure(installed)
    assert killer.killed_at is not None and killer.killed_at < len(DEFAULT_CATALOG)
    # backoffLimit 1: the Job's own retry is the re-run.
    (killed, killed_log), (retried, retried_log) = release.attempts
    assert killed == -signal.SIGKILL and "Apply complete" not in killed_log
    assert retried == 0 and "Apply complete!" in retried_log, retried_log
    assert "took over the state lock" in retried_log
    state = release.state()
    assert set(addresses(state)) == DEFAULT_CATALOG
    assert sum(len(release.catalog(kind)) for kind in Kind) == len(DEFAULT_CATALOG)

    rerun = release.upgrade(values)
    assert rerun.returncode == 0, release.failure(rerun)
    assert "No changes" in release.last_log()
    assert release.state()["serial"] == state["serial"]


# A runtime pointing at an image the catalog does not have: valid for the chart's schema
# (which cannot follow references), refused by the tool when the hook plans.
DANGLING_RUNTIME = """
config:
  deployer:
    composition:
      runtimes:
        dai-mojo:
          runtimeImage: h2oai-dai-mojo-scorer-v2
"""


def test_a_refused_apply_fails_the_release_with_the_error_in_the_jobs_log(
    release: Release, tmp_path: Path
) -> None:
    installed = release.upgrade()
    assert installed.returncode == 0, release.failure(installed)
    values = tmp_path / "dangling.yaml"
    values.write_text(DANGLING_RUNTIME)
    failed = release.upgrade(values)
    assert failed.returncode == 1
    assert "UPGRADE FAILED: post-upgrade hooks failed" in failed.stderr
    assert f"Job/{NAMESPACE}/{JOB}" in failed.stderr
    # The failed Job stays (hook-succeeded deletes only a succeeded one), its log readable
    # as the chart's NOTES say: `kubectl logs -n NAMESPACE job/NAME`.
    logs = kubectl(release, "logs", "-n", NAMESPACE, f"job/{JOB}")
    assert logs.returncode == 0, logs.stderr
    assert (
        "runtime dai-mojo names runtime image 'h2oai-dai-mojo-scorer-v2', which is not declared"
    ) in logs.stdout
    assert "hint: declare it under config.deployer.composition.runtimeImages" in logs.stdout
    assert "Traceback" not in logs.stdout
    assert release.state()["serial"] == 1  # nothing applied
    runtime = release.catalog(Kind.RUNTIME)["dai-mojo"]
    assert runtime["spec"]["runtimeImage"] == DAI
    history = release.helm("history", RELEASE, "-n", NAMESPACE, "-o", "json")
    assert [r["status"] for r in json.loads(history.stdout)] == ["deployed", "failed"]


USER_DISABLES_V160 = f"""
stateChanges:
  - resource: {H2O3}/versions/v1.6.0
    action: disable
    reason: "CVE under review"
"""

DEPRECATE_V160 = """
config:
  deployer:
    composition:
      runtimeImages:
        h2oai-h2o3mojo-scorer:
          versions:
            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.6.0"}
              state: DEPRECATED
              stateReason: "Superseded by v1.7.0"
            - image: {repository: "h2oai-h2o3mojo-scorer", tag: "v1.7.0"}
"""


def test_a_users_intent_in_state_holds_against_the_next_release(
    release: Release, tmp_path: Path
) -> None:
    installed = release.upgrade()
    assert installed.returncode == 0, release.failure(installed)
    # A user restricts a version from outside Helm: the CLI with an overrides file, against
    # the same state and cluster, with the values the release rendered.
    rendered = tmp_path / "rendered.yaml"
    configmap = release.emulator.store.find(("", "configmaps"), NAMESPACE, f"{FULLNAME}-values")
    assert configmap is not None
    rendered.write_text(configmap["data"]["values.yaml"])
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(USER_DISABLES_V160)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KUBE")},
        **release.s3.env(),
        "KUBECONFIG": str(release.kubeconfig),
        "RECONCILER_PLATFORM_NAMESPACE": NAMESPACE,
        "HOME": str(tmp_path),
    }
    command = [str(RECONCILER), "apply", "--auto-approve", "-f", str(rendered)]
    command += ["--overrides", str(overrides), "--target", "kubernetes", "--state"]
    user = subprocess.run(
        [*command, release.state_url], capture_output=True, text=True, env=env, timeout=60
    )
    assert user.returncode == 0, user.stdout + user.stderr
    assert release.state()["serial"] == 2

    # The next release deprecates v1.6.0 (a platform change more permissive than the
    # user's DISABLED): the hook succeeds and the version is held at the user's state.
    values = tmp_path / "deprecate-v160.yaml"
    values.write_text(DEPRECATE_V160)
    upgraded = release.upgrade(values)
    assert upgraded.returncode == 0, release.failure(upgraded)
    version = addresses(release.state())[f"{H2O3}/versions/v1.6.0"]
    assert version["platform"] == {"state": "DEPRECATED", "reason": "Superseded by v1.7.0"}
    assert version["user"] == {"state": "DISABLED", "reason": "CVE under review"}
    log = release.last_log()
    assert "1 held" in log, log
    objects = {o["spec"]["version"]: o for o in release.catalog(Kind.VERSION).values()}
    assert objects["v1.6.0"]["spec"]["state"] == "DISABLED"
    assert objects["v1.7.0"]["spec"]["state"] == "ACTIVE"
