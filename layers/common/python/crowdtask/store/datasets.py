"""Datasets and their labelling tasks in the main table.

A dataset is an item of the account's DATASET collection; its tasks are spread over shards of
their own partition (a task id names its dataset, so a task is read by id with one GetItem).
A task with an assignee is in gsi1 under that assignee; a task with a due date that is not
done is in by_due under the account, so delayed tasks cost reads in proportion to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crowdtask import parallel
from crowdtask.store import dynamo, keys
from crowdtask.store.collections import Collection

DATASETS = Collection("DATASET")


# ---------------------------------------------------------------- datasets
def put_dataset(
    account_id: str, dataset_id: str, data: Mapping[str, Any], events: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """A new dataset, with its `events` (outbox items) in the same write."""
    return DATASETS.put_new(account_id, dataset_id, data, also=events)


def get_dataset(account_id: str, dataset_id: str) -> dict[str, Any] | None:
    return DATASETS.get(account_id, dataset_id, consistent=True)


def update_dataset(
    account_id: str, dataset_id: str, fields: Mapping[str, Any], *, expected_version: int | None = None
) -> dict[str, Any]:
    """SET fields; with expected_version, only if nobody changed the dataset since (Refused)."""
    if expected_version is None:
        return DATASETS.update(account_id, dataset_id, fields)
    return DATASETS.update(
        account_id,
        dataset_id,
        fields,
        condition="attribute_exists(pk) AND version = :expected",
        vals={":expected": expected_version},
    )


# ---------------------------------------------------------------- tasks
def index_fields(account_id: str, task: Mapping[str, Any], *, due_open: bool) -> dict[str, Any]:
    """The index keys a task carries in its state: gsi1 by assignee, by_due while it is not done
    (`due_open`); None for the ones it must not carry."""
    fields: dict[str, Any] = {"gsi1pk": None, "gsi1sk": None, "due_pk": None, "due_sk": None}
    if task.get("assignee"):
        fields["gsi1pk"], fields["gsi1sk"] = keys.dataset_task_assignee(
            account_id, task["assignee"], task["dataset_id"], task["id"]
        )
    if task.get("due_date") and due_open:
        fields["due_pk"], fields["due_sk"] = keys.dataset_task_due(account_id, task["due_date"], task["id"])
    return fields


def task_item(account_id: str, task: Mapping[str, Any]) -> dict[str, Any]:
    pk, sk = keys.dataset_task(account_id, task["dataset_id"], task["id"])
    return {"pk": pk, "sk": sk, "type": "dataset_task", "account_id": account_id, **task}


def put_tasks(account_id: str, tasks: list[dict[str, Any]]) -> None:
    """Write new tasks of a new dataset in parallel batches (nobody else can know their ids yet)."""
    dynamo.batch_put_parallel([task_item(account_id, task) for task in tasks])


def put_task_if_new(account_id: str, task: Mapping[str, Any]) -> bool:
    """Create a task unless it exists; False when it already did."""
    try:
        dynamo.put(task_item(account_id, task), condition="attribute_not_exists(pk)")
    except dynamo.ConditionFailed:
        return False
    return True


def put_tasks_if_new(account_id: str, tasks: Iterable[dict[str, Any]]) -> int:
    return sum(parallel.each(lambda task: put_task_if_new(account_id, task), list(tasks)))


def get_task(account_id: str, dataset_id: str, task_id: str) -> dict[str, Any] | None:
    return dynamo.get(*keys.dataset_task(account_id, dataset_id, task_id), consistent=True)


def list_tasks(account_id: str, dataset_id: str) -> list[dict[str, Any]]:
    """Every task of the dataset, read shard by shard in parallel."""

    def read(partition: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            page, start = dynamo.query(
                key_condition="pk = :pk", vals={":pk": partition}, start_key=start, consistent=True
            )
            found.extend(page)
            if start is None:
                return found

    shards = parallel.each(read, keys.dataset_task_partitions(account_id, dataset_id))
    return [task for shard in shards for task in shard]


def update_task(
    account_id: str,
    dataset_id: str,
    task_id: str,
    fields: Mapping[str, Any],
    *,
    expected_version: int,
    events: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """SET the fields (None removes one) while the task is still at `expected_version` (Refused if
    not), with its `events` (outbox items) in the same transaction; returns the task as it is now."""
    all_names: dict[str, str] = {"#version": "version"}
    values: dict[str, Any] = {":expected": expected_version}
    sets, removes = [], []
    for n, (attribute, value) in enumerate(sorted(fields.items())):
        all_names[f"#f{n}"] = attribute
        if value is None:
            removes.append(f"#f{n}")
        else:
            values[f":f{n}"] = value
            sets.append(f"#f{n} = :f{n}")
    expression = ("SET " + ", ".join(sets) if sets else "") + (
        " REMOVE " + ", ".join(removes) if removes else ""
    )
    return dynamo.update(
        *keys.dataset_task(account_id, dataset_id, task_id),
        expression.strip(),
        condition="#version = :expected",
        names=all_names,
        vals=values,
        also=events,
    )


def tasks_of_assignee(account_id: str, email: str) -> list[dict[str, Any]]:
    gsi1pk = keys.dataset_task_assignee_partition(account_id, email)
    found: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        page, start = dynamo.query(
            index="gsi1", key_condition="gsi1pk = :p", vals={":p": gsi1pk}, start_key=start
        )
        found.extend(page)
        if start is None:
            return found


def tasks_due_before(account_id: str, moment_iso: str) -> list[dict[str, Any]]:
    """Tasks of the account due before the moment and not done: keys from by_due, then the items."""
    found: list[tuple[str, str]] = []
    for partition in keys.dataset_task_due_partitions(account_id):
        start: dict[str, Any] | None = None
        while True:
            page, start = dynamo.query(
                index="by_due",
                key_condition="due_pk = :p AND due_sk < :t",
                vals={":p": partition, ":t": moment_iso},
                start_key=start,
            )
            found.extend((item["pk"], item["sk"]) for item in page)
            if start is None:
                break
    items = dynamo.batch_get(found)
    return [items[key] for key in found if key in items]
