"""Work handed in, reviewed or given back; then the campaign's quality rules on what moved and the
campaigns it left with nothing outstanding."""

from __future__ import annotations

from collections.abc import Iterable

from crowdtask.models.market import AssignmentOut
from crowdtask.models.results import ApproveAllOut, ResultOut
from crowdtask.models.submissions import SubmitIn
from crowdtask.observability import logger
from crowdtask.services import assignments, decisions, quality, results
from crowdtask.services.flows.publishing import finish_if_complete


def judge(events_: Iterable[quality.Event]) -> None:
    """Quality rules on each event that moved a worker's statistics; then finish what their actions
    completed. Events a rule's action causes are not judged again (a rule cannot set off another)."""
    touched: set[tuple[str, str]] = set()
    for event in events_:
        try:
            touched |= quality.evaluate(event)
        except Exception:  # a rule that cannot run must not undo the work it judges
            logger.exception(
                "a quality rule failed", extra={"event": event.id, "campaign": event.campaign_id}
            )
    finish_if_complete(touched)


def reviewed_events(kind: str, done: Iterable[results.Reviewed], what: str) -> list[quality.Event]:
    return [
        quality.Event(f"{r.result_id}:{what}", kind, r.requester_id, r.campaign_id, r.worker_id) for r in done
    ]


def submit(worker_id: str, assignment_id: str, submission: SubmitIn) -> ResultOut:
    """A worker's result, in review (its votes counted in its tasks' aggregates); then what its
    answers decide (review policies, dynamic overlap) and the campaign's rules on what moved."""
    result, submitted = results.submit(worker_id, assignment_id, submission)
    decided = decisions.Decided([], [], set())
    try:
        decided = decisions.after_submission(submitted)
    except Exception:  # the result is stored; a policy that cannot run leaves it for review
        logger.exception("deciding on a submission failed", extra={"result": submitted.moved.result_id})
    finish_if_complete(decided.touched)
    judge(
        [
            *reviewed_events("submission", [submitted.moved], "submitted"),
            *reviewed_events("review", decided.approved, "approved"),
            *reviewed_events("review", decided.rejected, "rejected"),
        ]
    )
    return result


def approve(requester_id: str, result_id: str, message: str | None) -> ResultOut:
    approved = results.approve(requester_id, result_id, message)
    finish_if_complete([(requester_id, approved.campaign)])
    moved = results.Reviewed(approved.id, requester_id, approved.campaign, approved.worker)
    judge(reviewed_events("review", [moved], "approved"))
    return approved


def approve_all(
    requester_id: str, campaign_id: str, worker_id: str | None, message: str | None
) -> ApproveAllOut:
    done, reviewed = results.approve_all(requester_id, campaign_id, worker_id, message)
    finish_if_complete([(requester_id, campaign_id)])
    judge(reviewed_events("review", reviewed, "approved"))
    return done


def reject(requester_id: str, result_id: str, reason: str) -> ResultOut:
    rejected, job_closed = results.reject(requester_id, result_id, reason)
    if job_closed:  # the slot was dropped: the campaign may need nothing more
        finish_if_complete([(requester_id, rejected.campaign)])
    moved = results.Reviewed(rejected.id, requester_id, rejected.campaign, rejected.worker)
    judge(reviewed_events("review", [moved], "rejected"))
    return rejected


def release(worker_id: str, assignment_id: str) -> AssignmentOut:
    released, requester, job_closed = assignments.release(worker_id, assignment_id)
    if job_closed:
        finish_if_complete([(requester, released.campaign)])
    judge([quality.Event(f"{released.id}:released", "skip", requester, released.campaign, worker_id)])
    return released
