"""The job market in the table: market items (a campaign's job and its open slots), per-worker counters,
the listing index, and the repeats that open slots again.

A market item's `remaining` counts the results still open to claim. It sits in the listing
index (gsi1) exactly while `remaining > 0`: taking the last slot removes `gsi1pk` in the same
write, and every slot given back copies `listing_pk` into it again. So the market listing reads
open jobs only, however many jobs are full, and a `closed` item (expired, or its campaign ended)
leaves the index for good.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from crowdtask.store import Contended, Refused, accounts, campaigns, dynamo, keys, sweeps
from crowdtask.store.changes import Change
from crowdtask.store.outbox import Announce, silent


class SlotMoved(Refused):
    """The item's slots changed between the read and the write: read it again."""


# ---------------------------------------------------------------- market items
def market_item(data: Mapping[str, Any], cell: str | None) -> dict[str, Any]:
    """The stored market item of `data` (campaign_id, job_id, published_precise, remaining, ...)."""
    pk, sk = keys.market_job(data["job_id"], data["campaign_id"])
    listing_pk, listing_sk = keys.market_listing(
        data["campaign_id"], data["job_id"], data["published_precise"], cell
    )
    item = {"pk": pk, "sk": sk, "type": "market", **data, "listing_pk": listing_pk, "gsi1sk": listing_sk}
    if int(data["remaining"]) > 0:
        item["gsi1pk"] = listing_pk
    if data.get("expires_at"):
        item["due_pk"], item["due_sk"] = keys.due("market-ttl", data["expires_at"], pk)
    return item


def put_new(item: Mapping[str, Any]) -> bool:
    """Create an item unless it exists (opening a market again after a crash is harmless); True if created."""
    try:
        dynamo.put(item, condition="attribute_not_exists(pk)")
    except dynamo.ConditionFailed:
        return False
    return True


def open_job(terms: Mapping[str, Any], cell: str | None) -> bool:
    """Put a job (or pool task) on the market with its terms, unless it is there; True if created."""
    return put_new(market_item(terms, cell))


def items_of_job(job_id: str) -> list[dict[str, Any]]:
    """The market items of a job: one per campaign that published it (usually one)."""
    items, _ = dynamo.query(
        key_condition="pk = :p", vals={":p": keys.market_job_partition(job_id)}, consistent=True
    )
    return items


def get_item(job_id: str, campaign_id: str) -> dict[str, Any] | None:
    return dynamo.get(*keys.market_job(job_id, campaign_id), consistent=True)


def item_change(job_id: str, campaign_id: str) -> Change:
    return Change(*keys.market_job(job_id, campaign_id))


def take_slot(change: Change, seen_remaining: int, now_iso: str) -> Change:
    """One slot fewer; the last one also takes the item out of the listing index."""
    change.require("attribute_not_exists({closed})")
    change.require("attribute_not_exists({expires_at}) OR {expires_at} > :now", now=now_iso)
    if seen_remaining == 1:
        return change.set("remaining", 0).remove("gsi1pk").require("{remaining} = :one", one=1)
    return change.add("remaining", -1).require("{remaining} > :one", one=1)


def give_back_slot(change: Change, slots: int = 1) -> Change:
    """Slots open again (the item is listed again); refused once the item is closed."""
    return (
        change.add("remaining", slots).copy("gsi1pk", "listing_pk").require("attribute_not_exists({closed})")
    )


def close_change(change: Change, seen_remaining: int | None = None) -> Change:
    """Closed for good: no slot is taken or given back any more; out of the listing and due index."""
    change.set("closed", True).set("remaining", 0).remove("gsi1pk", "due_pk", "due_sk")
    if seen_remaining is None:
        return change.require("attribute_exists({pk})")
    return change.require("attribute_not_exists({closed}) AND {remaining} = :seen", seen=seen_remaining)


