"""Datasets to label: tasks generated per stage, worked on, reviewed, and re-synced after changes.

Per stage, a single-frame dataset has one task per (frame, object), one per (frame, frame
attribute) and one per dataset attribute; a sequence dataset one per object and one per frame
attribute across all frames, and one per dataset attribute. The first stage's tasks start
`pending`; a later stage's task is `blocked` until the same task of the stage before is
accepted. Every change of a task is a write conditioned on the version that was read, so two
concurrent changes never both apply and a refused transition names the state it found.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crowdtask import clock, errors, ids, store
from crowdtask.models.datasets import (
    MAX_TASKS,
    DatasetIn,
    DatasetOut,
    DelayedTaskResource,
    DelayedTasks,
    LabelsIn,
    TaskResource,
    TaskUpdateIn,
    UserTasks,
    iso_due,
)
from crowdtask.numbers import plain_numbers
from crowdtask.store import accounts as account_store
from crowdtask.store import datasets as dataset_store
from crowdtask.store import outbox

FINAL = frozenset({"accepted", "retired"})
LABEL_FIELDS = ("objects", "frame_attributes", "dataset_attributes")
_CATEGORIES = {
    "object": "objects",
    "frame_attribute": "frame_attributes",
    "dataset_attribute": "dataset_attributes",
}
_TASK_ID = re.compile(r"^([0-9A-HJKMNP-TV-Z]{26})-[0-9a-f]{16}$")
_MAX_ATTEMPTS = 8
MAX_LIST_BYTES = 80_000
# Which status a task may move to through POST /dataset-tasks/{taskId}, from which.
_SETTABLE_FROM = {
    "in_progress": frozenset({"pending", "rejected", "in_progress"}),
    "submitted": frozenset({"pending", "in_progress", "rejected", "submitted"}),
    "pending": frozenset({"pending", "in_progress", "rejected"}),
}


@dataclass(frozen=True)
class Slot:
    """What one task is about: a stage of work on one label, of one file or of the whole dataset."""

    stage_index: int
    stage: str
    category: str  # object, frame_attribute or dataset_attribute
    label: str
    file: str | None

    @property
    def kind(self) -> str:
        return "file" if self.file is not None else "label"


def _definition(dataset: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": dataset["type"],
        "stages": list(dataset["stages"]),
        "files": list(dataset.get("files") or []),
        **{field: list(dataset.get(field) or []) for field in LABEL_FIELDS},
    }


def slots(definition: Mapping[str, Any]) -> list[Slot]:
    """Every task the definition calls for, stage by stage."""
    found: list[Slot] = []
    per_frame = definition["type"] == "single_frame"
    for index, stage in enumerate(definition["stages"]):
        if per_frame:
            for file in definition["files"]:
                found += [Slot(index, stage, "object", o, file) for o in definition["objects"]]
                found += [
                    Slot(index, stage, "frame_attribute", a, file) for a in definition["frame_attributes"]
                ]
        else:
            found += [Slot(index, stage, "object", o, None) for o in definition["objects"]]
            found += [Slot(index, stage, "frame_attribute", a, None) for a in definition["frame_attributes"]]
        found += [Slot(index, stage, "dataset_attribute", a, None) for a in definition["dataset_attributes"]]
    return found


def slot_count(definition: Mapping[str, Any]) -> int:
    """len(slots(definition)), by arithmetic: a definition is judged before any task is made of it."""
    per_file = len(definition["objects"]) + len(definition["frame_attributes"])
    if definition["type"] == "single_frame":
        per_file *= len(definition["files"])
    return len(definition["stages"]) * (per_file + len(definition["dataset_attributes"]))


def task_id(dataset_id: str, stage: str, category: str, label: str, file: str | None) -> str:
    """Stable: the same stage of the same work always has the same id (re-syncs cannot duplicate it)."""
    subject = "\x1f".join([stage, category, label, "\x1e" if file is None else file])
    return f"{dataset_id}-{hashlib.sha256(subject.encode()).hexdigest()[:16]}"


def _slot_id(dataset_id: str, slot: Slot) -> str:
    return task_id(dataset_id, slot.stage, slot.category, slot.label, slot.file)


def _dataset_of(task: str) -> str:
    match = _TASK_ID.match(task or "")
    if match is None:
        raise errors.NotFound(f"No dataset task {task} in your account.")
    return match.group(1)


# ---------------------------------------------------------------- clients
def client_id_of(account_id: str) -> str:
    account = account_store.get(account_id)
    if account is None:
        raise errors.NotFound("The account of this token no longer exists.")
    return str(account["customerId"])


def require_client(account_id: str, client_id: str) -> None:
    """The client id of the routes is the caller's own customerId; any other is not found."""
    if client_id != client_id_of(account_id):
        raise errors.NotFound(f"No client {client_id} in your account.")


