"""Assignments: a worker's claim on one slot of a job, with a deadline; claimed, released, timed out.

A claim is one transaction (store/assignments.py): however many workers claim at once, a job
never has more open assignments plus results than it needs. Ending an assignment without a
result gives its slot back; when the job is closed the slot is dropped instead, and the caller
learns that the campaign may now be complete.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crowdtask import clock, errors, ids, store
from crowdtask.models.listing import ListQuery, Page
from crowdtask.models.market import AssignmentOut
from crowdtask.models.tasks import WorkerTaskOut
from crowdtask.numbers import plain_numbers
from crowdtask.observability import logger
from crowdtask.services import eligibility, lifecycle, market
from crowdtask.services import tasks as task_service
from crowdtask.store import assignments as assignment_store
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import market as market_store
from crowdtask.store import outbox
from crowdtask.store import tasks as task_store

# What an assignment carries from its market item, so submitting and reviewing need no other read.
_TERMS = ("task_ids", "payment", "commission", "points", "review_seconds", "repeat_after", "needed")
_CLAIM_ATTEMPTS = 40


def new_assignment(
    worker_id: str,
    terms: dict[str, Any],
    *,
    claimed: datetime,
    deadline: datetime,
    submit_by: datetime,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new open assignment of the job `terms` describe, due to expire after `submit_by`."""
    data = {
        "worker_id": worker_id,
        "requester_id": terms["account_id"],
        "campaign_id": terms["campaign_id"],
        "job_id": terms["job_id"],
        "state": "open",
        "claimedAt": clock.iso(claimed),
        "deadline": clock.iso(deadline),
        "submitBy": clock.iso(submit_by),
        **{k: terms[k] for k in _TERMS if k in terms},
        **(extra or {}),
    }
    return assignment_store.item(worker_id, ids.new_id(), data)


def to_assignment(item: dict[str, Any], tasks: list[WorkerTaskOut] | None = None) -> AssignmentOut:
    plain = plain_numbers(item)
    return AssignmentOut(
        id=plain["id"],
        job=plain["job_id"],
        campaign=plain["campaign_id"],
        state=plain["state"],
        claimedAt=plain["claimedAt"],
        deadline=plain["deadline"],
        submitBy=plain["submitBy"],
        tasks=tasks,
        result=plain.get("result_id"),
        redoOf=plain.get("redo_of"),
        reason=plain.get("reason"),
        endedAt=plain.get("endedAt"),
    )


def tasks_of(item: dict[str, Any]) -> list[WorkerTaskOut]:
    """The job's tasks in order, as the worker sees them (what must be done, nothing else)."""
    found = task_store.in_order(item["requester_id"], list(item.get("task_ids", [])))
    return [task_service.to_worker_task(task) for task in found]


def require_assignment(worker_id: str, assignment_id: str) -> dict[str, Any]:
    item = assignment_store.get(worker_id, assignment_id)
    if item is None:
        raise errors.NotFound(f"No assignment {assignment_id} of yours.")
    return item


def require_open(worker_id: str, assignment_id: str, now_iso: str, takes: str) -> dict[str, Any]:
    """The worker's assignment while it still takes `takes` (results, uploads): open, and its `submitBy`
    (the deadline plus the campaign's maxUploadTime) not passed; Conflict (409) otherwise."""
    item = require_assignment(worker_id, assignment_id)
    if item["state"] != "open":
        raise errors.Conflict(
            f"Assignment {assignment_id} is {item['state']}; only an open one takes {takes}."
        )
    if item["submitBy"] < now_iso:
        raise errors.Conflict(
            f"Assignment {assignment_id} took {takes} until {item['submitBy']} (its deadline plus the "
            "campaign's maxUploadTime)."
        )
    return item


def get_assignment(worker_id: str, assignment_id: str) -> AssignmentOut:
    item = require_assignment(worker_id, assignment_id)
    return to_assignment(item, tasks_of(item))


def list_assignments(worker_id: str, query: ListQuery) -> tuple[list[AssignmentOut], Page]:
    page = assignment_store.list_page(worker_id, query)
    return [to_assignment(item) for item in page.items], page


