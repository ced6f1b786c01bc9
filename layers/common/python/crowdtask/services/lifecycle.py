"""The campaign state machine and every rule that depends on a campaign's state, held in one place.

Which action moves which state where; which states are live (on the market), ended, open to
edits; what a published campaign freezes. The market, bulk uploads, the campaign service and
the HAL links ask these rules instead of naming states themselves.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from crowdtask import clock, errors


class Transition(NamedTuple):
    action: str
    sources: frozenset[str]
    target: str
    event: str


UNPUBLISHED = "unpublished"
ACTIVE = "active"
PAUSED = "paused"
STATES = (UNPUBLISHED, ACTIVE, PAUSED, "finished", "cancelled")
LIVE = frozenset({ACTIVE, PAUSED})  # published and not ended: its jobs are on the market
ENDED = frozenset({"finished", "cancelled"})

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("publish", frozenset({UNPUBLISHED}), ACTIVE, "campaign.published"),
        Transition("pause", frozenset({ACTIVE}), PAUSED, "campaign.paused"),
        Transition("continue", frozenset({PAUSED}), ACTIVE, "campaign.continued"),
        Transition("cancel", LIVE, "cancelled", "campaign.cancelled"),
        # every job has its results, or endDate has come (a paused campaign ends at endDate too)
        Transition("finish", LIVE, "finished", "campaign.finished"),
    )
}
# actions a requester may call; "finish" is the system's
REQUESTER_ACTIONS = ("publish", "pause", "continue", "cancel")
# What workers do and are paid: a published campaign keeps these as they were when it was published.
FROZEN_WHEN_PUBLISHED = (
    "workerPayment",
    "results",
    "maxResultsPerWorker",
    "workerGroup",
    "maxWorkTime",
    "maxUploadTime",
    "maxReviewTime",
    "training",
    "startDate",
    "taskTemplate",
    "quality",  # control tasks and requirements travel with the jobs' market items
    "requirements",
    "aggregation",  # the votes already counted were weighed this way
    "overlap",  # the budget was frozen for its max
)


def state_of(campaign: dict[str, Any]) -> str:
    """A stored campaign's state (a campaign written before states were recorded is unpublished)."""
    return str(campaign.get("state", UNPUBLISHED))


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


def ends(transition: Transition) -> bool:
    return transition.target in ENDED


def jobs_editable(state: str) -> bool:
    """Its list of jobs may change (only before it is published)."""
    return state == UNPUBLISHED


def settings_editable(state: str) -> bool:
    """PUT may change it (a live one only where FROZEN_WHEN_PUBLISHED allows)."""
    return state not in ENDED


def archivable(state: str) -> bool:
    """It may be archived or unarchived (not while it is live)."""
    return state not in LIVE


def takes_tasks(state: str) -> bool:
    """Tasks may be made for it with pool_id (its pool grows until it ends)."""
    return state not in ENDED


def open_for_claims(campaign: dict[str, Any], now_iso: str | None = None) -> bool:
    """Workers may claim its jobs now: active, and its endDate (if any) still ahead."""
    now_iso = now_iso or clock.iso(clock.now())
    end = campaign.get("endDate")
    return state_of(campaign) == ACTIVE and not (end and end <= now_iso)


def describe(campaign: dict[str, Any] | None, now_iso: str | None = None) -> str:
    """The campaign's state as a refusal should name it."""
    if campaign is None:
        return "gone"
    now_iso = now_iso or clock.iso(clock.now())
    if state_of(campaign) == ACTIVE and campaign.get("endDate") and campaign["endDate"] <= now_iso:
        return f"past its endDate ({campaign['endDate']})"
    return state_of(campaign)


def _past(action: str) -> str:
    return {
        "publish": "published",
        "pause": "paused",
        "continue": "continued",
        "cancel": "cancelled",
        "finish": "finished",
    }[action]
