"""Bulk operations as their owner reads them: status, one, a page of them, and the outcome of every item."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from crowdtask import clock, errors, ids
from crowdtask.models.bulk import AGGREGATION_TYPE, LogEntry, OperationLog, OperationOut
from crowdtask.numbers import plain_numbers
from crowdtask.store import operations as store
from crowdtask.store import tasks as task_store

LOG_LIMIT = 10_000
_INPUT_FIELDS = ("pool_id", "input_values", "overlap", "name")
# A request that has not put all of its chunks on the queue after this long died half way: it is
# shown as FAIL until the same request (same operation_id) is sent again, which resumes it.
QUEUEING_GRACE = timedelta(minutes=5)


def canonical_uuid(value: str) -> str | None:
    """The UUID's canonical form (lower case, hyphens), or None if the text is not one."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def store_failures(item: dict[str, Any]) -> int:
    """Valid tasks that could not be stored (dead-lettered chunks)."""
    return int(item.get("failed_count", 0)) - int(item.get("not_valid_count", 0))


def status_of(item: dict[str, Any]) -> str:
    if item.get("final_status"):
        return str(item["final_status"])
    if not item.get("queued_at"):
        submitted = datetime.fromisoformat(item["submitted_precise"])
        if clock.now() - submitted > QUEUEING_GRACE:
            return "FAIL"  # the request died before its chunks were queued; sending it again resumes it
    return "RUNNING" if int(item.get("chunks_done", 0)) else "PENDING"


def _aggregation(item: dict[str, Any]) -> OperationOut:
    status = item.get("final_status") or ("RUNNING" if item.get("started") else "PENDING")
    return OperationOut.model_validate(
        {
            "id": item["operation_id"],
            "type": AGGREGATION_TYPE,
            "status": status,
            "submitted": item["submitted"],
            "started": item.get("started"),
            "finished": item.get("finished"),
            "progress": 100 if item.get("final_status") else 0,
            "parameters": item["parameters"],
            "details": {
                "results_count": int(item.get("results_count", 0)),
                "tasks_count": int(item.get("tasks_count", 0)),
            },
            "pools": [item["parameters"]["campaign"]],
        }
    )


def to_operation(item: dict[str, Any]) -> OperationOut:
    if item.get("op_type") == AGGREGATION_TYPE:
        return _aggregation(item)
    to_store = int(item.get("to_store_count", 0))
    handled = int(item.get("success_count", 0)) + store_failures(item) if not item.get("refused_all") else 0
    progress = 100 if item.get("final_status") else (int(100 * handled / to_store) if to_store else 0)
    return OperationOut.model_validate(
        {
            "id": item["operation_id"],
            "status": status_of(item),
            "submitted": item["submitted"],
            "started": item.get("started"),
            "finished": item.get("finished"),
            "progress": min(progress, 100),
            "parameters": item["parameters"],
            "details": {
                "total_count": int(item["total_count"]),
                "valid_count": int(item["valid_count"]),
                "not_valid_count": int(item["not_valid_count"]),
                "success_count": int(item.get("success_count", 0)),
                "failed_count": int(item.get("failed_count", 0)),
            },
            "pools": list(item.get("pools", [])),
            "openPoolErrors": item.get("open_pool_errors"),
            "unfundedCount": int(item.get("unfunded_count", 0)) or None,
        }
    )


def _require(account_id: str, operation_id: str) -> dict[str, Any]:
    item = store.get(account_id, canonical_uuid(operation_id) or operation_id)
    if item is None:
        raise errors.NotFound(f"No operation {operation_id} in your account.")
    return item


def get_operation(account_id: str, operation_id: str) -> OperationOut:
    return to_operation(_require(account_id, operation_id))


def list_operations(account_id: str, limit: int, before: str | None) -> tuple[list[OperationOut], str | None]:
    items, cursor = store.list_of_account(account_id, limit, before)
    return [to_operation(item) for item in items], cursor


def _entries(item: dict[str, Any], records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """index -> what became of it (without the input of stored tasks, read afterwards)."""
    found: dict[int, dict[str, Any]] = {}
    for record in records:
        if record["kind"] == "invalid":
            for entry in json.loads(record["entries_json"]):
                found[int(entry["index"])] = {
                    "type": "TASK_VALIDATE",
                    "success": False,
                    "input": entry.get("input"),
                    "output": entry["errors"],
                }
        elif "dead_json" in record:
            for index, content in json.loads(record["dead_json"]):
                found[int(index)] = {
                    "type": "TASK_CREATE",
                    "success": False,
                    "input": content,
                    "output": {
                        "code": "NOT_STORED",
                        "message": "the task could not be stored after repeated tries; send it again",
                    },
                }
        else:
            for start, end in record["ranges"]:
                for index in range(int(start), int(end)):
                    found[index] = {"type": "TASK_CREATE", "success": True, "task_id": True}
    if item.get("refused_all"):
        # nothing was stored: the valid items failed with the others
        for index in range(int(item["total_count"])):
            found.setdefault(
                index,
                {
                    "type": "TASK_VALIDATE",
                    "success": False,
                    "input": None,
                    "output": {
                        "code": "NOT_CREATED",
                        "message": "valid, but not created: other items are not (skip_invalid_items=false)",
                    },
                },
            )
    return found


def operation_log(account_id: str, operation_id: str, after: int | None, limit: int) -> OperationLog:
    """The outcome of each item handled so far, in index order, `limit` at a time after index `after`."""
    item = _require(account_id, operation_id)
    outcomes = _entries(item, store.records(account_id, item["operation_id"]))
    wanted = sorted(i for i in outcomes if after is None or i > after)
    page, more = wanted[:limit], len(wanted) > limit
    task_ids = {i: ids.derived_id(item["base_id"], i) for i in page if outcomes[i].get("task_id")}
    stored = task_store.get_many(account_id, task_ids.values(), attributes=_INPUT_FIELDS)
    by_id = {task_id: plain_numbers(found) for task_id, found in stored.items()}
    entries = []
    for index in page:
        outcome = outcomes[index]
        if outcome.get("task_id"):
            task_id = task_ids[index]
            task = by_id.get(task_id, {})
            inputs = {k: task[k] for k in _INPUT_FIELDS if k in task}
            if "pool_id" in inputs:
                inputs.pop("name", None)
            entries.append(
                LogEntry(
                    index=index, type="TASK_CREATE", success=True, input=inputs, output={"task_id": task_id}
                )
            )
        else:
            entries.append(LogEntry(index=index, **outcome))
    return OperationLog(log=entries, next=page[-1] if more and page else None)
