"""Results and the counters their reviews move: lists by campaign and by worker, per-worker statistics,
and the transactions of a submission and of each review.

A result lives in its requester's RESULT collection (so another account's result is simply not
there). gsi1 lists a campaign's results (sharded; ids sort by submission, so shards merge by id),
gsi2 one worker's results in a campaign. A result in review is in the sweep index until its
review window closes, with what its approval writes projected (the settlement), so auto-approval
reads nothing else. A worker's counts live in three places, each moved in the review's own
transaction: per campaign (`CW#`), per requester (`RW#`, the "me" figures) and on the worker's
account (the "global" figures, points and earnings). Each review is conditioned on the result
still being in review, so a result is reviewed (and paid) at most once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from crowdtask import parallel
from crowdtask.store import (
    Contended,
    Refused,
    accounts,
    assignments,
    campaigns,
    dynamo,
    keys,
    market,
    quality,
    sweeps,
)
from crowdtask.store.changes import Change
from crowdtask.store.collections import Collection, with_id

RESULTS = Collection("RESULT", shards=16)
IN_REVIEW = "InReview"
# another aggregate's part of a review's transaction (a quality action's tally), or an outbox event
ReviewPart = Change | dict[str, Any]
WORKER_TOTALS = (
    "points",
    "earnings_pending",
    "earnings_paid",
    "results_in_review",
    "results_approved",
    "results_rejected",
)
# What approving a result writes from; the sweep index projects these, so auto-approval reads nothing else.
SETTLEMENT = (
    "account_id",
    "worker_id",
    "campaign_id",
    "job_id",
    "payment",
    "commission",
    "points",
    "repeat_after",
)


class AlreadyReviewed(Refused):
    """The result was no longer in review when the review was written."""


class CampaignNotLive(Refused):
    """The campaign is not live: it takes no results and no redo."""


class CampaignMoved(Refused):
    """The campaign changed state between the read and the write: decide again."""


class JobClosed(Refused):
    """The job's market item is closed: a slot given back can never be filled."""


class BudgetShort(Refused):
    """An approval would take more than the campaign (or the account) holds frozen."""


