"""Campaigns: their settings, their jobs, and their own part of the lifecycle (state, money, locks).

A transition here moves the campaign and the requester's money in one write and locks or
unlocks its jobs and tasks. What a transition does to the market and the pool is the
coordinator's (services/flows/publishing.py), which announces the transition once all of it is done.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from crowdtask import clock, errors, ids, money, store
from crowdtask.models.base import MAX_MEMBERS
from crowdtask.models.campaigns import CampaignIn, CampaignOut
from crowdtask.models.listing import ListQuery, Page
from crowdtask.numbers import plain_numbers
from crowdtask.services import eligibility, lifecycle, pricing, quotas
from crowdtask.services import jobs as job_service
from crowdtask.services.lifecycle import Transition
from crowdtask.services.members import MemberList
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import jobs as job_store
from crowdtask.store import outbox
from crowdtask.store import tasks as task_store

_ATTEMPTS = 8
# An end's unlock is done again this long after it (apply_locks): longer than any request runs.
LOCKS_SETTLE = timedelta(minutes=1)


def _jobs_frozen(item: dict[str, Any]) -> str | None:
    state = lifecycle.state_of(item)
    return None if lifecycle.jobs_editable(state) else f"the campaign is {state}"


CAMPAIGN_JOBS = MemberList(
    owners=campaign_store,
    members=job_store,
    attribute="job_ids",
    owner_noun="campaign",
    member_noun="job",
    limit=MAX_MEMBERS,
    frozen_reason=_jobs_frozen,
)


def _stamp(created: bool = False) -> dict[str, str]:
    now = clock.now()
    stamp = {"lastModifiedAt": clock.iso(now), "modified_precise": clock.iso_precise(now)}
    if created:
        stamp["createdAt"] = stamp["lastModifiedAt"]
    return stamp


def _content(campaign: CampaignIn) -> dict[str, Any]:
    return campaign.model_dump(mode="python", exclude_none=True)


def to_campaign(item: dict[str, Any]) -> CampaignOut:
    state = lifecycle.state_of(item)
    return CampaignOut.model_validate(
        {
            **plain_numbers(item),
            "state": state,
            "jobCount": len(item.get("job_ids", [])),
            "readOnly": state in lifecycle.ENDED,
            "archived": bool(item.get("archived", False)),
        }
    )


def require_campaign(account_id: str, campaign_id: str, *, consistent: bool = False) -> dict[str, Any]:
    item = campaign_store.get(account_id, campaign_id, consistent=consistent)
    if item is None:
        raise errors.NotFound(f"No campaign {campaign_id} in your account.")
    return item


def _version(campaign: dict[str, Any]) -> int:
    return int(campaign.get("version", 0))


# ---------------------------------------------------------------- CRUD
def create_campaign(account_id: str, campaign: CampaignIn, job_ids: list[str] | None = None) -> CampaignOut:
    eligibility.check_settings(account_id, _content(campaign))
    campaign_id = ids.new_id()
    data = {
        **_content(campaign),
        **_stamp(created=True),
        "state": lifecycle.UNPUBLISHED,
        "archived": False,
        "job_ids": job_ids or [],
        "version": 0,
    }
    stored = campaign_store.put_new(account_id, campaign_id, data)
    if campaign.startDate:
        campaign_store.set_due(account_id, campaign_id, "start", campaign.startDate)
    return to_campaign(stored)


def get_campaign(account_id: str, campaign_id: str) -> CampaignOut:
    return to_campaign(require_campaign(account_id, campaign_id))


def list_campaigns(account_id: str, query: ListQuery) -> tuple[list[CampaignOut], Page]:
    page = campaign_store.list_page(account_id, query)
    return [to_campaign(item) for item in page.items], page


def _normal(value: Any) -> str:
    return json.dumps(plain_numbers(value), sort_keys=True, default=str)


def replace_campaign(account_id: str, campaign_id: str, campaign: CampaignIn) -> CampaignOut:
    """PUT. Unpublished: anything. Active or paused: only what does not change the work or its pay."""
    new = _content(campaign)
    eligibility.check_settings(account_id, new)
    for _ in range(_ATTEMPTS):
        current = require_campaign(account_id, campaign_id, consistent=True)
        state = lifecycle.state_of(current)
        if not lifecycle.settings_editable(state):
            raise errors.Conflict(f"Campaign {campaign_id} is {state}; it can no longer be changed.")
        if state != lifecycle.UNPUBLISHED:
            changed = [
                f for f in lifecycle.FROZEN_WHEN_PUBLISHED if _normal(current.get(f)) != _normal(new.get(f))
            ]
            if changed:
                raise errors.Conflict(
                    f"Campaign {campaign_id} is {state}: {', '.join(changed)} cannot change while published "
                    "(they decide what workers do and are paid)."
                )
        fields: dict[str, Any] = {name: new.get(name) for name in CampaignIn.model_fields}
        fields.update(_stamp(), version=_version(current) + 1)
        try:
            stored = campaign_store.replace(
                account_id, campaign_id, fields, state=state, version=_version(current)
            )
        except store.Refused:
            continue
        if state == lifecycle.UNPUBLISHED:
            campaign_store.set_due(account_id, campaign_id, "start", campaign.startDate)
        elif current.get("endDate") != campaign.endDate:
            campaign_store.set_due(account_id, campaign_id, "end", campaign.endDate)
        return to_campaign(stored)
    raise errors.Conflict(f"Campaign {campaign_id} is changing too often right now; retry.")


def copy_campaign(account_id: str, campaign_id: str, deep: bool) -> CampaignOut:
    """A new unpublished campaign with the same settings; `deep` copies its jobs (and their tasks) too."""
    source = require_campaign(account_id, campaign_id)
    content = {k: v for k, v in plain_numbers(source).items() if k in CampaignIn.model_fields}
    now = clock.iso(clock.now())
    for date in ("startDate", "endDate"):
        if content.get(date) and content[date] <= now:
            content.pop(date)  # a date already past would publish or end the copy at once
    job_ids = list(source.get("job_ids", []))
    if deep:  # every task of every job is copied: all of them count against the task quota at once
        jobs = job_store.get_many(account_id, job_ids, attributes=["task_ids"])
        reservation = quotas.reserve(account_id, sum(len(job.get("task_ids", [])) for job in jobs.values()))
        with reservation.given_back_on_failure():
            job_ids = [
                job_service.copy_job(account_id, job_id, deep=True, counted=False).id for job_id in job_ids
            ]
    return create_campaign(account_id, CampaignIn.model_validate(content), job_ids)


def set_archived(account_id: str, campaign_id: str, archived: bool, deep: bool = False) -> CampaignOut:
    """(Un)archive; a published campaign must end first. `deep` (un)archives its jobs and their tasks."""
    current = require_campaign(account_id, campaign_id)
    state = lifecycle.state_of(current)
    if archived and not lifecycle.archivable(state):
        raise errors.Conflict(
            f"Campaign {campaign_id} is {state}; cancel it or let it finish before archiving."
        )
    stored = campaign_store.set_archived(account_id, campaign_id, archived, _stamp(), state=state)
    if deep:
        for job_id in stored.get("job_ids", []):
            job_service.set_archived(account_id, job_id, archived, deep=True)
    return to_campaign(stored)


def change_jobs(account_id: str, campaign_id: str, job_ids: list[str], *, append: bool) -> list[str]:
    return list(CAMPAIGN_JOBS.change(account_id, campaign_id, job_ids, append=append).get("job_ids", []))


def jobs_page(account_id: str, campaign_id: str, limit: int, after: str | None) -> tuple[list[Any], bool]:
    campaign = require_campaign(account_id, campaign_id)
    page_ids, has_more = CAMPAIGN_JOBS.page(campaign, limit, after)
    return job_service.to_jobs(account_id, job_store.in_order(account_id, page_ids)), has_more


# ---------------------------------------------------------------- lifecycle
class Locked(NamedTuple):
    """A campaign's jobs and their tasks, id -> item (whole), as (un)locking them left them."""

    jobs: dict[str, dict[str, Any]]
    tasks: dict[str, dict[str, Any]]


