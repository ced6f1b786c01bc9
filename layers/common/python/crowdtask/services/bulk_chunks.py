"""Bulk uploads in chunks: the message format, and the bulk worker's side (store, count, end).

An operation's valid items travel in chunks, as many tasks per SQS message as fit, to the bulk
worker (a synchronous upload stores its chunks itself). Task ids are derived from the operation
and the item's index, and the tasks of one operation carry its submission time, so a chunk
delivered twice writes the same items again and never adds any; the chunk is counted into the
operation once (store/operations.py), and the operation ends once, when its last chunk is counted.
What an operation's end asks for (its event; opening its campaigns) is the coordinator's
(services/flows/storing.py and uploading.py): the functions here hand back the operation whose end
is still to be done.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from crowdtask import clock, ids
from crowdtask.models.tasks import parse_task
from crowdtask.observability import logger
from crowdtask.services import operations, pools, pricing
from crowdtask.services.tasks import new_task_data, task_content
from crowdtask.store import operations as store
from crowdtask.store import outbox, queues
from crowdtask.store import tasks as task_store

MESSAGE_KIND = "tasks.create"
POOLS_PER_CHUNK = 40  # a chunk's counting transaction takes up to 2 actions per campaign (limit 100)
Ending = dict[str, Any] | None  # an operation whose end is still to be done (flows/storing.end_operation)


# ---------------------------------------------------------------- the message format
@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    """A task's content when nothing is set but its name: what a message can leave out."""
    defaults = task_content(parse_task({"name": "-"}))
    defaults.pop("name")
    return defaults


def compact(content: dict[str, Any]) -> dict[str, Any]:
    defaults = _defaults()
    return {k: v for k, v in content.items() if k not in defaults or defaults[k] != v}


def expand(compacted: dict[str, Any]) -> dict[str, Any]:
    return {**_defaults(), **compacted}


def task_records(
    account_id: str,
    entries: list[tuple[str, dict[str, Any]]],
    created: datetime,
    operation_id: str | None = None,
) -> list[dict[str, Any]]:
    """The stored items of new tasks (id, content) of an operation."""
    stamped = []
    for task_id, content in entries:
        data = new_task_data(content, created)
        if operation_id:
            data["operation_id"] = operation_id
        stamped.append((task_id, data))
    return task_store.records(account_id, stamped)


