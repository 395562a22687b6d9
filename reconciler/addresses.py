"""Addresses: how the tool names resources, deployments and places in a document.

`workspaces/<ws>/runtimeImages/<id>`, `.../versions/<vX.Y.Z>`, `workspaces/<ws>/runtimes/<id>`
and `workspaces/<ws>/deployments/<id>` are built, parsed and taken apart here and nowhere
else: every other module asks these helpers instead of slicing strings. Ids and experiment
ids are checked here too, and `dotted` names a place in a values or overrides document.

Pure. What an address refers to in a catalog (and which workspace an id is seen from) is
planning/references.py's.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, ConfigDict

from reconciler import errors
from reconciler.model import Kind
from reconciler.versions import normalize_version

ID_PATTERN = re.compile(r"^[a-z]([a-z0-9_-]{0,61}[a-z0-9])?$")
# Experiment ids label Kubernetes objects and name manifest files, and the platform's are
# UUIDs: a DNS label (lowercase letters, digits and '-', at most 63) fits all three.
EXPERIMENT_ID_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
VERSIONS = "/versions/"  # between an image's address and a version's label


def dotted(path: tuple[str | int, ...] | list[str | int]) -> str:
    """`("a", "b", 0, "c")` → `a.b[0].c`: how errors and diffs name a place in a document."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def image_address(workspace: str, image_id: str) -> str:
    return f"workspaces/{workspace}/runtimeImages/{image_id}"


def version_address(workspace: str, image_id: str, version: str) -> str:
    return version_address_of(image_address(workspace, image_id), version)


def version_address_of(image: str, version: str) -> str:
    """A version's address under its image's address."""
    return f"{image}{VERSIONS}{version}"


def runtime_address(workspace: str, runtime_id: str) -> str:
    return f"workspaces/{workspace}/runtimes/{runtime_id}"


def deployment_address(workspace: str, deployment_id: str) -> str:
    return f"workspaces/{workspace}/deployments/{deployment_id}"


def composition_address(deployment: str, experiment_id: str) -> str:
    """Where a composition's manifest lives on a target, under its deployment's address."""
    return f"{deployment}{COMPOSITIONS}{experiment_id}"


COMPOSITIONS = "/compositions/"  # between a deployment's address and an experiment id


def parse_composition(address: str) -> tuple[str, str] | None:
    """A composition address → (deployment address, experiment id); None if it is not one."""
    deployment, sep, experiment = address.partition(COMPOSITIONS)
    if not sep or not experiment or "/" in experiment:
        return None
    return deployment, experiment


_DEPLOYMENT = re.compile(
    r"^(?:workspaces/(?P<ws>[^/]+)/deployments/(?P<id>[^/]+)"
    r"|(?P<short_ws>[^/]+)/(?P<short_id>[^/]+))$"
)


def parse_deployment(text: str) -> str:
    """`workspaces/<ws>/deployments/<id>`, or the short `<ws>/<id>` → the address."""
    match = _DEPLOYMENT.match(text) if isinstance(text, str) else None
    workspace = match and (match["ws"] or match["short_ws"])
    deployment_id = match and (match["id"] or match["short_id"])
    if (
        not workspace
        or not deployment_id
        or not (ID_PATTERN.match(workspace) and ID_PATTERN.match(deployment_id))
    ):
        raise errors.InputError(
            f"{text!r} does not name a deployment",
            hint="name it as workspaces/<workspace>/deployments/<id>, or <workspace>/<id>",
        )
    return deployment_address(workspace, deployment_id)


def check_experiment_id(value: object) -> str:
    if not isinstance(value, str) or not EXPERIMENT_ID_PATTERN.match(value):
        raise errors.InputError(
            f"{value!r} is not a valid experiment id",
            hint="experiment ids are lowercase letters, digits and '-', start and end with a "
            "letter or digit, at most 63 characters (a UUID is one)",
        )
    return value


_ADDRESS = re.compile(
    r"^workspaces/(?P<ws>[^/]+)/(?:"
    r"runtimeImages/(?P<image>[^/]+)(?:/versions/(?P<version>[^/]+))?"
    r"|runtimes/(?P<runtime>[^/]+))$"
)


