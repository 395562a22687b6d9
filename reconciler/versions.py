"""Versions of container images: semantic versions and image references.

A runtime image version is named `vMAJOR.MINOR.PATCH`; a tag that is a semantic version
names it (`2.0.0` → `v2.0.0`), any other tag needs an explicit version. Container images
are referenced as `registry/repository:tag`. Pure string rules, nothing else.
"""

from __future__ import annotations

import re

from reconciler import errors

SEMVER_PATTERN = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def normalize_version(text: str, *, what: str) -> str:
    """`2.0.0` or `v2.0.0` → `v2.0.0`; anything else is an error naming `what`."""
    if not SEMVER_PATTERN.match(text):
        raise errors.InputError(
            f"'{text}' is not a semantic version ({what})",
            hint="versions look like v1.2.3; give an explicit version for tags like 'latest'",
        )
    return text if text.startswith("v") else f"v{text}"


def version_from_tag(tag: str) -> str | None:
    """The version a container image tag implies (`2.0.0` → `v2.0.0`), or None if not semver."""
    return (tag if tag.startswith("v") else f"v{tag}") if SEMVER_PATTERN.match(tag) else None


def version_key(version: str) -> tuple[int, int, int]:
    """Sort key of a normalized version string `vX.Y.Z`."""
    major, minor, patch = version[1:].split(".")
    return int(major), int(minor), int(patch)


def split_image_reference(reference: str) -> tuple[str, str]:
    """`registry/repo:tag` → (`registry/repo`, `tag`); a missing tag is `latest`, as docker says."""
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, "latest"
    return name, tag


def image_reference(registry: str, repository: str, tag: str) -> str:
    """`registry/repository:tag`, or `repository:tag` when no registry is set."""
    registry = registry.rstrip("/")
    return f"{registry}/{repository}:{tag}" if registry else f"{repository}:{tag}"


def version_of(tag: str, version: str | None) -> str:
    """The version of a container image: the explicit one, else derived from a semver tag."""
    if version is not None:
        return normalize_version(str(version), what="version")
    derived = version_from_tag(tag)
    if derived is None:
        raise errors.InputError(
            f"tag '{tag}' is not a semantic version, so the version cannot be derived from it",
            hint="give an explicit version, such as `version: v1.2.3`",
        )
    return derived
