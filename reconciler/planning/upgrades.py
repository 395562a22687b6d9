"""Runtime-image upgrades of deployments: the request syntax, and what a request means.

- `parse_spec`: the syntax of `--upgrade SPEC` and `reconciler upgrade SPEC`, covering
  every form of the SDK's `deployment.upgrade_runtime_image(...)`:

      DEPLOYMENT                        every composition → its latest available version
      DEPLOYMENT=TARGET                 one image or version (single-composition only)
      DEPLOYMENT:EXP=TARGET[,EXP=...]   per experiment; `*=TARGET` covers the others

  DEPLOYMENT is `workspaces/<ws>/deployments/<id>` or `<ws>/<id>`. TARGET is `latest`,
  an image id, `<image-id>/versions/vX.Y.Z`, a bare `vX.Y.Z` (that version of the image
  the composition runs), or a full runtime image or version address. Ids resolve in the
  deployment's workspace first, then in `global`.
- `Resolver.resolve`: one request against one deployment and the catalog → the
  compositions' new pins, with warnings (DEPRECATED targets) and notes (skipped
  compositions). Unknown experiments, an image for a multi-composition deployment and
  DISABLED targets are errors. Every composition an upgrade moves is pinned to its
  runtime's current configuration too, and one on an older configuration rolls even
  when its version stays: only a composition already on its target version *and* its
  runtime's configuration is skipped.
- `Resolver.available_upgrade`: where "latest" moves a composition — a newer available
  version, or, when its own version is DISABLED, any available one (even an older one).
- `newly_available`: which compositions a catalog change gives an upgrade, the blast
  radius a reviewer reads before anything rolls; `outdated`: which compositions run an
  older configuration of their runtime than it now gives.

Pure. Which deployments exist and how new ones select a runtime is deployments.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler import errors
from reconciler.addresses import image_of, name_of, version_address_of, workspace_of
from reconciler.inputs.requests import WILDCARD, UpgradeRequest
from reconciler.model import Composition, Deployment, Kind, Resource, State
from reconciler.planning import ceiling, references, workloads
from reconciler.planning.availability import Availability
from reconciler.planning.plan import AvailableUpgrade, OutdatedConfiguration
from reconciler.versions import SEMVER_PATTERN, normalize_version, version_key


@dataclass(frozen=True, slots=True)
class Resolution:
    """A deployment after one request (the same object when nothing moves)."""

    deployment: Deployment
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class Resolver:
    """Upgrade targets against one catalog; each image's latest version is found once."""

    def __init__(self, resources: Mapping[str, Resource]) -> None:
        self.catalog = Availability(resources)
        self._latest: dict[str, Resource | None] = {}
        self._configurations: dict[str, str | None] = {}

    @property
    def resources(self) -> Mapping[str, Resource]:
        return self.catalog.resources

    def latest(self, image: str) -> Resource | None:
        """The image's latest available version; None when none is (or no such image)."""
        if image not in self._latest:
            try:
                self._latest[image] = self.catalog.latest_version(image)
            except errors.NotFoundError:
                self._latest[image] = None
        return self._latest[image]

    def configuration(self, runtime: str) -> str | None:
        """The digest of the configuration `runtime` gives its workloads now; None when
        there is no such runtime."""
        try:
            return self._configurations[runtime]
        except KeyError:
            resource = self.catalog.resources.get(runtime)
            found = None if resource is None else workloads.runtime_configuration(resource)
            self._configurations[runtime] = found
            return found

    def runs_older_configuration(self, composition: Composition) -> bool:
        """True when the composition's workload runs an older configuration of its runtime."""
        current = self.configuration(composition.runtime)
        return current is not None and composition.configuration != current

    def availability(self, address: str) -> State | None:
        """The cascaded state of a resource; None when it does not exist."""
        if address not in self.catalog.resources:
            return None
        return self.catalog.availability(address)

    def disabled_because(self, address: str) -> str:
        """Why a DISABLED version is: its own reason, else its image's."""
        for where in (address, image_of(address)):
            resource = self.catalog.resources.get(where)
            if resource is not None:
                effective = ceiling.effective(resource.platform, resource.user)
                if effective.state is State.DISABLED:
                    return effective.reason
        return ""

    def available_upgrade(self, composition: Composition) -> Resource | None:
        """Where upgrading to latest moves the composition; None: it stays (module doc)."""
        current = composition.image_version
        latest = self.latest(image_of(current))
        if latest is None or latest.address == current:
            return None
        if self.availability(current) in (State.DISABLED, None):
            return latest  # off a DISABLED version, even to an older one
        newer = version_key(name_of(latest.address)) > version_key(name_of(current))
        return latest if newer else None

    def resolve(self, request: UpgradeRequest, deployment: Deployment) -> Resolution:
        where = f"{request.origin}: " if request.origin else ""
        targets = dict(request.targets)
        unknown = [e for e in targets if e != WILDCARD and deployment.composition(e) is None]
        if unknown:
            raise errors.NotFoundError(
                f"{where}experiment {unknown[0]} is not a composition of {deployment.address}",
                detail=f"its experiments: {', '.join(deployment.experiments)}",
                hint="use one of its experiment ids, or '*' for every experiment not listed",
            )
        if request.single and len(deployment.compositions) > 1:
            raise errors.UpgradeTargetError(
                f"{where}{deployment.address} has {len(deployment.compositions)} compositions: "
                "say which experiment each runtime image is for",
                detail="one runtime image or version is accepted for single-composition "
                f"deployments only; its experiments: {', '.join(deployment.experiments)}",
                hint='map experiment ids to images: upgrade_runtime_image({"exp-1": image, '
                '"*": None}), or on the command line DEPLOYMENT:exp-1=IMAGE,*=latest',
            )
        compositions: list[Composition] = []
        warnings: list[str] = []
        notes: list[str] = []
        for composition in deployment.compositions:
            key = composition.experiment_id if composition.experiment_id in targets else WILDCARD
            if key not in targets:
                compositions.append(composition)  # not asked for: it stays
                continue
            label = f"{deployment.address}  {composition.experiment_id}"
            current = self.configuration(composition.runtime)
            older = current is not None and composition.configuration != current
            target = self._target(
                targets[key], composition, deployment, where, [] if older else notes
            )
            if target is None and not older:
                compositions.append(composition)
                continue
            if target is not None and self.availability(target.address) is State.DEPRECATED:
                reason = ceiling.effective(target.platform, target.user).reason
                warnings.append(
                    f"{label}: upgrading to {target.address}, which is DEPRECATED"
                    + (f" ({reason})" if reason else "")
                )
            compositions.append(
                composition.with_(
                    image_version=composition.image_version if target is None else target.address,
                    configuration=current or composition.configuration,
                )
            )
        if all(a is b for a, b in zip(compositions, deployment.compositions, strict=True)):
            return Resolution(deployment, (), tuple(notes))
        return Resolution(
            deployment.with_(compositions=tuple(compositions)), tuple(warnings), tuple(notes)
        )

    def _target(
        self,
        reference: str | None,
        composition: Composition,
        deployment: Deployment,
        where: str,
        notes: list[str],
    ) -> Resource | None:
        """The version to move to, or None (noted) when the composition stays on its own."""
        current = composition.image_version
        label = f"{deployment.address}  {composition.experiment_id}"
        if reference is None:
            latest = self.latest(image_of(current))
            if latest is None:
                raise errors.PlanError(
                    f"{where}cannot upgrade {deployment.address} {composition.experiment_id}: "
                    f"{image_of(current)} has no available version",
                    detail="the image is DISABLED, or every version of it is",
                    hint="activate or add a version, or upgrade to another runtime image",
                )
            target = self.available_upgrade(composition)
            if target is None:
                notes.append(
                    f"{label}: already on {name_of(current)}, the latest available, skipped"
                    if latest.address == current
                    else f"{label}: runs {name_of(current)}, newer than the latest "
                    f"available {name_of(latest.address)}, skipped"
                )
            return target
        address = self._address(reference, composition, deployment, where)
        if self.resources[address].kind is Kind.IMAGE:
            target = self.latest(address)
            if target is None:
                raise errors.UpgradeTargetError(
                    f"{where}cannot upgrade {deployment.address} {composition.experiment_id} "
                    f"to {address}: it has no available version",
                    detail="the image is DISABLED, or every version of it is; DISABLED "
                    "versions cannot be used for upgrades",
                    hint="pick another image, or activate one of its versions first",
                )
        else:
            if self.availability(address) is State.DISABLED:
                because = self.disabled_because(address)
                raise errors.PlanError(
                    f"{where}cannot upgrade {deployment.address} {composition.experiment_id} "
                    f"to {address}: it is DISABLED" + (f" ({because})" if because else ""),
                    detail="DISABLED versions cannot be used for new deployments or upgrades",
                    hint="pick an ACTIVE version (image.versions.list() shows their states)",
                )
            target = self.resources[address]
        if target.address == current:
            notes.append(f"{label}: already on {name_of(current)}, skipped")
            return None
        return target

    def _address(
        self, reference: str, composition: Composition, deployment: Deployment, where: str
    ) -> str:
        """A target reference (module docstring) → the address of an existing image or
        version the deployment's workspace sees."""
        try:
            if SEMVER_PATTERN.match(reference):
                version = normalize_version(reference, what="upgrade target")
                address = version_address_of(image_of(composition.image_version), version)
                if address not in self.resources:
                    raise errors.NotFoundError(
                        f"runtime image {image_of(address)} has no version {version}",
                        hint=references.IMAGE_HINT,
                    )
                return address
            return references.image(
                reference, workspace=workspace_of(deployment.address), resources=self.resources
            )
        except (errors.InputError, errors.NotFoundError) as exc:
            raise type(exc)(
                f"{where}{exc.summary}",
                detail=f"asked for {deployment.address} {composition.experiment_id} as "
                f"{reference!r}",
                hint=exc.hint,
            ) from None


