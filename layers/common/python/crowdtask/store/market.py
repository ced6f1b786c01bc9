"""The job market in the table: market items (a campaign's job and its open slots), per-worker counters,
assignments' and repeats' writes, and the listing index.

A market item's `remaining` counts the results still open to claim. It sits in the listing
index (gsi1) exactly while `remaining > 0`: taking the last slot removes `gsi1pk` in the same
write, and every slot given back copies `listing_pk` into it again. So the market listing reads
open jobs only, however many jobs are full, and a `closed` item (expired, or its campaign ended)
leaves the index for good.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from crowdtask.store import dynamo, keys
from crowdtask.store.changes import Change

ACTIVE = "active"
LIVE_STATES = ("active", "paused")


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


def market_items_of_job(job_id: str) -> list[dict[str, Any]]:
    """The market items of a job: one per campaign that published it (usually one)."""
    items, _ = dynamo.query(
        key_condition="pk = :p", vals={":p": keys.market_job_partition(job_id)}, consistent=True
    )
    return items


def get_market_item(job_id: str, campaign_id: str) -> dict[str, Any] | None:
    return dynamo.get(*keys.market_job(job_id, campaign_id), consistent=True)


def market_change(job_id: str, campaign_id: str) -> Change:
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


def require_closed(change: Change) -> Change:
    return change.require("{closed} = :yes", yes=True)


def close_change(change: Change, seen_remaining: int | None = None) -> Change:
    """Closed for good: no slot is taken or given back any more; out of the listing and due index."""
    change.set("closed", True).set("remaining", 0).remove("gsi1pk", "due_pk", "due_sk")
    if seen_remaining is None:
        return change.require("attribute_exists({pk})")
    return change.require("attribute_not_exists({closed}) AND {remaining} = :seen", seen=seen_remaining)


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


# ---------------------------------------------------------------- campaigns, as the market checks them
def campaign_change(campaign_pk: str, campaign_id: str) -> Change:
    return Change(campaign_pk, campaign_id)


def require_active(change: Change, now_iso: str) -> Change:
    """Claims need an active campaign whose endDate (if any) is still ahead."""
    return change.require(
        "{state} = :active AND (attribute_not_exists({endDate}) OR {endDate} > :now)",
        active=ACTIVE,
        now=now_iso,
    )


def campaign_states(keys_: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    return dynamo.batch_get(keys_, attributes=["state", "endDate", "results_outstanding"])


# ---------------------------------------------------------------- repeats
def after_completion_repeat(
    campaign_id: str, job_id: str, result_id: str, due_iso: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    """A Put for the transaction that approves `result_id`: one more slot opens at `due_iso`."""
    pk, sk = keys.repeat_after_completion(campaign_id, job_id, result_id)
    due_pk, due_sk = keys.due("repeat", due_iso, pk)
    item = {"pk": pk, "sk": sk, "type": "repeat", "kind": "after_completion", "at": due_iso, **data}
    return dynamo.put_op({**item, "due_pk": due_pk, "due_sk": due_sk})


def calendar_repeat_item(
    campaign_id: str, job_id: str, due_iso: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    pk, sk = keys.repeat_calendar(campaign_id, job_id)
    due_pk, due_sk = keys.due("repeat", due_iso, pk)
    return {"pk": pk, "sk": sk, "type": "repeat", "kind": "calendar", "at": due_iso, **data,
            "due_pk": due_pk, "due_sk": due_sk}  # fmt: skip


def rearm_change(pk: str, sk: str, current_due_sk: str, next_iso: str) -> Change:
    """Move a calendar repeat to its next occurrence, once (the due key it was found under must hold)."""
    due_pk, due_sk = keys.due("repeat", next_iso, pk)
    change = Change(pk, sk).set("at", next_iso).set("due_pk", due_pk).set("due_sk", due_sk)
    return change.require("{due_sk} = :current", current=current_due_sk)


def delete_if_exists(pk: str, sk: str) -> dict[str, Any]:
    return dynamo.delete_op(pk, sk, "attribute_exists(pk)")


# ---------------------------------------------------------------- money of a requester account
def account_change(account_id: str) -> Change:
    return Change(*keys.account(account_id))


def freeze(change: Change, amount: Decimal) -> Change:
    """Available -> frozen; refused when the available balance cannot cover it."""
    return (
        change.add("balance_available", -amount)
        .add("balance_frozen", amount)
        .require("{balance_available} >= :amount", amount=amount)
    )


def unfreeze(change: Change, amount: Decimal) -> Change:
    """Frozen -> available."""
    return (
        change.add("balance_frozen", -amount)
        .add("balance_available", amount)
        .require("{balance_frozen} >= :amount", amount=amount)
    )


def spend_frozen(change: Change, amount: Decimal) -> Change:
    """Frozen money leaves the account (paid to a worker and the platform)."""
    return change.add("balance_frozen", -amount).require("{balance_frozen} >= :amount", amount=amount)


def revenue_change(result_id: str) -> Change:
    return Change(*keys.platform_revenue(keys.platform_revenue_shard(result_id)))


def platform_revenue() -> Decimal:
    shards = [keys.platform_revenue(n) for n in range(keys.REVENUE_SHARDS)]
    found = dynamo.batch_get(shards, attributes=["commission"], consistent=True)
    return sum((Decimal(str(item.get("commission", 0))) for item in found.values()), Decimal(0))


def transact(changes: Iterable[Change | dict[str, Any]]) -> None:
    """Write Changes (and ready-made operations) in one transaction."""
    dynamo.transact([c.op() if isinstance(c, Change) else c for c in changes])
