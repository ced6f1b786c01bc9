"""Bulk operations: the operation item, the record of each chunk, and counters that never lose an update.

A chunk is counted into its operation in the same transaction that records it, and the record
is put only if absent: a redelivered chunk, or two workers racing on one, count it once.
The operation ends exactly once: the update that marks it finished is conditioned on every
chunk being counted and on its not being finished yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from crowdtask import clock
from crowdtask.store import Contended, Refused, dynamo, keys, sweeps
from crowdtask.store.collections import can_name_item


class OperationGone(LookupError):
    """A chunk names an operation that is not there (never created, or a stray message)."""


def put_new(item: dict[str, Any]) -> bool:
    """Store a new operation; False when one with this id exists already (the caller reads it)."""
    try:
        dynamo.put(item, condition="attribute_not_exists(pk)")
    except dynamo.ConditionFailed:
        return False
    return True


def operation_item(
    account_id: str, operation_id: str, submitted_precise: str, data: dict[str, Any]
) -> dict[str, Any]:
    pk, sk = keys.operation(account_id, operation_id)
    return {
        "pk": pk,
        "sk": sk,
        "type": "operation",
        "gsi1pk": keys.operations_of_account(account_id),
        "gsi1sk": f"{submitted_precise}#{operation_id}",
        **data,
    }


def get(account_id: str, operation_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    if not can_name_item(operation_id):
        return None
    return dynamo.get(*keys.operation(account_id, operation_id), consistent=consistent)


def mark_queued(account_id: str, operation_id: str, now_iso: str) -> None:
    """Every chunk is on the queue: the operation no longer needs the client to send it again."""
    dynamo.update(
        *keys.operation(account_id, operation_id),
        "SET queued_at = if_not_exists(queued_at, :now)",
        condition="attribute_exists(pk)",
        vals={":now": now_iso},
    )


def put_invalid(account_id: str, operation_id: str, parts: list[dict[str, Any]]) -> None:
    """The refused items, in parts small enough for one item each."""
    pk = keys.operation_partition(account_id, operation_id)
    dynamo.batch_put(
        {"pk": pk, "sk": keys.operation_invalid(account_id, operation_id, n)[1], "type": "op-invalid", **part}
        for n, part in enumerate(parts)
    )


def operation_and_chunk(account_id: str, operation_id: str, chunk: int) -> tuple[bool, bool]:
    """(the operation exists, the chunk was counted before), in one strongly consistent read."""
    wanted = [keys.operation(account_id, operation_id), keys.operation_chunk(account_id, operation_id, chunk)]
    found = dynamo.batch_get(wanted, consistent=True)
    return wanted[0] in found, wanted[1] in found


def chunk_done(account_id: str, operation_id: str, chunk: int) -> bool:
    return dynamo.get(*keys.operation_chunk(account_id, operation_id, chunk), consistent=True) is not None


class ExtraRefused(Refused):
    """An extra operation of the counting transaction failed its condition (`index` of the extras)."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


def count_chunk(
    account_id: str,
    operation_id: str,
    chunk: int,
    record: dict[str, Any],
    *,
    success: int,
    failed: int,
    now_iso: str,
    unfunded: int = 0,
    extra: list[dict[str, Any]] | None = None,
    market_pending: list[str] | None = None,
) -> bool:
    """Record one chunk and add its counts to the operation (and `extra` with them); False if counted before.

    With `market_pending` (live campaigns whose market items are still to be made), the record
    is due in the sweep index until clear_market_pending. OperationGone when the operation is not
    there; ExtraRefused when an operation of `extra` failed its condition; Contended when other
    chunks counting into the same items kept cancelling this one.
    """
    pk, sk = keys.operation_chunk(account_id, operation_id, chunk)
    stored = {"pk": pk, "sk": sk, "type": "op-chunk", "account_id": account_id, **record}
    if market_pending:
        stored["market_pending"] = market_pending
        # the worker opens them right after; the market scheduler steps in if it did not a minute later
        later = clock.iso(datetime.fromisoformat(now_iso + "+00:00") + timedelta(minutes=1))
        stored["due_pk"], stored["due_sk"] = keys.due("pool-chunk", later, pk + sk)
    operations = [
        dynamo.put_op(stored, "attribute_not_exists(pk)"),
        dynamo.update_op(
            *keys.operation(account_id, operation_id),
            "ADD success_count :s, failed_count :f, chunks_done :one, unfunded_count :u "
            "SET started = if_not_exists(started, :now)",
            "attribute_exists(pk)",
            vals={":s": success, ":f": failed, ":one": 1, ":u": unfunded, ":now": now_iso},
        ),
        *(extra or []),
    ]
    try:
        dynamo.retry_contended(lambda: dynamo.transact(operations))
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            return False
        if exc.failed(1):
            raise OperationGone(f"operation {operation_id} of account {account_id} does not exist") from exc
        for index in range(len(exc.reasons) - 2):
            if exc.failed(index + 2):
                raise ExtraRefused(index) from exc
        raise Contended(operation_id) from exc
    return True


