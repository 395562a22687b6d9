"""The S3 client: boto3 set up from the standard AWS settings, and its failures in our terms.

Owns everything that touches boto3 and botocore, which are imported here only, when a
backend is opened, so `reconciler --help` and local-state runs never load them: parsing
`s3://bucket/key`, checking the backend's settings, building the client (short connect
timeouts, botocore's standard retry mode), counting its requests, and turning each
botocore exception into a one-line `BackendError` with a hint. Those messages are built
from the error code, bucket, key and endpoint only, never from the text of the library's
exception, so they never carry a credential.

Does not own what the requests are for: conditional state writes, the lock and its
heartbeat live in s3.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from reconciler.errors import BackendError, UsageError

CONNECT_TIMEOUT = 3.0  # an unreachable endpoint should fail in seconds, not minutes
READ_TIMEOUT = 60.0  # room for a state of several megabytes over a slow link
MAX_ATTEMPTS = 5  # botocore's standard mode retries throttling and 5xx with backoff
SSE_MODES = ("AES256", "aws:kms")

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
class Object:
    data: bytes
    etag: str
    age: float  # seconds since it was last written, by the server's clock


class Refused(Exception):
    """S3 answered with an error code the caller handles itself (a failed precondition)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Bucket:
    """One bucket through a boto3 client, whose every failure is a `BackendError`.

    `endpoint` is the client's endpoint as messages may show it. `request_count` counts the
    HTTP requests the client sends, retries and heartbeats included.
    """

    def __init__(self, *, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        self.endpoint = safe_endpoint(client.meta.endpoint_url)
        self._requests = 0
        self._mutex = threading.Lock()  # heartbeats send from their own thread
        client.meta.events.register("before-send.s3", self._count_request)

    @property
    def request_count(self) -> int:
        with self._mutex:
            return self._requests

    def get(self, key: str) -> Object | None:
        """The object at `key`, or None if there is none."""
        from botocore.exceptions import BotoCoreError

        try:
            response = self.call("get_object", key, handled=MISSING_CODES)
        except Refused:
            return None
        try:
            data = response["Body"].read()
        except BotoCoreError as exc:
            raise self._error(exc, "get_object", key) from exc
        return Object(data=data, etag=str(response["ETag"]), age=_age(response))

    def call(
        self, method: str, key: str, *, handled: frozenset[str] = frozenset(), **params: Any
    ) -> dict[str, Any]:
        """One S3 operation. Error codes in `handled` raise `Refused`; the rest BackendError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response: dict[str, Any] = getattr(self.client, method)(
                Bucket=self.name, Key=key, **params
            )
        except ClientError as exc:
            code = _error_code(exc)
            if code in handled:
                raise Refused(code) from exc
            raise self._error(exc, method, key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, method, key) from exc
        return response

    def _count_request(self, **_: Any) -> None:
        with self._mutex:
            self._requests += 1

    def _error(self, exc: Exception, method: str, key: str) -> BackendError:
        from botocore import exceptions as boto

        where = f"{ACTIONS.get(method, method)} s3://{self.name}/{key} at {self.endpoint}"
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


def validate(
    *, lock_ttl: float, heartbeat_interval: float, sse: str | None, kms_key_id: str | None
) -> None:
    """Refuse settings S3 would reject late, or that would let a live lock expire."""
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


def parse_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key or parts.query or parts.fragment:
        raise UsageError(
            "invalid S3 state URL", detail=repr(url), hint="write it as s3://BUCKET/KEY"
        )
    return parts.netloc, key


def make_client(
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
            detail=f"{url}: {type(exc).__name__} (endpoint {safe_endpoint(endpoint_url)})",
            hint="check the endpoint URL and region (AWS_ENDPOINT_URL_S3, AWS_REGION)",
        ) from exc
    # S3 never uses user info in a URL, and botocore repeats the URL in its own errors.
    endpoint = urlsplit(client.meta.endpoint_url)
    if endpoint.username or endpoint.password:
        raise UsageError(
            "the S3 endpoint URL must not contain credentials",
            detail=f"{url}: endpoint {safe_endpoint(client.meta.endpoint_url)}",
            hint="give the bare URL in AWS_ENDPOINT_URL_S3, and credentials through "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or a profile",
        )
    return client


def safe_endpoint(url: str | None) -> str:
    """The endpoint for messages: scheme, host, port and path, never user info or query."""
    if not url:
        return "the default AWS endpoint"
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


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
    modified: datetime = response["LastModified"]
    return (now - modified).total_seconds()
