"""Tasks uploaded as flows/storing.py stores them, and every operation's end done whole: one that
asks for it (open_pool) first publishes or continues its campaigns.

The bulk worker ends operations here; the upload route loads this module only for an upload
whose end opens campaigns (http/task_uploads.py).
"""

from __future__ import annotations

from typing import Any

from crowdtask import errors
from crowdtask.models.bulk import BulkCreateOut, OperationOut
from crowdtask.observability import logger
from crowdtask.services import bulk_chunks, campaigns, lifecycle, quotas
from crowdtask.services.bulk_items import BulkParams
from crowdtask.services.flows import storing
from crowdtask.services.flows.publishing import go_live


def create_tasks_now(
    account_id: str, items: list[Any], params: BulkParams
) -> tuple[BulkCreateOut, quotas.Reservation]:
    """A synchronous bulk upload, then what its end asks."""
    reply, reservation, opening = storing.create_tasks_now(account_id, items, params)
    end_operation(opening)
    return reply, reservation


def submit_tasks(
    account_id: str, items: list[Any], params: BulkParams
) -> tuple[OperationOut, quotas.Reservation | None]:
    """An asynchronous bulk upload (an operation with nothing to store ends at once)."""
    operation, reservation, opening = storing.submit_tasks(account_id, items, params)
    end_operation(opening)
    return operation, reservation


def store_task_chunk(message: dict[str, Any]) -> None:
    """The bulk worker's chunk of tasks, then what the operation's end asks once it ends."""
    end_operation(storing.store_task_chunk(message))


def dead_task_chunk(message: dict[str, Any]) -> None:
    """A dead-lettered chunk of tasks (bulk_chunks.dead_chunk), then the operation's end."""
    end_operation(storing.dead_task_chunk(message))


def end_operation(item: dict[str, Any] | None) -> None:
    """An operation ended: publish or continue its campaigns if it asked (open_pool), then record it."""
    if item is None:
        return
    opens = bulk_chunks.opens_pools(item)
    problems = _open_pools(item["account_id"], set(item.get("pools", []))) if opens else []
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
