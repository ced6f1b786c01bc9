"""Tasks in the table: an account's TASK collection, the campaign listing of pool tasks, locks.

A task is an item of its account's collection, spread over 16 shards so that 100,000 tasks a
minute for one account keep each partition near 100 writes a second. A pool task (made for a
campaign) is also listed under its campaign in gsi2, itself spread over 16 shards. `locked_by`
holds the published campaigns that use the task: while it is set, the task is read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crowdtask.models.listing import ListQuery, Page
from crowdtask.store import dynamo, keys
from crowdtask.store.collections import Collection

TASKS = Collection("TASK", shards=16)
SIZE_ATTRIBUTES = ("resources_bytes", "upload_bytes")


def get(account_id: str, task_id: str) -> dict[str, Any] | None:
    return TASKS.get(account_id, task_id)


def get_many(
    account_id: str,
    task_ids: Iterable[str],
    *,
    attributes: Sequence[str] | None = None,
    consistent: bool = False,
) -> dict[str, dict[str, Any]]:
    """id -> task for those that exist (consistent: they may have been written a moment ago)."""
    return TASKS.get_many(account_id, task_ids, attributes=attributes, consistent=consistent)


def in_order(account_id: str, task_ids: Sequence[str]) -> list[dict[str, Any]]:
    return TASKS.in_order(account_id, task_ids)


def sizes(account_id: str, task_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """id -> (download bytes, upload bytes) of each task: one batched, projected read."""
    found = get_many(account_id, task_ids, attributes=SIZE_ATTRIBUTES)
    return {
        task_id: (int(item.get("resources_bytes", 0)), int(item.get("upload_bytes", 0)))
        for task_id, item in found.items()
    }


def list_page(account_id: str, query: ListQuery) -> Page:
    return TASKS.list(account_id, query)


def put_new(account_id: str, task_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Create one task; Refused when the id is taken."""
    return TASKS.put_new(account_id, task_id, data)


def replace(account_id: str, task_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Set the task's content; Refused unless it exists, is not locked, archived or a pool task
    (a pool task is its campaign's template filled from input values, and stays so)."""
    return TASKS.update(
        account_id,
        task_id,
        fields,
        condition=(
            "attribute_exists(pk) AND attribute_not_exists(locked_by) AND attribute_not_exists(pool_id) "
            "AND archived <> :true"
        ),
        vals={":true": True},
    )


def set_archived(account_id: str, task_id: str, archived: bool, fields: Mapping[str, Any]) -> dict[str, Any]:
    """(Un)archive with `fields`; Refused when it already is, or (archiving) while locked or a pool task."""
    condition = "attribute_exists(pk) AND archived <> :state"
    if archived:
        condition += " AND attribute_not_exists(locked_by) AND attribute_not_exists(pool_id)"
    return TASKS.update(
        account_id, task_id, {"archived": archived, **fields}, condition=condition, vals={":state": archived}
    )


def lock(account_id: str, task_ids: Iterable[str], campaign_id: str, on: bool) -> dict[str, dict[str, Any]]:
    """The campaign uses (or no longer uses) these tasks; idempotent. id -> each task as it is then."""
    return TASKS.mark(account_id, task_ids, "locked_by", campaign_id, on)


# ---------------------------------------------------------------- many at once (bulk)
def records(account_id: str, entries: Iterable[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The stored items of new tasks (id, data); pool tasks are also listed under their campaign."""
    found = []
    for task_id, data in entries:
        item = TASKS.item(account_id, task_id, data)
        if "pool_id" in data:
            item["gsi2pk"] = keys.pool_tasks_partition(str(data["pool_id"]), task_id)
            item["gsi2sk"] = task_id
        found.append(item)
    return found


def put_records(items: Sequence[Mapping[str, Any]]) -> None:
    """Write records() unconditionally, in parallel batches (their ids are new, or a redelivery's own)."""
    dynamo.batch_put_parallel(items)


def record_ids(items: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(item["sk"]) for item in items]


def delete(account_id: str, task_ids: Iterable[str]) -> None:
    """Remove tasks (absent ones are fine)."""
    dynamo.batch_delete(TASKS.key(account_id, task_id) for task_id in task_ids)


def pool_task_ids(
    campaign_id: str, cursors: Mapping[str, str], step: int
) -> tuple[list[str], dict[str, str], bool]:
    """Up to `step` more of a campaign's pool task ids, past `cursors` (one per listing shard).

    Returns (ids, the cursors to carry on from, whether the whole pool has been walked).
    """
    moved: dict[str, str] = dict(cursors)
    picked: list[str] = []
    done = True
    for partition in keys.pool_tasks_partitions(campaign_id):
        room = step - len(picked)
        if room <= 0:
            done = False
            break
        condition, vals = "gsi2pk = :p", {":p": partition}
        if partition in moved:
            condition += " AND gsi2sk > :c"
            vals[":c"] = moved[partition]
        rows, more = dynamo.query(index="gsi2", key_condition=condition, vals=vals, limit=room)
        picked.extend(row["sk"] for row in rows)
        if rows:
            moved[partition] = rows[-1]["sk"]
        if more is not None:
            done = False  # this shard has more: the next step carries on from its cursor
    return picked, moved, done
