"""API errors: the `kind: Status` failure bodies the real API server answers with.

Owns the mapping from a failure (reason, code, message, details) to the wire body. Which
request fails, and why, is decided by the store, the server and the authorizer.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A failed request, answered as a `kind: Status` body with `code` as the HTTP status."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def _details(name: str | None, plural: str, group: str, **more: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": plural, **more}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(plural, group)} "{name}" not found',
        details=_details(name, plural, group),
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(plural, group)} "{name}" already exists',
        details=_details(name, plural, group),
    )


def conflict(plural: str, group: str, name: str, why: str | None = None) -> ApiError:
    why = (
        why
        or "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}',
        details=_details(name, plural, group),
    )


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid: each cause is {"reason", "message", "field"} as the API server reports it."""
    summary = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
    return ApiError(
        422,
        "Invalid",
        f'{kind}.{group} "{name}" is invalid: {summary}'
        if group
        else f'{kind} "{name}" is invalid: {summary}',
        details=_details(name, kind, group, causes=causes),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
        details={"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def internal(
    message: str = "an error on the server has prevented the request from succeeding",
) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        f" (got {content_type})",
    )


def forbidden_message(
    *, user: str, verb: str, plural: str, subresource: str, group: str, name: str, namespace: str
) -> str:
    resource = f"{plural}/{subresource}" if subresource else plural
    target = f'{_qualified(plural, group)} "{name}"' if name else _qualified(plural, group)
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return (
        f'{target} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}" {scope}'
    )


def forbidden(
    *, user: str, verb: str, plural: str, subresource: str, group: str, name: str, namespace: str
) -> ApiError:
    message = forbidden_message(
        user=user,
        verb=verb,
        plural=plural,
        subresource=subresource,
        group=group,
        name=name,
        namespace=namespace,
    )
    return ApiError(403, "Forbidden", message, details=_details(name, plural, group))


def forbidden_before_v1_32(*, plural: str, group: str, name: str) -> ApiError:
    """A create-on-apply refused as API servers before v1.32 word it: the authorizer's reason
    (RBAC gives none) in place of the user and verb, so the message ends in "forbidden: "."""
    return ApiError(
        403,
        "Forbidden",
        f'{_qualified(plural, group)} "{name}" is forbidden: ',
        details=_details(name, plural, group),
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")
