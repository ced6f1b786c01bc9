"""A campaign's lifecycle as it reaches the market, and its end once nothing is outstanding.

Publishing opens its jobs and its pool tasks on the market, ending closes them; each transition
is announced once all of it is done. A campaign finishes when its needed results are all in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crowdtask import errors
from crowdtask.models.campaigns import CampaignOut
from crowdtask.observability import logger
from crowdtask.services import campaigns, lifecycle, market, pools
from crowdtask.store import campaigns as campaign_store


def publish(account_id: str, campaign_id: str) -> CampaignOut:
    """unpublished -> active, then its jobs and pool tasks go on the market; the campaign as it is then."""
    current = go_live(account_id, campaign_id)
    if current is None:
        return campaigns.get_campaign(account_id, campaign_id)
    return campaigns.to_campaign(current)


def go_live(account_id: str, campaign_id: str) -> dict[str, Any] | None:
    """publish, for callers that do not show the campaign (an upload's open_pool, the startDate step).

    The campaign as this left it when that is known without reading it (see open_market), else None.
    """
    moved = campaigns.publish(account_id, campaign_id)
    return open_market(account_id, campaign_id, moved)


def open_market(
    account_id: str, campaign_id: str, published: campaigns.Moved | None = None
) -> dict[str, Any] | None:
    """The market of a live campaign: its jobs, then its pool tasks in steps of pools.STEP.

    A big pool opens in steps: until the last one, the campaign's `market` step stays due and the
    market scheduler carries on. A failure leaves it due too (safe to run again).
    `published`: the publish this request just made, whose campaign, jobs and tasks need no read again
    (the `market` step reads them). Returns the campaign as this left it when that is known exactly:
    its count written here and no pool cursor moved after it; None otherwise.
    """
    if published is None:
        opened = market.open_campaign(account_id, campaign_id)
    else:
        jobs, tasks = published.locked
        opened = market.open_campaign(account_id, campaign_id, published.campaign, jobs, tasks)
    if opened is None:
        return None
    try:
        if not pools.open_pool(account_id, opened.campaign):
            return None
    except Exception:
        logger.exception(
            "opening the pool tasks failed; the market scheduler carries on", extra={"campaign": campaign_id}
        )
        return None
    market.opened(account_id, campaign_id)
    pool_moved = bool(int(opened.campaign.get("pool_needed_published", 0)))  # open_pool wrote its cursor
    return opened.campaign if opened.counted and not pool_moved else None


def cancel(account_id: str, campaign_id: str) -> CampaignOut:
    return _end(account_id, campaign_id, "cancel")


def finish(account_id: str, campaign_id: str) -> CampaignOut:
    return _end(account_id, campaign_id, "finish")


def _end(account_id: str, campaign_id: str, action: str) -> CampaignOut:
    """Cancel or finish: what is still frozen goes back, and the campaign's work leaves the market."""
    moved = campaigns.move(account_id, campaign_id, action)
    market.close_campaign(moved.campaign)
    if not moved.pool:  # nothing wrote to the campaign since the transition
        return campaigns.to_campaign(moved.campaign)
    # a big pool closes in steps: the scheduler carries on from the campaign's `pool-close` step
    if pools.close_pool(account_id, campaign_id):
        campaign_store.clear_due(account_id, campaign_id, "pool-close")
    return campaigns.get_campaign(account_id, campaign_id)  # closing its pool moved a cursor on it


def finish_if_complete(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """Finish every live campaign (account, campaign) whose needed results are all in; those finished."""
    finished = []
    for (account_id, campaign_id), progress in campaign_store.progress(pairs, consistent=True).items():
        outstanding = progress.get("results_outstanding")
        if lifecycle.state_of(progress) not in lifecycle.LIVE or outstanding is None or int(outstanding) > 0:
            continue
        try:
            finish(account_id, campaign_id)
        except errors.Conflict:
            continue  # finished (or cancelled) by someone else meanwhile
        finished.append(campaign_id)
    return finished
