"""A campaign's pool tasks (made with `pool_id`): what they cost, and how they reach the market.

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

from crowdtask import clock, ids, money, parallel
from crowdtask.observability import logger
from crowdtask.store import dynamo, keys
from crowdtask.store import market as market_store

STEP = 2_000
LIVE = market_store.LIVE_STATES


def needed(content: dict[str, Any]) -> int:
    """Results one pool task needs: its overlap, narrowed by its process_count."""
    overlap = int(content.get("overlap") or 1)
    process_count = int(content.get("process_count") or 0)
    return min(overlap, process_count) if process_count > 0 else overlap


def cost(campaign: dict[str, Any], results: int, rate: Decimal) -> Decimal:
    """What `results` results of the campaign cost with the commission: what is frozen for them."""
    payment = Decimal(str(campaign.get("workerPayment", 0)))
    return money.amount(payment * results * (1 + rate))


# ---------------------------------------------------------------- counting a chunk's tasks
def _campaigns(account_id: str, campaign_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    from crowdtask.services.campaigns import CAMPAIGNS

    found = dynamo.batch_get(((CAMPAIGNS.pk(account_id, c), c) for c in campaign_ids), consistent=True)
    return {sk: item for (_, sk), item in found.items()}


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
    from crowdtask.services.campaigns import CAMPAIGNS

    by_id = _campaigns(account_id, per_pool)
    operations: list[dict[str, Any]] = []
    live: list[str] = []
    frozen = Decimal(0)
    unfunded = 0
    for campaign_id, (count, results) in sorted(per_pool.items()):
        campaign = by_id.get(campaign_id)
        state = (campaign or {}).get("state", "unpublished")
        if campaign is None or state not in ("unpublished", *LIVE):
            continue  # gone or ended since validation: the tasks are stored, there is nothing to count into
        vals: dict[str, Any] = {":n": count, ":r": results, ":one": 1, ":state": state}
        expression = "ADD pool_tasks :n, pool_needed :r, version :one"
        if state in LIVE and not fund:
            expression = "ADD pool_tasks :n, pool_unfunded :n, version :one"
            vals.pop(":r")
            unfunded += count
        elif state in LIVE:
            amount = cost(campaign, results, Decimal(str(campaign.get("commission_rate", 0))))
            expression += ", results_outstanding :r, frozen_total :c, frozen_remaining :c"
            vals[":c"] = amount
            frozen += amount
            live.append(campaign_id)
        operations.append(
            dynamo.update_op(
                CAMPAIGNS.pk(account_id, campaign_id),
                campaign_id,
                expression,
                "#state = :state",
                names={"#state": "state"},
                vals=vals,
            )
        )
        if state == "unpublished":  # publishing opens this chunk's tasks (and pays for them)
            pk, sk = keys.pool_chunk(campaign_id, chunk.operation_id, chunk.number)
            record = {
                "pk": pk,
                "sk": sk,
                "type": "pool-chunk",
                "base_id": chunk.base_id,
                "ranges": chunk.ranges,
            }
            operations.append(dynamo.put_op(record))
    if frozen:
        operations.append(
            dynamo.update_op(
                *keys.account(account_id),
                "SET balance_available = balance_available - :amount, "
                "balance_frozen = if_not_exists(balance_frozen, :zero) + :amount",
                "balance_available >= :amount",
                vals={":amount": frozen, ":zero": Decimal(0)},
            )
        )
    return Changes(operations, live, pays=bool(frozen), unfunded=unfunded)


# ---------------------------------------------------------------- market items
def _market_items(campaign: dict[str, Any], tasks: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    from crowdtask.services import market

    published = market.parse_time(campaign.get("publishedAt")) or clock.now()
    items = []
    for task in tasks:
        job = {
            "sk": task["sk"],
            "account_id": task["account_id"],
            "task_ids": [task["sk"]],
            "name": task.get("name"),
        }
        terms = market.job_terms(campaign, job, [task], published)
        terms["remaining"] = terms["needed"] = needed(task)
        items.append(market_store.market_item(terms, market.region_cell(terms)))
    return items


def put_on_market(campaign: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
    """Market items for these tasks of a live campaign (those that exist are kept as they are)."""
    parallel.each(market_store.put_new, _market_items(campaign, tasks))


def read_tasks(account_id: str, task_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The stored tasks (strongly consistent: they may have been written a moment ago)."""
    from crowdtask.services.tasks import TASKS

    found = dynamo.batch_get(((TASKS.pk(account_id, t), t) for t in task_ids), consistent=True)
    return [dynamo.plain_numbers(item) for item in found.values()]


def open_chunk(account_id: str, campaign_ids: list[str], tasks: list[dict[str, Any]]) -> None:
    """The market items of a counted chunk's tasks, for the campaigns that were live when it was counted."""
    by_id = _campaigns(account_id, campaign_ids)
    for campaign_id in campaign_ids:
        campaign = by_id.get(campaign_id)
        if campaign is None or campaign.get("state") not in LIVE:
            continue  # ended meanwhile: nothing to open
        put_on_market(campaign, [t for t in tasks if t.get("pool_id") == campaign_id])


