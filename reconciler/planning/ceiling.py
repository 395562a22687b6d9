"""The ceiling rule: how the platform's and the user's state intents combine.

- The effective state is the more restrictive of the two intents.
- Either source can always restrict.
- A user request to move to a state more permissive than the platform's intent is
  refused (`CeilingError`); any other user request becomes the user's intent.
- A platform change never fails: where the user's intent is more restrictive the
  resource is *held* at the user's state (the plan shows both intents).

Pure: intents in, intents out. Where intents come from and how a held resource is shown
live in desired.py and plan.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler import errors
from reconciler.model import Intent, Source, State

REMOVED_FROM_VALUES = "removed from Helm values"
DEFAULT_STATE = State.ACTIVE


@dataclass(frozen=True, slots=True)
class Effective:
    """The effective state, its reason, and the source that decided it.

    `source` is None only for a resource with no intent at all (treated as ACTIVE).
    On a tie the platform decides, so a resource both sources agree on shows the
    platform's reason.
    """

    state: State
    reason: str
    source: Source | None


def effective(platform: Intent | None, user: Intent | None) -> Effective:
    if platform is None and user is None:
        return Effective(DEFAULT_STATE, "", None)
    if platform is not None and (
        user is None or not user.state.is_more_restrictive_than(platform.state)
    ):
        return Effective(platform.state, platform.reason, Source.PLATFORM)
    assert user is not None
    return Effective(user.state, user.reason, Source.USER)


def held_by(platform: Intent | None, user: Intent | None) -> Source | None:
    """Which source holds the other below its wish, if the two intents disagree."""
    if platform is None or user is None or platform.state == user.state:
        return None
    return Source.USER if user.state.is_more_restrictive_than(platform.state) else Source.PLATFORM


def request_user_state(
    platform: Intent | None, target: State, reason: str, *, address: str
) -> Intent:
    """The user's new intent after asking for `target`, or CeilingError when blocked.

    Restricting always succeeds. Relaxing succeeds up to the platform's state: a user may
    undo their own restriction only as far as the platform allows.
    """
    if platform is not None and platform.state.is_more_restrictive_than(target):
        because = f": {platform.reason}" if platform.reason else ""
        raise errors.CeilingError(
            f"cannot move {address} to {target}: blocked by the platform ceiling "
            f"({platform.state} by Helm values{because})",
            detail=f"{address} is {platform.state} in Helm values; a user request can "
            f"restrict it further but never lift it above {platform.state}",
            hint="change the resource's state in the Helm values.yaml and redeploy",
        )
    return Intent(state=target, reason=reason)