def slot_back(
    *, open_path: bool, requester_id: str, campaign_id: str, job_id: str, campaign: Change | None = None
) -> list[Change]:
    """The changes that give one slot of a job back.

    On an open item the slot is listed again. On a closed one (expired, campaign ended) it can
    never be filled: the campaign needs one result fewer, so it can still finish. Pass the
    campaign's Change when the caller already changes the campaign in the same transaction.
    """
    market = item_change(job_id, campaign_id)
    if open_path:
        return [give_back_slot(market)]
    market.require("{closed} = :yes", yes=True)
    own = campaign is None
    campaign = campaign or campaigns.change(requester_id, campaign_id)
    campaigns.fewer_outstanding(campaign)
    return [market, campaign] if own else [market]


def close_item(campaign_id: str, job_id: str) -> None:
    """The campaign's market item of this job (or pool task) is closed for good, if it exists."""
    with contextlib.suppress(dynamo.TransactionConflict):  # never on the market: nothing to close
        transact([close_change(item_change(job_id, campaign_id))])


def expire_job(job_id: str, campaign_id: str, announce: Announce = silent) -> dict[str, Any] | None:
    """Close a job whose time on the market is over; its unfilled slots (and a calendar repeat) no longer
    count as needed. The item as it was, or None when it was closed already. `announce(item)`: the
    events (outbox items) the closing commits with."""
    for _attempt in range(8):
        item = get_item(job_id, campaign_id)
        if item is None or item.get("closed"):
            return None  # closed by another sweep, or with its campaign
        remaining = int(item.get("remaining", 0))
        calendar = bool(item.get("repeat")) and "repeat_after" not in item
        changes: list[Change | dict[str, Any]] = [close_change(item_change(job_id, campaign_id), remaining)]
        if remaining or calendar:
            campaign = campaigns.change(item["account_id"], campaign_id)
            changes.append(campaigns.fewer_outstanding(campaign, remaining + int(calendar)))
        if calendar:
            changes.append(dynamo.delete_op(*keys.repeat_calendar(campaign_id, job_id)))
        changes += list(announce(item))
        try:
            _transact(changes)
        except dynamo.TransactionConflict as exc:
            if exc.failed(0):
                continue  # a slot moved meanwhile: read again
            raise Contended(job_id) from exc
        return item
    return None


def close_answered(
    job_id: str,
    campaign_id: str,
    slot_cost: Decimal,
    announce: Callable[[Mapping[str, Any], Decimal], Sequence[dict[str, Any]]],
) -> tuple[dict[str, Any], Decimal] | None:
    """Close a job whose answer is confident (dynamic overlap): its untaken slots are not needed, and
    what they would have cost leaves the campaign's budget for the requester's available balance.
    Slots held by open assignments stay (their results are still paid for). The item as it was
    and the money released, or None when it was closed already."""
    for _attempt in range(8):
        item = get_item(job_id, campaign_id)
        if item is None or item.get("closed"):
            return None
        remaining = int(item.get("remaining", 0))
        released = slot_cost * remaining
        changes: list[Change | dict[str, Any]] = [close_change(item_change(job_id, campaign_id), remaining)]
        if remaining:
            requester = str(item["account_id"])
            campaign = campaigns.fewer_outstanding(campaigns.change(requester, campaign_id), remaining)
            changes.append(campaigns.pay_from_budget(campaign, released))
            changes.append(accounts.unfreeze(accounts.balance_change(requester), released))
        changes += list(announce(item, released))
        try:
            _transact(changes)
        except dynamo.TransactionConflict as exc:
            if exc.failed(0):
                continue  # a slot moved meanwhile: read again
            raise Contended(job_id) from exc
        return item, released
    return None


def due_to_expire(now_iso: str, limit: int) -> list[tuple[str, str]]:
    """(job, campaign) of the market items whose task_ttl has passed, from the due index."""
    return [(e["job_id"], e["campaign_id"]) for e in sweeps.due_items("market-ttl", now_iso, limit)]


