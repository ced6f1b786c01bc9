"""The market's scheduled work, each kind found through the sweep index (by_due) only.

- assignment time-outs: an open assignment past its upload deadline (`submitBy`) expires and
  its slot goes back (a soft-reject's redo that runs out is one of these);
- auto-approval: a result still in review when its review window closes is approved;
- task_ttl: a job whose time on the market is over is closed; its unfilled slots are dropped
  from what the campaign needs, so the campaign can still finish;
- repeats: after_completion opens one slot; daily/weekly/monthly/yearly top the job up to its
  needed results and re-arm for the next occurrence;
- market openings a publish left undone (the process died between publishing and opening).

Every action is a conditional write keyed to the state it was found in, so a sweep that dies half
way, or two that run at once, do each thing once. The cost follows what is due, not the table.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from crowdtask import clock
from crowdtask.observability import logger
from crowdtask.services import assignments, market, pools, repeats, results
from crowdtask.services.campaigns import CAMPAIGNS
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import dynamo, events, keys, sweeps
from crowdtask.store import market as market_store
from crowdtask.store.changes import Change

DEFAULT_LIMIT = 2000


def sweep(limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    now = clock.now()
    now_iso = clock.iso(now)
    return {
        "markets_opened": open_pending_markets(now_iso, limit),
        "pool_chunks_opened": pools.finish_pending_chunks(now_iso, limit),
        "assignments_expired": expire_assignments(now_iso, limit),
        "results": results.approve_due(now_iso, limit),
        "jobs_expired": expire_jobs(now_iso, limit),
        "repeats": run_repeats(now, limit),
    }


def open_pending_markets(now_iso: str, limit: int) -> int:
    opened = 0
    for account_id, campaign_id, _ in campaign_store.due_steps("market", now_iso, limit):
        try:
            market.open_campaign(account_id, campaign_id)
        except Exception:
            logger.exception("opening a market failed; retried next time", extra={"campaign": campaign_id})
            continue
        opened += 1
    return opened


def expire_assignments(now_iso: str, limit: int) -> int:
    """Open assignments past `submitBy` expire; their slots go back (or, on closed jobs, are dropped)."""
    expired = 0
    dropped: dict[tuple[str, str], None] = {}
    published = []
    for found in sweeps.due_items("assignment", now_iso, limit, shards=keys.BUSY_DUE_SHARDS):
        entry = found if "requester_id" in found else dynamo.get(found["pk"], found["sk"], consistent=True)
        if entry is None:
            continue  # the index does not project what the time-out writes from (yet), and the item is gone
        try:
            dead = assignments.end_assignment(entry, "expired")
        except assignments.NotOpen:
            continue  # submitted or released meanwhile
        except dynamo.TransactionConflict:
            logger.exception(
                "expiring an assignment failed; retried next time", extra={"assignment": entry["sk"]}
            )
            continue
        expired += 1
        if dead:
            dropped[(entry["requester_id"], entry["campaign_id"])] = None
        published.append(
            (
                "assignment.expired",
                {
                    "assignmentId": entry["sk"],
                    "workerId": entry["worker_id"],
                    "jobId": entry["job_id"],
                    "campaignId": entry["campaign_id"],
                },
            )
        )
    events.publish_many(published)
    results.finish_if_complete(dropped)
    return expired


def expire_jobs(now_iso: str, limit: int) -> int:
    """Jobs past their task_ttl leave the market for good."""
    closed = 0
    touched: dict[tuple[str, str], None] = {}
    for entry in sweeps.due_items("market-ttl", now_iso, limit):
        try:
            item = _close_expired(entry["job_id"], entry["campaign_id"])
        except dynamo.TransactionConflict:
            logger.exception(
                "closing an expired job failed; retried next time", extra={"job": entry["job_id"]}
            )
            continue
        if item is None:
            continue
        closed += 1
        touched[(item["account_id"], item["campaign_id"])] = None
        events.publish("job.expired", {"jobId": item["job_id"], "campaignId": item["campaign_id"]})
    results.finish_if_complete(touched)
    return closed


def _close_expired(job_id: str, campaign_id: str) -> dict[str, Any] | None:
    """Close one expired job; its unfilled slots (and a calendar repeat) no longer count as needed."""
    for _attempt in range(8):
        item = market_store.get_market_item(job_id, campaign_id)
        if item is None or item.get("closed"):
            return None  # closed by another sweep, or with its campaign
        remaining = int(item.get("remaining", 0))
        calendar = bool(item.get("repeat")) and "repeat_after" not in item
        changes: list[Change | dict[str, Any]] = [
            market_store.close_change(market_store.market_change(job_id, campaign_id), remaining)
        ]
        if remaining or calendar:
            changes.append(
                market_store.campaign_change(CAMPAIGNS.pk(item["account_id"], campaign_id), campaign_id).add(
                    "results_outstanding", -(remaining + int(calendar))
                )
            )
        if calendar:
            changes.append(dynamo.delete_op(*keys.repeat_calendar(campaign_id, job_id)))
        try:
            _transact(changes)
        except dynamo.TransactionConflict as exc:
            if market.failed(exc, 0):
                continue  # a slot moved meanwhile: read again
            raise
        return item
    return None


# ---------------------------------------------------------------- repeats
def run_repeats(now: datetime, limit: int) -> dict[str, int]:
    done = {"reopened": 0, "skipped": 0}
    touched: dict[tuple[str, str], None] = {}
    for entry in sweeps.due_items("repeat", clock.iso(now), limit):
        item = dynamo.get(entry["pk"], entry["sk"], consistent=True)
        if item is None or item.get("due_sk") != entry.get("due_sk"):
            continue  # done (or re-armed) by another sweep
        outcome = (
            _reopen_once(item) if item.get("kind") == "after_completion" else _reopen_calendar(item, now)
        )
        done[outcome] += 1
        if outcome == "skipped":
            touched[(item["account_id"], item["campaign_id"])] = None
    results.finish_if_complete(touched)
    return done


def _money(item: dict[str, Any], slots: int) -> tuple[Change, Change]:
    """The campaign and account changes that freeze what `slots` more results will cost."""
    cost = (Decimal(str(item["payment"])) + Decimal(str(item["commission"]))) * slots
    campaign = market_store.campaign_change(
        CAMPAIGNS.pk(item["account_id"], item["campaign_id"]), item["campaign_id"]
    )
    campaign.add("frozen_remaining", cost).add("frozen_total", cost).add("version", 1)
    campaign.require("{state} IN (:active, :paused)", active="active", paused="paused")
    return campaign, market_store.freeze(market_store.account_change(item["account_id"]), cost)


def _reopen_once(item: dict[str, Any]) -> str:
    """after_completion: one more slot, paid for now; dropped when it cannot be (ended, closed, no money)."""
    campaign, account = _money(item, 1)
    slot = market_store.give_back_slot(market_store.market_change(item["job_id"], item["campaign_id"]))
    try:
        _transact([market_store.delete_if_exists(item["pk"], item["sk"]), slot, campaign, account])
    except dynamo.TransactionConflict as exc:
        if market.failed(exc, 0):
            return "skipped"  # done by another sweep
        drop = market_store.campaign_change(
            CAMPAIGNS.pk(item["account_id"], item["campaign_id"]), item["campaign_id"]
        ).add("results_outstanding", -1)
        try:
            _transact([market_store.delete_if_exists(item["pk"], item["sk"]), drop])
        except dynamo.TransactionConflict:
            return "skipped"
        _skipped(item, "the campaign ended, the job closed or the balance cannot pay for another result")
        return "skipped"
    events.publish("job.reopened", {"jobId": item["job_id"], "campaignId": item["campaign_id"], "slots": 1})
    return "reopened"


def _reopen_calendar(item: dict[str, Any], now: datetime) -> str:
    """A calendar repeat: top the job up to its needed results, then wait for the next occurrence."""
    repeat = repeats.parse(str(item["schedule"]), None)
    assert repeat is not None
    anchor = datetime.fromisoformat(str(item.get("publishedAt") or clock.iso(now)) + "+00:00")
    next_iso = clock.iso(repeats.next_occurrence(repeat, now, anchor))

    def rearm() -> Change:
        return market_store.rearm_change(item["pk"], item["sk"], str(item["due_sk"]), next_iso)

    market_item = market_store.get_market_item(item["job_id"], item["campaign_id"])
    if market_item is None or market_item.get("closed"):
        _transact_quietly([market_store.delete_if_exists(item["pk"], item["sk"])])
        return "skipped"
    remaining = int(market_item.get("remaining", 0))
    top_up = max(0, int(item.get("needed", 1)) - remaining)
    if not top_up:
        _transact_quietly([rearm()])
        return "reopened"
    campaign, account = _money(item, top_up)
    campaign.add("results_outstanding", top_up)
    slots = market_store.give_back_slot(
        market_store.market_change(item["job_id"], item["campaign_id"]), top_up
    )
    slots.require("{remaining} = :seen", seen=remaining)
    try:
        _transact([rearm(), slots, campaign, account])
    except dynamo.TransactionConflict as exc:
        if market.failed(exc, 0):
            return "skipped"  # re-armed by another sweep
        _transact_quietly([rearm()])
        _skipped(item, "the job changed, the campaign ended or the balance cannot pay for another round")
        return "skipped"
    events.publish(
        "job.reopened", {"jobId": item["job_id"], "campaignId": item["campaign_id"], "slots": top_up}
    )
    return "reopened"


def _transact(changes: list[Change | dict[str, Any]]) -> None:
    dynamo.retry_contended(lambda: market_store.transact(changes))


def _transact_quietly(changes: list[Change | dict[str, Any]]) -> None:
    """For writes whose condition failing means another sweep did them already."""
    with contextlib.suppress(dynamo.TransactionConflict):
        _transact(changes)


def _skipped(item: dict[str, Any], reason: str) -> None:
    events.publish(
        "job.repeat_skipped", {"jobId": item["job_id"], "campaignId": item["campaign_id"], "reason": reason}
    )
