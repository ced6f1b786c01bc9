"""Results and the counters their reviews move: lists by campaign and by worker, per-worker statistics.

A result lives in its requester's RESULT collection (so another account's result is simply not
there). gsi1 lists a campaign's results (sharded; ids sort by submission, so shards merge by id),
gsi2 one worker's results in a campaign. A worker's counts live in three places, each moved in
the review's own transaction: per campaign (`CW#`), per requester (`RW#`, the "me" figures) and
on the worker's account (the "global" figures, points and earnings).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from crowdtask.store import dynamo, keys
from crowdtask.store.changes import Change

WORKER_TOTALS = (
    "points",
    "earnings_pending",
    "earnings_paid",
    "results_in_review",
    "results_approved",
    "results_rejected",
)


def index_keys(campaign_id: str, worker_id: str, result_id: str) -> dict[str, str]:
    """The list-index keys of a result."""
    return {
        "gsi1pk": keys.campaign_results_partition(campaign_id, result_id),
        "gsi1sk": result_id,
        "gsi2pk": keys.campaign_worker_results_partition(campaign_id, worker_id),
        "gsi2sk": result_id,
    }


def review_due(review_by_iso: str, pk: str) -> dict[str, str]:
    due_pk, due_sk = keys.due("review", review_by_iso, pk, shards=keys.BUSY_DUE_SHARDS)
    return {"due_pk": due_pk, "due_sk": due_sk}


def _filters(state: str | None) -> tuple[str | None, dict[str, str], dict[str, Any]]:
    if state is None:
        return None, {}, {}
    return "#st = :st", {"#st": "state"}, {":st": state}


def _read(
    *, index: str, hash_attr: str, partition: str, after: str | None, state: str | None, wanted: int
) -> list[dict[str, Any]]:
    """Up to `wanted` items of one partition after the cursor id, in id order (a state filter thins pages)."""
    sort_attr = "gsi1sk" if index == "gsi1" else "gsi2sk"
    condition = f"{hash_attr} = :p"
    vals: dict[str, Any] = {":p": partition}
    if after:
        condition += f" AND {sort_attr} > :after"
        vals[":after"] = after
    filter_expression, names, filter_vals = _filters(state)
    found: list[dict[str, Any]] = []
    start = None
    while len(found) < wanted:
        items, start = dynamo.query(
            index=index,
            key_condition=condition,
            vals={**vals, **filter_vals},
            names=names or None,
            filter_expression=filter_expression,
            limit=wanted if filter_expression is None else max(wanted, 100),
            start_key=start,
        )
        found.extend(items)
        if start is None:
            break
    return found[:wanted]


def campaign_results(
    campaign_id: str, *, after: str | None, state: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """A page of a campaign's results in submission order (shards merged by id), and whether more follow."""
    from concurrent.futures import ThreadPoolExecutor

    def shard(partition: str) -> list[dict[str, Any]]:
        return _read(
            index="gsi1", hash_attr="gsi1pk", partition=partition, after=after, state=state, wanted=limit + 1
        )

    partitions = keys.campaign_results_partitions(campaign_id)
    with ThreadPoolExecutor(max_workers=len(partitions)) as pool:
        rows = list(heapq.merge(*pool.map(shard, partitions), key=lambda item: item["gsi1sk"]))
    return rows[:limit], len(rows) > limit


def worker_results(
    campaign_id: str, worker_id: str, *, after: str | None, state: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """A page of one worker's results in a campaign, in submission order, and whether more follow."""
    partition = keys.campaign_worker_results_partition(campaign_id, worker_id)
    rows = _read(
        index="gsi2", hash_attr="gsi2pk", partition=partition, after=after, state=state, wanted=limit + 1
    )
    page = rows[:limit]
    found = dynamo.batch_get((row["pk"], row["sk"]) for row in page)
    return [found[(row["pk"], row["sk"])] for row in page if (row["pk"], row["sk"]) in found], len(
        rows
    ) > limit


# ---------------------------------------------------------------- per-worker counters
def campaign_worker_change(campaign_id: str, worker_id: str) -> Change:
    return Change(*keys.campaign_worker(campaign_id, worker_id))


def requester_worker_change(requester_id: str, worker_id: str) -> Change:
    return Change(*keys.requester_worker(requester_id, worker_id))


def worker_account_change(worker_id: str) -> Change:
    return Change(*keys.account(worker_id))


def campaign_workers(
    campaign_id: str, *, after: str | None, in_review_only: bool, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the workers who submitted results in a campaign (by id), with their counts there."""
    condition = "pk = :p"
    vals: dict[str, Any] = {":p": keys.campaign_workers_partition(campaign_id)}
    if after:
        condition += " AND sk > :after"
        vals[":after"] = after
    filter_expression = None
    if in_review_only:
        filter_expression = "in_review > :zero"
        vals[":zero"] = 0
    rows: list[dict[str, Any]] = []
    start = None
    while len(rows) <= limit:
        items, start = dynamo.query(
            key_condition=condition,
            vals=vals,
            filter_expression=filter_expression,
            limit=limit + 1 if filter_expression is None else max(limit + 1, 100),
            start_key=start,
        )
        rows.extend(items)
        if start is None:
            break
    return rows[:limit], len(rows) > limit


def campaign_worker(campaign_id: str, worker_id: str) -> dict[str, Any] | None:
    return dynamo.get(*keys.campaign_worker(campaign_id, worker_id))


def requester_worker_stats(requester_id: str, worker_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = {keys.requester_worker(requester_id, w): w for w in worker_ids}
    found = dynamo.batch_get(wanted, attributes=["approved", "rejected"])
    return {wanted[k]: v for k, v in found.items() if k in wanted}


def worker_totals(worker_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = {keys.account(w): w for w in worker_ids}
    found = dynamo.batch_get(wanted, attributes=[*WORKER_TOTALS, "role"])
    return {wanted[k]: v for k, v in found.items() if k in wanted}