class Address(BaseModel):
    """A parsed resource address; `str(address)` gives it back."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    workspace: str
    id: str
    version: str = ""

    @classmethod
    def parse(cls, text: str) -> Address:
        match = _ADDRESS.match(text)
        if not match:
            raise errors.InputError(
                f"'{text}' is not a resource address",
                hint="use workspaces/<ws>/runtimeImages/<id>[/versions/<vX.Y.Z>] "
                "or workspaces/<ws>/runtimes/<id>",
            )
        ws = match["ws"]
        if match["runtime"]:
            return cls(kind=Kind.RUNTIME, workspace=ws, id=match["runtime"])
        if match["version"]:
            return cls(
                kind=Kind.VERSION,
                workspace=ws,
                id=match["image"],
                version=normalize_version(match["version"], what=text),
            )
        return cls(kind=Kind.IMAGE, workspace=ws, id=match["image"])

    @property
    def image(self) -> str:
        """The owning image's address (for images and versions)."""
        return image_address(self.workspace, self.id)

    def __str__(self) -> str:
        if self.kind is Kind.RUNTIME:
            return runtime_address(self.workspace, self.id)
        if self.kind is Kind.VERSION:
            return version_address(self.workspace, self.id, self.version)
        return image_address(self.workspace, self.id)


_ID = ID_PATTERN.pattern[1:-1]  # the same rule, for embedding
_CANONICAL = re.compile(
    rf"^workspaces/{_ID}/(?:(?P<runtime>runtimes/{_ID})"
    rf"|runtimeImages/{_ID}(?P<version>/versions/v(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*))?)$"
)
_DEPLOYMENT_CANONICAL = re.compile(rf"^workspaces/{_ID}/deployments/{_ID}$")


def kind_of(address: str) -> Kind | None:
    """The kind a resource address names, if it is one exactly as the tool writes it
    (valid ids, a normalized version); else None. Cheap enough for every resource of a
    large state, which `Address.parse` (a model per address) is not."""
    match = _CANONICAL.match(address)
    if match is None:
        return None
    if match["runtime"]:
        return Kind.RUNTIME
    return Kind.VERSION if match["version"] else Kind.IMAGE


def is_deployment_address(address: str) -> bool:
    """Whether `address` is a deployment's address exactly as the tool writes it."""
    return _DEPLOYMENT_CANONICAL.match(address) is not None


def image_of(address: str) -> str:
    """The image address of an image or version address (or of such a reference)."""
    return address.partition(VERSIONS)[0]


def check_id(value: str, *, what: str) -> str:
    if not ID_PATTERN.match(value):
        raise errors.InputError(
            f"'{value}' is not a valid id for {what}",
            hint="ids are lowercase letters, digits, '-' and '_', start with a letter, "
            "end with a letter or digit, at most 63 characters",
        )
    return value


def is_version(address: str) -> bool:
    """Whether an image-or-version address (or reference) names a version."""
    return VERSIONS in address


def workspace_of(address: str) -> str:
    """`workspaces/<ws>/...` → `<ws>`."""
    return address.split("/", 2)[1]


def name_of(address: str) -> str:
    """The last segment: a resource's or deployment's id, or a version's label (`v1.6.0`)."""
    return address.rsplit("/", 1)[1]


# Kubernetes object names are DNS subdomains: lowercase letters, digits, '-' and '.'.
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_NAME = 253


def kube_name(text: str) -> str:
    """`text` as a valid Kubernetes object name: itself when it is one, else its invalid
    characters (ids may hold `_`) as '-' and a digest of the original, so `a_b` and `a-b`
    stay apart."""
    if len(text) <= _MAX_NAME and _DNS_SUBDOMAIN.match(text):
        return text
    tag = hashlib.sha256(text.encode()).hexdigest()[:8]
    base = re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")[: _MAX_NAME - 9]
    return f"{base}-{tag}" if base else tag


def object_name(address: str) -> str:
    """The name of the object at a resource or composition address on a cluster:
    `<id>`, `<image id>.<version>`, or `<deployment id>-<experiment id>`."""
    found = parse_composition(address)
    if found is not None:
        deployment, experiment = found
        return kube_name(f"{name_of(deployment)}-{experiment}")
    parsed = Address.parse(address)
    return kube_name(f"{parsed.id}.{parsed.version}" if parsed.version else parsed.id)