def listed_items(
    partition: str, *, now_iso: str, groups: Iterable[str], wanted: int, max_pages: int = 4
) -> list[dict[str, Any]]:
    """Up to `wanted` open, unexpired items of one listing partition this worker's groups allow."""
    names = {"#r": "remaining", "#e": "expires_at", "#g": "worker_group", "#c": "closed"}
    vals: dict[str, Any] = {":p": partition, ":zero": 0, ":now": now_iso}
    clauses = ["#r > :zero", "(attribute_not_exists(#e) OR #e > :now)", "attribute_not_exists(#c)"]
    group_values = []
    for n, group in enumerate(sorted(set(groups))):
        vals[f":g{n}"] = group
        group_values.append(f":g{n}")
    group_clause = "attribute_not_exists(#g)"
    if group_values:
        group_clause += f" OR #g IN ({', '.join(group_values)})"
    clauses.append(f"({group_clause})")
    found: list[dict[str, Any]] = []
    start = None
    for _page in range(max_pages):
        items, start = dynamo.query(
            index="gsi1",
            key_condition="gsi1pk = :p",
            vals=vals,
            names=names,
            filter_expression=" AND ".join(clauses),
            limit=max(wanted, 25),
            start_key=start,
        )
        found.extend(items)
        if start is None or len(found) >= wanted:
            break
    return found[:wanted]


def listing_partitions(cells: Iterable[str]) -> list[str]:
    """The listing partitions a worker reads: every market shard, and the geohash cells given."""
    return [*keys.market_partitions(), *(keys.geo_partition(cell) for cell in cells)]


def listing_order(item: Mapping[str, Any]) -> str:
    """Where an item sorts in the listing: longest on the market first."""
    return str(item["gsi1sk"])


# ---------------------------------------------------------------- per-worker counters
def worker_job_change(worker_id: str, campaign_id: str, job_id: str) -> Change:
    return Change(*keys.worker_job(worker_id, campaign_id, job_id))


def count_taken(change: Change, limit: int | None) -> Change:
    change.add("taken", 1)
    if limit is not None:
        change.require("attribute_not_exists({taken}) OR {taken} < :limit", limit=limit)
    return change


def uncount_taken(change: Change) -> Change:
    return change.add("taken", -1).require("{taken} > :zero", zero=0)