def chunk_messages(
    account_id: str,
    operation_id: str,
    base_id: str,
    created_precise: str,
    valid: list[tuple[int, dict[str, Any]]],
    sizes: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Queue messages carrying as many items as fit under the SQS size limit, in index order.

    A chunk names at most POOLS_PER_CHUNK campaigns. `sizes` (items per chunk, as stored with the
    operation) cuts the same chunks again when an interrupted request is resumed.
    """
    head = {
        "kind": MESSAGE_KIND,
        "account_id": account_id,
        "operation_id": operation_id,
        "base_id": base_id,
        "created": created_precise,
        "chunk": 999999,
        "items": [],
    }
    base_size = queues.message_size(head) + 16
    messages: list[dict[str, Any]] = []
    current: list[list[Any]] = []
    campaigns: set[str] = set()
    size = base_size

    def full(entry_size: int, pool: str | None) -> bool:
        if sizes is not None:
            return len(current) >= sizes[len(messages)]
        too_many = pool is not None and pool not in campaigns and len(campaigns) >= POOLS_PER_CHUNK
        return size + entry_size > queues.MAX_MESSAGE_BYTES or too_many

    for index, content in valid:
        entry = [index, compact(content)]
        entry_size = queues.message_size({"e": entry}) - 5
        if current and full(entry_size, content.get("pool_id")):
            messages.append({**head, "chunk": len(messages), "items": current})
            current, size, campaigns = [], base_size, set()
        current.append(entry)
        size += entry_size + 1
        if content.get("pool_id"):
            campaigns.add(content["pool_id"])
    if current:
        messages.append({**head, "chunk": len(messages), "items": current})
    return messages


def ranges(indexes: list[int]) -> list[list[int]]:
    """[0, 1, 2, 5, 6] -> [[0, 3], [5, 7]] (half-open): a chunk's indexes, stored small."""
    found: list[list[int]] = []
    for index in indexes:
        if found and found[-1][1] == index:
            found[-1][1] += 1
        else:
            found.append([index, index + 1])
    return found


# ---------------------------------------------------------------- the bulk worker's side
def store_chunk(message: dict[str, Any], *, fresh: bool = False, last: bool = False) -> Ending:
    """Store one chunk of an operation (a bulk queue message of kind `tasks.create`); safe to run again.

    Returns the operation when this chunk ended it (or it ended before, and its end is still to do).
    `fresh`: the request storing it made the operation a moment ago and has queued none of its chunks,
    so the operation exists and the chunk is not counted (nothing to read to know it). `last`: the
    request stores the chunks in order and this is the last one, so it most likely ends it.
    """
    account_id, operation_id, chunk = message["account_id"], message["operation_id"], int(message["chunk"])
    exists, counted_before = (
        (True, False) if fresh else store.operation_and_chunk(account_id, operation_id, chunk)
    )
    if counted_before:
        return finish_if_done(account_id, operation_id)  # counted before: the end may still be to do
    if not exists:
        raise store.OperationGone(f"chunk {chunk} names operation {operation_id}, which does not exist")
    created = datetime.fromisoformat(message["created"])
    entries = [
        (ids.derived_id(message["base_id"], int(index)), expand(content))
        for index, content in message["items"]
    ]
    task_store.put_records(task_records(account_id, entries, created, operation_id))
    indexes = [int(index) for index, _ in message["items"]]
    record = {"ranges": ranges(indexes), "stored": len(indexes), "base_id": message["base_id"]}
    per_pool: dict[str, tuple[int, int]] = {}
    for _, content in entries:
        if "pool_id" in content:
            count, results = per_pool.get(content["pool_id"], (0, 0))
            per_pool[content["pool_id"]] = (count + 1, results + pricing.needed(content))
    where = pools.Chunk(operation_id, chunk, message["base_id"], record["ranges"])
    counted, live = _count(account_id, where, record, len(indexes), per_pool)
    if counted and live:
        tasks = [{**content, "id": task_id, "account_id": account_id} for task_id, content in entries]
        pools.open_chunk(account_id, live, tasks)
        store.clear_market_pending(account_id, operation_id, chunk)
    return finish_if_done(account_id, operation_id, expected=last) if counted else None


def _count(
    account_id: str,
    where: pools.Chunk,
    record: dict[str, Any],
    stored: int,
    per_pool: dict[str, tuple[int, int]],
) -> tuple[bool, list[str]]:
    """Count the chunk into its operation and its tasks into their campaigns, in one transaction.

    A campaign that changed state meanwhile is read again; when the balance cannot pay for tasks
    of a live campaign, they are counted as stored but not funded (they stay off the market).
    """
    fund = True
    for _ in range(8):
        changes = pools.chunk_changes(account_id, where, per_pool, fund=fund)
        try:
            counted = store.count_chunk(
                account_id,
                where.operation_id,
                where.number,
                {**record, **({"unfunded": changes.unfunded} if changes.unfunded else {})},
                success=stored,
                failed=0,
                unfunded=changes.unfunded,
                now_iso=clock.iso(clock.now()),
                extra=changes.operations,
                market_pending=changes.live or None,
            )
        except store.ExtraRefused as refused:
            if changes.pays and refused.index == len(changes.operations) - 1:
                fund = False  # the account's available balance cannot pay for them
            continue  # a campaign moved (published, paused, ended): decide again on what it is now
        return counted, changes.live if counted else []
    raise RuntimeError(
        f"chunk {where.number} of operation {where.operation_id}: its campaigns keep changing; retried later"
    )


def dead_chunk(message: dict[str, Any]) -> Ending:
    """A chunk the bulk worker kept failing on reached the dead-letter queue.

    It gets one last try (what failed may have been passing). If that fails too, the tasks it
    wrote are removed and all of them count as failed, so the log's NOT_STORED is true and
    sending them again cannot double any.
    """
    account_id, operation_id, chunk = message["account_id"], message["operation_id"], int(message["chunk"])
    try:
        return store_chunk(message)
    except store.OperationGone:
        logger.error(
            "dead-lettered chunk of an unknown operation; dropped", extra={"operation": operation_id}
        )
        return None
    except Exception:
        logger.exception("dead-lettered chunk failed its last try", extra={"operation": operation_id})
    if store.chunk_done(account_id, operation_id, chunk):
        return None  # counted after all
    indexes = [int(index) for index, _ in message["items"]]
    task_store.delete(account_id, (ids.derived_id(message["base_id"], i) for i in indexes))
    record = {
        "ranges": ranges(indexes),
        "stored": 0,
        "dead_json": json.dumps([[index, content] for index, content in message["items"]], default=str),
    }
    # the operation exists: store_chunk would have said OperationGone otherwise
    counted = store.count_chunk(
        account_id,
        operation_id,
        chunk,
        record,
        success=0,
        failed=len(indexes),
        now_iso=clock.iso(clock.now()),
    )
    if not counted:
        return None
    logger.warning("bulk chunk dead-lettered", extra={"operation": operation_id, "chunk": chunk})
    return finish_if_done(account_id, operation_id)


def finish_if_done(account_id: str, operation_id: str, *, expected: bool = False) -> Ending:
    """End the operation once every chunk is counted; the operation while its end is still to be done.

    `expected`: the caller counted what should be the last chunk. Its usual end (every chunk counted,
    no valid task lost: SUCCESS) is then tried first, as one conditional write with nothing read
    before; anything else is decided on the operation as read, as without it.
    """
    if expected:
        ended = store.finish(account_id, operation_id, "SUCCESS", clock.iso(clock.now()), if_none_failed=True)
        if ended is not None:
            return ended
    item = store.get(account_id, operation_id, consistent=True)
    if item is None or item.get("ended"):
        return None
    if not item.get("final_status"):
        if int(item.get("chunks_done", 0)) < int(item.get("chunk_count", 0)):
            return None
        # Refused items were skipped as asked; a valid task that could not be stored fails the operation.
        status = "FAIL" if operations.store_failures(item) > 0 else "SUCCESS"
        item = (
            store.finish(account_id, operation_id, status, clock.iso(clock.now()))
            or store.get(account_id, operation_id, consistent=True)
            or item
        )
    return item


def opens_pools(item: dict[str, Any]) -> bool:
    """The operation's end publishes or continues its campaigns (open_pool, and something was stored)."""
    return bool(item["parameters"].get("open_pool")) and not item.get("refused_all")


def record_end(item: dict[str, Any], problems: list[str]) -> None:
    """What the operation's end did: the campaigns that could not be opened, and its event.

    Done again if a crash came before `ended` was set: both are safe twice.
    """
    account_id, operation_id = item["account_id"], item["operation_id"]
    if problems:
        store.note_open_pool_errors(account_id, operation_id, problems)
    data = {
        "accountId": account_id,
        "operationId": operation_id,
        "status": item.get("final_status"),
        "successCount": int(item.get("success_count", 0)),
        "failedCount": int(item.get("failed_count", 0)),
    }
    # Done again after a crash: the same id (from the operation and its end), so the same event.
    ended = clock.parse(item.get("finished")) or clock.now()
    event_id = outbox.derived_event_id(f"operation.finished:{operation_id}", ended)
    finished = outbox.event_item("operation.finished", data, account_id, event_id=event_id, at=ended)
    store.mark_ended(account_id, operation_id, [finished])
