"""S3 state backend: the state document as an object, its lock as the object `<key>.lock`.

Owns talking to S3 (AWS or any S3-compatible server) through boto3, which is imported
here only, when a backend is opened, so the package works without it:

- State writes are conditional (`If-Match` on the etag read, `If-None-Match: *` to
  create), so a lost update is impossible even for a writer without the lock.
- The lock object is created with `If-None-Match: *`. A daemon thread refreshes its
  heartbeat with `If-Match` on the lock's etag; a lock not refreshed within its TTL is
  taken over with `If-Match` on exactly the stale version, so one contender wins.
  Staleness is judged by the server's clock (Last-Modified against the response's Date
  header), so a client with a skewed clock cannot expire a live lock.
- Retries (botocore's standard mode), short connect timeouts, optional SSE, a request
  counter, and one-line `BackendError`s with hints that never carry a credential: they
  are built from the error code, bucket, key and endpoint only, never from the text of
  the library's exception.

Does not own the state format (state.py), when to lock (engine.py), or the lock document
and waiting loop, which it shares with the local backend (local.py). Needs a server that
honours conditional writes: AWS S3, SeaweedFS, MinIO and others do.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from reconciler.backends import Blob, LockInfo
from reconciler.backends.locking import (
    Heartbeat,
    check_unlock,
    corrupt_lock_error,
    decode_lock,
    encode_lock,
    held_error,
    lost_lock_error,
    precise_now,
    wait_for_lock,
)
from reconciler.errors import BackendError, ConflictError, LockError, LockHeldError, UsageError

log = logging.getLogger(__name__)

DEFAULT_LOCK_TTL = 120.0  # how long a lock left by a killed Job blocks others, at most
CONNECT_TIMEOUT = 3.0  # an unreachable endpoint should fail in seconds, not minutes
READ_TIMEOUT = 60.0  # room for a state of several megabytes over a slow link
MAX_ATTEMPTS = 5  # botocore's standard mode retries throttling and 5xx with backoff
LOCK_POLL_FIRST_DELAY = 0.25  # each poll of a held lock costs two requests
LOCK_POLL_MAX_DELAY = 5.0
LOCK_ROUNDS = 3  # create, take over, create again: then the lock is someone's to report
SSE_MODES = ("AES256", "aws:kms")
TRUE_WORDS = ("1", "true", "yes", "on")

# 412 when the precondition fails; 409 when another conditional write to the key is in flight.
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
MISSING_CODES = frozenset({"NoSuchKey", "404"})
UNSUPPORTED_CODES = frozenset({"NotImplemented"})
ACTIONS = {"get_object": "reading", "put_object": "writing", "delete_object": "deleting"}
CREDENTIAL_HINT = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the AWS_PROFILE in use"
EXPLAINED: dict[str, tuple[str, str]] = {
    "NoSuchBucket": (
        "the S3 bucket does not exist",
        "create the bucket, or correct the bucket in the state URL",
    ),
    "InvalidAccessKeyId": ("the S3 endpoint does not know this access key", CREDENTIAL_HINT),
    "SignatureDoesNotMatch": (
        "the S3 endpoint rejected the request signature (wrong secret key)",
        CREDENTIAL_HINT,
    ),
    "ExpiredToken": ("the AWS credentials have expired", "refresh the credentials and retry"),
    "InvalidToken": ("the AWS session token is invalid", "refresh the credentials and retry"),
    "AccessDenied": (
        "access to the state in S3 was denied",
        "grant s3:GetObject, s3:PutObject and s3:DeleteObject on the state key and its .lock",
    ),
}


@dataclass(frozen=True, slots=True)
class _Object:
    data: bytes
    etag: str
    age: float  # seconds since it was last written, by the server's clock


class _Refused(Exception):
    """S3 answered with an error code the caller handles itself (a failed precondition)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class S3Backend:
    """State in `s3://bucket/key`; see the module docstring for the protocol.

    `client` is a boto3 S3 client (from_url builds one from the standard AWS settings).
    `request_count` counts the HTTP requests its client sends, retries and heartbeats included.
    """

    def __init__(
        self,
        *,
        bucket: str,
        key: str,
        client: Any,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        heartbeat_interval: float | None = None,
        sse: str | None = None,
        kms_key_id: str | None = None,
    ) -> None:
        heartbeat_interval = heartbeat_interval or lock_ttl / 4
        _validate(lock_ttl, heartbeat_interval, sse, kms_key_id)
        self.bucket = bucket
        self.key = key
        self.lock_key = f"{key}.lock"
        self.name = f"s3://{bucket}/{key}"
        self.lock_url = f"s3://{bucket}/{self.lock_key}"
        self.client = client
        self.lock_ttl = float(lock_ttl)
        self.heartbeat_interval = float(heartbeat_interval)
        self._encryption = {"ServerSideEncryption": sse} if sse else {}
        if kms_key_id:
            self._encryption["SSEKMSKeyId"] = kms_key_id
        self._endpoint = _safe_endpoint(client.meta.endpoint_url)
        self._requests = 0
        self._mutex = threading.Lock()  # guards the counter and the fields below
        self._held: LockInfo | None = None
        self._lock_etag: str | None = None
        self._heartbeat: Heartbeat | None = None
        self._lost: LockInfo | None = None
        self._conditional_delete = True
        client.meta.events.register("before-send.s3", self._count_request)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        path_style: bool | None = None,
        sse: str | None = None,
        kms_key_id: str | None = None,
        lock_ttl: float | None = None,
        heartbeat_interval: float | None = None,
    ) -> S3Backend:
        """Open `s3://bucket/key`; unset options come from the standard AWS settings.

        Endpoint: `endpoint_url`, else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the
        profile's config. Region: `region`, else AWS_REGION, AWS_DEFAULT_REGION or config.
        Profile: `profile`, else AWS_PROFILE. Credentials: the standard chain only.
        `path_style` defaults to RECONCILER_S3_PATH_STYLE=1, `sse` to RECONCILER_S3_SSE,
        `kms_key_id` to RECONCILER_S3_KMS_KEY_ID, `lock_ttl` to RECONCILER_LOCK_TTL or
        120 s, `heartbeat_interval` to a quarter of the TTL. (The CLI has no flags for
        these: CI jobs and Helm hooks set them in the environment.)
        """
        bucket, key = _parse_url(url)
        sse = sse or os.environ.get("RECONCILER_S3_SSE") or None
        kms_key_id = kms_key_id or os.environ.get("RECONCILER_S3_KMS_KEY_ID") or None
        if lock_ttl is None:
            lock_ttl = _env_seconds("RECONCILER_LOCK_TTL", DEFAULT_LOCK_TTL)
        if path_style is None:
            path_style = os.environ.get("RECONCILER_S3_PATH_STYLE", "").lower() in TRUE_WORDS
        client = _make_client(
            url,
            endpoint_url=endpoint_url,
            region=region or os.environ.get("AWS_REGION") or None,
            profile=profile,
            path_style=path_style,
        )
        return cls(
            bucket=bucket,
            key=key,
            client=client,
            lock_ttl=lock_ttl,
            heartbeat_interval=heartbeat_interval,
            sse=sse,
            kms_key_id=kms_key_id,
        )

    def __repr__(self) -> str:
        return f"S3Backend({self.name!r}, endpoint={self._endpoint!r})"

    @property
    def request_count(self) -> int:
        with self._mutex:
            return self._requests

    def read(self) -> Blob | None:
        current = self._get(self.key)
        return None if current is None else Blob(data=current.data, etag=current.etag)

    def write(self, data: bytes, *, if_match: str | None) -> str:
        with self._mutex:
            lost = self._lost
        if lost is not None:
            raise lost_lock_error(lost, where=self.lock_url)
        condition = {"IfNoneMatch": "*"} if if_match is None else {"IfMatch": if_match}
        try:
            response = self._call(
                "put_object",
                self.key,
                handled=CONFLICT_CODES | MISSING_CODES,
                Body=data,
                **condition,
                **self._encryption,
            )
        except _Refused as refused:
            expected = "no state yet" if if_match is None else f"etag {if_match}"
            raise ConflictError(
                "the state changed since it was read",
                detail=f"{self.name}: expected {expected}, S3 answered {refused.code}",
            ) from refused
        return str(response["ETag"])

    def lock(self, *, operation: str, timeout: float = 0.0) -> LockInfo:
        return wait_for_lock(
            lambda: self._try_lock(operation),
            timeout=timeout,
            first_delay=LOCK_POLL_FIRST_DELAY,
            max_delay=LOCK_POLL_MAX_DELAY,
        )

    def unlock(self, lock_id: str) -> None:
        etag = self._stop_holding(lock_id)
        if etag is not None and self._delete_lock(etag):
            return
        current = self._get(self.lock_key)
        if current is None:
            raise LockError(
                "the state is not locked",
                detail=f"{self.lock_url} does not exist (asked to release ID {lock_id})",
            )
        check_unlock(current.data, lock_id, where=self.lock_url)
        if not self._delete_lock(current.etag):
            raise LockError(
                "the state lock changed while it was being released",
                detail=f"{self.lock_url}: another run replaced it (asked to release ID {lock_id})",
                hint="look at the lock again and retry",
            )

    # Locking.

    def _try_lock(self, operation: str) -> LockInfo:
        info = dataclasses.replace(LockInfo.new(operation), heartbeat=precise_now())
        document = encode_lock(info, ttl=self.lock_ttl)
        for _ in range(LOCK_ROUNDS):
            etag = self._put_lock(document, IfNoneMatch="*")
            if etag is None:
                current = self._get(self.lock_key)
                if current is None:
                    continue  # released between our two requests
                etag = self._take_over(current, info, document)
            if etag is not None:
                self._start_holding(info, etag)
                return info
        raise LockHeldError(
            "the state lock keeps changing hands",
            detail=f"{self.lock_url}: other runs took it {LOCK_ROUNDS} times in a row",
            hint="retry, or wait for it with --lock-timeout",
        )

    def _take_over(self, current: _Object, info: LockInfo, document: bytes) -> str | None:
        """Our lock's etag once `current` is ours or replaced; None if another won the race."""
        decoded = decode_lock(current.data)
        if decoded is None:
            raise corrupt_lock_error(current.data, where=self.lock_url)
        holder, ttl = decoded
        if holder.id == info.id:
            return current.etag  # our create landed, but its response was lost and retried
        ttl = self.lock_ttl if ttl is None else ttl
        if current.age <= ttl:
            raise held_error(holder, where=self.lock_url)
        etag = self._put_lock(document, IfMatch=current.etag)
        if etag is not None:
            log.warning(
                "took over the state lock %s (%s): no heartbeat for %.0f s (TTL %g s)",
                holder.id,
                self.lock_url,
                current.age,
                ttl,
            )
        return etag

    def _put_lock(self, document: bytes, **condition: str) -> str | None:
        """Write the lock object under `condition`; its new etag, or None if refused."""
        try:
            response = self._call(
                "put_object",
                self.lock_key,
                handled=CONFLICT_CODES | MISSING_CODES,
                Body=document,
                ContentType="application/json",
                **condition,
                **self._encryption,
            )
        except _Refused:
            return None
        return str(response["ETag"])

    def _start_holding(self, info: LockInfo, etag: str) -> None:
        heartbeat = Heartbeat(
            lambda: self._refresh(info),
            interval=self.heartbeat_interval,
            name=f"lock heartbeat {self.lock_url}",
        )
        with self._mutex:
            self._held, self._lock_etag, self._heartbeat, self._lost = info, etag, heartbeat, None
        heartbeat.start()

    def _refresh(self, info: LockInfo) -> bool:
        with self._mutex:
            if self._held is not info:
                return False
            etag = self._lock_etag
        fresh = dataclasses.replace(info, heartbeat=precise_now())
        new_etag = self._put_lock(encode_lock(fresh, ttl=self.lock_ttl), IfMatch=str(etag))
        if new_etag is None:
            # A refused refresh may be the retry of one that landed: only the id tells.
            current = self._get(self.lock_key)
            decoded = None if current is None else decode_lock(current.data)
            if current is not None and decoded is not None and decoded[0].id == info.id:
                new_etag = current.etag
        with self._mutex:
            if self._held is not info:
                return False
            if new_etag is None:
                self._lost = info
                return False
            self._lock_etag = new_etag
        return True

    def _stop_holding(self, lock_id: str) -> str | None:
        """Stop our heartbeat if `lock_id` is ours; the lock's last known etag, if so."""
        with self._mutex:
            heartbeat = self._heartbeat if self._held and self._held.id == lock_id else None
        if heartbeat is None:
            return None
        heartbeat.stop()  # first, so that no refresh changes the etag under the delete
        with self._mutex:
            etag = self._lock_etag
            self._held, self._lock_etag, self._heartbeat, self._lost = None, None, None, None
        return etag

    def _delete_lock(self, etag: str) -> bool:
        """Delete the lock if it is still the version `etag`; False if it is not."""
        if self._conditional_delete:
            try:
                self._call(
                    "delete_object",
                    self.lock_key,
                    handled=CONFLICT_CODES | MISSING_CODES | UNSUPPORTED_CODES,
                    IfMatch=etag,
                )
                return True
            except _Refused as refused:
                if refused.code not in UNSUPPORTED_CODES:
                    return False
                self._conditional_delete = False
        # This server cannot delete conditionally: read, check, delete. The window between
        # the check and the delete is a round trip, and a lost update stays impossible.
        current = self._get(self.lock_key)
        if current is None or current.etag != etag:
            return False
        self._call("delete_object", self.lock_key)
        return True

    # Requests.

    def _get(self, key: str) -> _Object | None:
        from botocore.exceptions import BotoCoreError

        try:
            response = self._call("get_object", key, handled=MISSING_CODES)
        except _Refused:
            return None
        try:
            data = response["Body"].read()
        except BotoCoreError as exc:
            raise self._error(exc, "get_object", key) from exc
        return _Object(data=data, etag=str(response["ETag"]), age=_age(response))

    def _call(
        self, method: str, key: str, *, handled: frozenset[str] = frozenset(), **params: Any
    ) -> dict[str, Any]:
        """One S3 operation. Error codes in `handled` raise `_Refused`; the rest BackendError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response: dict[str, Any] = getattr(self.client, method)(
                Bucket=self.bucket, Key=key, **params
            )
        except ClientError as exc:
            code = _error_code(exc)
            if code in handled:
                raise _Refused(code) from exc
            raise self._error(exc, method, key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, method, key) from exc
        return response

    def _count_request(self, **_: Any) -> None:
        with self._mutex:
            self._requests += 1

    def _error(self, exc: Exception, method: str, key: str) -> BackendError:
        from botocore import exceptions as boto

        where = f"{ACTIONS.get(method, method)} s3://{self.bucket}/{key} at {self._endpoint}"
        if isinstance(exc, boto.ClientError):
            code = _error_code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            summary, hint = EXPLAINED.get(code) or _explain_status(code, status)
            return BackendError(summary, detail=f"{where}: {code} (HTTP {status})", hint=hint)
        if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
            return BackendError(
                "no AWS credentials were found",
                detail=where,
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
                "or run with an IAM role",
            )
        if isinstance(exc, boto.ConnectionError):
            return BackendError(
                "cannot reach the S3 endpoint",
                detail=f"{where}: {type(exc).__name__}",
                hint="check the endpoint (AWS_ENDPOINT_URL_S3 or endpoint_url), the network, "
                "and that the server is up",
            )
        return BackendError(
            "the S3 request failed",
            detail=f"{where}: {type(exc).__name__}",
            hint="retry; if it persists, check the endpoint and the network",
        )


def _validate(
    lock_ttl: float, heartbeat_interval: float, sse: str | None, kms_key_id: str | None
) -> None:
    if sse is not None and sse not in SSE_MODES:
        raise UsageError(
            "unknown S3 server-side encryption",
            detail=f"sse={sse!r}",
            hint=f"use one of {', '.join(SSE_MODES)}",
        )
    if kms_key_id and sse != "aws:kms":
        raise UsageError(
            "a KMS key needs aws:kms encryption",
            detail=f"kms_key_id is set but sse={sse!r}",
            hint="set sse='aws:kms' too",
        )
    if not lock_ttl > 0 or not 0 < heartbeat_interval < lock_ttl:
        raise UsageError(
            "the lock TTL must be positive and longer than the heartbeat interval",
            detail=f"lock_ttl={lock_ttl!r}, heartbeat_interval={heartbeat_interval!r}",
            hint="a heartbeat of a quarter of the TTL (the default) tolerates missed beats",
        )


def _parse_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key or parts.query or parts.fragment:
        raise UsageError(
            "invalid S3 state URL", detail=repr(url), hint="write it as s3://BUCKET/KEY"
        )
    return parts.netloc, key


def _env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise UsageError(
            f"{name} is not a number of seconds", detail=f"{name}={value!r}", hint="e.g. 120"
        ) from None


def _make_client(
    url: str, *, endpoint_url: str | None, region: str | None, profile: str | None, path_style: bool
) -> Any:
    try:
        import boto3
        from botocore import exceptions as boto
        from botocore.config import Config
    except ImportError as exc:
        raise BackendError(
            "the S3 backend needs boto3",
            detail=f"{url}: boto3 is not installed",
            hint="pip install 'runtime-reconciler[s3]'",
        ) from exc
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        s3={"addressing_style": "path"} if path_style else None,
    )
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        client = session.client("s3", endpoint_url=endpoint_url, config=config)
    except boto.ProfileNotFound as exc:
        raise BackendError(
            "the AWS profile does not exist",
            detail=f"{url}: profile {exc.kwargs.get('profile')!r}",
            hint="check AWS_PROFILE or the profile option, and ~/.aws/config",
        ) from exc
    except (boto.BotoCoreError, ValueError) as exc:
        raise BackendError(
            "cannot configure the S3 client",
            detail=f"{url}: {type(exc).__name__} (endpoint {_safe_endpoint(endpoint_url)})",
            hint="check the endpoint URL and region (AWS_ENDPOINT_URL_S3, AWS_REGION)",
        ) from exc
    # S3 never uses user info in a URL, and botocore repeats the URL in its own errors.
    endpoint = urlsplit(client.meta.endpoint_url)
    if endpoint.username or endpoint.password:
        raise UsageError(
            "the S3 endpoint URL must not contain credentials",
            detail=f"{url}: endpoint {_safe_endpoint(client.meta.endpoint_url)}",
            hint="give the bare URL in AWS_ENDPOINT_URL_S3, and credentials through "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or a profile",
        )
    return client


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _explain_status(code: str, status: object) -> tuple[str, str]:
    if status == 403:
        return EXPLAINED["AccessDenied"]
    if code in ("SlowDown", "Throttling", "ServiceUnavailable") or (
        isinstance(status, int) and status >= 500
    ):
        return (
            f"S3 kept failing after {MAX_ATTEMPTS} attempts",
            "retry later; if it persists, check the service's health",
        )
    return (f"S3 refused the request ({code})", "see the detail for the bucket, key and endpoint")


def _age(response: dict[str, Any]) -> float:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    try:
        now = parsedate_to_datetime(headers["date"])
    except (KeyError, TypeError, ValueError):
        now = datetime.now(UTC)  # no Date header: fall back to our clock
    return (now - response["LastModified"]).total_seconds()


def _safe_endpoint(url: str | None) -> str:
    """The endpoint for messages: scheme, host, port and path, never user info or query."""
    if not url:
        return "the default AWS endpoint"
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
