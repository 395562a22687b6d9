"""State backends: where the state document's bytes live, and its lock.

`base.py` holds the contract (`Backend`, `Blob`, `LockInfo`); `local.py`, `s3.py` and
`memory.py` implement it, and `open_backend` picks one from a `--state` value
(`state_from_environment` gives the one the CLI and the SDK use when none is given). The
drivers are imported only when asked for, so `reconciler --help` stays fast.
"""

from __future__ import annotations

from typing import Any

from reconciler import errors, settings
from reconciler.backends.base import DEFAULT_STATE, Backend, Blob, LockInfo, utc_now

__all__ = [
    "DEFAULT_STATE",
    "STATE_VARIABLE",
    "Backend",
    "Blob",
    "LockInfo",
    "open_backend",
    "state_from_environment",
    "utc_now",
]

STATE_VARIABLE = "RECONCILER_STATE"


def state_from_environment() -> str:
    """`RECONCILER_STATE`, or the default when it is unset (set but empty is an error)."""
    return settings.location(STATE_VARIABLE, DEFAULT_STATE, expected="a path or s3://BUCKET/KEY")


def open_backend(spec: str, **options: Any) -> Backend:
    """Open the backend a `--state` value names: `s3://bucket/key`, `memory://`, or a path.

    Heavy drivers are imported only here, when asked for, so `reconciler --help` stays fast.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise errors.UsageError(
            f"the state location {spec!r} is not a path or s3://BUCKET/KEY",
            hint=f"give a path or s3://BUCKET/KEY (default {DEFAULT_STATE})",
        )
    if spec.startswith("s3://"):
        from reconciler.backends import s3

        return s3.S3Backend.from_url(spec, **options)
    if spec.startswith("memory://"):
        from reconciler.backends import memory

        return memory.MemoryBackend(name=spec)
    from reconciler.backends import local

    return local.LocalBackend(spec, **options)
