"""Settings read from the environment: one rule for every `RECONCILER_*` variable.

A location (`RECONCILER_STATE`, `RECONCILER_TARGET`) set but empty is an error, not the
default: it is what a CI variable that failed to expand looks like, and silently using
another state or target would plan against the wrong one. A number of seconds that is not
one is an error naming the variable. A switch is on for `1`, `true`, `yes` or `on`, in any
case, and off otherwise.

Pure but for reading `os.environ`; what each setting means is its reader's.
"""

from __future__ import annotations

import os

from reconciler.errors import UsageError

TRUE_WORDS = ("1", "true", "yes", "on")


def location(variable: str, default: str, *, expected: str) -> str:
    """The value of `variable`, or `default` when it is unset; `expected` says, in the
    error for one set but empty, what it should hold (`a path or s3://BUCKET/KEY`)."""
    value = os.environ.get(variable)
    if value is None:
        return default
    if not value.strip():
        raise UsageError(
            f"{variable} is set but empty",
            hint=f"set it to {expected}, or unset it to use {default}",
        )
    return value


def seconds(variable: str) -> float | None:
    """A number of seconds from `variable`, or None when it is unset or empty."""
    value = os.environ.get(variable)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(
            f"{variable} is not a number of seconds",
            detail=f"{variable}={value!r}",
            hint="e.g. 120",
        ) from None


def switch(variable: str) -> bool:
    """Whether `variable` turns something on."""
    return os.environ.get(variable, "").strip().lower() in TRUE_WORDS