# ---------------------------------------------------------------- claim
def claim(
    worker_id: str, job_id: str, campaign_id: str | None, lat: float | None, lng: float | None
) -> AssignmentOut:
    """Take one slot of a job: 201 with the assignment, or a refusal saying why."""
    for _ in range(_CLAIM_ATTEMPTS):
        now = clock.now()
        now_iso = clock.iso(now)
        item = market.pick_item(job_id, campaign_id, now_iso)
        market.require_may_take(item, worker_id, lat, lng, now_iso)
        known, answered = eligibility.claim_standing(worker_id, item)
        why = eligibility.refusal(item, worker_id, known, now_iso)
        if why is not None:
            raise errors.Forbidden(f"Job {job_id} cannot be claimed: {why}.")
        tasks, controls = eligibility.mix_controls(item, answered)
        deadline = now + timedelta(seconds=int(item["work_seconds"]))
        submit_by = deadline + timedelta(seconds=int(item.get("upload_seconds", 0)))
        extra = {"task_ids": tasks, **({"control_ids": controls} if controls else {})}
        assignment = new_assignment(
            worker_id, item, claimed=now, deadline=deadline, submit_by=submit_by, extra=extra
        )
        claimed = outbox.event_item(
            "assignment.claimed",
            {
                "assignmentId": assignment["id"],
                "workerId": worker_id,
                "jobId": job_id,
                "campaignId": assignment["campaign_id"],
                "deadline": assignment["deadline"],
            },
            item["account_id"],
            assignment["campaign_id"],
        )
        try:
            assignment_store.claim(assignment, item, now_iso, lifecycle.ACTIVE, [claimed])
        except assignment_store.CampaignClosed as exc:
            requester, campaign = item["account_id"], item["campaign_id"]
            state = lifecycle.describe(campaign_store.get(requester, campaign, consistent=True), now_iso)
            raise errors.Conflict(
                f"Job {job_id} cannot be claimed: its campaign {campaign} is {state}."
            ) from exc
        except assignment_store.LimitReached as exc:
            raise errors.Conflict(
                f"You have taken job {job_id} {int(item.get('max_per_worker') or 0)} time(s): the most one "
                "worker may (maxResultsPerWorker, or 1 when a task forbids user_multi_process)."
            ) from exc
        except market_store.SlotMoved:
            continue  # the slot count moved under us: read it again
        except store.Contended:
            continue
        return to_assignment(assignment, tasks_of(assignment))
    raise errors.Conflict(f"Job {job_id} is being claimed by many workers right now; retry.")


# ---------------------------------------------------------------- giving an assignment back
def _ended_event(kind: str, assignment: dict[str, Any]) -> dict[str, Any]:
    """The outbox item of an assignment that ended without a result (it belongs to the requester)."""
    data = {
        "assignmentId": assignment["id"],
        "workerId": assignment["worker_id"],
        "jobId": assignment["job_id"],
        "campaignId": assignment["campaign_id"],
    }
    return outbox.event_item(kind, data, assignment["requester_id"], assignment["campaign_id"])


def release(worker_id: str, assignment_id: str) -> tuple[AssignmentOut, str, bool]:
    """Give an open assignment back. Also returns whose work it was, and whether its job was closed,
    so the slot was dropped and the campaign may now be complete."""
    item = require_assignment(worker_id, assignment_id)
    if item["state"] != "open":
        raise errors.Conflict(
            f"Assignment {assignment_id} is {item['state']}; only an open one can be released."
        )
    try:
        dead = assignment_store.end(
            item, "released", clock.iso(clock.now()), [_ended_event("assignment.released", item)]
        )
    except assignment_store.NotOpen as exc:
        current = require_assignment(worker_id, assignment_id)
        raise errors.Conflict(
            f"Assignment {assignment_id} is {current['state']}; only an open one can be released."
        ) from exc
    return to_assignment(require_assignment(worker_id, assignment_id)), item["requester_id"], dead


def expire_due(now_iso: str, limit: int) -> tuple[int, set[tuple[str, str]], list[dict[str, Any]]]:
    """Open assignments past `submitBy` expire; their slots go back (or, on closed jobs, are dropped).

    Returns how many expired, the (requester, campaign) pairs that may now be complete, and the
    assignments that expired.
    """
    expired = 0
    touched: set[tuple[str, str]] = set()
    ended: list[dict[str, Any]] = []
    for entry in assignment_store.due_to_expire(now_iso, limit):
        try:
            dead = assignment_store.end(
                entry, "expired", now_iso, [_ended_event("assignment.expired", entry)]
            )
        except assignment_store.NotOpen:
            continue  # submitted or released meanwhile
        except store.Contended:
            logger.exception(
                "expiring an assignment failed; retried next time", extra={"assignment": entry["id"]}
            )
            continue
        expired += 1
        ended.append(entry)
        if dead:
            touched.add((entry["requester_id"], entry["campaign_id"]))
    return expired, touched, ended
