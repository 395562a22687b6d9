"""The one error tree.

Every error a user can meet is a `ReconcilerError` with three parts: a one-line
`summary`, a `detail` naming the file, path or address involved, and a `hint` saying
what to do next. Library errors (yaml, botocore, OS errors) are wrapped where they
happen with `raise ... from exc`; the CLI renders every error in one place and exits 1.

No error shows a secret: every part is read through sensitive.py's rule (the default
one, or the `Sensitivity` a caller attached with `redacted_with`), so a quoted source line,
an echoed `--set` expression or a message naming a value never carries a password.

Where the documented Python client raises a builtin (`ValueError`, `TypeError`), the SDK
raises one of ours that is also that builtin (`ArgumentError`, `ArgumentTypeError`,
`ClientTypeError`, `FilterError`, `UpgradeTargetError`), as pyinfra's
`OperationValueError(OperationError, ValueError)` does, so code written for the client
catches it.

What this module does not do: format colours or decide exit codes (render.py, cli.py).
"""

from __future__ import annotations

from typing import Self

from reconciler import sensitive


class ReconcilerError(Exception):
    """Base of every user-facing error.

    `detail` names what is wrong and where (file and path, or address); `hint` says what
    to do about it. Both may be empty when the summary says it all. All three read with
    secret-looking values redacted.
    """

    default_hint = ""

    def __init__(self, summary: str, *, detail: str = "", hint: str = "") -> None:
        self._sensitivity = sensitive.DEFAULT
        self._summary = summary
        self._detail = detail
        self._hint = hint or self.default_hint
        super().__init__(self.summary)

    def at(self, where: str) -> Self:
        """This error said of `where` (a file and path, a deployment, followed by its
        separator): the same kind, with `where` before its summary."""
        return type(self)(f"{where}{self.summary}", detail=self.detail, hint=self.hint)

    def redacted_with(self, sensitivity: sensitive.Sensitivity) -> ReconcilerError:
        """This error, read from now on with `sensitivity` (names the user marked)."""
        self._sensitivity = sensitivity
        self.args = (self.summary,)
        return self

    @property
    def summary(self) -> str:
        return self._sensitivity.redact_text(self._summary)

    @property
    def detail(self) -> str:
        return self._sensitivity.redact_text(self._detail)

    @detail.setter
    def detail(self, text: str) -> None:
        # Callers add to an error on its way up (what became of the lock): they read the
        # redacted text and write it back with more, so nothing secret returns.
        self._detail = text

    @property
    def hint(self) -> str:
        return self._sensitivity.redact_text(self._hint)

    @hint.setter
    def hint(self, text: str) -> None:
        self._hint = text

    def __str__(self) -> str:
        parts = [self.summary]
        if self.detail:
            parts.append(self.detail)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


# Inputs: values files, --set flags, overrides files, plan files given by the user.


class InputError(ReconcilerError):
    """An input file or flag is malformed or breaks a rule; `source` names it."""

    def __init__(
        self, summary: str, *, source: str = "", path: str = "", detail: str = "", hint: str = ""
    ) -> None:
        where = ":".join(p for p in (source, path) if p)
        self.source = source
        self.path = path
        self._where = where
        self._message = summary
        super().__init__(
            f"{where}: {summary}" if where else summary,
            detail=detail,
            hint=hint,
        )

    @property
    def summary(self) -> str:
        if not (self.path and self._sensitivity.name(self.path)):
            return super().summary
        # A message about a secret's place ("expected a string, got 1234") must not show
        # what it found there.
        message = self._sensitivity.redact_values_in(self._message)
        return self._sensitivity.redact_text(f"{self._where}: {message}")


class ValuesError(InputError):
    """Helm values (files or --set) are malformed or invalid."""


class OverridesError(InputError):
    """An overrides file is malformed or invalid."""


class PlanFileError(InputError):
    """A saved plan file cannot be read or does not match this tool."""


class UsageError(ReconcilerError):
    """The command line (or an SDK call) asks for something inconsistent."""


class ArgumentError(InputError, ValueError):
    """An SDK argument has a value the call cannot take (also a ValueError)."""


class ArgumentTypeError(InputError, TypeError):
    """An SDK argument is of a type the call cannot take (also a TypeError)."""


class ClientTypeError(UsageError, TypeError):
    """`Client()` was given an argument of a type it cannot take (also a TypeError)."""


class FilterError(UsageError, ValueError):
    """`list()` or `count()` was asked to filter by a field objects do not have (also a
    ValueError, as the documented client raises)."""


# Planning: rules of the domain that refuse a requested change.


class PlanError(ReconcilerError):
    """The desired catalog cannot be reached from the current state."""


class CeilingError(PlanError):
    """A user request would lift a resource above the platform's state (the ceiling rule)."""


class UpgradeTargetError(PlanError, ValueError):
    """An upgrade target does not fit the deployment: one image or version for several
    compositions, or an image with no available version (also a ValueError)."""


class NotFoundError(ReconcilerError):
    """A named workspace, resource, version or deployment does not exist."""


class ManagedByBootstrapError(ReconcilerError):
    """A bootstrap-managed resource was asked to change in a way only Helm values can."""

    default_hint = "edit the Helm values.yaml and redeploy (helm upgrade) to change it"


class ImmutableFieldError(ReconcilerError):
    """A field that cannot change after creation was asked to change."""

    default_hint = "delete the resource and create a new one with the new value"


# Stored state and saved plans.


class StateError(ReconcilerError):
    """The state document is unreadable, corrupted, or of an unknown format."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the state or inputs it was computed from."""

    default_hint = "run `reconciler plan` again and apply the new plan"


class ConflictError(StateError):
    """The state changed underneath a writer (etag, serial or lineage mismatch)."""

    default_hint = "another run changed the state; plan again from the new state"


class LockError(ReconcilerError):
    """The state lock could not be taken or released."""


class LockHeldError(LockError):
    """Another run holds the state lock; the detail names the holder."""


# Drivers: storage backends and targets.


class BackendError(ReconcilerError):
    """The state storage failed (file system, S3)."""


class TargetError(ReconcilerError):
    """The target (directory, cluster) refused or failed a change."""


class ApplyError(ReconcilerError):
    """Some changes failed during apply; the others were applied and recorded."""


class ApplyStoppedError(ApplyError):
    """An apply stopped because what it did could not be recorded (the state write
    failed); the detail says how many changes were carried out, how many the state
    records, and what became of the lock."""