# ---------------------------------------------------------------- the stored result
def record(requester_id: str, result_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a new result in review: listed by campaign and worker, due at `reviewBy`."""
    campaign_id, worker_id = str(data["campaign_id"]), str(data["worker_id"])
    pk = RESULTS.pk(requester_id, result_id)
    due_pk, due_sk = keys.due("review", str(data["reviewBy"]), pk, shards=keys.BUSY_DUE_SHARDS)
    stored = RESULTS.item(
        requester_id,
        result_id,
        {
            **data,
            "gsi1pk": keys.campaign_results_partition(campaign_id, result_id),
            "gsi1sk": result_id,
            "gsi2pk": keys.campaign_worker_results_partition(campaign_id, worker_id),
            "gsi2sk": result_id,
            "due_pk": due_pk,
            "due_sk": due_sk,
        },
    )
    return {**stored, "id": result_id}


def get(requester_id: str, result_id: str) -> dict[str, Any] | None:
    return RESULTS.get(requester_id, result_id, consistent=True)


def get_many(requester_id: str, result_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return RESULTS.get_many(requester_id, result_ids, consistent=True)


def settlement(result: Mapping[str, Any]) -> dict[str, Any]:
    """What approving `result` (as read, or as the sweep index holds it) writes from, and its id."""
    found = {k: result[k] for k in SETTLEMENT if k in result}
    return {**found, "id": result["id"] if "id" in result else result["sk"]}


def _result_change(settlement: Mapping[str, Any], state: str, now_iso: str) -> Change:
    change = Change(*RESULTS.key(settlement["account_id"], settlement["id"]))
    change.set("state", state).set("reviewedAt", now_iso).remove("due_pk", "due_sk", "reviewBy")
    return change.require("{state} = :in_review", in_review=IN_REVIEW)


def _worker_account(worker_id: str) -> Change:
    return accounts.balance_change(worker_id)


def _campaign_worker(campaign_id: str, worker_id: str) -> Change:
    return Change(*keys.campaign_worker(campaign_id, worker_id))


def _requester_worker(requester_id: str, worker_id: str) -> Change:
    return Change(*keys.requester_worker(requester_id, worker_id))


def _write(changes: list[Change | dict[str, Any]]) -> None:
    dynamo.retry_contended(lambda: market.transact(changes))


# ---------------------------------------------------------------- submitting
def _counted(change: Change, counts: Mapping[str, int | Decimal]) -> Change:
    for name, amount in counts.items():
        change.add(name, amount)
    return change


def submit(
    assignment: Mapping[str, Any],
    result: Mapping[str, Any],
    *,
    payment: Decimal,
    cost: Decimal,
    now_iso: str,
    live_states: Iterable[str],
    quality: Mapping[str, int | Decimal] | None = None,
    controls: Iterable[str] = (),
    also: Iterable[ReviewPart] = (),
) -> None:
    """The assignment becomes `result` (from record()), in review: what it may cost is owed by the
    campaign and pending for the worker. assignments.NotOpen when the assignment is no longer open
    or past submitBy; CampaignNotLive when its campaign is not live.

    The worker's statistics in the campaign and with the requester move in the same write:
    `quality` (counters to add: control answers, their score, fast submissions, ...), the control
    tasks now answered, and the run of skipped assignments, which a submission ends. `also`: more
    changes of the same transaction (the result's votes in its tasks' aggregates).
    """
    worker_id, campaign_id = str(assignment["worker_id"]), str(assignment["campaign_id"])
    requester = str(assignment["requester_id"])
    counts = {"submitted": 1, **(quality or {})}
    in_campaign = _counted(_campaign_worker(campaign_id, worker_id).add("in_review", 1), counts)
    in_campaign.set("skipped_in_row", 0)
    answered = set(controls)
    if answered:
        in_campaign.add_to_set("controls_answered", answered)
    changes: list[Change | dict[str, Any]] = [
        assignments.submitted_change(assignment, str(result["id"]), now_iso),
        dynamo.put_op({k: v for k, v in result.items() if k != "id"}, "attribute_not_exists(pk)"),
        campaigns.require_state_in(
            campaigns.owe(campaigns.change(requester, campaign_id), cost), live_states
        ),
        _worker_account(worker_id).add("earnings_pending", payment).add("results_in_review", 1),
        in_campaign,
        _counted(_requester_worker(requester, worker_id), counts).set("skipped_in_row", 0),
        *also,
    ]
    try:
        _write(changes)
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise assignments.NotOpen(str(assignment["id"])) from exc
        if exc.failed(2):
            raise CampaignNotLive(campaign_id) from exc
        raise Contended(str(result["id"])) from exc


# ---------------------------------------------------------------- reviewing
def approve(
    settlement: Mapping[str, Any],
    *,
    payment: Decimal,
    cost: Decimal,
    now_iso: str,
    message: str | None,
    auto: bool,
    repeat_at: str | None,
    reviewed_by: str | None = None,
    earned_hour: str,
    expire_epoch: int,
    also: Iterable[ReviewPart] = (),
) -> None:
    """Pay one result from its settlement alone (no read): its cost leaves the campaign's frozen budget
    and the requester's frozen balance, to the worker's paid earnings and the platform's revenue.

    `repeat_at`: the job repeats after completion, so this approval schedules one more slot then
    (and the campaign is no closer to done). AlreadyReviewed when the result was reviewed first;
    BudgetShort when the frozen money would not cover it.
    """
    result_id, requester, worker = (
        str(settlement["id"]),
        str(settlement["account_id"]),
        str(settlement["worker_id"]),
    )
    campaign_id = str(settlement["campaign_id"])
    result = _result_change(settlement, "Approved", now_iso)
    if message:
        result.set("message", message)
    if auto:
        result.set("autoApproved", True)
    if reviewed_by:
        result.set("reviewedBy", reviewed_by)
    campaign = campaigns.owe(campaigns.pay_from_budget(campaigns.change(requester, campaign_id), cost), -cost)
    if repeat_at is None:
        campaigns.fewer_outstanding(campaign)
    changes: list[Change | dict[str, Any]] = [
        result,
        campaign,
        accounts.spend_frozen(accounts.balance_change(requester), cost),
        _worker_account(worker)
        .add("earnings_pending", -payment)
        .add("earnings_paid", payment)
        .add("points", int(settlement.get("points", 0)))
        .add("results_in_review", -1)
        .add("results_approved", 1),
        _campaign_worker(campaign_id, worker).add("in_review", -1).add("approved", 1),
        _requester_worker(requester, worker).add("approved", 1),
    ]
    if cost - payment:
        changes.append(accounts.revenue_change(result_id).add("commission", cost - payment))
    if payment:  # what the requester paid the worker this hour (quality rules read the last 24 of them)
        changes.append(quality.add_earnings_op(requester, worker, earned_hour, payment, expire_epoch))
    if repeat_at is not None:
        data = {k: settlement[k] for k in ("account_id", "campaign_id", "job_id", "payment", "commission")}
        changes.append(
            market.after_completion_repeat(campaign_id, str(settlement["job_id"]), result_id, repeat_at, data)
        )
    changes += also
    try:
        _write(changes)
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise AlreadyReviewed(result_id) from exc
        if exc.failed(1) or exc.failed(2):
            raise BudgetShort(result_id) from exc
        raise Contended(result_id) from exc


def reject(
    result: Mapping[str, Any],
    *,
    reason: str,
    payment: Decimal,
    cost: Decimal,
    now_iso: str,
    seen_state: str,
    refund: bool,
    open_path: bool,
    reviewed_by: str | None = None,
    also: Iterable[ReviewPart] = (),
) -> None:
    """Rejected: the worker is not paid and their reputation drops; the job's slot goes back.

    Conditioned on the campaign still being in `seen_state`. `refund`: nothing will replace the
    result (the campaign ended), so its money goes back to the requester. `open_path=False` when
    the job is closed: the slot is dropped from what the campaign needs instead.
    AlreadyReviewed, JobClosed (with open_path: try again without it) or CampaignMoved.
    """
    requester, worker, campaign_id = (
        str(result["account_id"]),
        str(result["worker_id"]),
        str(result["campaign_id"]),
    )
    change = _result_change(settlement(result), "Rejected", now_iso).set("reason", reason)
    if reviewed_by:
        change.set("reviewedBy", reviewed_by)
    campaign = campaigns.owe(campaigns.change(requester, campaign_id), -cost)
    campaign.require("{state} = :seen", seen=seen_state)
    ops: list[Change | dict[str, Any]] = [change, campaign]
    ops += market.slot_back(
        open_path=open_path,
        requester_id=requester,
        campaign_id=campaign_id,
        job_id=str(result["job_id"]),
        campaign=campaign,
    )
    if refund:
        campaigns.pay_from_budget(campaign, cost)
        ops.append(accounts.unfreeze(accounts.balance_change(requester), cost))
    ops += [
        _worker_account(worker)
        .add("earnings_pending", -payment)
        .add("results_in_review", -1)
        .add("results_rejected", 1),
        _campaign_worker(campaign_id, worker).add("in_review", -1).add("rejected", 1),
        _requester_worker(requester, worker).add("rejected", 1),
        *also,
    ]
    try:
        _write(ops)
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise AlreadyReviewed(str(result["id"])) from exc
        if exc.failed(2) and open_path:
            raise JobClosed(str(result["job_id"])) from exc
        if exc.failed(1):
            raise CampaignMoved(campaign_id) from exc
        raise Contended(str(result["id"])) from exc


def soft_reject(
    result: Mapping[str, Any],
    *,
    reason: str,
    until: str,
    payment: Decimal,
    cost: Decimal,
    now_iso: str,
    redo: Mapping[str, Any],
    live_states: Iterable[str],
    also: Iterable[ReviewPart] = (),
) -> None:
    """Soft-rejected: the same worker gets `redo` (a new assignment, from assignments.item) to do the
    job again until `until`; reputation untouched. AlreadyReviewed or CampaignNotLive."""
    requester, worker, campaign_id = (
        str(result["account_id"]),
        str(result["worker_id"]),
        str(result["campaign_id"]),
    )
    changes: list[Change | dict[str, Any]] = [
        _result_change(settlement(result), "SoftRejected", now_iso).set("reason", reason).set("until", until),
        campaigns.require_state_in(
            campaigns.owe(campaigns.change(requester, campaign_id), -cost), live_states
        ),
        _worker_account(worker).add("earnings_pending", -payment).add("results_in_review", -1),
        _campaign_worker(campaign_id, worker).add("in_review", -1),
        assignments.put_op(redo),
        *also,
    ]
    try:
        _write(changes)
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise AlreadyReviewed(str(result["id"])) from exc
        if exc.failed(1):
            raise CampaignNotLive(campaign_id) from exc
        raise Contended(str(result["id"])) from exc


def due_for_approval(now_iso: str, limit: int) -> list[dict[str, Any]]:
    """Settlements of the results whose review window has closed, from the sweep index.

    One index item per due result carries its settlement; an entry the index does not project it
    for is read from the table (and left out unless still in review).
    """
    found = []
    for due in sweeps.due_items("review", now_iso, limit, shards=keys.BUSY_DUE_SHARDS):
        entry = due
        if "account_id" not in entry:
            entry = dynamo.get(due["pk"], due["sk"], consistent=True) or {}
            if entry.get("state") != IN_REVIEW:
                continue
        found.append(settlement({**entry, "id": entry["sk"]}))
    return found


# ---------------------------------------------------------------- lists
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

    def shard(partition: str) -> list[dict[str, Any]]:
        return _read(
            index="gsi1", hash_attr="gsi1pk", partition=partition, after=after, state=state, wanted=limit + 1
        )

    shards = parallel.each(shard, keys.campaign_results_partitions(campaign_id))
    rows = list(heapq.merge(*shards, key=lambda item: item["gsi1sk"]))
    return [with_id(row) for row in rows[:limit]], len(rows) > limit


def every_answer(campaign_id: str) -> Iterable[dict[str, Any]]:
    """Every result of the campaign with what an aggregation reads of it (id, worker, state, task
    results), shard by shard in large pages: a run over 100,000 results reads each once."""
    for partition in keys.campaign_results_partitions(campaign_id):
        start = None
        while True:
            items, start = dynamo.query(
                index="gsi1",
                key_condition="gsi1pk = :p",
                vals={":p": partition},
                names={"#st": "state"},
                projection="sk, worker_id, #st, taskResults, control_ids",
                start_key=start,
            )
            yield from items
            if start is None:
                break


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
    items = [with_id(found[(row["pk"], row["sk"])]) for row in page if (row["pk"], row["sk"]) in found]
    return items, len(rows) > limit


# ---------------------------------------------------------------- per-worker counters
def campaign_workers(
    campaign_id: str, *, after: str | None, in_review_only: bool, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the workers who submitted results in a campaign (by id), with their counts there
    (`worker` is the worker's id)."""
    condition = "pk = :p"
    vals: dict[str, Any] = {":p": keys.campaign_workers_partition(campaign_id)}
    if after:
        condition += " AND sk > :after"
        vals[":after"] = after
    # a worker is listed once they submitted (skipping assignments alone makes a row, not a listing)
    filter_expression = "attribute_exists(in_review)"
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
            limit=max(limit + 1, 100),
            start_key=start,
        )
        rows.extend(items)
        if start is None:
            break
    return [{**row, "worker": row["sk"]} for row in rows[:limit]], len(rows) > limit


def campaign_worker(campaign_id: str, worker_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The worker's counts and statistics in the campaign, or None when the worker never submitted there."""
    row = dynamo.get(*keys.campaign_worker(campaign_id, worker_id), consistent=consistent)
    return None if row is None else {**row, "worker": worker_id}


def requester_worker(requester_id: str, worker_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The worker's counts and statistics with the requester, or None when they never worked for them."""
    row = dynamo.get(*keys.requester_worker(requester_id, worker_id), consistent=consistent)
    return None if row is None else {**row, "worker": worker_id}


def requester_worker_stats(requester_id: str, worker_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = {keys.requester_worker(requester_id, w): w for w in worker_ids}
    found = dynamo.batch_get(wanted, attributes=["approved", "rejected"])
    return {wanted[k]: v for k, v in found.items() if k in wanted}


def controls_answered(campaign_id: str, worker_id: str) -> set[str]:
    """The control tasks the worker has answered in the campaign."""
    row = dynamo.get(*keys.campaign_worker(campaign_id, worker_id), consistent=True) or {}
    return {str(task) for task in row.get("controls_answered", ())}


def worker_totals(worker_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return accounts.get_many(worker_ids, [*WORKER_TOTALS, "role"])