# ---------------------------------------------------------------- walking a campaign's pool
def _next_to_close(account_id: str, campaign: dict[str, Any], step: int) -> tuple[list[str], bool]:
    """Up to `step` more of the campaign's pool task ids past the `pool_closed` cursors; (ids, done)."""
    campaign_id = campaign["sk"]
    cursors: dict[str, str] = dict(campaign.get("pool_closed") or {})
    picked: list[str] = []
    done = True
    for partition in keys.pool_tasks_partitions(campaign_id):
        room = step - len(picked)
        if room <= 0:
            done = False
            break
        condition, vals = "gsi2pk = :p", {":p": partition}
        if partition in cursors:
            condition += " AND gsi2sk > :c"
            vals[":c"] = cursors[partition]
        rows, more = dynamo.query(index="gsi2", key_condition=condition, vals=vals, limit=room)
        picked.extend(row["sk"] for row in rows)
        if rows:
            cursors[partition] = rows[-1]["sk"]
        if more is not None:
            done = False  # this partition has more: the next step carries on from its cursor
    dynamo.update(*_campaign_key(account_id, campaign_id), "SET pool_closed = :c", vals={":c": cursors})
    return picked, done


def _campaign_key(account_id: str, campaign_id: str) -> tuple[str, str]:
    from crowdtask.services.campaigns import CAMPAIGNS

    return CAMPAIGNS.pk(account_id, campaign_id), campaign_id


def open_pool(account_id: str, campaign: dict[str, Any], step: int | None = None) -> bool:
    """Open up to about `step` more of the pool tasks publishing paid for; True when all are open.

    Those are the tasks of the chunks counted while the campaign was unpublished (POOLCHUNKS):
    tasks that arrived later went on the market when they were counted, or stay off it unfunded.
    """
    if not int(campaign.get("pool_needed_published", 0)):
        return True
    step = step or STEP
    campaign_id = campaign["sk"]
    condition, vals = "pk = :p", {":p": keys.pool_chunks_partition(campaign_id)}
    if campaign.get("pool_opened"):
        condition += " AND sk > :c"
        vals[":c"] = campaign["pool_opened"]
    opened = 0
    last: str | None = None
    start: dict[str, Any] | None = None
    done = False
    while not done and opened < step:
        chunks, start = dynamo.query(
            key_condition=condition, vals=vals, limit=25, start_key=start, consistent=True
        )
        for n, record in enumerate(chunks):
            task_ids = chunk_task_ids(record["base_id"], record["ranges"])
            found = read_tasks(account_id, task_ids)
            if len(found) < len(task_ids):  # counted, so written: a task missing now is read again later
                raise RuntimeError(
                    f"pool chunk {record['sk']} of campaign {campaign_id}: tasks not readable yet"
                )
            put_on_market(campaign, [t for t in found if t.get("pool_id") == campaign_id])
            opened += len(task_ids)
            last = record["sk"]
            if opened >= step and (n < len(chunks) - 1 or start is not None):
                break  # enough for one step; more chunks are waiting
        else:
            done = start is None
    if last is not None:
        dynamo.update(*_campaign_key(account_id, campaign_id), "SET pool_opened = :c", vals={":c": last})
    return done


def close_pool(account_id: str, campaign_id: str, step: int | None = None) -> bool:
    """The campaign ended: up to `step` more of its pool tasks leave the market; True when all have."""
    from crowdtask.services import market
    from crowdtask.services.campaigns import CAMPAIGNS

    campaign = CAMPAIGNS.get(account_id, campaign_id, consistent=True)
    if campaign is None or not int(campaign.get("pool_tasks", 0)):
        return True
    task_ids, done = _next_to_close(account_id, campaign, step or STEP)
    parallel.each(lambda task_id: market.close_item(campaign_id, task_id), task_ids)
    return done


def chunk_task_ids(base_id: str, ranges: Iterable[Iterable[int]]) -> list[str]:
    return [ids.derived_id(base_id, index) for start, end in ranges for index in range(int(start), int(end))]


def finish_pending_chunks(now_iso: str, limit: int) -> int:
    """Chunks counted into live campaigns whose market items may not all exist (a crash in between)."""
    from crowdtask.store import operations, sweeps

    done = 0
    for entry in sweeps.due_items("pool-chunk", now_iso, limit):
        try:
            record = dynamo.get(entry["pk"], entry["sk"], consistent=True)
            if record is None or not record.get("market_pending"):
                continue
            tasks = read_tasks(record["account_id"], chunk_task_ids(record["base_id"], record["ranges"]))
            open_chunk(record["account_id"], list(record["market_pending"]), tasks)
            operations.clear_market_pending(entry["pk"], entry["sk"])
        except Exception:  # one bad record must not hold up the other sweeps
            logger.exception(
                "opening a chunk's pool tasks failed; retried next time", extra={"pk": entry["pk"]}
            )
            continue
        done += 1
    return done
