"""Campaigns: their jobs, their lifecycle (publish, pause, continue, cancel, finish) and its money."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from crowdtask import clock, errors, ids, money
from crowdtask.models.base import MAX_MEMBERS
from crowdtask.models.campaigns import LOCKED_WHEN_PUBLISHED, CampaignIn, CampaignOut
from crowdtask.models.listing import ListQuery, Page
from crowdtask.services import jobs as job_service
from crowdtask.services import lifecycle
from crowdtask.services.jobs import JOBS
from crowdtask.services.members import MemberList
from crowdtask.services.tasks import TASKS
from crowdtask.store import accounts as account_store
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import dynamo, events, keys, sweeps
from crowdtask.store.collections import Collection

CAMPAIGNS = Collection("CAMPAIGN", shards=1)
_ATTEMPTS = 8


def _jobs_frozen(item: dict[str, Any]) -> str | None:
    state = item.get("state", "unpublished")
    return None if state == "unpublished" else f"the campaign is {state}"


CAMPAIGN_JOBS = MemberList(
    owners=CAMPAIGNS,
    members=JOBS,
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
    plain = dynamo.plain_numbers(item)
    state = item.get("state", "unpublished")
    return CampaignOut.model_validate(
        {
            **plain,
            "id": item["sk"],
            "state": state,
            "jobCount": len(item.get("job_ids", [])),
            "readOnly": state in lifecycle.ENDED,
            "archived": bool(item.get("archived", False)),
        }
    )


def require_campaign(account_id: str, campaign_id: str, *, consistent: bool = False) -> dict[str, Any]:
    item = CAMPAIGNS.get(account_id, campaign_id, consistent=consistent)
    if item is None:
        raise errors.NotFound(f"No campaign {campaign_id} in your account.")
    return item


# ---------------------------------------------------------------- CRUD
def create_campaign(account_id: str, campaign: CampaignIn, job_ids: list[str] | None = None) -> CampaignOut:
    campaign_id = ids.new_id()
    data = {
        **_content(campaign),
        **_stamp(created=True),
        "state": "unpublished",
        "archived": False,
        "job_ids": job_ids or [],
        "version": 0,
    }
    stored = CAMPAIGNS.put_new(account_id, campaign_id, data)
    if campaign.startDate:
        campaign_store.set_due(account_id, campaign_id, "start", campaign.startDate)
    return to_campaign(stored)


def get_campaign(account_id: str, campaign_id: str) -> CampaignOut:
    return to_campaign(require_campaign(account_id, campaign_id))


def list_campaigns(account_id: str, query: ListQuery) -> tuple[list[CampaignOut], Page]:
    page = CAMPAIGNS.list(account_id, query)
    return [to_campaign(item) for item in page.items], page


def _normal(value: Any) -> str:
    return json.dumps(dynamo.plain_numbers(value), sort_keys=True, default=str)


def replace_campaign(account_id: str, campaign_id: str, campaign: CampaignIn) -> CampaignOut:
    """PUT. Unpublished: anything. Active or paused: only what does not change the work or its pay."""
    new = _content(campaign)
    for _ in range(_ATTEMPTS):
        current = require_campaign(account_id, campaign_id, consistent=True)
        state = current.get("state", "unpublished")
        if state in lifecycle.ENDED:
            raise errors.Conflict(f"Campaign {campaign_id} is {state}; it can no longer be changed.")
        if state != "unpublished":
            changed = [f for f in LOCKED_WHEN_PUBLISHED if _normal(current.get(f)) != _normal(new.get(f))]
            if changed:
                raise errors.Conflict(
                    f"Campaign {campaign_id} is {state}: {', '.join(changed)} cannot change while published "
                    "(they decide what workers do and are paid)."
                )
        fields: dict[str, Any] = {name: new.get(name) for name in CampaignIn.model_fields}
        fields.update(_stamp(), version=int(current.get("version", 0)) + 1)
        try:
            stored = CAMPAIGNS.update(
                account_id,
                campaign_id,
                fields,
                condition="#state = :state AND #v = :v",
                names={"#state": "state", "#v": "version"},
                vals={":state": state, ":v": int(current.get("version", 0))},
            )
        except dynamo.ConditionFailed:
            continue
        if state == "unpublished":
            campaign_store.set_due(account_id, campaign_id, "start", campaign.startDate)
        elif current.get("endDate") != campaign.endDate:
            campaign_store.set_due(account_id, campaign_id, "end", campaign.endDate)
        return to_campaign(stored)
    raise errors.Conflict(f"Campaign {campaign_id} is changing too often right now; retry.")


def copy_campaign(account_id: str, campaign_id: str, deep: bool) -> CampaignOut:
    """A new unpublished campaign with the same settings; `deep` copies its jobs (and their tasks) too."""
    source = require_campaign(account_id, campaign_id)
    content = {k: v for k, v in dynamo.plain_numbers(source).items() if k in CampaignIn.model_fields}
    now = clock.iso(clock.now())
    for date in ("startDate", "endDate"):
        if content.get(date) and content[date] <= now:
            content.pop(date)  # a date already past would publish or end the copy at once
    job_ids = list(source.get("job_ids", []))
    if deep:
        job_ids = [job_service.copy_job(account_id, job_id, deep=True).id for job_id in job_ids]
    return create_campaign(account_id, CampaignIn.model_validate(content), job_ids)


def set_archived(account_id: str, campaign_id: str, archived: bool, deep: bool = False) -> CampaignOut:
    """(Un)archive; a published campaign must end first. `deep` (un)archives its jobs and their tasks."""
    current = require_campaign(account_id, campaign_id)
    state = current.get("state", "unpublished")
    if archived and state in {"active", "paused"}:
        raise errors.Conflict(
            f"Campaign {campaign_id} is {state}; cancel it or let it finish before archiving."
        )
    stored = CAMPAIGNS.update(
        account_id,
        campaign_id,
        {"archived": archived, **_stamp()},
        condition="attribute_exists(pk) AND #state = :state",
        names={"#state": "state"},
        vals={":state": state},
    )
    if deep:
        for job_id in stored.get("job_ids", []):
            job_service.set_archived(account_id, job_id, archived, deep=True)
    return to_campaign(stored)


def change_jobs(account_id: str, campaign_id: str, job_ids: list[str], *, append: bool) -> list[str]:
    return list(CAMPAIGN_JOBS.change(account_id, campaign_id, job_ids, append=append).get("job_ids", []))


def jobs_page(account_id: str, campaign_id: str, limit: int, after: str | None) -> tuple[list[Any], bool]:
    campaign = require_campaign(account_id, campaign_id)
    page_ids, has_more = CAMPAIGN_JOBS.page(campaign, limit, after)
    found = dynamo.batch_get((JOBS.pk(account_id, j), j) for j in page_ids)
    by_id = {sk: item for (_, sk), item in found.items()}
    return job_service.to_jobs(account_id, [by_id[j] for j in page_ids if j in by_id]), has_more


# ---------------------------------------------------------------- lifecycle
def budget(campaign: dict[str, Any], commission_rate: Decimal) -> Decimal:
    """What publishing freezes: workerPayment x (results x jobs + pool tasks' results), plus commission."""
    from crowdtask.services import pools

    results = int(campaign.get("results", 1)) * len(campaign.get("job_ids", []))
    results += int(campaign.get("pool_needed", 0))  # its pool tasks' results (services/pools.py)
    return pools.cost(campaign, results, commission_rate)


def _check_publishable(account_id: str, campaign: dict[str, Any]) -> None:
    job_ids = list(campaign.get("job_ids", []))
    if not job_ids and not int(campaign.get("pool_tasks", 0)):
        raise errors.Conflict(
            "A campaign needs at least one job with at least one task, or tasks made for it with pool_id, "
            "before it can be published."
        )
    if not job_ids:
        return
    found = dynamo.batch_get(
        ((JOBS.pk(account_id, j), j) for j in job_ids), attributes=["task_ids", "archived"]
    )
    by_id = {sk: item for (_, sk), item in found.items()}
    empty = [j for j in job_ids if not by_id.get(j, {}).get("task_ids")]
    archived = [j for j in job_ids if by_id.get(j, {}).get("archived")]
    if empty or archived:
        problems = ([f"jobs without tasks: {', '.join(empty)}"] if empty else []) + (
            [f"archived jobs: {', '.join(archived)}"] if archived else []
        )
        raise errors.Conflict(f"The campaign cannot be published: {'; '.join(problems)}.")


def publish(account_id: str, campaign_id: str) -> CampaignOut:
    """unpublished -> active: freezes the budget and locks its jobs and tasks against edits."""
    for _ in range(_ATTEMPTS):
        campaign = require_campaign(account_id, campaign_id, consistent=True)
        transition = lifecycle.require("publish", campaign.get("state", "unpublished"))
        _check_publishable(account_id, campaign)
        account = account_store.get(account_id) or {}
        rate = Decimal(str(account.get("commissionRate", 0)))
        total = budget(campaign, rate)
        now = clock.iso(clock.now())
        extra = [
            campaign_store.due_marker_op(account_id, campaign_id, "locks", now),
            dynamo.delete_op(*keys.campaign_due_marker(account_id, campaign_id, "start")),
            # the market opens right after; if this process dies first, the market scheduler does it
            campaign_store.due_marker_op(account_id, campaign_id, "market", now),
        ]
        if campaign.get("endDate"):
            extra.append(campaign_store.due_marker_op(account_id, campaign_id, "end", campaign["endDate"]))
        try:
            campaign_store.transition(
                CAMPAIGNS.pk(account_id, campaign_id),
                campaign_id,
                from_states=transition.sources,
                version=int(campaign.get("version", 0)),
                fields={
                    "state": transition.target,
                    "publishedAt": now,
                    "frozen_total": total,
                    "frozen_remaining": total,
                    "commission_rate": rate,  # what each result's commission is taken at (see budget)
                    # the pool tasks this budget pays for; those counted later pay for themselves
                    "pool_needed_published": int(campaign.get("pool_needed", 0)),
                    **_stamp(),
                },
                account_id=account_id,
                freeze=total,
                extra=extra,
            )
        except campaign_store.StateChanged:
            continue  # changed under us (state, jobs or settings): decide again on what is there now
        except campaign_store.InsufficientBalance as exc:
            available = money.usd(account.get("balance_available", 0))
            raise errors.Conflict(
                f"Publishing needs {money.usd(total)} (workerPayment x results x jobs plus commission); "
                f"{available} is available. Credit the account or lower the campaign's size."
            ) from exc
        apply_locks(account_id, campaign_id)
        from crowdtask.services import market  # imports this module: loaded here, not at import

        market.open_campaign(account_id, campaign_id)
        events.publish(
            transition.event, {"accountId": account_id, "campaignId": campaign_id, "frozen": str(total)}
        )
        return get_campaign(account_id, campaign_id)
    raise errors.Conflict(f"Campaign {campaign_id} is changing too often right now; retry.")


def apply_locks(account_id: str, campaign_id: str) -> None:
    """Lock the jobs, then the tasks they hold now (a job locked first cannot gain tasks meanwhile)."""
    campaign = require_campaign(account_id, campaign_id, consistent=True)
    job_ids = list(campaign.get("job_ids", []))
    on = campaign.get("state") in {"active", "paused"}
    campaign_store.lock(JOBS, account_id, job_ids, campaign_id, on=on)
    found = dynamo.batch_get(
        ((JOBS.pk(account_id, j), j) for j in job_ids), attributes=["task_ids"], consistent=True
    )
    task_ids = [t for item in found.values() for t in item.get("task_ids", [])]
    campaign_store.lock(TASKS, account_id, task_ids, campaign_id, on=on)
    campaign_store.clear_due(account_id, campaign_id, "locks")


def _move(account_id: str, campaign_id: str, action: str) -> CampaignOut:
    """pause, continue, cancel, finish: a conditional state change; ending releases what is still frozen."""
    for _ in range(_ATTEMPTS):
        campaign = require_campaign(account_id, campaign_id, consistent=True)
        transition = lifecycle.require(action, campaign.get("state", "unpublished"))
        ends = transition.target in lifecycle.ENDED
        remaining = Decimal(str(campaign.get("frozen_remaining", 0))) if ends else Decimal(0)
        # Results in review stay payable after the end: what they may cost (`owed`) stays frozen.
        # Every change of `owed` also moves `version`, so the transition below sees the same figure.
        owed = Decimal(str(campaign.get("owed", 0))) if ends else Decimal(0)
        remaining -= owed
        fields: dict[str, Any] = {"state": transition.target, **_stamp()}
        extra: list[dict[str, Any]] = []
        if ends:
            fields.update(frozen_remaining=owed, endedAt=fields["lastModifiedAt"])
            extra.append(
                campaign_store.due_marker_op(account_id, campaign_id, "locks", fields["lastModifiedAt"])
            )
            extra.append(dynamo.delete_op(*keys.campaign_due_marker(account_id, campaign_id, "end")))
            if int(campaign.get("pool_tasks", 0)):  # its pool leaves the market even after a crash here
                at = fields["lastModifiedAt"]
                extra.append(campaign_store.due_marker_op(account_id, campaign_id, "pool-close", at))
        try:
            campaign_store.transition(
                CAMPAIGNS.pk(account_id, campaign_id),
                campaign_id,
                from_states=transition.sources,
                version=int(campaign.get("version", 0)),
                fields=fields,
                account_id=account_id,
                release=remaining,
                extra=extra,
            )
        except campaign_store.StateChanged:
            continue
        if ends:
            apply_locks(account_id, campaign_id)  # state is ended now: this unlocks
            from crowdtask.services import market

            market.close_campaign(account_id, campaign_id)
            from crowdtask.services import pools

            # a big pool closes in steps: the scheduler carries on from the due mark
            if int(campaign.get("pool_tasks", 0)) and pools.close_pool(account_id, campaign_id):
                campaign_store.clear_due(account_id, campaign_id, "pool-close")
        events.publish(
            transition.event, {"accountId": account_id, "campaignId": campaign_id, "released": str(remaining)}
        )
        return get_campaign(account_id, campaign_id)
    raise errors.Conflict(f"Campaign {campaign_id} is changing too often right now; retry.")


def pause(account_id: str, campaign_id: str) -> CampaignOut:
    return _move(account_id, campaign_id, "pause")


def resume(account_id: str, campaign_id: str) -> CampaignOut:
    return _move(account_id, campaign_id, "continue")


def cancel(account_id: str, campaign_id: str) -> CampaignOut:
    return _move(account_id, campaign_id, "cancel")


def finish(account_id: str, campaign_id: str) -> CampaignOut:
    return _move(account_id, campaign_id, "finish")


# ---------------------------------------------------------------- schedule
def sweep_due(limit: int = 200) -> dict[str, int]:
    """Run the campaign steps that are due: startDate publishes, endDate finishes, pending locks apply.

    Reads only the due index and the campaigns concerned; a step is deleted only once done,
    and every step is idempotent, so a sweep that dies half way is simply run again.
    """
    now = clock.iso(clock.now())
    from crowdtask.services import pools

    done = {"start": 0, "end": 0, "locks": 0, "pool-close": 0}
    steps: dict[str, Any] = {
        "start": publish,
        "end": finish,
        "locks": apply_locks,
        "pool-close": pools.close_pool,
    }
    for kind, step in steps.items():
        for account_id, campaign_id, _ in campaign_store.due_steps(kind, now, limit):
            try:
                if step(account_id, campaign_id) is False:
                    continue  # a step taken in parts (closing a big pool): due again next time
            except errors.Conflict as refused:
                if kind == "start":
                    events.publish(
                        "campaign.publish_failed",
                        {"accountId": account_id, "campaignId": campaign_id, "reason": refused.description},
                    )
            except errors.NotFound:
                pass  # the campaign is gone: drop its step
            pk, sk = keys.campaign_due_marker(account_id, campaign_id, kind)
            sweeps.delete_if_due(pk, sk, now)
            done[kind] += 1
    return done
