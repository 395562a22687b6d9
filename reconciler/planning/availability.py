"""Rules that look across resources: availability cascade and latest available version.

A version is selectable only if neither it nor its image is DISABLED; a runtime only if
neither it nor its image is DISABLED. The *latest available version* of an image is the
highest semantic version whose availability is ACTIVE, else the highest DEPRECATED one;
DISABLED versions never count.

Pure: reads a mapping of resources, changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from functools import cached_property

from reconciler import errors
from reconciler.addresses import image_of, name_of
from reconciler.model import Kind, Resource, State, most_restrictive
from reconciler.planning import ceiling
from reconciler.versions import version_key


class Availability:
    """A read-only view over resources keyed by address."""

    def __init__(self, resources: Mapping[str, Resource]) -> None:
        self.resources = resources

    def get(self, address: str) -> Resource:
        try:
            return self.resources[address]
        except KeyError:
            raise errors.NotFoundError(f"{address} does not exist") from None

    def state_of(self, address: str) -> State:
        resource = self.get(address)
        return ceiling.effective(resource.platform, resource.user).state

    def availability(self, address: str) -> State:
        """The resource's own state, restricted by its image's (the cascade)."""
        resource = self.get(address)
        own = ceiling.effective(resource.platform, resource.user).state
        if resource.kind is Kind.VERSION:
            return most_restrictive(own, self.state_of(image_of(address)))
        if resource.kind is Kind.RUNTIME:
            image = image_of(resource.spec["runtime_image"])
            if image in self.resources:
                return most_restrictive(own, self.state_of(image))
        return own

    @cached_property
    def _versions_by_image(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.resources.values():
            if resource.kind is Kind.VERSION:
                index[image_of(resource.address)].append(resource)
        for versions in index.values():
            versions.sort(key=lambda r: version_key(name_of(r.address)))
        return index

    def versions_of(self, image_address: str) -> list[Resource]:
        """The image's versions, oldest first."""
        return list(self._versions_by_image.get(image_address, ()))

    def latest_version(self, image_address: str) -> Resource:
        """The latest available version of an image (see module docstring)."""
        by_state: dict[State, Resource] = {}
        for version in self.versions_of(image_address):
            by_state[self.availability(version.address)] = version  # oldest first: last wins
        for state in (State.ACTIVE, State.DEPRECATED):
            if state in by_state:
                return by_state[state]
        raise errors.NotFoundError(
            f"{image_address} has no available version",
            detail="every version of the image (or the image itself) is DISABLED",
            hint="activate a version, or add a new one",
        )
