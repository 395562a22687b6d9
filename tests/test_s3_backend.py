"""The S3 backend against a real SeaweedFS server: what only S3 promises.

Stale locks expire by TTL and exactly one contender takes them over; a killed holder stops
blocking others; heartbeats keep a long lock alive; server-side encryption is applied;
failures read as one-line errors with hints and never show a credential; versioned
buckets work; a plan costs at most three requests. (What every backend promises is in
test_backend_conformance.py.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import pytest

from reconciler.backends import LockInfo, open_backend
from reconciler.backends.locking import corrupt_lock_id, encode_lock
from reconciler.backends.s3 import S3Backend
from reconciler.errors import (
    BackendError,
    ConflictError,
    LockError,
    LockHeldError,
    ReconcilerError,
    UsageError,
)
from tests import s3server

SHORT_TTL = 2.0  # seconds; staleness is judged in the server's whole seconds
FAKE_SECRET = "FAKE-SECRET-do-not-print-7f3a9c"
CONTENDERS = 5


def test_a_plan_costs_one_request_and_a_locked_read_three(s3_url: str) -> None:
    backend = S3Backend.from_url(s3_url)
    backend.write(b"{}", if_match=None)
    before = backend.request_count

    backend.read()
    assert backend.request_count - before == 1

    lock = backend.lock(operation="plan")
    backend.read()
    backend.unlock(lock.id)
    assert backend.request_count - before == 4


def test_a_stale_lock_is_taken_over_by_exactly_one_contender(
    s3_url: str, s3_server: s3server.S3Server
) -> None:
    bucket, key = s3_url.removeprefix("s3://").split("/", 1)
    contenders = [S3Backend.from_url(s3_url, lock_ttl=SHORT_TTL) for _ in range(CONTENDERS)]
    crashed = LockInfo.new("apply")
    s3_server.client().put_object(
        Bucket=bucket, Key=f"{key}.lock", Body=encode_lock(crashed, ttl=SHORT_TTL)
    )
    with pytest.raises(LockHeldError, match=crashed.id):
        contenders[0].lock(operation="apply")
    time.sleep(SHORT_TTL + 1.1)  # past the crashed holder's TTL, in whole server seconds
    start = threading.Barrier(CONTENDERS)
    won: list[tuple[S3Backend, LockInfo]] = []
    refused: list[LockHeldError] = []

    def contend(backend: S3Backend) -> None:
        start.wait()
        try:
            won.append((backend, backend.lock(operation="apply")))
        except LockHeldError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=contend, args=(backend,)) for backend in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 1
    assert len(refused) == CONTENDERS - 1
    winner, lock = won[0]
    assert all(lock.id in str(exc) for exc in refused)
    winner.unlock(lock.id)


def test_a_killed_holder_stops_blocking_others_after_the_ttl(s3_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_FOREVER, s3_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "RECONCILER_LOCK_TTL": str(SHORT_TTL)},
    )
    try:
        holder_id = holder.stdout.readline().strip() if holder.stdout else ""
        assert holder_id, "the holder process did not take the lock"
        waiter = S3Backend.from_url(s3_url, lock_ttl=SHORT_TTL)
        time.sleep(SHORT_TTL + 0.5)  # alive, its heartbeats keep the lock past the TTL
        with pytest.raises(LockHeldError, match=holder_id):
            waiter.lock(operation="apply")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    killed_at = time.monotonic()

    lock = waiter.lock(operation="apply", timeout=15)

    assert lock.id != holder_id
    assert time.monotonic() - killed_at < 10
    waiter.unlock(lock.id)


HOLD_LOCK_FOREVER = """
import sys, time
from reconciler.backends import open_backend
lock = open_backend(sys.argv[1]).lock(operation="apply")
print(lock.id, flush=True)
time.sleep(600)
"""


def test_heartbeats_keep_a_long_held_lock_alive_past_its_ttl(s3_url: str) -> None:
    holder = S3Backend.from_url(s3_url, lock_ttl=SHORT_TTL, heartbeat_interval=0.4)
    lock = holder.lock(operation="apply")

    time.sleep(SHORT_TTL * 1.75)

    with pytest.raises(LockHeldError, match=lock.id):
        S3Backend.from_url(s3_url, lock_ttl=SHORT_TTL).lock(operation="apply")
    holder.write(b"still mine", if_match=None)
    holder.unlock(lock.id)


def test_a_holder_whose_lock_was_taken_cannot_write(s3_url: str) -> None:
    first = S3Backend.from_url(s3_url, lock_ttl=SHORT_TTL, heartbeat_interval=0.3)
    lost = first.lock(operation="apply")
    other = S3Backend.from_url(s3_url)
    other.unlock(lost.id)
    taken = other.lock(operation="apply")

    time.sleep(1.0)  # a few heartbeats: the first holder finds its lock replaced

    with pytest.raises(LockError, match="lost the state lock") as caught:
        first.write(b"late write", if_match=None)
    assert lost.id in str(caught.value)
    assert other.read() is None
    other.unlock(taken.id)


def test_a_corrupted_lock_object_is_reported_and_can_be_force_unlocked(
    s3_url: str, s3_server: s3server.S3Server
) -> None:
    bucket, key = s3_url.removeprefix("s3://").split("/", 1)
    s3_server.client().put_object(Bucket=bucket, Key=f"{key}.lock", Body=b"{not json")
    backend = S3Backend.from_url(s3_url)

    with pytest.raises(LockError, match="corrupted") as caught:
        backend.lock(operation="apply")

    assert f"{key}.lock" in caught.value.detail
    assert "force-unlock" in caught.value.hint
    backend.unlock(corrupt_lock_id(b"{not json"))
    backend.unlock(backend.lock(operation="apply").id)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"sse": "AES256"}, {"ServerSideEncryption": "AES256"}),
        (
            {"sse": "aws:kms", "kms_key_id": s3server.LOCAL_KMS_KEY_ID},
            {"ServerSideEncryption": "aws:kms"},
        ),
    ],
)
def test_server_side_encryption_applies_to_state_and_lock(
    s3_url: str, s3_server: s3server.S3Server, options: dict[str, str], expected: dict[str, str]
) -> None:
    backend = S3Backend.from_url(s3_url, **options)
    sent: list[dict[str, str]] = []
    backend.client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(_headers(request))
    )

    backend.write(b"secret plans", if_match=None)
    lock = backend.lock(operation="apply")

    bucket, key = s3_url.removeprefix("s3://").split("/", 1)
    for stored in (key, f"{key}.lock"):
        head = s3_server.client().head_object(Bucket=bucket, Key=stored)
        assert {name: head.get(name) for name in expected} == expected
    assert len(sent) == 2
    assert all(headers.get("x-amz-server-side-encryption") == options["sse"] for headers in sent)
    if "kms_key_id" in options:
        assert all(
            headers.get("x-amz-server-side-encryption-aws-kms-key-id") == options["kms_key_id"]
            for headers in sent
        )
    backend.unlock(lock.id)


def test_a_versioned_bucket_keeps_compare_and_swap(
    s3_env: dict[str, str], s3_server: s3server.S3Server
) -> None:
    bucket = s3_server.create_bucket("reconciler-versioned", versioned=True)
    backend = S3Backend.from_url(f"s3://{bucket}/state.json")
    lock = backend.lock(operation="apply")
    first = backend.write(b"v1", if_match=None)
    second = backend.write(b"v2", if_match=first)

    with pytest.raises(ConflictError):
        backend.write(b"stale", if_match=first)

    blob = backend.read()
    assert blob is not None
    assert (blob.data, blob.etag) == (b"v2", second)
    backend.unlock(lock.id)
    backend.unlock(backend.lock(operation="apply").id)
    versions = s3_server.client().list_object_versions(Bucket=bucket, Prefix="state.json")
    assert len([v for v in versions["Versions"] if v["Key"] == "state.json"]) == 2


def test_a_missing_bucket_is_a_clear_error(s3_env: dict[str, str]) -> None:
    backend = S3Backend.from_url("s3://no-such-bucket/state.json")

    for action in (backend.read, lambda: backend.lock(operation="apply")):
        error = _backend_error(action)
        assert "bucket does not exist" in error.summary
        assert "no-such-bucket" in error.detail
        assert "create the bucket" in error.hint


def test_a_wrong_secret_key_is_a_clear_error_without_the_secret(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)

    error = _backend_error(lambda: S3Backend.from_url(s3_url).read())

    assert "signature" in error.summary
    assert "AWS_SECRET_ACCESS_KEY" in error.hint
    _assert_secret_free(error)


def test_an_unknown_access_key_is_a_clear_error_without_credentials(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEUNKNOWNKEY01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)

    error = _backend_error(lambda: S3Backend.from_url(s3_url).write(b"x", if_match=None))

    assert "access key" in error.summary
    assert "AKIAFAKEUNKNOWNKEY01" not in str(error)
    _assert_secret_free(error)


def test_missing_credentials_are_a_clear_error(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    error = _backend_error(lambda: S3Backend.from_url(s3_url).read())

    assert "no AWS credentials" in error.summary
    assert "AWS_ACCESS_KEY_ID" in error.hint


def test_access_denied_is_a_clear_error(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3server.READONLY_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3server.READONLY_SECRET_KEY)
    backend = S3Backend.from_url(s3_url)
    assert backend.read() is None

    error = _backend_error(lambda: backend.write(b"x", if_match=None))

    assert "denied" in error.summary
    assert "s3:PutObject" in error.hint
    _assert_secret_free(error, secret=s3server.READONLY_SECRET_KEY)


def test_an_unreachable_endpoint_fails_fast_with_a_clear_error(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = s3server.closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    began = time.monotonic()

    error = _backend_error(lambda: S3Backend.from_url(s3_url).read())

    assert time.monotonic() - began < 10
    assert "cannot reach" in error.summary
    assert f"127.0.0.1:{port}" in error.detail
    assert "AWS_ENDPOINT_URL_S3" in error.hint
    _assert_secret_free(error)


def test_credentials_in_the_endpoint_url_are_refused_without_echoing_them(
    s3_url: str, s3_server: s3server.S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = s3_server.endpoint_url.replace("http://", f"http://user:{FAKE_SECRET}@")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)

    with pytest.raises(UsageError) as caught:
        S3Backend.from_url(s3_url)

    assert "must not contain credentials" in caught.value.summary
    assert s3_server.endpoint_url in caught.value.detail
    _assert_secret_free(caught.value)


def test_settings_come_from_the_standard_environment(
    s3_url: str, s3_server: s3server.S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[ci]\naws_access_key_id = {s3server.ACCESS_KEY}\n"
        f"aws_secret_access_key = {s3server.SECRET_KEY}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "ci")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("RECONCILER_LOCK_TTL", "30")
    monkeypatch.setenv("RECONCILER_S3_PATH_STYLE", "1")
    monkeypatch.setenv("RECONCILER_S3_SSE", "aws:kms")
    monkeypatch.setenv("RECONCILER_S3_KMS_KEY_ID", s3server.LOCAL_KMS_KEY_ID)

    backend = open_backend(s3_url)

    assert isinstance(backend, S3Backend)
    assert backend.write(b"via profile", if_match=None)
    assert (backend.lock_ttl, backend.heartbeat_interval) == (30.0, 7.5)
    assert backend.client.meta.region_name == "eu-west-3"
    assert backend.client.meta.config.s3["addressing_style"] == "path"
    bucket, key = s3_url.removeprefix("s3://").split("/", 1)
    head = s3_server.client().head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("s3://bucket-only", {}),
        ("s3:///key-without-bucket", {}),
        ("s3://bucket/key", {"sse": "rot13"}),
        ("s3://bucket/key", {"kms_key_id": "alias/x"}),
        ("s3://bucket/key", {"lock_ttl": 10, "heartbeat_interval": 20}),
    ],
)
def test_bad_urls_and_options_are_usage_errors(
    s3_env: dict[str, str], url: str, options: dict[str, object]
) -> None:
    with pytest.raises(UsageError) as caught:
        S3Backend.from_url(url, **options)  # type: ignore[arg-type]
    assert caught.value.hint


def _headers(request) -> dict[str, str]:
    return {
        name.lower(): value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }


def _backend_error(action) -> BackendError:
    with pytest.raises(BackendError) as caught:
        action()
    error = caught.value
    for part in (error.summary, error.detail, error.hint):
        assert part and "\n" not in part
    return error


def _assert_secret_free(error: ReconcilerError, *, secret: str = FAKE_SECRET) -> None:
    rendered = "".join(traceback.format_exception(error))
    assert secret not in rendered
    assert s3server.SECRET_KEY not in rendered
