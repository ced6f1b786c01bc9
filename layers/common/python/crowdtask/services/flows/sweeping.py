"""The scheduled sweeps: the campaign steps and the market's work that are due, each done once."""

from __future__ import annotations

from typing import Any

from crowdtask import clock, errors
from crowdtask.observability import logger
from crowdtask.services import assignments, campaigns, market, pools, quality, results
from crowdtask.services.flows.publishing import finish, finish_if_complete, go_live, open_market
from crowdtask.services.flows.reviewing import judge, reviewed_events
from crowdtask.store import campaigns as campaign_store

CAMPAIGN_STEPS_LIMIT = 200
MARKET_SWEEP_LIMIT = 2000


def sweep_campaign_steps(limit: int = CAMPAIGN_STEPS_LIMIT) -> dict[str, int]:
    """Run the campaign steps that are due: startDate publishes, endDate finishes, pending locks apply,
    an ended campaign's pool goes on leaving the market.

    Reads only the due index and the campaigns concerned; a step is deleted only once done,
    and every step is idempotent, so a sweep that dies half way is simply run again.
    """
    now = clock.iso(clock.now())
    done = {"start": 0, "end": 0, "locks": 0, "pool-close": 0}
    steps: dict[str, Any] = {
        "start": go_live,
        "end": finish,
        "locks": campaigns.apply_locks,
        "pool-close": pools.close_pool,
    }
    for kind, step in steps.items():
        for account_id, campaign_id in campaign_store.due_steps(kind, now, limit):
            try:
                if step(account_id, campaign_id) is False:
                    continue  # a step taken in parts (closing a big pool): due again next time
            except errors.Conflict as refused:
                if kind == "start":
                    campaigns.report_publish_failed(account_id, campaign_id, refused.description)
            except errors.NotFound:
                pass  # the campaign is gone: drop its step
            campaign_store.clear_due_step(account_id, campaign_id, kind, now)
            done[kind] += 1
    return done


def sweep_market(limit: int = MARKET_SWEEP_LIMIT) -> dict[str, Any]:
    """The market's scheduled work, each kind found through the sweep index only:

    markets a publish left to open, pool chunks a crash left off the market, assignment
    time-outs, auto-approval, task_ttl expiry, repeats and quality actions a crash left without
    an outcome; then every campaign they touched that needs nothing more finishes. Every action
    is a conditional write keyed to the state it was found in (or rewrites what it wrote before),
    so a sweep that dies half way, or two at once, do each thing once.
    """
    now = clock.now()
    now_iso = clock.iso(now)
    markets = 0
    for account_id, campaign_id in market.pending_openings(now_iso, limit):
        try:
            open_market(account_id, campaign_id)
        except Exception:
            logger.exception("opening a market failed; retried next time", extra={"campaign": campaign_id})
            continue
        markets += 1
    chunks = pools.finish_pending_chunks(now_iso, limit)
    expired, touched, ended = assignments.expire_due(now_iso, limit)
    finish_if_complete(touched)
    judge(
        quality.Event(f"{a['id']}:expired", "skip", a["requester_id"], a["campaign_id"], a["worker_id"])
        for a in ended
    )
    reviews, touched, reviewed = results.approve_due(now_iso, limit)
    reviews["finished"] = len(finish_if_complete(touched))
    judge(reviewed_events("review", reviewed, "approved"))
    jobs_expired, touched = market.expire_jobs(now_iso, limit)
    finish_if_complete(touched)
    repeats, touched = market.run_repeats(now, limit)
    finish_if_complete(touched)
    quality_actions, touched = quality.finish_unfinished(now_iso, limit)
    finish_if_complete(touched)
    return {
        "markets_opened": markets,
        "pool_chunks_opened": chunks,
        "assignments_expired": expired,
        "results": reviews,
        "jobs_expired": jobs_expired,
        "repeats": repeats,
        "quality_actions_finished": quality_actions,
    }
