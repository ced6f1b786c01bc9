"""Bulk operations as their owner reads them: one, a page of them, and the outcome of every item."""

from __future__ import annotations

import json
from typing import Any

from crowdtask import errors, ids
from crowdtask.models.bulk import LogEntry, OperationLog, OperationOut
from crowdtask.services.bulk import canonical_uuid, to_operation
from crowdtask.services.tasks import TASKS
from crowdtask.store import dynamo
from crowdtask.store import operations as store

LOG_LIMIT = 10_000
_INPUT_FIELDS = ("pool_id", "input_values", "overlap", "name")


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
        if record["sk"].startswith("INVALID#"):
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
    stored = dynamo.batch_get(
        ((TASKS.pk(account_id, t), t) for t in task_ids.values()), attributes=_INPUT_FIELDS
    )
    by_id = {sk: dynamo.plain_numbers(found) for (_, sk), found in stored.items()}
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
