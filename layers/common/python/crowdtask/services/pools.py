"""A campaign's pool tasks (made with `pool_id`): how they are counted, and how they reach the market.

Each pool task is worked like a job of one task: it gets its own market item, needing its
`overlap` results (fewer if its `process_count` says so). Its money is frozen like a job's:

- tasks stored while the campaign is unpublished only count into the campaign (`pool_tasks`,
  `pool_needed`); publishing freezes their cost with the jobs' and opens them on the market;
- tasks stored while it is active or paused freeze their cost when their chunk is counted, in
  the same transaction, and then go on the market. Each such chunk carries a due mark until its
  market items exist, so a crash in between is finished by the market scheduler.

Every counting update also moves the campaign's `version`, so a publish that read the campaign
before the tasks were counted is refused and decides again on the new figures.
Opening and closing many tasks happen in steps of at most STEP tasks per call; what is left
stays due (the campaign's `market` / `pool-close` steps) and the scheduler carries on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crowdtask import clock, ids, parallel
from crowdtask.numbers import plain_numbers
from crowdtask.observability import logger
from crowdtask.services import lifecycle, market_terms, pricing
from crowdtask.store import accounts as account_store
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import market as market_store
from crowdtask.store import operations as operation_store
from crowdtask.store import tasks as task_store

STEP = 2_000


# ---------------------------------------------------------------- counting a chunk's tasks
@dataclass(frozen=True)
class Changes:
    operations: list[dict[str, Any]]
    live: list[str]  # campaigns whose tasks go on the market once the changes are through
    pays: bool  # the last operation freezes the account's money
    unfunded: int  # tasks of live campaigns counted without their cost (fund=False)


@dataclass(frozen=True)
class Chunk:
    """Where a chunk's tasks are: their ids are derived from `base_id` and the indexes in `ranges`."""

    operation_id: str
    number: int
    base_id: str
    ranges: list[list[int]]


def chunk_changes(
    account_id: str, chunk: Chunk, per_pool: dict[str, tuple[int, int]], *, fund: bool = True
) -> Changes:
    """Transaction operations that count a chunk's pool tasks into their campaigns.

    `per_pool` maps campaign -> (tasks, results needed). Returns the operations and the live
    campaigns among them, whose tasks must go on the market once the transaction is through.
    Reading the campaigns and conditioning on their state makes a concurrent publish or end safe:
    the transaction fails and the caller reads again.
    """
    by_id = campaign_store.get_many(account_id, per_pool, consistent=True)
    operations: list[dict[str, Any]] = []
    live: list[str] = []
    frozen = Decimal(0)
    unfunded = 0
    for campaign_id, (count, results) in sorted(per_pool.items()):
        campaign = by_id.get(campaign_id)
        state = lifecycle.state_of(campaign or {})
        if campaign is None or not lifecycle.takes_tasks(state):
            continue  # gone or ended since validation: the tasks are stored, there is nothing to count into
        cost: Decimal | None = None
        if state in lifecycle.LIVE:
            cost = pricing.cost(campaign, results, Decimal(str(campaign.get("commission_rate", 0))))
            if fund:
                frozen += cost
                live.append(campaign_id)
            else:
                unfunded += count
        operations.append(
            campaign_store.count_pool_op(
                account_id,
                campaign_id,
                seen_state=state,
                tasks=count,
                results=results,
                cost=cost,
                funded=fund,
            )
        )
        if state == lifecycle.UNPUBLISHED:  # publishing opens this chunk's tasks (and pays for them)
            operations.append(
                campaign_store.pool_chunk_op(
                    campaign_id, chunk.operation_id, chunk.number, chunk.base_id, chunk.ranges
                )
            )
    if frozen:
        operations.append(account_store.freeze(account_store.balance_change(account_id), frozen).op())
    return Changes(operations, live, pays=bool(frozen), unfunded=unfunded)


