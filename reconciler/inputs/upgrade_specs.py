"""The upgrade-spec syntax of `--upgrade SPEC` and `reconciler upgrade SPEC`.

It covers every form of the SDK's `deployment.upgrade_runtime_image(...)`:

    DEPLOYMENT                        every composition → its latest available version
    DEPLOYMENT=TARGET                 one image or version (single-composition only)
    DEPLOYMENT:EXP=TARGET[,EXP=...]   per experiment; `*=TARGET` covers the others

DEPLOYMENT is `workspaces/<ws>/deployments/<id>` or `<ws>/<id>`. TARGET is `latest`, an
image id, `<image-id>/versions/vX.Y.Z`, a bare `vX.Y.Z` (that version of the image the
composition runs), or a full runtime image or version address.

Parsing only: what a request means against a catalog is planning/upgrades.py's.
"""

from __future__ import annotations

from reconciler import errors
from reconciler.addresses import check_experiment_id, parse_deployment
from reconciler.inputs.requests import LATEST, WILDCARD, UpgradeRequest

SPEC_HINT = (
    "write DEPLOYMENT (every composition to latest), DEPLOYMENT=TARGET (a single-composition "
    "deployment), or DEPLOYMENT:EXPERIMENT=TARGET,*=TARGET; TARGET is latest, an image id, "
    "IMAGE/versions/vX.Y.Z, vX.Y.Z or an address"
)


def parse_spec(text: str) -> UpgradeRequest:
    """An `--upgrade` spec (module docstring) → a request naming the spec in its errors."""
    origin = f"--upgrade {text}"

    def fail(summary: str) -> errors.InputError:
        return errors.InputError(f"{origin}: {summary}", hint=SPEC_HINT)

    def deployment(head: str) -> str:
        try:
            return parse_deployment(head.strip())
        except errors.InputError as exc:
            raise fail(exc.summary) from None

    def target(value: str) -> str | None:
        value = value.strip()
        if not value:
            raise fail("a target is missing after '='")
        return None if value == LATEST else value

    head, colon, assignments = text.partition(":")
    if colon:
        targets: list[tuple[str, str | None]] = []
        for part in assignments.split(","):
            experiment, equals, value = (piece.strip() for piece in part.partition("="))
            if not equals or not experiment:
                raise fail(f"{part.strip()!r} is not EXPERIMENT=TARGET")
            if experiment != WILDCARD:
                try:
                    check_experiment_id(experiment)
                except errors.InputError as exc:
                    raise fail(exc.summary) from None
            if experiment in dict(targets):
                raise fail(f"experiment {experiment} is listed twice")
            targets.append((experiment, target(value)))
        return UpgradeRequest(deployment(head), tuple(targets), origin=origin)
    head, equals, value = text.partition("=")
    if not equals:
        return UpgradeRequest(deployment(head), origin=origin)
    chosen = target(value)
    # `=latest` asks what no target asks: it concerns every composition, however many.
    return UpgradeRequest(
        deployment(head), ((WILDCARD, chosen),), single=chosen is not None, origin=origin
    )
