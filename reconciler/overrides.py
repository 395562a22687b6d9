"""The user source, written down: an overrides file of SDK-like requests.

An overrides file records what a user would otherwise do through the SDK, so that CI and
reviewers can plan it: state changes on any resource (`deprecate`, `disable`, `enable`
/`activate`, each with a reason), API-managed runtime images, versions and runtimes to
create or update per workspace, and an explicit list of API-managed resources to delete.
Like SDK calls, it is additive: a resource absent from the file is left alone, never
deleted.

Pure: parses and checks the file's shape. Applying the requests to a catalog (ceiling
rule, references, collisions) is desired.py's job.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import orjson

from reconciler import bootstrap, errors, schema, yamlio
from reconciler.model import (
    Address,
    Intent,
    Kind,
    State,
    dotted,
    image_address,
    runtime_address,
    version_address,
)

ACTIONS = {
    "deprecate": State.DEPRECATED,
    "disable": State.DISABLED,
    "enable": State.ACTIVE,
    "activate": State.ACTIVE,  # what versions call enable(), as in the SDK
}


@dataclass(frozen=True, slots=True)
class StateRequest:
    """A user asks for `address` to move to `state`; `path` locates it in the file."""

    address: str
    state: State
    reason: str
    path: str


@dataclass(frozen=True, slots=True)
class ApiResource:
    """An API-managed resource to create or update.

    For runtimes, `spec["runtime_image"]` is the reference as written (an id, an
    `id/versions/vX.Y.Z`, or a full address); desired.py resolves it in the workspace,
    then in `global`. `user` is the state the file gives it, or None to keep the current.
    """

    address: str
    kind: Kind
    spec: dict[str, Any]
    user: Intent | None
    path: str
    uid: str = ""


@dataclass(frozen=True, slots=True)
class Delete:
    address: str
    path: str


@dataclass(frozen=True, slots=True)
class Overrides:
    """A parsed overrides file. `digest` identifies its content for plan staleness checks."""

    source: str
    state_requests: tuple[StateRequest, ...]
    resources: tuple[ApiResource, ...]
    deletes: tuple[Delete, ...]
    digest: str

    @classmethod
    def of(
        cls,
        *,
        source: str,
        state_requests: tuple[StateRequest, ...] = (),
        resources: tuple[ApiResource, ...] = (),
        deletes: tuple[Delete, ...] = (),
    ) -> Overrides:
        """Requests made in code (the SDK's calls), with a digest of their content."""
        content = repr((state_requests, resources, deletes)).encode()
        return cls(
            source=source,
            state_requests=state_requests,
            resources=resources,
            deletes=deletes,
            digest=hashlib.sha256(content).hexdigest(),
        )

    def where(self, path: str) -> str:
        """`file:path: ` prefixing an error about a request read from a file, else nothing."""
        return f"{self.source}:{path}: " if path else ""


def load_overrides(path: str | os.PathLike[str]) -> Overrides:
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        raise errors.OverridesError(
            f"cannot read overrides file: {exc.strerror}", source=source
        ) from exc
    try:
        data = yamlio.load_yaml(text, source=source)
    except errors.InputError as exc:
        raise errors.OverridesError(exc.summary, detail=exc.detail, hint=exc.hint) from exc
    return parse_overrides(data, source=source)


def parse_overrides(data: Any, *, source: str) -> Overrides:
    if data is None:
        data = {}
    schema.validate(data, "overrides.schema.json", source=source, error=errors.OverridesError)
    digest = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def fail(summary: str, path: tuple[str | int, ...], hint: str = "") -> errors.OverridesError:
        return errors.OverridesError(summary, source=source, path=dotted(path), hint=hint)

    requests = []
    for index, entry in enumerate(data.get("stateChanges") or ()):
        path = ("stateChanges", index)
        address = _address(entry["resource"], fail, (*path, "resource"))
        requests.append(
            StateRequest(
                address=address,
                state=ACTIONS[entry["action"]],
                reason=entry.get("reason", ""),
                path=dotted(path),
            )
        )

    resources: list[ApiResource] = []
    for workspace, content in (data.get("workspaces") or {}).items():
        for image_id, image in (content.get("runtimeImages") or {}).items():
            path = ("workspaces", workspace, "runtimeImages", image_id)
            resources.append(
                ApiResource(
                    address=image_address(workspace, image_id),
                    kind=Kind.IMAGE,
                    spec=bootstrap.image_spec(image),
                    user=_user_intent(image),
                    path=dotted(path),
                )
            )
            for index, entry in enumerate(image.get("versions") or ()):
                vpath = (*path, "versions", index)
                version = bootstrap.version_id(entry, fail, vpath)
                resources.append(
                    ApiResource(
                        address=version_address(workspace, image_id, version),
                        kind=Kind.VERSION,
                        spec=bootstrap.version_spec(entry, registry=""),
                        user=_user_intent(entry),
                        path=dotted(vpath),
                    )
                )
        for runtime_id, runtime in (content.get("runtimes") or {}).items():
            path = ("workspaces", workspace, "runtimes", runtime_id)
            resources.append(
                ApiResource(
                    address=runtime_address(workspace, runtime_id),
                    kind=Kind.RUNTIME,
                    spec=bootstrap.runtime_spec(runtime, runtime_image=runtime["runtimeImage"]),
                    user=_user_intent(runtime),
                    path=dotted(path),
                )
            )

    deletes = tuple(
        Delete(address=_address(text, fail, ("delete", index)), path=dotted(("delete", index)))
        for index, text in enumerate(data.get("delete") or ())
    )
    return Overrides(
        source=source,
        state_requests=tuple(requests),
        resources=tuple(resources),
        deletes=deletes,
        digest=digest,
    )


def _address(text: str, fail: Any, path: tuple[str | int, ...]) -> str:
    try:
        return str(Address.parse(text))
    except errors.InputError as exc:
        raise fail(exc.summary, path, exc.hint) from None


def _user_intent(entry: dict[str, Any]) -> Intent | None:
    if "state" not in entry:
        return None
    return Intent(state=State(entry["state"]), reason=entry.get("stateReason", ""))
