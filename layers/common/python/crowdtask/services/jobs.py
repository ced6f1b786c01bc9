"""Jobs of a requester's account: a job is an ordered list of tasks that a worker is paid for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crowdtask import clock, errors, ids, store
from crowdtask.models.base import MAX_MEMBERS
from crowdtask.models.components import format_size
from crowdtask.models.jobs import JobIn, JobOut
from crowdtask.models.listing import ListQuery, Page
from crowdtask.numbers import plain_numbers
from crowdtask.services import quotas
from crowdtask.services import tasks as task_service
from crowdtask.services.members import MemberList
from crowdtask.store import jobs as job_store
from crowdtask.store import tasks as task_store


def _locked_reason(item: dict[str, Any]) -> str | None:
    return "a published campaign uses it" if item.get("locked_by") else None


JOB_TASKS = MemberList(
    owners=job_store,
    members=task_store,
    attribute="task_ids",
    owner_noun="job",
    member_noun="task",
    limit=MAX_MEMBERS,
    frozen_reason=_locked_reason,
)


def _stamp(created: bool) -> dict[str, str]:
    now = clock.now()
    stamp = {"lastModifiedAt": clock.iso(now), "modified_precise": clock.iso_precise(now)}
    if created:
        stamp["createdAt"] = stamp["lastModifiedAt"]
    return stamp


def _sizes(account_id: str, items: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per job: its tasks' download and upload sizes added up (one batched, projected read)."""
    items = list(items)
    per_task = task_store.sizes(account_id, {t for item in items for t in item.get("task_ids", [])})
    sizes = {}
    for item in items:
        task_sizes = [per_task.get(t, (0, 0)) for t in item.get("task_ids", [])]
        sizes[item["id"]] = (sum(s[0] for s in task_sizes), sum(s[1] for s in task_sizes))
    return sizes


def to_jobs(account_id: str, items: list[dict[str, Any]]) -> list[JobOut]:
    sizes = _sizes(account_id, items)
    return [
        JobOut.model_validate(
            {
                **plain_numbers(item),
                "resourcesSize": format_size(sizes[item["id"]][0]),
                "estimatedUploadSize": format_size(sizes[item["id"]][1]),
                "taskCount": len(item.get("task_ids", [])),
                "readOnly": bool(item.get("locked_by")),
                "archived": bool(item.get("archived", False)),
            }
        )
        for item in items
    ]


def require_job(account_id: str, job_id: str) -> dict[str, Any]:
    item = job_store.get(account_id, job_id)
    if item is None:
        raise errors.NotFound(f"No job {job_id} in your account.")
    return item


def create_job(account_id: str, job: JobIn, task_ids: list[str] | None = None) -> JobOut:
    job_id = ids.new_id()
    data = {
        **job.model_dump(mode="json", exclude_none=True),
        **_stamp(created=True),
        "archived": False,
        "task_ids": task_ids or [],
        "version": 0,
    }
    stored = job_store.put_new(account_id, job_id, data)
    return to_jobs(account_id, [stored])[0]


def get_job(account_id: str, job_id: str) -> JobOut:
    return to_jobs(account_id, [require_job(account_id, job_id)])[0]


def replace_job(account_id: str, job_id: str, job: JobIn) -> JobOut:
    content = job.model_dump(mode="json")
    try:
        stored = job_store.replace(account_id, job_id, {**content, **_stamp(created=False)})
    except store.Refused as exc:
        current = require_job(account_id, job_id)
        state = "used by a published campaign" if current.get("locked_by") else "archived"
        raise errors.Conflict(f"Job {job_id} is {state}; it cannot be changed now.") from exc
    return to_jobs(account_id, [stored])[0]


def list_jobs(account_id: str, query: ListQuery) -> tuple[list[JobOut], Page]:
    page = job_store.list_page(account_id, query)
    return to_jobs(account_id, page.items), page


def copy_job(account_id: str, job_id: str, deep: bool, *, counted: bool = True) -> JobOut:
    """A new job with the same fields; `deep` copies its tasks too (counted against the task quota
    all at once, unless `counted=False`: the caller reserved them), otherwise it shares them."""
    source = require_job(account_id, job_id)
    task_ids = list(source.get("task_ids", []))
    if deep:
        reservation = quotas.reserve(account_id, len(task_ids) if counted else 0)
        with reservation.given_back_on_failure():
            task_ids = [task_service.copy_task(account_id, t, counted=False).id for t in task_ids]
    content = JobIn.model_validate(
        {k: v for k, v in plain_numbers(source).items() if k in JobIn.model_fields}
    )
    return create_job(account_id, content, task_ids)


def set_archived(account_id: str, job_id: str, archived: bool, deep: bool = False) -> JobOut:
    """(Un)archive a job; `deep` does the same to its tasks. A job in use cannot be archived."""
    try:
        stored = job_store.set_archived(account_id, job_id, archived, _stamp(created=False))
    except store.Refused as exc:
        require_job(account_id, job_id)
        raise errors.Conflict(
            f"Job {job_id} is used by a published campaign; it cannot be archived."
        ) from exc
    if deep:
        for task_id in stored.get("task_ids", []):
            task_service.set_archived(account_id, task_id, archived)
    return to_jobs(account_id, [stored])[0]


def change_tasks(account_id: str, job_id: str, task_ids: list[str], *, append: bool) -> list[str]:
    return list(JOB_TASKS.change(account_id, job_id, task_ids, append=append).get("task_ids", []))


def tasks_page(account_id: str, job_id: str, limit: int, after: str | None) -> tuple[list[Any], bool]:
    job = require_job(account_id, job_id)
    page_ids, has_more = JOB_TASKS.page(job, limit, after)
    return [task_service.to_task(t) for t in task_store.in_order(account_id, page_ids)], has_more
