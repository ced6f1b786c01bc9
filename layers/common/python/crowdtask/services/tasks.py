"""Tasks of a requester's account: create, read, replace, list, copy, archive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from crowdtask import clock, errors, ids, store
from crowdtask.models.components import estimate_sizes, format_size
from crowdtask.models.listing import ListQuery, Page
from crowdtask.models.tasks import TaskIn, TaskOut, WorkerTaskOut, parse_task
from crowdtask.numbers import plain_numbers
from crowdtask.services import quotas, sanitise
from crowdtask.store import tasks as task_store
from crowdtask.validation import refusal

_CONTENT_FIELDS = (*TaskIn.model_fields, "resources_bytes", "upload_bytes")


def task_content(task: TaskIn) -> dict[str, Any]:
    """What is stored of a task: its fields, plus its sizes so a job can add them up cheaply.

    Its requester HTML (`details`, and the text of a Text component in the Html style) is kept as
    workers may see it: sanitised with the Markdown preview's policy when it is saved.
    """
    content = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    if content.get("details"):
        content["details"] = sanitise.sanitise_html(content["details"])
    for component in content.get("components", []):
        if component.get("type") == "Text" and component.get("style") == "Html" and component.get("text"):
            component["text"] = sanitise.sanitise_html(component["text"])
    content["resources_bytes"], content["upload_bytes"] = estimate_sizes(
        [*task.components, *task.components_attributes]
    )
    return content


def _timestamps(created: bool, now: datetime | None = None) -> dict[str, str]:
    now = now or clock.now()
    stamp = {"lastModifiedAt": clock.iso(now), "modified_precise": clock.iso_precise(now)}
    if created:
        stamp["createdAt"] = stamp["lastModifiedAt"]
    return stamp


def new_task_data(content: dict[str, Any], created: datetime) -> dict[str, Any]:
    """What a new task stores besides its keys: its content, timestamps, not archived."""
    return {**content, **_timestamps(created=True, now=created), "archived": False}


def to_task(stored: dict[str, Any]) -> TaskOut:
    item: dict[str, Any] = plain_numbers(stored)
    return TaskOut.model_validate(
        {
            **item,
            "resourcesSize": format_size(int(item.get("resources_bytes", 0))),
            "estimatedUploadSize": format_size(int(item.get("upload_bytes", 0))),
            "readOnly": bool(item.get("locked_by")),
            "archived": bool(item.get("archived", False)),
        }
    )


def to_worker_task(stored: dict[str, Any]) -> WorkerTaskOut:
    """What a worker doing the task receives (models.tasks.WorkerTaskOut): never its solutions."""
    item: dict[str, Any] = plain_numbers(stored)
    region = {k: item.get(k) for k in ("lat", "lng", "radius")} if item.get("region_based") else {}
    return WorkerTaskOut(
        id=item["id"],
        name=item["name"],
        show_name=item.get("show_name", True),
        details=item.get("details"),
        components=item.get("components", []),
        components_attributes=item.get("components_attributes", []),
        points=int(item.get("points", 1)),
        region_based=bool(item.get("region_based")),
        **region,
    )


def create_task(account_id: str, task: TaskIn, task_id: str | None = None) -> TaskOut:
    task_id = task_id or ids.new_id()
    data = new_task_data(task_content(task), clock.now())
    try:
        stored = task_store.put_new(account_id, task_id, data)
    except store.Refused as exc:
        raise errors.Conflict(f"A task with id {task_id} already exists.") from exc
    return to_task(stored)


def create_counted(account_id: str, task: TaskIn) -> tuple[TaskOut, quotas.Reservation]:
    """One task, counted against the account's task quota like any other (429 when it is full)."""
    reservation = quotas.reserve(account_id, 1)
    with reservation.given_back_on_failure():
        return create_task(account_id, task), reservation


def create_one(account_id: str, body: dict[str, Any]) -> tuple[TaskOut, quotas.Reservation]:
    """One task sent as a JSON object, counted: a 422 naming its fields when it is not a valid task."""
    try:
        task = parse_task(body)
    except ValidationError as exc:
        raise refusal(exc) from None
    return create_counted(account_id, task)


def get_task(account_id: str, task_id: str) -> TaskOut:
    return to_task(_require(account_id, task_id))


def _require(account_id: str, task_id: str) -> dict[str, Any]:
    item = task_store.get(account_id, task_id)
    if item is None:
        raise errors.NotFound(f"No task {task_id} in your account.")
    return item


def replace_task(account_id: str, task_id: str, task: TaskIn) -> TaskOut:
    """PUT: the task's content becomes the body (fields left out return to their defaults)."""
    content = task_content(task)
    fields: dict[str, Any] = {name: content.get(name) for name in _CONTENT_FIELDS}
    fields.update(_timestamps(created=False))
    try:
        stored = task_store.replace(account_id, task_id, fields)
    except store.Refused as exc:
        _explain_refusal(_require(account_id, task_id), "changed")
        raise errors.Conflict(f"Task {task_id} cannot be changed now.") from exc
    return to_task(stored)


def _explain_refusal(current: dict[str, Any], verb: str) -> None:
    task_id = current["id"]
    if current.get("pool_id"):
        raise errors.Conflict(
            f"Task {task_id} was made for campaign {current['pool_id']} from its template and input values; "
            f"it cannot be {verb}. Upload a new task with other input values instead."
        )
    if current.get("locked_by"):
        raise errors.Conflict(
            f"Task {task_id} is read-only: it belongs to a published campaign and cannot be {verb}."
        )
    if current.get("archived"):
        raise errors.Conflict(f"Task {task_id} is archived; unarchive it before it can be {verb}.")


def copy_task(account_id: str, task_id: str, *, counted: bool = True) -> TaskOut:
    """A new task with the same content; it counts against the task quota (`counted=False`: the
    caller reserved it already, for a deep copy of many)."""
    source = _require(account_id, task_id)
    content = TaskIn.model_validate(
        {k: v for k, v in plain_numbers(source).items() if k in TaskIn.model_fields}
    )
    if not counted:
        return create_task(account_id, content)
    return create_counted(account_id, content)[0]


def set_archived(account_id: str, task_id: str, archived: bool) -> TaskOut:
    """Archive or unarchive; doing it twice is harmless (the answer is the task as it is).

    A task that a published campaign uses cannot be archived until the campaign ends.
    """
    try:
        stored = task_store.set_archived(account_id, task_id, archived, _timestamps(created=False))
    except store.Refused:
        current = _require(account_id, task_id)
        if archived and current.get("pool_id") and not current.get("archived"):
            _explain_refusal(current, "archived")
        if archived and current.get("locked_by") and not current.get("archived"):
            raise errors.Conflict(
                f"Task {task_id} is used by a published campaign; it cannot be archived."
            ) from None
        return to_task(current)
    return to_task(stored)


def list_tasks(account_id: str, query: ListQuery) -> tuple[list[TaskOut], Page]:
    page = task_store.list_page(account_id, query)
    return [to_task(item) for item in page.items], page
