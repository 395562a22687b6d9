"""S3 state backend: the state document as an object, its lock as the object `<key>.lock`.

Owns the backend protocol over S3 (AWS or any S3-compatible server):

- State writes are conditional (`If-Match` on the etag read, `If-None-Match: *` to
  create), so a lost update is impossible even for a writer without the lock.
- The lock object is created with `If-None-Match: *`. A daemon thread refreshes its
  heartbeat with `If-Match` on the lock's etag; a lock not refreshed within its TTL is
  taken over with `If-Match` on exactly the stale version, so one contender wins.
  Staleness is judged by the server's clock (Last-Modified against the response's Date
  header), so a client with a skewed clock cannot expire a live lock.
- Releasing the lock deletes exactly the version we hold, conditionally where the server
  allows it. Every object is written with the configured server-side encryption.

Does not own boto3: building the client, its retries, and turning its failures into
`BackendError`s live in s3client.py. Nor the state format (planning/state.py), when to lock
(apply/engine.py), or the lock document and waiting loop, which it shares with the local
backend (locking.py). Needs a server that honours conditional writes: AWS S3, SeaweedFS,
MinIO and others do.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from typing import Any

from reconciler import settings
from reconciler.backends import s3client
from reconciler.backends.base import Blob, LockInfo
from reconciler.backends.locking import (
    LOCK_TTL_VARIABLE,
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
from reconciler.backends.s3client import CONFLICT_CODES, MISSING_CODES, UNSUPPORTED_CODES
from reconciler.errors import ConflictError, LockError, LockHeldError

log = logging.getLogger(__name__)

DEFAULT_LOCK_TTL = 120.0  # how long a lock left by a killed Job blocks others, at most
LOCK_POLL_FIRST_DELAY = 0.25  # each poll of a held lock costs two requests
LOCK_POLL_MAX_DELAY = 5.0
LOCK_ROUNDS = 3  # create, take over, create again: then the lock is someone's to report


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
        s3client.validate(
            lock_ttl=lock_ttl, heartbeat_interval=heartbeat_interval, sse=sse, kms_key_id=kms_key_id
        )
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
        self._s3 = s3client.Bucket(client=client, name=bucket)
        self._mutex = threading.Lock()  # guards the fields below: heartbeats run on a thread
        self._held: LockInfo | None = None
        self._lock_etag: str | None = None
        self._heartbeat: Heartbeat | None = None
        self._lost: LockInfo | None = None
        self._conditional_delete = True

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
        bucket, key = s3client.parse_url(url)
        sse = sse or os.environ.get("RECONCILER_S3_SSE") or None
        kms_key_id = kms_key_id or os.environ.get("RECONCILER_S3_KMS_KEY_ID") or None
        if lock_ttl is None:
            lock_ttl = settings.seconds(LOCK_TTL_VARIABLE) or DEFAULT_LOCK_TTL
        if path_style is None:
            path_style = settings.switch("RECONCILER_S3_PATH_STYLE")
        client = s3client.make_client(
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
        return f"S3Backend({self.name!r}, endpoint={self._s3.endpoint!r})"

    @property
    def request_count(self) -> int:
        return self._s3.request_count

    def read(self) -> Blob | None:
        current = self._s3.get(self.key)
        return None if current is None else Blob(data=current.data, etag=current.etag)

    def write(self, data: bytes, *, if_match: str | None) -> str:
        with self._mutex:
            lost = self._lost
        if lost is not None:
            raise lost_lock_error(lost, where=self.lock_url)
        condition = {"IfNoneMatch": "*"} if if_match is None else {"IfMatch": if_match}
        try:
            response = self._s3.call(
                "put_object",
                self.key,
                handled=CONFLICT_CODES | MISSING_CODES,
                Body=data,
                **condition,
                **self._encryption,
            )
        except s3client.Refused as refused:
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
        current = self._s3.get(self.lock_key)
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
                current = self._s3.get(self.lock_key)
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

    def _take_over(self, current: s3client.Object, info: LockInfo, document: bytes) -> str | None:
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
            response = self._s3.call(
                "put_object",
                self.lock_key,
                handled=CONFLICT_CODES | MISSING_CODES,
                Body=document,
                ContentType="application/json",
                **condition,
                **self._encryption,
            )
        except s3client.Refused:
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
            current = self._s3.get(self.lock_key)
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
                self._s3.call(
                    "delete_object",
                    self.lock_key,
                    handled=CONFLICT_CODES | MISSING_CODES | UNSUPPORTED_CODES,
                    IfMatch=etag,
                )
                return True
            except s3client.Refused as refused:
                if refused.code not in UNSUPPORTED_CODES:
                    return False
                self._conditional_delete = False
        # This server cannot delete conditionally: read, check, delete. The window between
        # the check and the delete is a round trip, and a lost update stays impossible.
        current = self._s3.get(self.lock_key)
        if current is None or current.etag != etag:
            return False
        self._s3.call("delete_object", self.lock_key)
        return True