# ---------------------------------------------------------------- conversions
def to_task(item: Mapping[str, Any]) -> TaskResource:
    plain = plain_numbers(dict(item))
    return TaskResource.model_validate(
        {
            **plain,
            **{
                category: plain["label"] if plain["category"] == category else None
                for category in _CATEGORIES
            },
            "file": plain.get("file"),
            "assignee": plain.get("assignee"),
            # Kept as JSON text: any JSON value (deep, huge numbers) fits a string attribute.
            "answer": json.loads(plain["answer_json"]) if plain.get("answer_json") else None,
            "due_date": plain.get("due_date"),
        }
    )


def to_dataset(item: Mapping[str, Any]) -> DatasetOut:
    return DatasetOut.model_validate({**plain_numbers(dict(item)), **_definition(item)})


def _index_fields(account_id: str, task: Mapping[str, Any]) -> dict[str, Any]:
    """What the task is listed under in its state: its assignee, and its due date while not done."""
    return dataset_store.index_fields(account_id, task, due_open=task["status"] not in FINAL)


def _new_task(
    account_id: str, dataset: Mapping[str, Any], slot: Slot, stages: list[str], now: str
) -> dict[str, Any]:
    dataset_id = dataset["id"]
    previous = stages[slot.stage_index - 1] if slot.stage_index > 0 else None
    following = stages[slot.stage_index + 1] if slot.stage_index + 1 < len(stages) else None
    task: dict[str, Any] = {
        "id": _slot_id(dataset_id, slot),
        "dataset_id": dataset_id,
        "client_id": dataset["client_id"],
        "stage": slot.stage,
        "stage_index": slot.stage_index,
        "kind": slot.kind,
        "category": slot.category,
        "label": slot.label,
        "file": slot.file,
        "status": "pending" if previous is None else "blocked",
        "due_date": dataset.get("due_date"),
        "previous_task_id": task_id(dataset_id, previous, slot.category, slot.label, slot.file)
        if previous
        else None,
        "next_task_id": task_id(dataset_id, following, slot.category, slot.label, slot.file)
        if following
        else None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    task.update(_index_fields(account_id, task))
    return task


# ---------------------------------------------------------------- datasets
def _check_size(definition: Mapping[str, Any]) -> int:
    count = slot_count(definition)
    if count > MAX_TASKS:
        raise errors.ValidationFailed.one(
            "files", f"the dataset would have {count} tasks; at most {MAX_TASKS} are allowed", "TOO_LONG"
        )
    # The definition is one item (DynamoDB holds at most 400 KB).
    for field in ("files", *LABEL_FIELDS):
        size = len(json.dumps(definition[field]).encode())
        if size > MAX_LIST_BYTES:
            raise errors.ValidationFailed.one(
                field, f"{size} bytes of names; at most {MAX_LIST_BYTES} are allowed", "TOO_LONG"
            )
    return count


def create_dataset(account_id: str, data: DatasetIn) -> DatasetOut:
    definition = {
        "type": data.type,
        "stages": data.stages,
        "files": data.files or [],
        **{field: getattr(data, field) or [] for field in LABEL_FIELDS},
    }
    count = _check_size(definition)
    now = clock.iso(clock.now())
    dataset_id = ids.new_id()
    # The dataset first: should writing its tasks fail half-way, a re-sync completes them.
    announced = {"datasetId": dataset_id, "clientId": client_id_of(account_id), "tasks": count}
    dataset = dataset_store.put_dataset(
        account_id,
        dataset_id,
        {
            **definition,
            "id": dataset_id,
            "name": data.name,
            "client_id": client_id_of(account_id),
            "due_date": iso_due(data.due_date) if data.due_date else None,
            "task_count": count,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        },
        [outbox.event_item("dataset.created", announced, account_id)],
    )
    stages = list(definition["stages"])
    dataset_store.put_tasks(
        account_id, [_new_task(account_id, dataset, s, stages, now) for s in slots(definition)]
    )
    return to_dataset(dataset)


def _require_dataset(account_id: str, dataset_id: str) -> dict[str, Any]:
    dataset = dataset_store.get_dataset(account_id, dataset_id)
    if dataset is None:
        raise errors.NotFound(f"No dataset {dataset_id} in your account.")
    return dataset


def get_dataset(account_id: str, dataset_id: str) -> DatasetOut:
    return to_dataset(_require_dataset(account_id, dataset_id))


def _task_order(definition: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """Stage, then each file's tasks in file order, then dataset-level ones, labels in their order."""
    files = {name: n for n, name in enumerate(definition["files"])}
    positions = {
        category: {name: n for n, name in enumerate(definition[field])}
        for category, field in _CATEGORIES.items()
    }
    categories = list(_CATEGORIES)

    def order(task: Mapping[str, Any]) -> tuple[Any, ...]:
        file = task.get("file")
        return (
            int(task["stage_index"]),
            file is None,
            files.get(file, len(files)) if file is not None else 0,
            categories.index(task["category"]),
            positions[task["category"]].get(task["label"], 1 << 30),
            task["id"],
        )

    return order


def list_dataset_tasks(
    account_id: str, dataset_id: str, *, limit: int, after: str | None
) -> tuple[list[TaskResource], str | None]:
    """One page of the dataset's tasks in their order, and the id to continue after (None at the end)."""
    dataset = _require_dataset(account_id, dataset_id)
    tasks = sorted(dataset_store.list_tasks(account_id, dataset_id), key=_task_order(_definition(dataset)))
    start = 0
    if after is not None:
        position = next((n for n, task in enumerate(tasks) if task["id"] == after), None)
        if position is None:
            raise errors.NotFound.of_field("after", f"{after} is not a task of this dataset")
        start = position + 1
    page = tasks[start : start + limit]
    more = start + limit < len(tasks)
    return [to_task(task) for task in page], (page[-1]["id"] if more and page else None)


# ---------------------------------------------------------------- changing one task
def _change(
    account_id: str,
    task: str,
    decide: Callable[[Mapping[str, Any]], dict[str, Any]],
    announce: Callable[[Mapping[str, Any]], str | None] = lambda _task: None,
) -> dict[str, Any]:
    """Apply decide(current) to the task, conditioned on the version read; re-read and re-decide on a race.
    `announce(task as changed)` names the event the change commits with, if any."""
    dataset_id = _dataset_of(task)
    for _attempt in range(_MAX_ATTEMPTS):
        current = dataset_store.get_task(account_id, dataset_id, task)
        if current is None:
            raise errors.NotFound(f"No dataset task {task} in your account.")
        changes = decide(current)
        if not changes:
            return current
        merged = {**current, **changes}
        fields = {
            **changes,
            **_index_fields(account_id, merged),
            "updated_at": clock.iso(clock.now()),
            "version": int(current["version"]) + 1,
        }
        kind = announce(merged)
        try:
            return dataset_store.update_task(
                account_id,
                dataset_id,
                task,
                fields,
                expected_version=int(current["version"]),
                events=[_task_event(account_id, kind, merged)] if kind else [],
            )
        except store.Refused:
            continue
    raise errors.Conflict(f"Task {task} is being changed by other requests right now; retry shortly.")


def _refuse(task: Mapping[str, Any], wanted: str) -> errors.Conflict:
    state = task["status"]
    reason = {
        "blocked": "it waits for the task of the stage before to be accepted",
        "retired": "its file or label was removed from the dataset",
        "accepted": "it is done",
    }.get(state, f"this needs another state than {state}")
    return errors.Conflict(f"Task {task['id']} is {state}: it cannot {wanted} ({reason}).")


def update_task(account_id: str, task: str, changes: TaskUpdateIn) -> TaskResource:
    sent = changes.model_fields_set

    def decide(current: Mapping[str, Any]) -> dict[str, Any]:
        state = current["status"]
        if state == "retired":
            raise _refuse(current, "change")
        out: dict[str, Any] = {}
        if "assignee" in sent:
            out["assignee"] = changes.assignee
        if "due_date" in sent:
            out["due_date"] = iso_due(changes.due_date) if changes.due_date else None
        if "answer" in sent:
            if state in {"blocked", "accepted"}:
                raise _refuse(current, "take an answer")
            out["answer_json"] = None if changes.answer is None else json.dumps(changes.answer)
        if changes.status is not None:
            if state not in _SETTABLE_FROM[changes.status]:
                raise _refuse(current, f"become {changes.status}")
            out["status"] = changes.status
        return out

    submitted = "dataset_task.submitted" if changes.status == "submitted" else None
    return to_task(_change(account_id, task, decide, lambda _task: submitted))


def _task_event(account_id: str, kind: str, task: Mapping[str, Any]) -> dict[str, Any]:
    data = {
        "taskId": task["id"],
        "datasetId": task["dataset_id"],
        "clientId": task.get("client_id"),
        "stage": task.get("stage"),
    }
    return outbox.event_item(kind, data, account_id)


def accept_task(account_id: str, task: str) -> TaskResource:
    def decide(current: Mapping[str, Any]) -> dict[str, Any]:
        if current["status"] != "submitted":
            raise _refuse(current, "be accepted (only a submitted task can)")
        return {"status": "accepted"}

    accepted = _change(account_id, task, decide, lambda _task: "dataset_task.accepted")
    _unblock(account_id, accepted.get("next_task_id"))
    return to_task(accepted)


def reject_task(account_id: str, task: str, reason: str | None) -> TaskResource:
    """Back to its assignee, who may work on it again and resubmit."""

    def decide(current: Mapping[str, Any]) -> dict[str, Any]:
        if current["status"] != "submitted":
            raise _refuse(current, "be rejected (only a submitted task can)")
        return {"status": "rejected", "rejection_reason": reason}

    return to_task(_change(account_id, task, decide, lambda _task: "dataset_task.rejected"))


def _unblock(account_id: str, next_task: str | None) -> None:
    """The next stage's task becomes workable (if it waits): called after its predecessor was accepted."""
    if not next_task:
        return

    def decide(current: Mapping[str, Any]) -> dict[str, Any]:
        return {"status": "pending"} if current["status"] == "blocked" else {}

    # NotFound: that stage's task was never created (a re-sync creates it, unblocked).
    with contextlib.suppress(errors.NotFound):
        _change(account_id, next_task, decide)


# ---------------------------------------------------------------- per client
def user_tasks(account_id: str, client_id: str, email: str) -> UserTasks:
    require_client(account_id, client_id)
    found = [
        t for t in dataset_store.tasks_of_assignee(account_id, email.strip()) if t["status"] != "retired"
    ]
    found.sort(
        key=lambda t: (t["dataset_id"], int(t["stage_index"]), t.get("file") or "", t["category"], t["label"])
    )
    tasks = [to_task(t) for t in found]
    return UserTasks(
        file_tasks=[t for t in tasks if t.kind == "file"], label_tasks=[t for t in tasks if t.kind == "label"]
    )


def delayed_tasks(account_id: str, client_id: str) -> DelayedTasks:
    """Tasks past their due date that are not accepted (nor retired), most delayed first."""
    require_client(account_id, client_id)
    now = clock.now()
    found = [t for t in dataset_store.tasks_due_before(account_id, iso_due(now)) if t["status"] not in FINAL]
    delayed = []
    for task in found:
        due = datetime.fromisoformat(task["due_date"].replace("Z", "+00:00"))
        delayed.append(
            DelayedTaskResource(
                **to_task(task).model_dump(), delayed_by_seconds=int((now - due).total_seconds())
            )
        )
    delayed.sort(key=lambda t: (-t.delayed_by_seconds, t.id))
    return DelayedTasks(delayed_tasks=delayed)


# ---------------------------------------------------------------- re-sync after files or labels change
def update_files(account_id: str, dataset_id: str, files: list[str] | None) -> None:
    """New files (frames), if given; then the tasks follow the dataset."""
    _resync(account_id, dataset_id, {} if files is None else {"files": files})


def update_labels(account_id: str, dataset_id: str, labels: LabelsIn | None) -> None:
    """New objects / frame attributes / dataset attributes, those given; then the tasks follow."""
    changes = (
        {}
        if labels is None
        else {f: getattr(labels, f) for f in LABEL_FIELDS if getattr(labels, f) is not None}
    )
    _resync(account_id, dataset_id, changes)


def _resync(account_id: str, dataset_id: str, changes: dict[str, Any]) -> None:
    dataset = _require_dataset(account_id, dataset_id)
    for _attempt in range(_MAX_ATTEMPTS):
        if not changes:
            break
        _check_size({**_definition(dataset), **changes})
        try:
            dataset = dataset_store.update_dataset(
                account_id,
                dataset_id,
                {**changes, "updated_at": clock.iso(clock.now()), "version": int(dataset["version"]) + 1},
                expected_version=int(dataset["version"]),
            )
            break
        except store.Refused:
            dataset = _require_dataset(account_id, dataset_id)
    else:
        raise errors.Conflict(f"Dataset {dataset_id} is being changed by other requests right now; retry.")
    # Sync to the definition, and again if another change landed meanwhile: the last one wins.
    for _attempt in range(_MAX_ATTEMPTS):
        count = _sync_tasks(account_id, dataset)
        latest = _require_dataset(account_id, dataset_id)
        if latest["version"] == dataset["version"]:
            try:
                dataset_store.update_dataset(
                    account_id, dataset_id, {"task_count": count}, expected_version=int(dataset["version"])
                )
            except store.Refused:
                continue
            return
        dataset = latest


def _sync_tasks(account_id: str, dataset: Mapping[str, Any]) -> int:
    """Add the missing tasks, retire the orphaned, keep the accepted; returns the tasks not retired."""
    dataset_id = dataset["id"]
    definition = _definition(dataset)
    wanted = {_slot_id(dataset_id, slot): slot for slot in slots(definition)}
    existing = {task["id"]: task for task in dataset_store.list_tasks(account_id, dataset_id)}
    now = clock.iso(clock.now())
    dataset_store.put_tasks_if_new(
        account_id,
        [
            _new_task(account_id, dataset, slot, definition["stages"], now)
            for identifier, slot in wanted.items()
            if identifier not in existing
        ],
    )

    def revive(current: Mapping[str, Any]) -> dict[str, Any]:
        if current["status"] != "retired":
            return {}
        return {"status": "blocked" if current.get("previous_task_id") else "pending"}

    def retire(current: Mapping[str, Any]) -> dict[str, Any]:
        return {} if current["status"] in FINAL else {"status": "retired"}

    for identifier, task in existing.items():
        if identifier in wanted and task["status"] == "retired":
            _change(account_id, identifier, revive)
        elif identifier not in wanted and task["status"] not in FINAL:
            _change(account_id, identifier, retire)
    # Read again and unblock what waits on an accepted task (accept does the same from its side,
    # so whichever of a concurrent accept and re-sync writes last still sees the other's write).
    current = {task["id"]: task for task in dataset_store.list_tasks(account_id, dataset_id)}
    for task in current.values():
        previous = current.get(task.get("previous_task_id") or "")
        if task["status"] == "blocked" and previous is not None and previous["status"] == "accepted":
            _unblock(account_id, task["id"])
    return sum(1 for task in current.values() if task["status"] != "retired")
