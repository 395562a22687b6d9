"""The user source, written down: an overrides file of SDK-like requests.

An overrides file records what a user would otherwise do through the SDK, so that CI and
reviewers can plan it: state changes on any resource (`deprecate`, `disable`, `enable`
/`activate`, each with a reason), API-managed runtime images, versions and runtimes to
create or update per workspace, deployments to create, an explicit list of API-managed
resources to delete, and runtime-image upgrades of deployments (`upgrades:`). Like SDK
calls, it is additive: a resource absent from the file is left alone, never deleted.

Pure: parses and checks the file's shape into the requests of requests.py. Applying
them to a catalog (ceiling rule, references, collisions) is planning/desired.py's job; to
deployments, planning/deployments.py's.
"""

from __future__ import annotations

import os
from typing import Any

from reconciler import errors
from reconciler.addresses import (
    Address,
    check_experiment_id,
    deployment_address,
    dotted,
    image_address,
    parse_deployment,
    runtime_address,
    version_address,
)
from reconciler.inputs import bootstrap, schema, yamlio
from reconciler.inputs.requests import (
    LATEST,
    WILDCARD,
    ApiResource,
    Delete,
    NewComposition,
    NewDeployment,
    Overrides,
    StateRequest,
    UpgradeRequest,
)
from reconciler.model import Intent, Kind, State

ACTIONS = {
    "deprecate": State.DEPRECATED,
    "disable": State.DISABLED,
    "enable": State.ACTIVE,
    "activate": State.ACTIVE,  # what versions call enable(), as in the SDK
}


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

    def fail(summary: str, path: tuple[str | int, ...], hint: str = "") -> errors.OverridesError:
        return errors.OverridesError(summary, source=source, path=dotted(path), hint=hint)

    requests = []
    for index, entry in enumerate(data.get("stateChanges") or ()):
        path: tuple[str | int, ...] = ("stateChanges", index)
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
    deployments: list[NewDeployment] = []
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
        for deployment_id, deployment in (content.get("deployments") or {}).items():
            path = ("workspaces", workspace, "deployments", deployment_id)
            deployments.append(_new_deployment(workspace, deployment_id, deployment, path, fail))

    upgrades = tuple(
        _upgrade(entry, ("upgrades", index), fail, source)
        for index, entry in enumerate(data.get("upgrades") or ())
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
        deployments=tuple(deployments),
        upgrades=upgrades,
    )


def _new_deployment(
    workspace: str,
    deployment_id: str,
    entry: dict[str, Any],
    path: tuple[str | int, ...],
    fail: Any,
) -> NewDeployment:
    compositions = []
    seen: set[str] = set()
    for index, item in enumerate(entry["compositions"]):
        where = (*path, "compositions", index)
        experiment = item["experimentId"]
        if experiment in seen:
            raise fail(
                f"experiment {experiment} appears twice",
                (*where, "experimentId"),
                "a deployment has one composition per experiment",
            )
        seen.add(experiment)
        if "modelType" not in item and "runtime" not in item:
            raise fail(
                "a composition needs a modelType, a runtime, or both",
                where,
                "give modelType to select the runtime serving it, or name the runtime",
            )
        compositions.append(
            NewComposition(
                experiment_id=experiment,
                model_type=item.get("modelType"),
                runtime=item.get("runtime"),
                replicas=item.get("replicas", 1),
            )
        )
    return NewDeployment(
        address=deployment_address(workspace, deployment_id),
        display_name=entry.get("displayName", deployment_id),
        compositions=tuple(compositions),
        path=dotted(path),
    )


def _upgrade(
    entry: dict[str, Any], path: tuple[str | int, ...], fail: Any, source: str
) -> UpgradeRequest:
    deployment = _parsed(parse_deployment, entry["deployment"], fail, (*path, "deployment"))
    origin = f"{source}:{dotted(path)}"
    if "to" in entry:
        target = None if entry["to"] == LATEST else entry["to"]
        return UpgradeRequest(deployment, ((WILDCARD, target),), single=True, origin=origin)
    if "compositions" not in entry:
        return UpgradeRequest(deployment, origin=origin)
    targets = []
    for experiment, target in entry["compositions"].items():
        if experiment != WILDCARD:
            _parsed(check_experiment_id, experiment, fail, (*path, "compositions", experiment))
        targets.append((experiment, None if target in (None, LATEST) else target))
    return UpgradeRequest(deployment, tuple(targets), origin=origin)


def _parsed(parse: Any, text: str, fail: Any, path: tuple[str | int, ...]) -> Any:
    try:
        return parse(text)
    except errors.InputError as exc:
        raise fail(exc.summary, path, exc.hint) from None


def _address(text: str, fail: Any, path: tuple[str | int, ...]) -> str:
    try:
        return str(Address.parse(text))
    except errors.InputError as exc:
        raise fail(exc.summary, path, exc.hint) from None


def _user_intent(entry: dict[str, Any]) -> Intent | None:
    if "state" not in entry:
        return None
    return Intent(state=State(entry["state"]), reason=entry.get("stateReason", ""))
