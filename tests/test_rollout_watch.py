"""Rollouts wait on one shared watch of the tool's Deployments, not by reading them over
and over, and never hang on a watch that is cut, expired or refused.

The catalog and two deployments of two compositions of test_kubernetes_target.py, upgraded
from v1.5.4 to v1.6.0 on the API emulator (its simulated clock run quickly).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.apply import engine
from reconciler.targets import open_target, rollouts
from reconciler.targets.kubernetes import DEPLOYMENTS as DEPLOYMENT_KIND
from reconciler.targets.kubernetes import KubernetesTarget
from tests import kubetarget
from tests.kubeapi import Emulator
from tests.test_kubernetes_rbac import apply_under, rbac_documents, without
from tests.test_kubernetes_target import WORKSPACE, deploy, deployments, image, upgrade_all

READY_SECONDS = 60.0  # simulated: about 0.1 s of wall time under the fast clock


@pytest.fixture
def cluster(kubeapi: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    kubetarget.prepare(kubeapi, tmp_path, monkeypatch)
    return kubeapi


def upgrade(cluster: Emulator, *, drop_watches: int = 0) -> engine.ApplyResult:
    backend, _ = deploy(cluster)
    cluster.faults.reset_log()
    cluster.faults.drop_next_watch(drop_watches)
    # Pods that take a while to get ready: no rollout is over by the time it first looks.
    cluster.deployments.pod_ready_seconds = READY_SECONDS
    with kubetarget.FastClock(cluster):
        result = engine.apply(backend, open_target("kubernetes"), inputs=upgrade_all())
    assert result.ok and len(result.rolled) == 4, (result.roll_failed, result.roll_not_attempted)
    assert {image(d) for d in deployments(cluster)} == {"scorer:v1.6.0"}
    return result


def test_rollouts_share_one_watch_instead_of_reading_their_deployments_again(
    cluster: Emulator,
) -> None:
    upgrade(cluster)
    assert cluster.requests["watch", "deployments"] == 1
    # Each rollout reads its Deployment once, to start from; the watch brings the rest.
    assert cluster.requests["get", "deployments"] == 4


def test_a_watch_cut_at_once_is_watched_again(cluster: Emulator) -> None:
    started = time.monotonic()
    upgrade(cluster, drop_watches=3)
    assert cluster.requests["watch", "deployments"] >= 4, "cut three times, then it held"
    assert time.monotonic() - started < rollouts.FALLBACK_SECONDS * 4


def test_without_the_right_to_watch_rollouts_read_their_deployments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the shipped RBAC less `watch` on Deployments: refused, the watch keeps
    trying every few seconds while each rollout reads its Deployment instead."""
    documents = without("runtime-reconciler-read", "deployments", "watch")
    assert documents != rbac_documents()
    result = apply_under(documents, tmp_path, monkeypatch)
    assert result.ok and len(result.rolled) == 4, "slower, never stuck"


def test_a_watch_too_old_to_resume_goes_on_from_now(
    cluster: Emulator,
) -> None:
    deploy(cluster)
    target = KubernetesTarget()
    watch = rollouts.DeploymentWatch(
        target.cluster, DEPLOYMENT_KIND, selector="app.kubernetes.io/managed-by=runtime-reconciler"
    )
    stale = str(int(cluster.store.resource_version) - 1)
    cluster.compact()
    key = (WORKSPACE, "model-0-exp-a")
    watch.follow(stale)  # answered 410 Gone: the watch goes on from now
    cluster.faults.reset_log()
    deadline = time.monotonic() + 5
    while cluster.requests["watch", "deployments"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    cluster.apply_objects(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "model-0-exp-a", "namespace": WORKSPACE},
                "spec": {"replicas": 2},
            }
        ],
        manager="kubectl-scale",
    )
    seen = watch.wait(key, after=0, timeout=5)
    assert seen is not None and seen[1] is not None and seen[1]["spec"]["replicas"] == 2
    assert cluster.requests["list", "deployments"] == 1, "where to go on from: one list"