# ---------------------------------------------------------------- market items
def put_on_market(campaign: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
    """Market items for these tasks of a live campaign (those that exist are kept as they are)."""
    published = clock.parse(campaign.get("publishedAt")) or clock.now()
    terms = [market_terms.pool_task_terms(campaign, task, published) for task in tasks]
    parallel.each(lambda t: market_store.open_job(t, market_terms.region_cell(t)), terms)


def read_tasks(account_id: str, task_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The stored tasks (strongly consistent: they may have been written a moment ago)."""
    found = task_store.get_many(account_id, task_ids, consistent=True)
    return [plain_numbers(item) for item in found.values()]


def open_chunk(account_id: str, campaign_ids: list[str], tasks: list[dict[str, Any]]) -> None:
    """The market items of a counted chunk's tasks, for the campaigns that were live when it was counted."""
    by_id = campaign_store.get_many(account_id, campaign_ids, consistent=True)
    for campaign_id in campaign_ids:
        campaign = by_id.get(campaign_id)
        if campaign is None or lifecycle.state_of(campaign) not in lifecycle.LIVE:
            continue  # ended meanwhile: nothing to open
        put_on_market(campaign, [t for t in tasks if t.get("pool_id") == campaign_id])


# ---------------------------------------------------------------- walking a campaign's pool
def open_pool(account_id: str, campaign: dict[str, Any], step: int | None = None) -> bool:
    """Open up to about `step` more of the pool tasks publishing paid for; True when all are open.

    Those are the tasks of the chunks counted while the campaign was unpublished: tasks that
    arrived later went on the market when they were counted, or stay off it unfunded.
    """
    if not int(campaign.get("pool_needed_published", 0)):
        return True
    step = step or STEP
    campaign_id = campaign["id"]
    opened = 0
    last: str | None = None
    done = stop = False
    for chunks, more in campaign_store.pool_chunks(campaign_id, campaign.get("pool_opened")):
        for n, record in enumerate(chunks):
            task_ids = chunk_task_ids(record["base_id"], record["ranges"])
            found = read_tasks(account_id, task_ids)
            if len(found) < len(task_ids):  # counted, so written: a task missing now is read again later
                raise RuntimeError(
                    f"pool chunk {record['cursor']} of campaign {campaign_id}: tasks not readable yet"
                )
            put_on_market(campaign, [t for t in found if t.get("pool_id") == campaign_id])
            opened += len(task_ids)
            last = record["cursor"]
            if opened >= step and (n < len(chunks) - 1 or more):
                stop = True  # enough for one step; more chunks are waiting
                break
        if stop:
            break
        if not more:
            done = True
            break
    if last is not None:
        campaign_store.set_pool_opened(account_id, campaign_id, last)
    return done


def close_pool(account_id: str, campaign_id: str, step: int | None = None) -> bool:
    """The campaign ended: up to `step` more of its pool tasks leave the market; True when all have."""
    campaign = campaign_store.get(account_id, campaign_id, consistent=True)
    if campaign is None or not int(campaign.get("pool_tasks", 0)):
        return True
    task_ids, cursors, done = task_store.pool_task_ids(
        campaign_id, campaign.get("pool_closed") or {}, step or STEP
    )
    campaign_store.set_pool_closed(account_id, campaign_id, cursors)
    parallel.each(lambda task_id: market_store.close_item(campaign_id, task_id), task_ids)
    return done


def chunk_task_ids(base_id: str, ranges: Iterable[Iterable[int]]) -> list[str]:
    return [ids.derived_id(base_id, index) for start, end in ranges for index in range(int(start), int(end))]


def finish_pending_chunks(now_iso: str, limit: int) -> int:
    """Chunks counted into live campaigns whose market items may not all exist (a crash in between)."""
    done = 0
    for record in operation_store.pending_market_chunks(now_iso, limit):
        try:
            tasks = read_tasks(record["account_id"], chunk_task_ids(record["base_id"], record["ranges"]))
            open_chunk(record["account_id"], list(record["market_pending"]), tasks)
            operation_store.clear_pending(record)
        except Exception:  # one bad record must not hold up the other sweeps
            logger.exception(
                "opening a chunk's pool tasks failed; retried next time", extra={"chunk": record["cursor"]}
            )
            continue
        done += 1
    return done