def clear_market_pending(account_id: str, operation_id: str, chunk: int) -> None:
    """The chunk's pool tasks are all on the market: it is no longer due."""
    _clear_pending(*keys.operation_chunk(account_id, operation_id, chunk))


def _clear_pending(pk: str, sk: str) -> None:
    dynamo.update(pk, sk, "REMOVE market_pending, due_pk, due_sk", condition="attribute_exists(pk)")


def pending_market_chunks(now_iso: str, limit: int) -> list[dict[str, Any]]:
    """Chunk records counted into live campaigns whose market items may not all exist (a crash in
    between), due a minute after they were counted: `account_id`, `base_id`, `ranges`,
    `market_pending` (the campaigns) and `cursor` (which record it is)."""
    found = []
    for entry in sweeps.due_items("pool-chunk", now_iso, limit):
        record = dynamo.get(entry["pk"], entry["sk"], consistent=True)
        if record is not None and record.get("market_pending"):
            found.append({**record, "cursor": f"{record['pk']}/{record['sk']}"})
    return found


def clear_pending(record: dict[str, Any]) -> None:
    """clear_market_pending for a record of pending_market_chunks."""
    _clear_pending(record["pk"], record["sk"])


def finish(
    account_id: str, operation_id: str, status: str, now_iso: str, *, if_none_failed: bool = False
) -> dict[str, Any] | None:
    """Mark the operation ended: the operation as it is now for the one caller that did it, else None.
    Every chunk is counted, so none is left for the client to send again: it is queued too.

    `if_none_failed`: only if no valid task failed either (its failures are its refused items alone,
    services/operations.store_failures is 0), so the caller need not read it first to know.
    """
    condition = "attribute_not_exists(final_status) AND chunks_done = chunk_count"
    if if_none_failed:
        condition += " AND failed_count = not_valid_count"
    try:
        return dynamo.update(
            *keys.operation(account_id, operation_id),
            "SET final_status = :status, finished = :now, queued_at = if_not_exists(queued_at, :now)",
            condition=condition,
            vals={":status": status, ":now": now_iso},
        )
    except dynamo.ConditionFailed:
        return None


def mark_ended(account_id: str, operation_id: str, events: Sequence[dict[str, Any]] = ()) -> None:
    """The operation's end was acted on; its `events` (outbox items) commit with the mark."""
    dynamo.update(
        *keys.operation(account_id, operation_id),
        "SET ended = :true",
        vals={":true": True},
        also=events,
        read_back=False,
    )


def note_open_pool_errors(account_id: str, operation_id: str, problems: list[str]) -> None:
    dynamo.update(
        *keys.operation(account_id, operation_id),
        "SET open_pool_errors = :problems",
        vals={":problems": problems},
    )


def records(account_id: str, operation_id: str) -> list[dict[str, Any]]:
    """Every chunk and refusal record of the operation (not the operation itself)."""
    found: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        page, start = dynamo.query(
            key_condition="pk = :pk AND sk < :op",
            vals={":pk": keys.operation_partition(account_id, operation_id), ":op": keys.OPERATION_SK},
            start_key=start,
            consistent=True,
        )
        found.extend(
            {**row, "kind": "invalid" if row["sk"].startswith("INVALID#") else "chunk"} for row in page
        )
        if start is None:
            return found


def list_of_account(
    account_id: str, limit: int, before: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the account's operations, newest first; the cursor to pass for the next page."""
    condition = "gsi1pk = :p"
    vals: dict[str, Any] = {":p": keys.operations_of_account(account_id)}
    if before:
        condition += " AND gsi1sk < :c"
        vals[":c"] = before
    items, _ = dynamo.query(index="gsi1", key_condition=condition, vals=vals, forward=False, limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return items, (items[-1]["gsi1sk"] if more and items else None)


# ---------------------------------------------------------------- aggregation runs
def run_started(account_id: str, operation_id: str, now_iso: str) -> bool:
    """An aggregation run begins (again, after a redelivery); False when it has ended already."""
    try:
        dynamo.update(
            *keys.operation(account_id, operation_id),
            "SET started = if_not_exists(started, :now)",
            condition="attribute_exists(pk) AND attribute_not_exists(final_status)",
            vals={":now": now_iso},
        )
    except dynamo.ConditionFailed:
        return False
    return True


def run_ended(
    account_id: str, operation_id: str, status: str, now_iso: str, counts: dict[str, int] | None = None
) -> bool:
    """An aggregation run ends once, with what it read; False when it had ended already."""
    vals: dict[str, Any] = {":status": status, ":now": now_iso}
    expression = "SET final_status = :status, finished = :now"
    for n, (name, value) in enumerate((counts or {}).items()):
        expression += f", {name} = :c{n}"
        vals[f":c{n}"] = value
    try:
        dynamo.update(
            *keys.operation(account_id, operation_id),
            expression,
            condition="attribute_exists(pk) AND attribute_not_exists(final_status)",
            vals=vals,
        )
    except dynamo.ConditionFailed:
        return False
    return True
