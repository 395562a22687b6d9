"""The ceiling rule (seed: "State constraints between management modes")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import errors
from reconciler.model import Intent, Source, State
from reconciler.planning import ceiling

ADDRESS = "workspaces/global/runtimes/h2o3-mojo"
states = st.sampled_from(list(State))
intents = st.builds(Intent, state=states, reason=st.text(max_size=5))


def request(platform: Intent | None, target: State) -> Intent:
    return ceiling.request_user_state(platform, target, "why", address=ADDRESS)


# The seed's three scenarios -------------------------------------------------------------


def test_platform_active_user_deprecates_then_bootstrap_cannot_reenable() -> None:
    platform = Intent(state=State.ACTIVE)
    user = request(platform, State.DEPRECATED)
    assert ceiling.effective(platform, user).state is State.DEPRECATED
    # Next bootstrap declares ACTIVE again: the user's change is preserved.
    again = Intent(state=State.ACTIVE)
    result = ceiling.effective(again, user)
    assert result.state is State.DEPRECATED
    assert result.source is Source.USER
    assert ceiling.held_by(again, user) is Source.USER


def test_platform_disabled_user_enable_is_blocked() -> None:
    platform = Intent(state=State.DISABLED, reason=ceiling.REMOVED_FROM_VALUES)
    with pytest.raises(errors.CeilingError) as caught:
        request(platform, State.ACTIVE)
    message = str(caught.value)
    assert "blocked by the platform ceiling" in message
    assert "DISABLED by Helm values" in message
    assert ceiling.REMOVED_FROM_VALUES in message


@pytest.mark.parametrize(
    ("platform_state", "allowed"),
    [(State.ACTIVE, True), (State.DEPRECATED, False), (State.DISABLED, False)],
)
def test_user_disables_then_enables_only_if_platform_permits_active(
    platform_state: State, allowed: bool
) -> None:
    platform = Intent(state=platform_state)
    disabled = request(platform, State.DISABLED)
    assert ceiling.effective(platform, disabled).state is State.DISABLED
    if allowed:
        enabled = request(platform, State.ACTIVE)
        assert ceiling.effective(platform, enabled).state is State.ACTIVE
    else:
        with pytest.raises(errors.CeilingError):
            request(platform, State.ACTIVE)


def test_user_may_relax_own_restriction_down_to_platform_state() -> None:
    platform = Intent(state=State.DEPRECATED)
    request(platform, State.DISABLED)
    relaxed = request(platform, State.DEPRECATED)  # DISABLED → DEPRECATED is allowed
    assert ceiling.effective(platform, relaxed).state is State.DEPRECATED


def test_api_managed_resources_have_no_ceiling() -> None:
    for target in State:
        assert request(None, target).state is target


def test_effective_reason_is_the_deciding_sources() -> None:
    platform = Intent(state=State.DEPRECATED, reason="superseded")
    user = Intent(state=State.DISABLED, reason="broken for us")
    assert ceiling.effective(platform, user).reason == "broken for us"
    assert ceiling.effective(platform, None).reason == "superseded"
    assert ceiling.effective(platform, Intent(state=State.ACTIVE)).reason == "superseded"


# Laws -------------------------------------------------------------------------------------


@given(st.none() | intents, st.none() | intents)
def test_effective_is_never_more_permissive_than_either_intent(platform, user) -> None:
    result = ceiling.effective(platform, user).state
    for intent in (platform, user):
        if intent is not None:
            assert result.rank >= intent.state.rank


@given(st.none() | intents, states)
def test_restricting_always_succeeds(platform, target) -> None:
    if platform is None or platform.state.rank <= target.rank:
        assert request(platform, target).state is target
    else:
        with pytest.raises(errors.CeilingError):
            request(platform, target)
    # Asking for DISABLED can never be refused.
    assert request(platform, State.DISABLED).state is State.DISABLED


@given(intents, st.lists(states, max_size=8))
def test_no_user_sequence_lifts_effective_above_platform(platform, targets) -> None:
    user = None
    for target in targets:
        try:
            user = request(platform, target)
        except errors.CeilingError:
            continue
        assert ceiling.effective(platform, user).state.rank >= platform.state.rank


@given(intents, st.lists(states, max_size=8))
def test_no_platform_sequence_lifts_effective_above_user(user, platform_states) -> None:
    for state in platform_states:
        result = ceiling.effective(Intent(state=state), user)
        assert result.state.rank >= user.state.rank
