"""Assignments: a worker's claim on one slot of a job, with a deadline; claimed, released, timed out.

A claim is one transaction (see `claim`): the campaign must be active, the market item must
still have a slot (and takes it), the worker must be under the job's per-worker limit (and is
counted), and the assignment is written with its due entry. However many workers claim at once,
a job never has more open assignments plus results than it needs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crowdtask import clock, errors, ids
from crowdtask.models.listing import ListQuery, Page
from crowdtask.services import market
from crowdtask.services.campaigns import CAMPAIGNS
from crowdtask.services.tasks import TASKS, to_task
from crowdtask.store import dynamo, events, keys
from crowdtask.store import market as market_store
from crowdtask.store.changes import Change
from crowdtask.store.collections import Collection

if TYPE_CHECKING:  # pragma: no cover - response models load where replies are built, not at import
    from crowdtask.models.market import AssignmentOut

ASSIGNMENTS = Collection("ASSIGNMENT", shards=1)
# What an assignment carries from its market item, so submitting and reviewing need no other read.
_TERMS = ("task_ids", "payment", "commission", "points", "review_seconds", "repeat_after")


def assignment_item(
    worker_id: str,
    assignment_id: str,
    terms: dict[str, Any],
    *,
    claimed: datetime,
    deadline: datetime,
    submit_by: datetime,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stored assignment, with its due entry at the upload deadline."""
    submit_by_iso = clock.iso(submit_by)
    data = {
        "worker_id": worker_id,
        "requester_id": terms["account_id"],
        "campaign_id": terms["campaign_id"],
        "job_id": terms["job_id"],
        "state": "open",
        "claimedAt": clock.iso(claimed),
        "deadline": clock.iso(deadline),
        "submitBy": submit_by_iso,
        **{k: terms[k] for k in _TERMS if k in terms},
        **(extra or {}),
    }
    item = ASSIGNMENTS.item(worker_id, assignment_id, data)
    item["due_pk"], item["due_sk"] = keys.due(
        "assignment", submit_by_iso, item["pk"], shards=keys.BUSY_DUE_SHARDS
    )
    return item


