"""Authentication by bearer token, and RBAC authorization over the Roles stored in the emulator.

Owns who a request is (token → user and groups) and whether RBAC allows it: Roles and
ClusterRoles (verbs, apiGroups, resources including subresources like `deployments/status`,
resourceNames, nonResourceURLs) bound by RoleBindings (namespace scope) and
ClusterRoleBindings (cluster scope). Admins bypass RBAC. Discovery is open to every
authenticated user, as the real `system:discovery` role makes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

ADMIN_GROUP = "system:masters"
DISCOVERY_PREFIXES = ("/api", "/apis", "/version", "/openapi", "/healthz", "/readyz", "/livez")


@dataclasses.dataclass(frozen=True, kw_only=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


# Asking what one may do is open to every authenticated user (the system:basic-user role).
SELF_REVIEWS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
}
ANONYMOUS_ADMIN = User(name="admin", groups=(ADMIN_GROUP, "system:authenticated"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Attributes:
    """What a resource request asks to do, in RBAC's terms."""

    verb: str
    group: str
    resource: str
    subresource: str
    name: str
    namespace: str


def service_account_user(namespace: str, name: str) -> User:
    return User(
        name=f"system:serviceaccount:{namespace}:{name}",
        groups=(
            "system:serviceaccounts",
            f"system:serviceaccounts:{namespace}",
            "system:authenticated",
        ),
    )


def _matches(values: Iterable[str], wanted: str) -> bool:
    values = list(values or ())
    return "*" in values or wanted in values


def _rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    if not _matches(rule.get("verbs", ()), attrs.verb):
        return False
    if not _matches(rule.get("apiGroups", ()), attrs.group):
        return False
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = rule.get("resources", ())
    if not (
        _matches(resources, resource)
        or (attrs.subresource and f"*/{attrs.subresource}" in resources)
        or (not attrs.subresource and "*" in resources)
        or (attrs.subresource and "*" in resources)
    ):
        return False
    names = rule.get("resourceNames")
    return not names or attrs.name in names


def _subject_matches(subject: dict[str, Any], user: User) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        return user.name == f"system:serviceaccount:{subject.get('namespace', '')}:{name}"
    return False


class Authorizer:
    """`lookup(storage, namespace, name)` reads a stored RBAC object (or None)."""

    def __init__(
        self,
        *,
        tokens: dict[str, User],
        lookup: Callable[[tuple[str, str], str, str], dict[str, Any] | None],
        list_all: Callable[[tuple[str, str]], list[dict[str, Any]]],
    ) -> None:
        self.tokens = tokens
        self._lookup = lookup
        self._list_all = list_all

    @property
    def enforcing(self) -> bool:
        return bool(self.tokens)

    def authenticate(
        self, header: str | None, *, impersonate: str | None = None, groups: list[str] | None = None
    ) -> User | None:
        """The user a request's Authorization header names; None when it names nobody.

        kubectl never sends a bearer token over plain HTTP (it keeps credentials for TLS),
        so a request without one may name its user with kubectl's impersonation headers
        (`Impersonate-User`, `Impersonate-Group`; kubeconfig `as` and `as-groups`), which
        the emulator believes. Write such kubeconfigs with `Emulator.write_kubeconfig`.
        """
        if not self.enforcing:
            return ANONYMOUS_ADMIN
        if header and header.startswith("Bearer "):
            return self.tokens.get(header[len("Bearer ") :].strip())
        if impersonate:
            return User(name=impersonate, groups=(*(groups or ()), "system:authenticated"))
        return None

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
        group = "rbac.authorization.k8s.io"
        if ref.get("kind") == "ClusterRole":
            role = self._lookup((group, "clusterroles"), "", ref.get("name", ""))
        else:
            role = self._lookup((group, "roles"), namespace, ref.get("name", ""))
        return (role or {}).get("rules") or []

    def allows(self, user: User, attrs: Attributes) -> bool:
        if user.is_admin or (attrs.group, attrs.resource) in SELF_REVIEWS:
            return True
        group = "rbac.authorization.k8s.io"
        for binding in self._list_all((group, "clusterrolebindings")):
            subjects = binding.get("subjects") or ()
            rules = self._role_rules(binding.get("roleRef", {}), "")
            if any(_subject_matches(s, user) for s in subjects) and any(
                _rule_allows(r, attrs) for r in rules
            ):
                return True
        if attrs.namespace:
            for binding in self._list_all((group, "rolebindings")):
                if binding["metadata"].get("namespace") != attrs.namespace:
                    continue
                if any(_subject_matches(s, user) for s in binding.get("subjects") or ()):
                    rules = self._role_rules(binding.get("roleRef", {}), attrs.namespace)
                    if any(_rule_allows(r, attrs) for r in rules):
                        return True
        return False

    def allows_path(self, user: User, path: str) -> bool:
        return user.is_admin or path.startswith(DISCOVERY_PREFIXES)
