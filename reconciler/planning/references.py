"""References: what a runtime image, version or runtime a user names resolves to.

Users name catalog resources the short way, relative to a workspace: `custom-scorer`,
`custom-scorer/versions/v1.0.0`, `h2o3-mojo`; or the long way, by address. One rule for
every caller (a runtime's `runtime_image` in the SDK or an overrides file, an upgrade
target, a composition's runtime): an id names the workspace's own resource if it has one,
else the bootstrap-managed one of `global`, which every workspace sees. An address must
name a resource of the workspace or of `global`. Whatever is named must exist. And the
converse rule, for every way of creating something (SDK call or overrides file): nothing
API-managed is created in `global`, which holds the bootstrap-managed catalog only.

Pure: reads a mapping of resources. What a missing or unusable target means for a plan
(DISABLED, no available version) is the caller's to say.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler import errors
from reconciler.addresses import (
    Address,
    image_address,
    runtime_address,
    version_address,
    workspace_of,
)
from reconciler.model import GLOBAL_WORKSPACE, Kind, Resource
from reconciler.versions import normalize_version

IMAGE_HINT = (
    "workspace.runtimes.images.list() (or `reconciler state list`) shows the images and "
    "versions that exist"
)
RUNTIME_HINT = "workspace.runtimes.list() (or `reconciler state list`) shows the runtimes"


def check_creatable_in(workspace: str, *, where: str = "") -> None:
    """Refuse to create an API-managed resource or a deployment in `global`; `where`
    (`file:path: `) prefixes the error when the request came from a file."""
    if workspace == GLOBAL_WORKSPACE:
        raise errors.ManagedByBootstrapError(
            f"{where}workspace global holds the bootstrap-managed catalog: nothing is created "
            "in it through the SDK or an overrides file",
            hint="create it in a workspace of your own, or declare it in the Helm values.yaml "
            "and redeploy",
        )


def image(reference: str, *, workspace: str, resources: Mapping[str, Resource]) -> str:
    """The address of the runtime image or version `reference` names from `workspace`.

    Raises InputError for a malformed reference, a runtime's address or a workspace that
    `workspace` does not see, and NotFoundError when nothing of that name exists.
    """
    if reference.startswith("workspaces/"):
        parsed = Address.parse(reference)
        if parsed.kind is Kind.RUNTIME:
            raise errors.InputError(
                f"{reference} is a runtime: a runtime image or one of its versions is needed",
                hint="name the runtime image (or one of its versions) to run",
            )
        address = _seen(str(parsed), workspace)
        if address not in resources:
            raise errors.NotFoundError(f"runtime image {address} does not exist", hint=IMAGE_HINT)
        return address
    image_id, _, version = reference.partition("/versions/")
    if version:
        version = normalize_version(version, what=reference)
    for home in _homes(workspace):
        found = image_address(home, image_id)
        if found in resources:
            address = version_address(home, image_id, version) if version else found
            if address not in resources:
                raise errors.NotFoundError(
                    f"runtime image {found} has no version {version}", hint=IMAGE_HINT
                )
            return address
    Address.parse(image_address(workspace, image_id))  # a malformed id is an InputError
    raise errors.NotFoundError(
        f"runtime image {image_id} does not exist in workspace {workspace}"
        + ("" if workspace == GLOBAL_WORKSPACE else " or global"),
        hint=IMAGE_HINT,
    )


def runtime(reference: str, *, workspace: str, resources: Mapping[str, Resource]) -> str:
    """The address of the runtime `reference` (an id or an address) names from `workspace`.

    Raises InputError for an address of another kind or of a workspace not seen, and
    NotFoundError when no such runtime exists.
    """
    if reference.startswith("workspaces/"):
        parsed = Address.parse(reference)
        if parsed.kind is not Kind.RUNTIME:
            raise errors.InputError(
                f"{reference} is not a runtime", hint="name a runtime, by id or address"
            )
        address = _seen(str(parsed), workspace)
        if address in resources:
            return address
    else:
        for home in _homes(workspace):
            address = runtime_address(home, reference)
            if address in resources:
                return address
    raise errors.NotFoundError(
        f"runtime {reference} does not exist in workspace {workspace}"
        + ("" if workspace == GLOBAL_WORKSPACE else " or global"),
        hint=RUNTIME_HINT,
    )


def _homes(workspace: str) -> tuple[str, ...]:
    return (workspace,) if workspace == GLOBAL_WORKSPACE else (workspace, GLOBAL_WORKSPACE)


def _seen(address: str, workspace: str) -> str:
    """`address` if `workspace` sees it (its own or `global`'s), else an InputError."""
    owner = workspace_of(address)
    if owner not in _homes(workspace):
        raise errors.InputError(
            f"{address} belongs to workspace {owner}, which workspace {workspace} does not see",
            hint="use a resource of this workspace, or a bootstrap-managed one of global",
        )
    return address
