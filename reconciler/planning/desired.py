"""The desired catalog: the prior state with both sources' intents applied.

- Platform source (Helm values, when given): every declared resource gets its spec and
  platform intent from values; a bootstrap-managed resource missing from values gets the
  platform intent DISABLED ("removed from Helm values") and is never deleted. With no
  values given, the platform side of the prior state stands unchanged.
- User source (overrides file): API-managed resources are created or updated, state
  requests go through the ceiling rule (a refused move is an error, never silent),
  and only the resources listed for deletion are deleted — API-managed ones only.

User intents recorded in the prior state always carry over: a later Helm values run
keeps every user change the ceiling rule says it must keep.

Pure: mappings in, a mapping out. Diffing it against the prior state is plan.py's job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from reconciler import errors
from reconciler.addresses import image_of, workspace_of
from reconciler.inputs.bootstrap import Declared
from reconciler.inputs.requests import Overrides
from reconciler.model import Intent, Kind, Resource, State
from reconciler.planning import ceiling, references

REMOVED = Intent(state=State.DISABLED, reason=ceiling.REMOVED_FROM_VALUES)


def build_desired(
    prior: Mapping[str, Resource],
    *,
    platform: Mapping[str, Declared] | None,
    overrides: Overrides | None = None,
    locate: Callable[[str], str] = str,
) -> dict[str, Resource]:
    """The catalog that applying both sources to `prior` should produce (see module doc).

    `locate` names where the platform source declares an address (`file:path`), for errors.
    """
    desired = dict(prior)
    if platform is not None:
        _apply_platform(desired, prior, platform, locate)
    if overrides is not None:
        _apply_overrides(desired, overrides)
    _check_references(desired)
    return desired


def _apply_platform(
    desired: dict[str, Resource],
    prior: Mapping[str, Resource],
    platform: Mapping[str, Declared],
    locate: Callable[[str], str],
) -> None:
    for address, wanted in platform.items():
        old = prior.get(address)
        if old is None:
            desired[address] = wanted.resource(address)
        elif not old.managed_by_bootstrap:
            raise errors.PlanError(
                f"{locate(address)}: {address} is declared in Helm values but is an API-managed "
                "resource",
                detail="a values entry may not take over a resource created through the SDK "
                "or an overrides file",
                hint="rename the entry in values, or delete the API-managed resource first",
            )
        elif old.spec != wanted.spec or old.platform != wanted.platform:
            desired[address] = old.with_(spec=wanted.spec, platform=wanted.platform)
    for address, old in prior.items():
        if old.managed_by_bootstrap and address not in platform and old.platform != REMOVED:
            desired[address] = old.with_(platform=REMOVED)


def _apply_overrides(desired: dict[str, Resource], overrides: Overrides) -> None:
    for item in overrides.resources:
        old = desired.get(item.address)
        if old is not None and old.managed_by_bootstrap:
            raise errors.ManagedByBootstrapError(
                f"{overrides.where(item.path)}{item.address} is bootstrap-managed: only Helm "
                "values can update it",
                detail="through the SDK or an overrides file, only its state can change",
            )
        if old is None:
            references.check_creatable_in(
                workspace_of(item.address), where=overrides.where(item.path)
            )
        spec = item.spec
        if item.kind is Kind.RUNTIME:
            try:
                target = references.image(
                    spec["runtime_image"], workspace=workspace_of(item.address), resources=desired
                )
            except (errors.InputError, errors.NotFoundError) as exc:
                field = f"{item.path}.runtimeImage" if item.path else ""
                raise exc.at(overrides.where(field)) from None
            spec = {**spec, "runtime_image": target}
        user = item.user if item.user is not None else (old.user if old else None)
        if old is None:
            desired[item.address] = Resource.model_validate(
                {
                    "address": item.address,
                    "kind": item.kind,
                    "spec": spec,
                    "managed_by_bootstrap": False,
                    "user": user,
                    "uid": item.uid,
                }
            )
        elif old.spec != spec or old.user != user:
            desired[item.address] = old.with_(spec=spec, user=user)

    for request in overrides.state_requests:
        resource = desired.get(request.address)
        if resource is None:
            raise errors.NotFoundError(
                f"{overrides.where(request.path)}{request.address} does not exist",
                hint="check the address: `reconciler state list` shows what exists",
            )
        try:
            user = ceiling.request_user_state(
                resource.platform, request.state, request.reason, address=request.address
            )
        except errors.CeilingError as exc:
            raise exc.at(overrides.where(request.path)) from None
        if user != resource.user:
            desired[request.address] = resource.with_(user=user)

    for delete in overrides.deletes:
        resource = desired.get(delete.address)
        if resource is None:
            continue  # already gone: deleting is idempotent, so re-running the file converges
        if resource.managed_by_bootstrap:
            raise errors.ManagedByBootstrapError(
                f"{overrides.where(delete.path)}{delete.address} is bootstrap-managed and "
                "cannot be deleted",
                hint="remove it from the Helm values.yaml and redeploy; it will be DISABLED",
            )
        del desired[delete.address]
        if resource.kind is Kind.IMAGE:
            prefix = delete.address + "/versions/"
            for address in [a for a in desired if a.startswith(prefix)]:
                del desired[address]


def _check_references(desired: Mapping[str, Resource]) -> None:
    for address, resource in desired.items():
        if resource.kind is Kind.VERSION and image_of(address) not in desired:
            raise errors.PlanError(
                f"{address} belongs to runtime image {image_of(address)}, which does not exist",
                hint="declare the image, or delete the version with it",
            )
        if resource.kind is Kind.RUNTIME and resource.spec["runtime_image"] not in desired:
            raise errors.PlanError(
                f"runtime {address} uses {resource.spec['runtime_image']}, which does not exist",
                detail="it was never declared, or it is being deleted while still in use",
                hint="point the runtime at an existing image, or delete the runtime too",
            )
