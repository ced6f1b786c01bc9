"""Aggregates of a campaign's tasks: the live one, counted as results come and go, and the one the
last Dawid-Skene run wrote.

A live aggregate is one item per task whose counters submissions add to without reading it:
per answer of each component `w<key>` (its weight), `n<key>` (its votes) and `l<key>` (the answer
itself), plus `answers` (results counted). `voters` holds the ids of the results counted, while a
job may collect at most VOTERS_KEPT results (an item holds 400 KB): it makes a vote written
outside the submission's transaction idempotent, and finds a job's results for review by
agreement. `withdrawn` remembers results whose votes were taken back, so a late vote of a
rejected result is refused.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from crowdtask import parallel
from crowdtask.store import dynamo, keys
from crowdtask.store.changes import Change

VOTERS_KEPT = 2000
Vote = Change  # a ballot's change of an aggregate, for another aggregate's transaction


class Ballot:
    """One result's votes on one task: what is added, and later taken back."""

    def __init__(self, campaign_id: str, task_id: str, result_id: str, weight: Decimal, parts: int) -> None:
        self.campaign_id, self.task_id, self.result_id, self.weight = campaign_id, task_id, result_id, weight
        self.parts = parts  # the task's components (aggregated or not)
        self.votes: list[tuple[str, str]] = []  # (key, answer JSON)

    def vote(self, key: str, answer: str) -> None:
        self.votes.append((key, answer))


def cast(ballot: Ballot, *, keep_voter: bool, guarded: bool) -> Change:
    """The ballot's votes, counted. `guarded`: refused when this result was counted or withdrawn
    before (a vote written on its own, which a retry may repeat)."""
    change = Change(*keys.aggregate(ballot.campaign_id, ballot.task_id))
    change.set_if_absent("type", "aggregate").set_if_absent("parts", ballot.parts)
    # found by task too (gsi2 projects keys and `state` only: counting votes never writes to it)
    change.set_if_absent("gsi2pk", keys.task_aggregates_partition(ballot.task_id))
    change.set_if_absent("gsi2sk", ballot.campaign_id).add("answers", 1)
    for key, answer in ballot.votes:
        change.add(f"w{key}", ballot.weight).add(f"n{key}", 1).set_if_absent(f"l{key}", answer)
    if keep_voter:
        change.add_to_set("voters", {ballot.result_id})
    if guarded:
        change.require(
            "NOT contains({voters}, :rid) AND NOT contains({withdrawn}, :rid)", rid=ballot.result_id
        )
    return change


def withdraw(ballot: Ballot, *, kept_voter: bool, guarded: bool) -> Change:
    """The ballot's votes taken back. `guarded`: only if they were counted (see `refuse_late`)."""
    change = Change(*keys.aggregate(ballot.campaign_id, ballot.task_id)).add("answers", -1)
    for key, _ in ballot.votes:
        change.add(f"w{key}", -ballot.weight).add(f"n{key}", -1)
    if kept_voter:  # what is remembered of voters is bounded like them
        change.remove_from_set("voters", {ballot.result_id}).add_to_set("withdrawn", {ballot.result_id})
    if guarded:
        change.require("contains({voters}, :rid)", rid=ballot.result_id)
    return change


def refuse_late(ballot: Ballot) -> Change:
    """The result's votes are not counted yet: remember it is withdrawn, so they never will be."""
    change = Change(*keys.aggregate(ballot.campaign_id, ballot.task_id))
    change.add_to_set("withdrawn", {ballot.result_id})
    return change.require("NOT contains({voters}, :rid)", rid=ballot.result_id)


def write(change: Change) -> bool:
    """One change on its own; False when its condition refused it."""
    try:
        dynamo.transact([change.op()])
    except dynamo.TransactionConflict:
        return False
    return True


def take_back(ballot: Ballot) -> None:
    """Withdraw a ballot written on its own: its votes if counted, else a mark that refuses them."""
    for _ in range(8):
        if write(withdraw(ballot, kept_voter=True, guarded=True)) or write(refuse_late(ballot)):
            return


# ---------------------------------------------------------------- reading
def of_task(task_id: str) -> list[dict[str, Any]]:
    """The live aggregates of a task, one per campaign it was answered in (by campaign id), each
    with its `campaign_id`."""
    found, _ = dynamo.query(
        index="gsi2", key_condition="gsi2pk = :p", vals={":p": keys.task_aggregates_partition(task_id)}
    )
    got = dynamo.batch_get([(str(f["pk"]), str(f["sk"])) for f in found])
    items = [{**_named(item), "campaign_id": str(item.get("gsi2sk", ""))} for item in got.values()]
    return sorted(items, key=lambda item: item["campaign_id"])


def get_many(
    campaign_id: str, task_ids: Iterable[str], *, method: str = "live", consistent: bool = False
) -> dict[str, dict[str, Any]]:
    wanted = {keys.aggregate(campaign_id, task, method): task for task in task_ids}
    found = dynamo.batch_get(wanted, consistent=consistent)
    return {wanted[key]: _named(item) for key, item in found.items() if key in wanted}


def page(
    campaign_id: str, *, method: str, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the campaign's aggregates by task id (the shards merged), and whether more follow."""

    def shard(partition: str) -> list[dict[str, Any]]:
        condition, vals = "pk = :p", {":p": partition}
        if after:
            condition += " AND sk > :after"
            vals[":after"] = after
        items, _ = dynamo.query(key_condition=condition, vals=vals, limit=limit + 1)
        return items

    shards = parallel.each(shard, keys.aggregate_partitions(campaign_id, method))
    rows = list(heapq.merge(*shards, key=lambda item: str(item["sk"])))
    return [_named(row) for row in rows[:limit]], len(rows) > limit


def _named(item: Mapping[str, Any]) -> dict[str, Any]:
    """An aggregate with its task's id as `task_id`."""
    return {**item, "task_id": str(item["sk"])}


def put_computed(campaign_id: str, method: str, aggregates: Sequence[Mapping[str, Any]]) -> None:
    """A run's aggregates (each with `task`), replacing the previous run's for those tasks."""
    items = []
    for aggregate in aggregates:
        pk, sk = keys.aggregate(campaign_id, str(aggregate["task"]), method)
        items.append({"pk": pk, "sk": sk, "type": "aggregate", **aggregate})
    dynamo.batch_put_parallel(items)
