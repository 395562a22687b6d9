"""The Job controller, simulated: each Job's pod runs through a runner the test provides.

Owns what kube-controller-manager does for `batch/v1` Jobs as Helm watches them: a Pod
object per attempt (labels `job-name`, `batch.kubernetes.io/job-name`, `controller-uid`),
its log (served at `/api/v1/namespaces/NS/pods/NAME/log`), retries up to `backoffLimit`,
`activeDeadlineSeconds`, and the status Helm 4's kstatus reads: active → succeeded or
failed, with SuccessCriteriaMet + Complete, or FailureTarget + Failed. Without a runner a
Job stays active, as on a cluster with no nodes.

A runner is `callable(job) -> (exit_code, log_text)`; `SubprocessRunner` (podrunner.py) runs
the first container's command as a local process.
"""

from __future__ import annotations

import contextlib
import copy
import random
import string
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.kubeapi import errors

if TYPE_CHECKING:
    from tests.kubeapi.emulator import Emulator
    from tests.kubeapi.registry import ResourceType

Runner = Callable[[dict[str, Any]], tuple[int, str]]
DEFAULT_BACKOFF_LIMIT = 6


class JobController:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.runner: Runner | None = None
        self.logs: dict[tuple[str, str], str] = {}
        self._threads: list[threading.Thread] = []
        self._started: set[str] = set()
        self._lock = threading.Lock()

    def on_change(self, rtype: ResourceType, event: str, old: dict | None, new: dict) -> None:
        if rtype.storage != ("batch", "jobs"):
            return
        if event == "ADDED":
            self._start(new)
        elif event == "DELETED":
            self._collect_pods(new)

    def _collect_pods(self, job: dict[str, Any]) -> None:
        # The garbage collector's part: a deleted Job's pods go with it (Helm deletes hook
        # Jobs with background propagation), so `kubectl logs job/NAME` of the next Job of
        # the same name never finds an older revision's pods.
        pods = self.emulator.registry.lookup("", "v1", "pods")
        assert pods is not None
        uid = job["metadata"]["uid"]
        for pod in self.emulator.store.all(pods.storage):
            owners = pod["metadata"].get("ownerReferences") or []
            if any(owner.get("uid") == uid for owner in owners):
                meta = pod["metadata"]
                with contextlib.suppress(errors.ApiError):
                    self.emulator.store.delete(pods, meta["namespace"], meta["name"])

    def tick(self) -> None:
        """Jobs created before a runner was set start once there is one."""
        if self.runner is None:
            return
        for job in self.emulator.store.all(("batch", "jobs")):
            if not (job.get("status") or {}).get("startTime"):
                self._start(job)

    def stop(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)

    def _start(self, job: dict[str, Any]) -> None:
        if self.runner is None or job["spec"].get("suspend"):
            return
        with self._lock:
            uid = job["metadata"]["uid"]
            if uid in self._started:
                return
            self._started.add(uid)
        thread = threading.Thread(
            target=self._run, args=(job,), name=f"job-{job['metadata']['name']}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    # Writing status and pods ------------------------------------------------------------

    def _write_status(self, job: dict[str, Any], status: dict[str, Any]) -> None:
        rtype = self.emulator.registry.lookup("batch", "v1", "jobs")
        assert rtype is not None
        meta = job["metadata"]
        try:
            self.emulator.store.commit(
                rtype,
                meta["namespace"],
                meta["name"],
                lambda live: {**live, "status": dict(status)},
                subresource="status",
            )
        except errors.ApiError:
            return  # the Job was deleted meanwhile

    def _write_pod(self, job: dict[str, Any], name: str, phase: str, exit_code: int | None) -> None:
        rtype = self.emulator.registry.lookup("", "v1", "pods")
        assert rtype is not None
        meta = job["metadata"]
        template = job["spec"].get("template", {})
        containers = template.get("spec", {}).get("containers", [])
        state: dict[str, Any] = {"running": {"startedAt": self.emulator.clock.rfc3339()}}
        if exit_code is not None:
            state = {
                "terminated": {
                    "exitCode": exit_code,
                    "reason": "Completed" if exit_code == 0 else "Error",
                    "finishedAt": self.emulator.clock.rfc3339(),
                }
            }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": {
                    **(template.get("metadata", {}).get("labels") or {}),
                    "job-name": meta["name"],
                    "batch.kubernetes.io/job-name": meta["name"],
                    "controller-uid": meta["uid"],
                    "batch.kubernetes.io/controller-uid": meta["uid"],
                },
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template.get("spec", {}),
            "status": {
                "phase": phase,
                "containerStatuses": [
                    {
                        "name": containers[0]["name"] if containers else "job",
                        "image": containers[0].get("image", "") if containers else "",
                        "ready": exit_code is None,
                        "restartCount": 0,
                        "state": state,
                    }
                ],
            },
        }

        def mutate(live: dict[str, Any] | None) -> dict[str, Any]:
            fresh = copy.deepcopy(pod)
            return fresh if live is None else {**live, "status": fresh["status"]}

        try:
            self.emulator.store.commit(rtype, meta["namespace"], name, mutate, allow_create=True)
            self.emulator.store.commit(rtype, meta["namespace"], name, mutate, subresource="status")
        except errors.ApiError:
            return

    # One Job ----------------------------------------------------------------------------

    def _run(self, job: dict[str, Any]) -> None:
        spec = job["spec"]
        backoff_limit = int(spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT))
        deadline = spec.get("activeDeadlineSeconds")
        start = self.emulator.clock.rfc3339()
        failed = 0
        while True:
            pod_name = f"{job['metadata']['name']}-" + "".join(
                random.choices(string.ascii_lowercase + string.digits, k=5)
            )
            self._write_status(
                job,
                {
                    "active": 1,
                    "ready": 0,
                    "startTime": start,
                    "terminating": 0,
                    "uncountedTerminatedPods": {},
                    **({"failed": failed} if failed else {}),
                },
            )
            self._write_pod(job, pod_name, "Running", None)
            outcome: dict[str, Any] = {}

            def attempt(outcome: dict[str, Any] = outcome) -> None:
                try:
                    outcome["result"] = self.runner(job) if self.runner else (1, "no runner")
                except (
                    Exception
                ) as exc:  # a broken runner fails the pod, as a crashing container would
                    outcome["result"] = (1, f"{type(exc).__name__}: {exc}\n")

            worker = threading.Thread(target=attempt, daemon=True)
            worker.start()
            worker.join(timeout=float(deadline) if deadline else None)
            if worker.is_alive():
                self.logs[(job["metadata"]["namespace"], pod_name)] = ""
                self._write_pod(job, pod_name, "Failed", 137)
                self._finish(
                    job,
                    start,
                    failed=failed + 1,
                    reason="DeadlineExceeded",
                    message="Job was active longer than specified deadline",
                )
                return
            exit_code, log_text = outcome["result"]
            self.logs[(job["metadata"]["namespace"], pod_name)] = log_text
            self._write_pod(job, pod_name, "Succeeded" if exit_code == 0 else "Failed", exit_code)
            if exit_code == 0:
                self._finish(job, start, failed=failed, succeeded=True)
                return
            failed += 1
            if failed > backoff_limit:
                self._finish(
                    job,
                    start,
                    failed=failed,
                    reason="BackoffLimitExceeded",
                    message="Job has reached the specified backoff limit",
                )
                return

    def _finish(
        self,
        job: dict[str, Any],
        start: str,
        *,
        failed: int,
        succeeded: bool = False,
        reason: str = "",
        message: str = "",
    ) -> None:
        now = self.emulator.clock.rfc3339()

        def condition(kind: str, why: str, text: str) -> dict[str, Any]:
            return {
                "type": kind,
                "status": "True",
                "reason": why,
                "message": text,
                "lastProbeTime": now,
                "lastTransitionTime": now,
            }

        status: dict[str, Any] = {
            "startTime": start,
            "ready": 0,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }
        if failed:
            status["failed"] = failed
        if succeeded:
            status["succeeded"] = 1
            status["completionTime"] = now
            text = "Reached expected number of succeeded pods"
            status["conditions"] = [
                condition("SuccessCriteriaMet", "CompletionsReached", text),
                condition("Complete", "CompletionsReached", text),
            ]
        else:
            status["conditions"] = [
                condition("FailureTarget", reason, message),
                condition("Failed", reason, message),
            ]
        self._write_status(job, status)
