"""The deployments a plan wants: the prior ones, new ones, and requested upgrades.

- A new composition gets a runtime: the one named, else the one serving its model type
  among those its workspace sees (its own, then `global`'s): ACTIVE before DEPRECATED
  (with a warning), never DISABLED; two candidates in the best state are ambiguous and
  need the runtime named. It is pinned to the version the runtime resolves to (a runtime
  on an image → that image's latest available version; on a version → that version) and
  to the runtime's current configuration.
- A deployment that exists and is declared again (an overrides file applied twice) is
  left as it is, provided the declaration still describes it; one that no longer does is
  an error, never a silent change.
- Upgrade requests are resolved by upgrades.py, in order, each on the result of the last.
- Every composition's runtime and version must exist in the desired catalog, so deleting
  what a deployment runs is refused. Nothing else about the catalog moves a deployment:
  a runtime's new configuration leaves its compositions on the one they run.

Pure: mappings in, a mapping out. Diffing against the prior deployments is plan.py's job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from reconciler import errors
from reconciler.addresses import is_version, workspace_of
from reconciler.inputs.requests import NewComposition, NewDeployment, Overrides, UpgradeRequest
from reconciler.model import GLOBAL_WORKSPACE, Composition, Deployment, Kind, Resource, State
from reconciler.planning import ceiling, references
from reconciler.planning.upgrades import Resolver

_CHOICE_ORDER = (State.ACTIVE, State.DEPRECATED)  # a runtime is never selected DISABLED


@dataclass(frozen=True, slots=True)
class Wanted:
    """Desired deployments by address; `warnings` and `notes` are shown with the plan."""

    deployments: Mapping[str, Deployment]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def build_deployments(
    prior: Mapping[str, Deployment],
    *,
    catalog: Mapping[str, Resource],
    overrides: Overrides | None = None,
    upgrades: Sequence[UpgradeRequest] = (),
    resolver: Resolver | None = None,
) -> Wanted:
    """The deployments that applying the requests to `prior` should produce (module doc).

    `catalog` is the desired catalog, so a request may use what the same plan creates.
    Upgrades from the overrides come before `upgrades` (the command line's). `resolver`,
    over `catalog`, lets the caller share what it finds with the rest of the plan.
    """
    creates = overrides.deployments if overrides else ()
    requests = (*(overrides.upgrades if overrides else ()), *upgrades)
    desired = dict(prior)
    warnings: list[str] = []
    notes: list[str] = []
    if creates or requests:
        selector = Selector(resolver or Resolver(catalog))
        for item in creates:
            where = overrides.where(item.path) if overrides else ""
            existing = desired.get(item.address)
            if existing is None:
                references.check_creatable_in(workspace_of(item.address), where=where)
                desired[item.address] = selector.create(item, where=where, warnings=warnings)
            else:
                selector.check_declared(existing, item, where=where)
        for request in requests:
            deployment = desired.get(request.deployment)
            if deployment is None:
                where = f"{request.origin}: " if request.origin else ""
                raise errors.NotFoundError(
                    f"{where}deployment {request.deployment} does not exist",
                    hint="`reconciler state list` (or workspace.deployments.list()) shows the "
                    "deployments",
                )
            resolution = selector.resolver.resolve(request, deployment)
            desired[request.deployment] = resolution.deployment
            warnings.extend(resolution.warnings)
            notes.extend(resolution.notes)
    _check_references(desired, catalog)
    return Wanted(desired, tuple(warnings), tuple(notes))


class Selector:
    """Runtime selection and version pinning for new compositions, against one catalog."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    @cached_property
    def _by_model_type(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.resolver.resources.values():
            if resource.kind is Kind.RUNTIME:
                index[resource.spec["model_type"]].append(resource)
        return index

    def create(self, item: NewDeployment, *, where: str, warnings: list[str]) -> Deployment:
        compositions = []
        for new in item.compositions:
            label = f"{item.address}  {new.experiment_id}"
            runtime = self.runtime(new, workspace=workspace_of(item.address), where=where)
            state = self.resolver.availability(runtime.address)
            if state is State.DEPRECATED:
                reason = ceiling.effective(runtime.platform, runtime.user).reason
                why = "" if new.runtime else f", the only one serving {new.model_type}"
                warnings.append(
                    f"{label}: runtime {runtime.address} is DEPRECATED"
                    + (f" ({reason})" if reason else "")
                    + why
                )
            version = self.pin(runtime, label=label, where=where, warnings=warnings)
            compositions.append(
                Composition(
                    experiment_id=new.experiment_id,
                    runtime=runtime.address,
                    image_version=version.address,
                    replicas=new.replicas,
                    configuration=self.resolver.configuration(runtime.address) or "",
                )
            )
        return Deployment(
            address=item.address,
            display_name=item.display_name,
            compositions=tuple(compositions),
            uid=item.uid,
        )

    def runtime(self, new: NewComposition, *, workspace: str, where: str) -> Resource:
        """The runtime a new composition runs on (module docstring)."""
        label = f"experiment {new.experiment_id}"
        if new.runtime is not None:
            runtime = self._named(new.runtime, workspace=workspace, where=where)
            if new.model_type is not None and runtime.spec["model_type"] != new.model_type:
                raise errors.InputError(
                    f"{where}{label}: runtime {runtime.address} serves model type "
                    f"{runtime.spec['model_type']}, not {new.model_type}",
                    hint="name a runtime for the model type, or leave the runtime out to "
                    "select it by model type",
                )
            if self.resolver.availability(runtime.address) is State.DISABLED:
                reason = ceiling.effective(runtime.platform, runtime.user).reason
                raise errors.PlanError(
                    f"{where}{label}: runtime {runtime.address} is DISABLED"
                    + (f" ({reason})" if reason else ""),
                    detail="DISABLED runtimes cannot be used for new deployments",
                    hint="name an ACTIVE runtime, or enable this one first",
                )
            return runtime
        assert new.model_type is not None
        seen = (workspace, GLOBAL_WORKSPACE)
        by_state: dict[State, list[Resource]] = defaultdict(list)
        for runtime in self._by_model_type.get(new.model_type, ()):
            if workspace_of(runtime.address) in seen:
                state = self.resolver.availability(runtime.address)
                assert state is not None
                by_state[state].append(runtime)
        for state in _CHOICE_ORDER:
            candidates = sorted(by_state[state], key=lambda r: r.address)
            if len(candidates) == 1:
                return candidates[0]
            if candidates:
                raise errors.PlanError(
                    f"{where}{label}: {len(candidates)} {state} runtimes serve model type "
                    f"{new.model_type}",
                    detail="candidates: " + ", ".join(r.address for r in candidates),
                    hint="name the runtime for the composition (runtime=... in the SDK, "
                    "runtime: in an overrides file)",
                )
        disabled = sorted(r.address for r in by_state[State.DISABLED])
        raise errors.NotFoundError(
            f"{where}{label}: no usable runtime serves model type {new.model_type} in "
            f"workspace {workspace} or global",
            detail=("DISABLED: " + ", ".join(disabled)) if disabled else "",
            hint="create a runtime for the model type, or name one",
        )

    def _named(self, reference: str, *, workspace: str, where: str) -> Resource:
        try:
            address = references.runtime(
                reference, workspace=workspace, resources=self.resolver.resources
            )
        except (errors.InputError, errors.NotFoundError) as exc:
            raise exc.at(where) from None
        return self.resolver.resources[address]

    def pin(self, runtime: Resource, *, label: str, where: str, warnings: list[str]) -> Resource:
        """The version a runtime resolves to for a new composition."""
        target = runtime.spec["runtime_image"]
        if is_version(target):
            state = self.resolver.availability(target)
            if state is State.DISABLED:
                because = self.resolver.disabled_because(target)
                raise errors.PlanError(
                    f"{where}{label}: runtime {runtime.address} pins {target}, which is DISABLED"
                    + (f" ({because})" if because else ""),
                    detail="DISABLED versions cannot be used for new deployments",
                    hint="use a runtime on an available version",
                )
            version = self.resolver.resources[target]
        else:
            found = self.resolver.latest(target)
            if found is None:
                raise errors.PlanError(
                    f"{where}{label}: runtime image {target} of runtime {runtime.address} has "
                    "no available version",
                    detail="the image is DISABLED, or every version of it is",
                    hint="activate or add a version of the image",
                )
            version = found
        if self.resolver.availability(version.address) is State.DEPRECATED:
            warnings.append(f"{label}: pinned to {version.address}, which is DEPRECATED")
        return version

    def check_declared(self, existing: Deployment, item: NewDeployment, *, where: str) -> None:
        """Refuse a declaration that no longer describes the deployment it names."""
        differences = []
        if sorted(existing.experiments) != sorted(c.experiment_id for c in item.compositions):
            differences.append(
                f"experiments {', '.join(existing.experiments)} exist, "
                f"{', '.join(c.experiment_id for c in item.compositions)} are declared"
            )
        workspace = workspace_of(item.address)
        for new in item.compositions:
            running = existing.composition(new.experiment_id)
            if running is None:
                continue
            if running.replicas != new.replicas:
                plural = "s" if running.replicas != 1 else ""
                differences.append(
                    f"{new.experiment_id}: runs {running.replicas} replica{plural}, "
                    f"{new.replicas} declared"
                )
            if new.runtime is not None:
                named = self._named(new.runtime, workspace=workspace, where=where).address
                if named != running.runtime:
                    differences.append(f"{new.experiment_id}: runs on {running.runtime}")
            runtime = self.resolver.resources.get(running.runtime)
            declared = new.model_type
            if (
                declared is not None
                and runtime is not None
                and runtime.spec["model_type"] != declared
            ):
                differences.append(
                    f"{new.experiment_id}: serves model type {runtime.spec['model_type']}"
                )
        if differences:
            raise errors.PlanError(
                f"{where}{item.address} already exists and differs from its declaration",
                detail="; ".join(differences),
                hint="an overrides file creates deployments and never changes them: move "
                "image versions with `upgrades:`, or declare a new deployment",
            )


def _check_references(desired: Mapping[str, Deployment], catalog: Mapping[str, Resource]) -> None:
    for deployment in desired.values():
        for composition in deployment.compositions:
            for address, what in (
                (composition.runtime, "runtime"),
                (composition.image_version, "runtime image version"),
            ):
                if address not in catalog:
                    raise errors.PlanError(
                        f"deployment {deployment.address} ({composition.experiment_id}) runs "
                        f"{what} {address}, which would no longer exist",
                        detail="it is being deleted while a deployment still uses it",
                        hint="disable it instead (running deployments keep working), or "
                        "upgrade the deployment off it first",
                    )
