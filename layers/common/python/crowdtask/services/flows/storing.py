"""Tasks uploaded, one or many, in the bulk API's modes, stored, and their operations ended.

An operation whose end also publishes or continues its campaigns (open_pool) is not ended here: it
is handed back (`Upload.opening`, or the functions' Ending) for flows/uploading.py, which opens the
campaigns first. That needs the campaign, market and publishing services (measured: ~13 ms of a
cold start), and only uploads with open_pool=true do: the upload route loads this module alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from crowdtask import errors
from crowdtask.models.bulk import BulkCreateOut, OperationOut
from crowdtask.models.tasks import TaskOut
from crowdtask.services import bulk, bulk_chunks, bulk_items, quotas, tasks
from crowdtask.services.bulk_chunks import Ending
from crowdtask.services.bulk_items import BulkParams


class Upload(NamedTuple):
    """What an upload of tasks answers: one task, the created items, an operation (202), or the
    refusal of its one task; and an operation it ended whose campaigns are still to open
    (flows/uploading.end_operation), which comes first, even before that refusal is raised."""

    task: TaskOut | None = None
    items: BulkCreateOut | None = None
    operation: OperationOut | None = None
    quota_headers: dict[str, str] | None = None
    opening: Ending = None
    refusal: errors.ValidationFailed | None = None


def upload_tasks(account_id: str, body: dict[str, Any] | list[Any], params: BulkParams) -> Upload:
    """POST of one task (a JSON object) or many (an array), in the bulk API's modes.

    One task of its own (bulk_items.is_one_task) is not one of these: the edge creates it with
    tasks.create_one without loading the bulk path. One task sent with an operation_id, or a pool
    task, goes through it; a single task refused is a 422 naming its fields, as for any single task
    (raised here, or, when skip_invalid_items=true let its operation end, handed back in `refusal`).
    """
    items = body if isinstance(body, list) else [body]
    if params.async_mode:
        operation, reservation_or_none, opening = submit_tasks(account_id, items, params)
        return Upload(
            operation=operation,
            quota_headers=reservation_or_none.headers() if reservation_or_none else None,
            opening=opening,
        )
    try:
        reply, reservation, opening = create_tasks_now(account_id, items, params)
    except bulk.Deferred as deferred:  # could not finish in time: the bulk worker finishes it
        return Upload(operation=deferred.operation)
    except bulk_items.BulkRefused as refused:
        if isinstance(body, dict):  # one pool task: its fields, as for any single task
            raise _refusal_of(refused.validation_errors["0"]) from None
        raise
    if isinstance(body, list):
        return Upload(items=reply, quota_headers=reservation.headers(), opening=opening)
    if "0" not in reply.items:  # refused, and skip_invalid_items=true skipped it: its operation ended
        skipped = (reply.validation_errors or {}).get("0", {})
        refusal = _refusal_of({name: problem.model_dump() for name, problem in skipped.items()})
        return Upload(refusal=refusal, opening=opening)
    # a task just made is in no job, so opening its campaign leaves it as read here
    task = tasks.get_task(account_id, reply.items["0"].id)
    return Upload(task=task, quota_headers=reservation.headers(), opening=opening)


def _refusal_of(problems: dict[str, dict[str, str]]) -> errors.ValidationFailed:
    return errors.ValidationFailed([{"field": name, **problem} for name, problem in problems.items()])


def create_tasks_now(
    account_id: str, items: list[Any], params: BulkParams
) -> tuple[BulkCreateOut, quotas.Reservation, Ending]:
    """A synchronous bulk upload, then its operation's end, unless that opens campaigns (handed back)."""
    created = bulk.create_now(account_id, items, params)
    return created.reply, created.reservation, end_operation(created.ending)


def submit_tasks(
    account_id: str, items: list[Any], params: BulkParams
) -> tuple[OperationOut, quotas.Reservation | None, Ending]:
    """An asynchronous bulk upload (an operation with nothing to store ends at once, as above)."""
    submitted = bulk.submit(account_id, items, params)
    return submitted.operation, submitted.reservation, end_operation(submitted.ending)


def store_task_chunk(message: dict[str, Any]) -> Ending:
    """The bulk worker's chunk of tasks, then its operation's end if it ended it (as above)."""
    return end_operation(bulk_chunks.store_chunk(message))


def dead_task_chunk(message: dict[str, Any]) -> Ending:
    """A dead-lettered chunk of tasks (bulk_chunks.dead_chunk), then the operation's end (as above)."""
    return end_operation(bulk_chunks.dead_chunk(message))


def end_operation(ending: Ending) -> Ending:
    """Record an operation's end; one that opens its campaigns (open_pool) is handed back instead."""
    if ending is None or bulk_chunks.opens_pools(ending):
        return ending
    bulk_chunks.record_end(ending, [])
    return None
