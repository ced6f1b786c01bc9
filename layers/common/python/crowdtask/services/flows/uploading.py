"""Tasks uploaded, one or many, in the bulk API's modes; and what a bulk upload's end asks
(open_pool: publish or continue its campaigns)."""

from __future__ import annotations

from typing import Any, NamedTuple

from crowdtask import errors
from crowdtask.models.bulk import BulkCreateOut, OperationOut
from crowdtask.models.tasks import TaskOut
from crowdtask.observability import logger
from crowdtask.services import bulk, bulk_chunks, bulk_items, campaigns, lifecycle, quotas, tasks
from crowdtask.services.bulk_items import BulkParams
from crowdtask.services.flows.publishing import go_live


class Upload(NamedTuple):
    """What an upload of tasks answers: one task, the created items, or an operation (202)."""

    task: TaskOut | None = None
    items: BulkCreateOut | None = None
    operation: OperationOut | None = None
    quota_headers: dict[str, str] | None = None


def upload_tasks(account_id: str, body: dict[str, Any] | list[Any], params: BulkParams) -> Upload:
    """POST of one task (a JSON object) or many (an array), in the bulk API's modes.

    One task of its own (bulk_items.is_one_task) is not one of these: the edge creates it with
    tasks.create_one without loading the bulk path. One task sent with an operation_id, or a pool
    task, goes through it; a single task refused is a 422 naming its fields, as for any single task.
    """
    items = body if isinstance(body, list) else [body]
    if params.async_mode:
        operation, reservation_or_none = submit_tasks(account_id, items, params)
        return Upload(
            operation=operation, quota_headers=reservation_or_none.headers() if reservation_or_none else None
        )
    try:
        reply, reservation = create_tasks_now(account_id, items, params)
    except bulk.Deferred as deferred:  # could not finish in time: the bulk worker finishes it
        return Upload(operation=deferred.operation)
    except bulk_items.BulkRefused as refused:
        if isinstance(body, dict):  # one pool task: its fields, as for any single task
            raise _refusal_of(refused.validation_errors["0"]) from None
        raise
    if isinstance(body, list):
        return Upload(items=reply, quota_headers=reservation.headers())
    if "0" not in reply.items:  # refused, and skip_invalid_items=true skipped it
        skipped = (reply.validation_errors or {}).get("0", {})
        raise _refusal_of({name: problem.model_dump() for name, problem in skipped.items()})
    return Upload(task=tasks.get_task(account_id, reply.items["0"].id), quota_headers=reservation.headers())


def _refusal_of(problems: dict[str, dict[str, str]]) -> errors.ValidationFailed:
    return errors.ValidationFailed([{"field": name, **problem} for name, problem in problems.items()])


def create_tasks_now(
    account_id: str, items: list[Any], params: BulkParams
) -> tuple[BulkCreateOut, quotas.Reservation]:
    """A synchronous bulk upload, then what its end asks."""
    created = bulk.create_now(account_id, items, params)
    if created.ending is not None:
        end_operation(created.ending)
    return created.reply, created.reservation


def submit_tasks(
    account_id: str, items: list[Any], params: BulkParams
) -> tuple[OperationOut, quotas.Reservation | None]:
    """An asynchronous bulk upload (an operation with nothing to store ends at once)."""
    submitted = bulk.submit(account_id, items, params)
    if submitted.ending is not None:
        end_operation(submitted.ending)
    return submitted.operation, submitted.reservation


def store_task_chunk(message: dict[str, Any]) -> None:
    """The bulk worker's chunk of tasks, then what the operation's end asks once it ends."""
    ending = bulk_chunks.store_chunk(message)
    if ending is not None:
        end_operation(ending)


def dead_task_chunk(message: dict[str, Any]) -> None:
    """A dead-lettered chunk of tasks (bulk_chunks.dead_chunk), then the operation's end."""
    ending = bulk_chunks.dead_chunk(message)
    if ending is not None:
        end_operation(ending)


def end_operation(item: dict[str, Any]) -> None:
    """An operation ended: publish or continue its campaigns if it asked (open_pool), then record it."""
    problems = (
        _open_pools(item["account_id"], set(item.get("pools", []))) if bulk_chunks.opens_pools(item) else []
    )
    bulk_chunks.record_end(item, problems)


def _open_pools(account_id: str, pool_ids: set[str]) -> list[str]:
    """New tasks reached their campaigns: open the campaigns. Returns what could not be opened."""
    problems = []
    for campaign_id in sorted(pool_ids):
        try:
            state = lifecycle.state_of(campaigns.require_campaign(account_id, campaign_id, consistent=True))
            if state == lifecycle.UNPUBLISHED:
                go_live(account_id, campaign_id)
            elif state == lifecycle.PAUSED:
                campaigns.resume(account_id, campaign_id)
        except errors.CrowdtaskError as refused:
            problems.append(f"campaign {campaign_id}: {refused.description}")
        except Exception:
            logger.exception("opening a campaign after an upload failed", extra={"campaign": campaign_id})
            problems.append(
                f"campaign {campaign_id}: could not be opened now; publish or continue it yourself"
            )
    return problems