def to_assignment(item: dict[str, Any], tasks: list[Any] | None = None) -> AssignmentOut:
    from crowdtask.models.market import AssignmentOut

    plain = dynamo.plain_numbers(item)
    return AssignmentOut(
        id=plain["sk"],
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


def tasks_of(item: dict[str, Any]) -> list[Any]:
    """The job's task objects in order (what the worker must do)."""
    requester = item["requester_id"]
    task_ids = list(item.get("task_ids", []))
    found = dynamo.batch_get((TASKS.pk(requester, t), t) for t in task_ids)
    by_id = {sk: value for (_, sk), value in found.items()}
    return [to_task(by_id[t]) for t in task_ids if t in by_id]


def require_assignment(worker_id: str, assignment_id: str) -> dict[str, Any]:
    item = ASSIGNMENTS.get(worker_id, assignment_id, consistent=True)
    if item is None:
        raise errors.NotFound(f"No assignment {assignment_id} of yours.")
    return item


def get_assignment(worker_id: str, assignment_id: str) -> AssignmentOut:
    item = require_assignment(worker_id, assignment_id)
    return to_assignment(item, tasks_of(item))


def list_assignments(worker_id: str, query: ListQuery) -> tuple[list[AssignmentOut], Page]:
    page = ASSIGNMENTS.list(worker_id, query)
    return [to_assignment(item) for item in page.items], page


# ---------------------------------------------------------------- claim
def claim(
    worker_id: str, job_id: str, campaign_id: str | None, lat: float | None, lng: float | None
) -> AssignmentOut:
    """Take one slot of a job: 201 with the assignment, or a refusal saying why."""

    def attempt() -> dict[str, Any]:
        now = clock.now()
        now_iso = clock.iso(now)
        item = market.pick_item(job_id, campaign_id, now_iso)
        market.require_may_take(item, worker_id, lat, lng, now_iso)
        deadline = now + timedelta(seconds=int(item["work_seconds"]))
        submit_by = deadline + timedelta(seconds=int(item.get("upload_seconds", 0)))
        assignment = assignment_item(
            worker_id, ids.new_id(), item, claimed=now, deadline=deadline, submit_by=submit_by
        )
        requester, campaign = item["account_id"], item["campaign_id"]
        limit = item.get("max_per_worker")
        changes: list[Change | dict[str, Any]] = [
            market_store.require_active(
                market_store.campaign_change(CAMPAIGNS.pk(requester, campaign), campaign), now_iso
            ),
            market_store.take_slot(
                market_store.market_change(job_id, campaign), int(item["remaining"]), now_iso
            ),
            market_store.count_taken(
                market_store.worker_job_change(worker_id, campaign, job_id),
                None if limit is None else int(limit),
            ),
            dynamo.put_op(assignment, "attribute_not_exists(pk)"),
        ]
        try:
            market_store.transact(changes)
        except dynamo.TransactionConflict as exc:
            if market.failed(exc, 0):
                raise errors.Conflict(
                    f"Job {job_id} cannot be claimed: its campaign {campaign} is "
                    f"{market.campaign_state_text(requester, campaign)}."
                ) from exc
            if market.failed(exc, 2):
                raise errors.Conflict(
                    f"You have taken job {job_id} {int(limit or 0)} time(s): the most one worker may "
                    "(maxResultsPerWorker, or 1 when a task forbids user_multi_process)."
                ) from exc
            if market.failed(exc, 1):
                raise _SlotMoved() from exc  # the slot count moved under us: read it again
            raise
        return assignment

    for _ in range(40):
        try:
            assignment = dynamo.retry_contended(attempt)
        except _SlotMoved:
            continue
        events.publish(
            "assignment.claimed",
            {
                "assignmentId": assignment["sk"],
                "workerId": worker_id,
                "jobId": job_id,
                "campaignId": assignment["campaign_id"],
                "deadline": assignment["deadline"],
            },
        )
        return to_assignment(assignment, tasks_of(assignment))
    raise errors.Conflict(f"Job {job_id} is being claimed by many workers right now; retry.")


class _SlotMoved(Exception):
    pass


# ---------------------------------------------------------------- giving an assignment back
def end_changes(item: dict[str, Any], state: str, now_iso: str, *, open_path: bool) -> list[Change]:
    """An open assignment ends without a result (released or expired): its slot goes back."""
    assignment = Change(item["pk"], item["sk"]).set("state", state).set("endedAt", now_iso)
    assignment.remove("due_pk", "due_sk").require("{state} = :open", open="open")
    if state == "expired":
        assignment.require("{submitBy} < :now", now=now_iso)
    counter = market_store.uncount_taken(
        market_store.worker_job_change(item["worker_id"], item["campaign_id"], item["job_id"])
    )
    slot = market.slot_back(
        open_path=open_path,
        requester_id=item["requester_id"],
        campaign_id=item["campaign_id"],
        job_id=item["job_id"],
    )
    return [assignment, counter, *slot]


class NotOpen(Exception):
    """The assignment was no longer open (submitted, released or expired meanwhile)."""


def end_assignment(item: dict[str, Any], state: str) -> bool:
    """Release or expire an assignment; True when the slot could not reopen (the campaign may finish)."""
    now_iso = clock.iso(clock.now())

    def attempt(open_path: bool) -> None:
        market_store.transact(end_changes(item, state, now_iso, open_path=open_path))

    try:
        dynamo.retry_contended(lambda: attempt(True))
        return False
    except dynamo.TransactionConflict as exc:
        if market.failed(exc, 0):
            raise NotOpen(item["sk"]) from exc
        if not market.failed(exc, 2):
            raise
    try:
        dynamo.retry_contended(lambda: attempt(False))
    except dynamo.TransactionConflict as exc:
        if market.failed(exc, 0):
            raise NotOpen(item["sk"]) from exc
        raise
    return True


def release(worker_id: str, assignment_id: str) -> AssignmentOut:
    item = require_assignment(worker_id, assignment_id)
    if item["state"] != "open":
        raise errors.Conflict(
            f"Assignment {assignment_id} is {item['state']}; only an open one can be released."
        )
    try:
        dead = end_assignment(item, "released")
    except NotOpen as exc:
        current = require_assignment(worker_id, assignment_id)
        raise errors.Conflict(
            f"Assignment {assignment_id} is {current['state']}; only an open one can be released."
        ) from exc
    if dead:
        from crowdtask.services import results

        results.finish_if_complete([(item["requester_id"], item["campaign_id"])])
    events.publish(
        "assignment.released",
        {
            "assignmentId": assignment_id,
            "workerId": worker_id,
            "jobId": item["job_id"],
            "campaignId": item["campaign_id"],
        },
    )
    return to_assignment(require_assignment(worker_id, assignment_id))
