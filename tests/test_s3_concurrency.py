"""Remote state in S3 under concurrency: no lost update, no stuck lock, no stale plan.

Real processes running the real `reconciler` command against a real S3-compatible
server (SeaweedFS on 127.0.0.1, started by the test session).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from reconciler.backends.s3 import S3Backend
from tests.runner import EXAMPLES, Run, reconciler

WORKERS = 8
ROUNDS = 3
VALUES = str(EXAMPLES / "values.yaml")


def overrides_for(root: Path, worker: int, round_: int) -> Path:
    """One worker's change for one round: a runtime of its own in its own workspace."""
    path = root / f"w{worker}-r{round_}.yaml"
    path.write_text(
        f"workspaces:\n  team-{worker}:\n    runtimes:\n      r{round_}:\n"
        f"        modelType: h2o3_mojo\n"
        f"        runtimeImage: workspaces/global/runtimeImages/h2oai-h2o3mojo-scorer\n"
    )
    return path


def read_state(s3_url: str) -> dict:
    blob = S3Backend.from_url(s3_url).read()
    assert blob is not None
    return json.loads(blob.data)


def test_eight_processes_never_lose_an_update(
    tmp_path: Path, s3_url: str, s3_env: dict[str, str]
) -> None:
    first = reconciler("apply", "-f", VALUES, "--state", s3_url, "--auto-approve", cwd=tmp_path)
    assert first.code == 0, first.err
    writes = read_state(s3_url)["serial"]

    def worker(index: int) -> list[tuple[int, Run]]:
        runs = []
        for round_ in range(ROUNDS):
            overrides = overrides_for(tmp_path, index, round_)
            # Half the workers give up at once when the lock is held, half wait for it.
            wait = ["--lock-timeout", "60s"] if index % 2 else []
            run = reconciler(
                "apply",
                "--overrides",
                str(overrides),
                "--state",
                s3_url,
                "--target",
                f"dir:{tmp_path / 'cluster'}",
                "--auto-approve",
                *wait,
                cwd=tmp_path,
                env=s3_env,
            )
            runs.append((round_, run))
        return runs

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(worker, range(WORKERS)))

    landed = set()
    for index, runs in enumerate(results):
        for round_, run in runs:
            if run.code == 0:
                landed.add(f"workspaces/team-{index}/runtimes/r{round_}")
            else:
                # A clean failure names who holds the lock; nothing else may go wrong.
                assert "state lock" in run.err.lower() or "held by" in run.err, run.err
                assert "Traceback" not in run.err
    assert landed, "no apply succeeded"
    assert all(len([r for r in runs if r[1].code == 0]) for runs in results[1::2]), (
        "every waiting worker lands all its rounds"
    )

    final = read_state(s3_url)
    addresses = {r["address"] for r in final["resources"]}
    assert landed <= addresses, f"lost updates: {sorted(landed - addresses)}"
    api_runtimes = {a for a in addresses if a.startswith("workspaces/team-")}
    assert api_runtimes == landed, "a failed apply must not have written anything"
    assert final["serial"] == writes + len(landed), "one state write per successful apply"


def test_a_plan_saved_from_s3_state_is_refused_once_the_state_moved_on(
    tmp_path: Path, s3_url: str, s3_env: dict[str, str]
) -> None:
    assert (
        reconciler(
            "apply", "-f", VALUES, "--state", s3_url, "--auto-approve", cwd=tmp_path, env=s3_env
        ).code
        == 0
    )
    saved = reconciler(
        "plan",
        "-f",
        VALUES,
        "--overrides",
        str(EXAMPLES / "overrides.yaml"),
        "--state",
        s3_url,
        "--out",
        "review.plan",
        cwd=tmp_path,
        env=s3_env,
    )
    assert saved.code == 0, saved.err
    other = overrides_for(tmp_path, 99, 0)
    assert (
        reconciler(
            "apply",
            "--overrides",
            str(other),
            "--state",
            s3_url,
            "--auto-approve",
            cwd=tmp_path,
            env=s3_env,
        ).code
        == 0
    )
    before = read_state(s3_url)
    stale = reconciler(
        "apply", "review.plan", "--state", s3_url, "--auto-approve", cwd=tmp_path, env=s3_env
    )
    assert stale.code == 1
    assert "saved plan is stale" in stale.err
    assert read_state(s3_url) == before


def test_the_state_object_is_written_with_the_requested_encryption(
    tmp_path: Path, s3_url: str, s3_env: dict[str, str]
) -> None:
    run = reconciler(
        "apply",
        "-f",
        VALUES,
        "--state",
        s3_url,
        "--auto-approve",
        cwd=tmp_path,
        env={**s3_env, "RECONCILER_S3_SSE": "AES256"},
    )
    assert run.code == 0, run.err
    bucket, key = s3_url[len("s3://") :].split("/", 1)
    client = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL_S3"])
    head = client.head_object(Bucket=bucket, Key=key)
    assert head.get("ServerSideEncryption") == "AES256"
