"""Assignments in the table: a worker's ASSIGNMENT collection, claims and endings as transactions.

An assignment is in the sweep index until it is submitted or ends, due at its upload deadline
(`submitBy`). A claim is one transaction: the campaign must be open for claims, the market item
must still have a slot (and takes it), the worker must be under the job's per-worker limit (and
is counted), and the assignment is written. An ending (released, expired) gives its slot back
and uncounts the worker in one transaction too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crowdtask.models.listing import ListQuery, Page
from crowdtask.store import Contended, Refused, campaigns, dynamo, keys, market, sweeps
from crowdtask.store.changes import Change
from crowdtask.store.collections import Collection

ASSIGNMENTS = Collection("ASSIGNMENT", shards=1)


class CampaignClosed(Refused):
    """The campaign is not open for claims (not active, or past its endDate)."""


class LimitReached(Refused):
    """The worker has taken the job as often as one worker may."""


class NotOpen(Refused):
    """The assignment was no longer open (submitted, released or expired meanwhile)."""


def item(worker_id: str, assignment_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored assignment (`data` with its `submitBy`), due in the sweep index at that time."""
    stored = ASSIGNMENTS.item(worker_id, assignment_id, data)
    stored["due_pk"], stored["due_sk"] = keys.due(
        "assignment", str(data["submitBy"]), stored["pk"], shards=keys.BUSY_DUE_SHARDS
    )
    return {**stored, "id": assignment_id}


def put_op(assignment: Mapping[str, Any]) -> dict[str, Any]:
    """The Put of a new assignment (from item()) for a transaction."""
    return dynamo.put_op({k: v for k, v in assignment.items() if k != "id"}, "attribute_not_exists(pk)")


def get(worker_id: str, assignment_id: str) -> dict[str, Any] | None:
    return ASSIGNMENTS.get(worker_id, assignment_id, consistent=True)


def list_page(worker_id: str, query: ListQuery) -> Page:
    return ASSIGNMENTS.list(worker_id, query)


def claim(
    assignment: Mapping[str, Any],
    market_item: Mapping[str, Any],
    now_iso: str,
    active: str,
    events: Sequence[dict[str, Any]] = (),
) -> None:
    """Write a claim of one slot of `market_item` (as read) for the new `assignment`, with its `events`
    (outbox items).

    CampaignClosed, LimitReached, or SlotMoved (the slot count changed since it was read:
    read it again); concurrent claims on the same item are retried first.
    """
    requester, campaign_id, job_id = (
        market_item["account_id"],
        market_item["campaign_id"],
        market_item["job_id"],
    )
    limit = market_item.get("max_per_worker")
    changes: list[Change | dict[str, Any]] = [
        campaigns.require_open_for_claims(campaigns.change(requester, campaign_id), now_iso, active),
        market.take_slot(market.item_change(job_id, campaign_id), int(market_item["remaining"]), now_iso),
        market.count_taken(
            market.worker_job_change(str(assignment["worker_id"]), campaign_id, job_id),
            None if limit is None else int(limit),
        ),
        put_op(assignment),
        *events,
    ]
    try:
        dynamo.retry_contended(lambda: market.transact(changes))
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise CampaignClosed(campaign_id) from exc
        if exc.failed(2):
            raise LimitReached(job_id) from exc
        if exc.failed(1):
            raise market.SlotMoved(job_id) from exc
        raise Contended(job_id) from exc


def _end_changes(assignment: Mapping[str, Any], state: str, now_iso: str, *, open_path: bool) -> list[Change]:
    """An open assignment ends without a result (released or expired): its slot goes back."""
    change = Change(*ASSIGNMENTS.key(assignment["worker_id"], assignment["id"]))
    change.set("state", state).set("endedAt", now_iso).remove("due_pk", "due_sk")
    change.require("{state} = :open", open="open")
    if state == "expired":
        change.require("{submitBy} < :now", now=now_iso)
    counter = market.uncount_taken(
        market.worker_job_change(assignment["worker_id"], assignment["campaign_id"], assignment["job_id"])
    )
    slot = market.slot_back(
        open_path=open_path,
        requester_id=assignment["requester_id"],
        campaign_id=assignment["campaign_id"],
        job_id=assignment["job_id"],
    )
    # one more assignment skipped in a row, in the campaign and with the requester (a submission ends the
    # run); `skipped` counts them all: the campaign's rules act at most once per count (services/quality.py)
    skipped = [
        Change(*keys.campaign_worker(assignment["campaign_id"], assignment["worker_id"]))
        .add("skipped_in_row", 1)
        .add("skipped", 1),
        Change(*keys.requester_worker(assignment["requester_id"], assignment["worker_id"])).add(
            "skipped_in_row", 1
        ),
    ]
    return [change, counter, *slot, *skipped]


def end(
    assignment: Mapping[str, Any], state: str, now_iso: str, events: Sequence[dict[str, Any]] = ()
) -> bool:
    """Release or expire an open assignment, with its `events` (outbox items); True when its slot could
    not reopen (the job is closed: the campaign needs one result fewer, and may now be complete).
    NotOpen if it was not open."""

    def attempt(open_path: bool) -> None:
        market.transact([*_end_changes(assignment, state, now_iso, open_path=open_path), *events])

    try:
        dynamo.retry_contended(lambda: attempt(True))
        return False
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise NotOpen(assignment["id"]) from exc
        if not exc.failed(2):
            raise Contended(assignment["id"]) from exc
    try:
        dynamo.retry_contended(lambda: attempt(False))
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise NotOpen(assignment["id"]) from exc
        raise Contended(assignment["id"]) from exc
    return True


def due_to_expire(now_iso: str, limit: int) -> list[dict[str, Any]]:
    """Open assignments past their upload deadline, as the sweep index projects them (what an ending
    needs), or read from the table for entries the index does not project that for."""
    found = []
    for due in sweeps.due_items("assignment", now_iso, limit, shards=keys.BUSY_DUE_SHARDS):
        entry = due if "requester_id" in due else dynamo.get(due["pk"], due["sk"], consistent=True)
        if entry is not None:
            found.append({**entry, "id": entry["sk"]})
    return found


def submitted_change(assignment: Mapping[str, Any], result_id: str, now_iso: str) -> Change:
    """The assignment's part of a submission: it must still be open and within `submitBy`."""
    change = Change(*ASSIGNMENTS.key(assignment["worker_id"], assignment["id"]))
    change.set("state", "submitted").set("result_id", result_id).set("endedAt", now_iso)
    return change.remove("due_pk", "due_sk").require(
        "{state} = :open AND {submitBy} >= :now", open="open", now=now_iso
    )