NOTHING_LOCKED = Locked({}, {})


class Moved(NamedTuple):
    """What a transition did: to announce it, and for the coordinator to carry it to the market."""

    transition: Transition
    money: Decimal  # frozen by a publish, released by an end
    pool: bool  # the campaign has pool tasks (made with pool_id)
    campaign: dict[str, Any]  # the campaign item as the transition wrote it
    locked: Locked  # its jobs and their tasks as an end or a publish (un)locked them


def _check_publishable(campaign: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> None:
    """Refused unless it has pool tasks or jobs (`by_id`: as stored), each with tasks, none archived."""
    job_ids = list(campaign.get("job_ids", []))
    if not job_ids and not int(campaign.get("pool_tasks", 0)):
        raise errors.Conflict(
            "A campaign needs at least one job with at least one task, or tasks made for it with pool_id, "
            "before it can be published."
        )
    empty = [j for j in job_ids if not by_id.get(j, {}).get("task_ids")]
    archived = [j for j in job_ids if by_id.get(j, {}).get("archived")]
    if empty or archived:
        problems = ([f"jobs without tasks: {', '.join(empty)}"] if empty else []) + (
            [f"archived jobs: {', '.join(archived)}"] if archived else []
        )
        raise errors.Conflict(f"The campaign cannot be published: {'; '.join(problems)}.")


def publish(account_id: str, campaign_id: str) -> Moved:
    """unpublished -> active: freezes the budget and locks its jobs and tasks against edits.

    The market opens right after (services/flows/publishing.py); if the process dies first, the `market`
    step written with the transition makes the market scheduler open it.
    """
    for _ in range(_ATTEMPTS):
        campaign = require_campaign(account_id, campaign_id, consistent=True)
        transition = lifecycle.require("publish", lifecycle.state_of(campaign))
        account, jobs_now = campaign_store.publish_inputs(account_id, campaign.get("job_ids", []))
        _check_publishable(campaign, jobs_now)
        rate = Decimal(str(account.get("commissionRate", 0)))
        total = pricing.budget(campaign, rate)
        now = clock.iso(clock.now())
        steps: dict[str, str | None] = {"locks": now, "start": None, "market": now}
        if campaign.get("endDate"):
            steps["end"] = campaign["endDate"]
        fields = {
            "state": transition.target,
            "publishedAt": now,
            "frozen_total": total,
            "frozen_remaining": total,
            "commission_rate": rate,  # what each result's commission is taken at
            # the pool tasks this budget pays for; those counted later pay for themselves
            "pool_needed_published": int(campaign.get("pool_needed", 0)),
            **_stamp(),
        }
        try:
            campaign_store.transition(
                account_id,
                campaign_id,
                from_states=transition.sources,
                version=_version(campaign),
                fields=fields,
                freeze=total,
                steps=steps,
                events=[_moved_event(account_id, campaign_id, transition, total)],
            )
        except campaign_store.InsufficientBalance as exc:
            available = money.usd(account.get("balance_available", 0))
            raise errors.Conflict(
                f"Publishing needs {money.usd(total)} (workerPayment x results x jobs plus commission); "
                f"{available} is available. Credit the account or lower the campaign's size."
            ) from exc
        except campaign_store.StateChanged:
            continue  # changed under us (state, jobs or settings): decide again on what is there now
        # The transition held to the version read above, and a published campaign's jobs never change:
        # what it wrote is known, and locking its jobs needs no read of it.
        live = campaign_store.after_transition(campaign, fields, _version(campaign))
        locked = apply_locks(account_id, campaign_id, live)
        return Moved(transition, total, bool(int(campaign.get("pool_tasks", 0))), live, locked)
    raise errors.Conflict(f"Campaign {campaign_id} is changing too often right now; retry.")


def apply_locks(account_id: str, campaign_id: str, campaign: dict[str, Any] | None = None) -> Locked:
    """Lock the jobs, then the tasks they hold now (a job locked first cannot gain tasks meanwhile);
    an ended campaign unlocks them. Returns them as the (un)locking left them: each lock answers
    its item whole, so they need no read.

    `campaign`: the item a transition of this request just wrote (its jobs and state are known).
    Without it the campaign is read: idempotent, the `locks` step repeats it so after a crash.

    A publish and an end of the same campaign, in flight together, each (un)lock by the state
    their transition wrote, and the later write wins: an end unlocking before the publish locks
    would leave the work locked by an ended campaign. So a publish clears its `locks` step only as
    it scheduled it, and an end keeps its step due LOCKS_SETTLE longer: the scheduler then unlocks
    once more, by the campaign as it is, after any publish in flight has ended.
    """
    handed_in = campaign is not None
    if campaign is None:
        campaign = require_campaign(account_id, campaign_id, consistent=True)
    job_ids = list(campaign.get("job_ids", []))
    on = lifecycle.state_of(campaign) in lifecycle.LIVE
    jobs = job_store.lock(account_id, job_ids, campaign_id, on=on)
    task_ids = [t for item in jobs.values() for t in item.get("task_ids", [])]
    tasks = task_store.lock(account_id, task_ids, campaign_id, on=on)
    if not handed_in:
        campaign_store.clear_due(account_id, campaign_id, "locks")
    elif on:
        campaign_store.clear_due_as_scheduled(account_id, campaign_id, "locks", campaign["publishedAt"])
    else:
        settled = clock.iso(clock.now() + LOCKS_SETTLE)
        campaign_store.set_due(account_id, campaign_id, "locks", settled)
    return Locked(jobs, tasks)


def move(account_id: str, campaign_id: str, action: str) -> Moved:
    """pause, continue, cancel, finish: a conditional state change; ending releases what is still
    frozen (but what results in review may cost) and unlocks the jobs and tasks."""
    for _ in range(_ATTEMPTS):
        campaign = require_campaign(account_id, campaign_id, consistent=True)
        transition = lifecycle.require(action, lifecycle.state_of(campaign))
        ends = lifecycle.ends(transition)
        pool = bool(int(campaign.get("pool_tasks", 0)))
        remaining = Decimal(str(campaign.get("frozen_remaining", 0))) if ends else Decimal(0)
        # Results in review stay payable after the end: what they may cost (`owed`) stays frozen.
        # Every change of `owed` also moves `version`, so the transition below sees the same figure.
        owed = Decimal(str(campaign.get("owed", 0))) if ends else Decimal(0)
        remaining -= owed
        fields: dict[str, Any] = {"state": transition.target, **_stamp()}
        steps: dict[str, str | None] = {}
        if ends:
            fields.update(frozen_remaining=owed, endedAt=fields["lastModifiedAt"])
            steps = {"locks": fields["lastModifiedAt"], "end": None}
            if pool:  # its pool leaves the market even after a crash here
                steps["pool-close"] = fields["lastModifiedAt"]
        try:
            campaign_store.transition(
                account_id,
                campaign_id,
                from_states=transition.sources,
                version=_version(campaign),
                fields=fields,
                release=remaining,
                steps=steps,
                events=[_moved_event(account_id, campaign_id, transition, remaining)],
            )
        except campaign_store.StateChanged:
            continue
        after = campaign_store.after_transition(campaign, fields, _version(campaign))
        locked = NOTHING_LOCKED
        if ends:  # ended now: this unlocks (the jobs of a published campaign never change)
            locked = apply_locks(account_id, campaign_id, after)
        return Moved(transition, remaining, pool, after, locked)
    raise errors.Conflict(f"Campaign {campaign_id} is changing too often right now; retry.")


def _moved_event(
    account_id: str, campaign_id: str, transition: lifecycle.Transition, money_moved: Decimal
) -> dict[str, Any]:
    """The transition's event, committed with it: publishing says what it froze, the others what
    they released."""
    amount = "frozen" if transition.action == "publish" else "released"
    data = {"accountId": account_id, "campaignId": campaign_id, amount: str(money_moved)}
    return outbox.event_item(transition.event, data, account_id, campaign_id)


def pause(account_id: str, campaign_id: str) -> CampaignOut:
    return to_campaign(move(account_id, campaign_id, "pause").campaign)


def resume(account_id: str, campaign_id: str) -> CampaignOut:
    return to_campaign(move(account_id, campaign_id, "continue").campaign)


def report_publish_failed(account_id: str, campaign_id: str, reason: str) -> None:
    """A scheduled publish (startDate) was refused: the requester learns why from the event (nothing
    else changes, so the event is written on its own)."""
    data = {"accountId": account_id, "campaignId": campaign_id, "reason": reason}
    # The sweep may report one start again (a crash before it cleared the step, two sweeps at once):
    # the id derives from the campaign and its startDate, so the second write is the same event.
    item = campaign_store.get(account_id, campaign_id) or {}
    due = clock.parse(item.get("startDate")) or clock.now()
    event_id = outbox.derived_event_id(f"campaign.publish_failed:{campaign_id}", due)
    outbox.write(
        [outbox.event_item("campaign.publish_failed", data, account_id, campaign_id, event_id=event_id)]
    )