def taken_counts(worker_id: str, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """How often this worker took each (campaign, job): one batched read."""
    wanted = {keys.worker_job(worker_id, c, j): (c, j) for c, j in pairs}
    found = dynamo.batch_get(wanted, attributes=["taken"])
    return {wanted[k]: int(v.get("taken", 0)) for k, v in found.items() if k in wanted}


# ---------------------------------------------------------------- repeats
def after_completion_repeat(
    campaign_id: str, job_id: str, result_id: str, due_iso: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    """A Put for the transaction that approves `result_id`: one more slot opens at `due_iso`."""
    pk, sk = keys.repeat_after_completion(campaign_id, job_id, result_id)
    due_pk, due_sk = keys.due("repeat", due_iso, pk)
    item = {"pk": pk, "sk": sk, "type": "repeat", "kind": "after_completion", "at": due_iso, **data}
    return dynamo.put_op({**item, "due_pk": due_pk, "due_sk": due_sk})


def put_calendar_repeat(campaign_id: str, job_id: str, due_iso: str, data: Mapping[str, Any]) -> bool:
    """A calendar repeat of the job (unless there is one): it tops the job up at `due_iso`."""
    pk, sk = keys.repeat_calendar(campaign_id, job_id)
    due_pk, due_sk = keys.due("repeat", due_iso, pk)
    item = {"pk": pk, "sk": sk, "type": "repeat", "kind": "calendar", "at": due_iso, **data}
    return put_new({**item, "due_pk": due_pk, "due_sk": due_sk})


def due_repeats(now_iso: str, limit: int) -> list[dict[str, Any]]:
    """The repeats due now, each as it is stored (those done or re-armed meanwhile are left out)."""
    found = []
    for entry in sweeps.due_items("repeat", now_iso, limit):
        item = dynamo.get(entry["pk"], entry["sk"], consistent=True)
        if item is not None and item.get("due_sk") == entry.get("due_sk"):
            found.append(item)
    return found


def _repeat_money(repeat: Mapping[str, Any], slots: int, live_states: Iterable[str]) -> tuple[Change, Change]:
    """The campaign and account changes that freeze what `slots` more results will cost."""
    cost = (Decimal(str(repeat["payment"])) + Decimal(str(repeat["commission"]))) * slots
    campaign = campaigns.add_to_budget(
        campaigns.change(repeat["account_id"], repeat["campaign_id"]), cost, live_states
    )
    return campaign, accounts.freeze(accounts.balance_change(repeat["account_id"]), cost)


def reopen_once(
    repeat: Mapping[str, Any],
    live_states: Iterable[str],
    announce: Callable[[str, int], Sequence[dict[str, Any]]],
) -> str:
    """after_completion: one more slot, paid for now. "reopened"; "done" when another sweep did it;
    "dropped" when it cannot be (campaign ended, job closed, no money): the slot no longer counts.
    `announce(outcome, slots)`: the events (outbox items) each outcome commits with."""
    delete = dynamo.delete_op(repeat["pk"], repeat["sk"], "attribute_exists(pk)")
    campaign, account = _repeat_money(repeat, 1, live_states)
    slot = give_back_slot(item_change(repeat["job_id"], repeat["campaign_id"]))
    try:
        _transact([delete, slot, campaign, account, *announce("reopened", 1)])
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            return "done"
        drop = campaigns.fewer_outstanding(campaigns.change(repeat["account_id"], repeat["campaign_id"]))
        delete = dynamo.delete_op(repeat["pk"], repeat["sk"], "attribute_exists(pk)")
        try:
            _transact([delete, drop, *announce("dropped", 0)])
        except dynamo.TransactionConflict:
            return "done"
        return "dropped"
    return "reopened"


def reopen_calendar(
    repeat: Mapping[str, Any],
    next_iso: str,
    live_states: Iterable[str],
    announce: Callable[[str, int], Sequence[dict[str, Any]]],
) -> tuple[str, int]:
    """A calendar repeat: top the job up to its needed results, then wait until `next_iso`.

    (outcome, slots opened): "reopened" (possibly 0 slots: the job was full), "done" (another sweep
    did it), "closed" (the job is closed: the repeat is removed), "skipped" (the job changed, the
    campaign ended or the balance cannot pay: re-armed for next time). `announce(outcome, slots)`: the
    events (outbox items) a "reopened" with slots or a "skipped" commits with.
    """

    def rearm() -> Change:
        due_pk, due_sk = keys.due("repeat", next_iso, repeat["pk"])
        change = Change(repeat["pk"], repeat["sk"]).set("at", next_iso).set("due_pk", due_pk)
        return change.set("due_sk", due_sk).require("{due_sk} = :current", current=str(repeat["due_sk"]))

    item = get_item(repeat["job_id"], repeat["campaign_id"])
    if item is None or item.get("closed"):
        _transact_quietly([dynamo.delete_op(repeat["pk"], repeat["sk"], "attribute_exists(pk)")])
        return "closed", 0
    remaining = int(item.get("remaining", 0))
    top_up = max(0, int(repeat.get("needed", 1)) - remaining)
    if not top_up:
        _transact_quietly([rearm()])
        return "reopened", 0
    campaign, account = _repeat_money(repeat, top_up, live_states)
    campaign.add("results_outstanding", top_up)
    slots = give_back_slot(item_change(repeat["job_id"], repeat["campaign_id"]), top_up)
    slots.require("{remaining} = :seen", seen=remaining)
    try:
        _transact([rearm(), slots, campaign, account, *announce("reopened", top_up)])
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            return "done", 0  # re-armed by another sweep
        _transact_quietly([rearm(), *announce("skipped", 0)])
        return "skipped", 0
    return "reopened", top_up


# ---------------------------------------------------------------- transactions
def transact(changes: Iterable[Change | dict[str, Any]]) -> None:
    """Write Changes (and ready-made operations) in one transaction."""
    dynamo.transact([c.op() if isinstance(c, Change) else c for c in changes])


def _transact(changes: list[Change | dict[str, Any]]) -> None:
    dynamo.retry_contended(lambda: transact(changes))


def _transact_quietly(changes: list[Change | dict[str, Any]]) -> None:
    """For writes whose condition failing means another sweep did them already."""
    with contextlib.suppress(dynamo.TransactionConflict):
        _transact(changes)
