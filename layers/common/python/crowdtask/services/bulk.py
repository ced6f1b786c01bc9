"""Bulk task creation, the API's side: an array of tasks stored at once, or through the bulk queue.

Synchronous requests (up to bulk_items.SYNC_LIMIT items) store the tasks before answering.
Asynchronous ones answer with an operation and travel in chunks to the bulk worker
(services/bulk_chunks.py). Both reserve their quota first and are operations, listed and logged
alike. A function here that may end its operation hands it back (bulk_chunks.Ending) for the
coordinator to do what the end asks.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any, NamedTuple

from crowdtask import clock, errors, ids
from crowdtask.models.bulk import BulkCreateOut, BulkTaskOut, OperationOut
from crowdtask.observability import logger
from crowdtask.services import bulk_chunks, quotas
from crowdtask.services.bulk_chunks import Ending, chunk_messages, ranges
from crowdtask.services.bulk_items import (
    BulkParams,
    BulkRefused,
    Prepared,
    check_operation_id,
    check_size,
    prepare,
)
from crowdtask.services.operations import to_operation
from crowdtask.store import operations as store
from crowdtask.store import queues

__all__ = ["BulkParams", "BulkRefused", "Created", "Deferred", "Submitted", "create_now", "submit"]
_INVALID_PART_BYTES = 300_000  # refused items are stored in parts below DynamoDB's 400 KB item limit


class Created(NamedTuple):
    reply: BulkCreateOut
    reservation: quotas.Reservation
    ending: Ending


class Submitted(NamedTuple):
    operation: OperationOut
    reservation: quotas.Reservation | None
    ending: Ending


def _bulk_out(task_id: str, content: dict[str, Any], created: str) -> BulkTaskOut:
    return BulkTaskOut(
        id=task_id,
        pool_id=content.get("pool_id"),
        input_values=content.get("input_values"),
        overlap=content.get("overlap"),
        name=content.get("name"),
        created=created,
    )


# ---------------------------------------------------------------- synchronous
def create_now(account_id: str, raw_items: list[Any], params: BulkParams) -> Created:
    """Store the tasks before answering. It is an operation too (GET /operations lists it), whose
    chunks this request stores itself instead of queueing them; a chunk it could not store goes
    to the bulk queue, so the bulk worker finishes it (Deferred)."""
    check_size(raw_items, params)
    operation_id = check_operation_id(params.operation_id) or str(uuid.uuid4())
    digest = _digest(raw_items, params)
    prepared = prepare(account_id, raw_items, params)
    if prepared.invalid and not params.skip_invalid_items:
        raise BulkRefused(prepared.invalid)
    existing = store.get(account_id, operation_id, consistent=True) if params.operation_id else None
    ending: Ending = None
    fresh = existing is None
    if existing is not None:  # sent before: finish what is left of it and answer the same
        if existing.get("digest") != digest:
            raise _other_upload(operation_id)
        item, messages = existing, _messages_again(existing, prepared)
        reservation = quotas.reserve(account_id, 0)
    else:
        started = _start(account_id, operation_id, raw_items, params, prepared, digest=digest)
        if started is None:
            raise errors.Conflict(f"Operation {operation_id} is being created by another request right now.")
        item, reservation, messages, ending = started
    for n, message in enumerate(messages):
        try:
            last = n == len(messages) - 1
            ending = bulk_chunks.store_chunk(message, fresh=fresh, last=last) or ending
        except Exception as exc:
            logger.exception("a chunk of a synchronous upload failed; the bulk worker finishes it")
            _queue(account_id, operation_id, messages[n:])
            raise Deferred(
                to_operation(store.get(account_id, operation_id, consistent=True) or item)
            ) from exc
    if messages and ending is None:  # an operation that finished is queued too (store.finish says so)
        store.mark_queued(account_id, operation_id, clock.iso(clock.now()))
    created = clock.iso(datetime.fromisoformat(item["submitted_precise"]))
    reply = BulkCreateOut(
        items={
            str(index): _bulk_out(ids.derived_id(item["base_id"], index), content, created)
            for index, content in prepared.valid
        },
        validation_errors={str(i): p for i, p in sorted(prepared.invalid.items())}
        if prepared.invalid
        else None,
    )
    return Created(reply, reservation, ending)


class Deferred(Exception):
    """A synchronous upload that could not finish in the request: the bulk worker finishes it."""

    def __init__(self, operation: OperationOut):
        super().__init__(operation.id)
        self.operation = operation


def _other_upload(operation_id: str) -> errors.Conflict:
    return errors.Conflict(
        f"operation_id {operation_id} belongs to another upload (other tasks or parameters); "
        "use a new operation_id for new tasks."
    )


# ---------------------------------------------------------------- asynchronous
def _digest(raw_items: list[Any], params: BulkParams) -> str:
    text = json.dumps([raw_items, params.stored()], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _invalid_parts(
    raw_items: list[Any], invalid: dict[int, dict[str, dict[str, str]]]
) -> list[dict[str, Any]]:
    parts: list[list[str]] = [[]]
    size = 0
    for index, problems in sorted(invalid.items()):
        entry = {"index": index, "input": raw_items[index], "errors": problems}
        encoded = json.dumps(entry, default=str)
        if len(encoded) > _INVALID_PART_BYTES:
            entry["input"] = None  # too large to keep: the errors still say what is wrong
            encoded = json.dumps(entry, default=str)
        if parts[-1] and size + len(encoded) > _INVALID_PART_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(encoded)
        size += len(encoded)
    # each entry encoded once: joined as json.dumps would write the list
    return [{"entries_json": "[" + ", ".join(part) + "]"} for part in parts if part]


def submit(account_id: str, raw_items: list[Any], params: BulkParams) -> Submitted:
    """Start an asynchronous upload; with an operation_id already used, the same operation again."""
    check_size(raw_items, params)
    operation_id = check_operation_id(params.operation_id) or str(uuid.uuid4())
    digest = _digest(raw_items, params)
    existing = store.get(account_id, operation_id, consistent=True)
    if existing is not None:
        return Submitted(_again(account_id, existing, raw_items, params, digest), None, None)
    prepared = prepare(account_id, raw_items, params)
    started = _start(account_id, operation_id, raw_items, params, prepared, digest=digest)
    if started is None:  # the same operation_id, sent twice at the same moment: the other one won
        winner = store.get(account_id, operation_id, consistent=True)
        assert winner is not None
        return Submitted(_again(account_id, winner, raw_items, params, digest), None, None)
    item, reservation, messages, ending = started
    _queue(account_id, operation_id, messages)
    operation = to_operation(store.get(account_id, operation_id, consistent=True) or item)
    return Submitted(operation, reservation, ending)


def _start(
    account_id: str,
    operation_id: str,
    raw_items: list[Any],
    params: BulkParams,
    prepared: Prepared,
    *,
    digest: str = "",
) -> tuple[dict[str, Any], quotas.Reservation, list[dict[str, Any]], Ending] | None:
    """Reserve the quota and store the operation with its refused items; its chunks, not sent yet.

    None if an operation of this id exists already (its quota is given back). An operation with
    nothing to store ends as it starts: it is handed back as the Ending.
    """
    refuse_all = bool(prepared.invalid) and not params.skip_invalid_items
    to_store = [] if refuse_all else prepared.valid
    reservation = quotas.reserve(account_id, len(to_store))
    with reservation.given_back_on_failure():  # nothing of it was stored
        started = _put_operation(account_id, operation_id, raw_items, params, prepared, refuse_all, digest)
    if started is None:
        reservation.give_back()
        return None
    item, messages = started
    ending = None if messages else bulk_chunks.finish_if_done(account_id, operation_id)
    return item, reservation, messages, ending


def _put_operation(
    account_id: str,
    operation_id: str,
    raw_items: list[Any],
    params: BulkParams,
    prepared: Prepared,
    refuse_all: bool,
    digest: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    to_store = [] if refuse_all else prepared.valid
    now = clock.now()
    submitted_precise = clock.iso_precise(now)
    base_id = ids.new_id()
    messages = chunk_messages(account_id, operation_id, base_id, submitted_precise, to_store)
    item = store.operation_item(
        account_id,
        operation_id,
        submitted_precise,
        {
            "account_id": account_id,
            "operation_id": operation_id,
            "base_id": base_id,
            "digest": digest,
            "parameters": params.stored(),
            "submitted": clock.iso(now),
            "submitted_precise": submitted_precise,
            "total_count": prepared.total,
            "valid_count": len(prepared.valid),
            "not_valid_count": len(prepared.invalid),
            "to_store_count": len(to_store),
            "success_count": 0,
            "failed_count": prepared.total if refuse_all else len(prepared.invalid),
            "chunk_count": len(messages),
            "chunks_done": 0,
            "pools": sorted(prepared.pools),
            "refused_all": refuse_all,
            # the chunks as cut: a resumed request cuts exactly these again
            "valid_ranges": ranges([index for index, _ in to_store]),
            "chunk_sizes": [len(message["items"]) for message in messages],
        },
    )
    if not messages:  # nothing to store: the operation ends as it starts
        item.update(
            final_status="FAIL" if refuse_all else "SUCCESS",
            finished=item["submitted"],
            started=item["submitted"],
            queued_at=item["submitted"],
        )
    if not store.put_new(item):
        return None
    if prepared.invalid:
        store.put_invalid(account_id, operation_id, _invalid_parts(raw_items, prepared.invalid))
    return item, messages


def _queue(account_id: str, operation_id: str, messages: list[dict[str, Any]]) -> None:
    queues.send_bulk(messages)
    if messages:
        store.mark_queued(account_id, operation_id, clock.iso(clock.now()))


def _again(
    account_id: str, existing: dict[str, Any], raw_items: list[Any], params: BulkParams, digest: str
) -> OperationOut:
    """The same operation_id again: the same operation; it resumes queueing if the first try died."""
    if existing.get("digest") != digest:
        raise _other_upload(existing["operation_id"])
    if not existing.get("queued_at"):
        messages = _messages_again(existing, prepare(account_id, raw_items, params))
        _queue(account_id, existing["operation_id"], messages)
        existing = store.get(account_id, existing["operation_id"], consistent=True) or existing
    return to_operation(existing)


def _messages_again(existing: dict[str, Any], prepared: Prepared) -> list[dict[str, Any]]:
    """The operation's chunks, cut as they were the first time (same items, same numbers)."""
    to_store = [] if existing.get("refused_all") else prepared.valid
    if ranges([index for index, _ in to_store]) != [
        list(map(int, r)) for r in existing.get("valid_ranges", [])
    ]:
        raise errors.Conflict(
            f"The tasks of operation {existing['operation_id']} validate differently now (a campaign "
            "changed); send them with a new operation_id."
        )
    sizes = [int(n) for n in existing.get("chunk_sizes", [])]
    return chunk_messages(
        existing["account_id"],
        existing["operation_id"],
        existing["base_id"],
        existing["submitted_precise"],
        to_store,
        sizes,
    )