def newly_available(
    *,
    before: Resolver,
    after: Resolver,
    deployments: Iterable[Deployment],
    changed: Iterable[str],
    rolling: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[AvailableUpgrade, ...]:
    """Compositions whose available upgrade a catalog change creates or moves, or whose
    own version it disables; `rolling` (deployment, experiment) pairs upgrade in the plan
    itself and are left out. Only images and versions in `changed` are looked at."""
    images = {image_of(address) for address in changed if "/runtimeImages/" in address}
    if not images:
        return ()
    found = []
    for deployment in deployments:
        for composition in deployment.compositions:
            current = composition.image_version
            if image_of(current) not in images:
                continue
            if (deployment.address, composition.experiment_id) in rolling:
                continue
            was, now = before.available_upgrade(composition), after.available_upgrade(composition)
            newly_disabled = after.availability(current) in (State.DISABLED, None) and (
                before.availability(current) not in (State.DISABLED, None)
            )
            moved = now is not None and (was is None or was.address != now.address)
            if not (moved or newly_disabled):
                continue
            reason = ""
            if newly_disabled:
                because = after.disabled_because(current)
                reason = (
                    f"{name_of(current)} becomes DISABLED"
                    + (f" ({because})" if because else "")
                    + "; it keeps running"
                )
            found.append(
                AvailableUpgrade(
                    deployment=deployment.address,
                    experiment_id=composition.experiment_id,
                    current=current,
                    available=now.address if now is not None else None,
                    reason=reason,
                )
            )
    return tuple(found)


def outdated(
    deployments: Iterable[Deployment], *, resolver: Resolver
) -> tuple[OutdatedConfiguration, ...]:
    """Compositions of `deployments` that run an older configuration of their runtime than
    `resolver`'s catalog gives it, in deployment order: one digest comparison each."""
    return tuple(
        OutdatedConfiguration(deployment.address, composition.experiment_id, composition.runtime)
        for deployment in deployments
        for composition in deployment.compositions
        if resolver.runs_older_configuration(composition)
    )
