"""The campaign state machine, held in one place: which action moves which state where."""

from __future__ import annotations

from typing import NamedTuple

from crowdtask import errors


class Transition(NamedTuple):
    action: str
    sources: frozenset[str]
    target: str
    event: str


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("publish", frozenset({"unpublished"}), "active", "campaign.published"),
        Transition("pause", frozenset({"active"}), "paused", "campaign.paused"),
        Transition("continue", frozenset({"paused"}), "active", "campaign.continued"),
        Transition("cancel", frozenset({"active", "paused"}), "cancelled", "campaign.cancelled"),
        # every job has its results, or endDate has come (a paused campaign ends at endDate too)
        Transition("finish", frozenset({"active", "paused"}), "finished", "campaign.finished"),
    )
}
STATES = ("unpublished", "active", "paused", "finished", "cancelled")
ENDED = frozenset({"finished", "cancelled"})
# actions a requester may call; "finish" is the system's
REQUESTER_ACTIONS = ("publish", "pause", "continue", "cancel")


def allowed_actions(state: str) -> list[str]:
    return [a for a in REQUESTER_ACTIONS if state in TRANSITIONS[a].sources]


def require(action: str, state: str) -> Transition:
    """The transition for `action` from `state`, or a 409 naming the state and the states that allow it."""
    transition = TRANSITIONS[action]
    if state not in transition.sources:
        allowing = " or ".join(sorted(transition.sources))
        raise errors.Conflict(
            f"Cannot {action} a campaign that is {state}; "
            f"only a campaign that is {allowing} can be {_past(action)}."
        )
    return transition


def _past(action: str) -> str:
    return {
        "publish": "published",
        "pause": "paused",
        "continue": "continued",
        "cancel": "cancelled",
        "finish": "finished",
    }[action]
