"""What a submission's answers decide, right after it is stored: review by the campaign's
policies (autoReview) and the end of its job's collection (dynamic overlap).

- autoReview.control (Mechanical Turk's ScoreMyKnownAnswers): the result's score on the control
  tasks it answered, sum of scores over sum of weights, approves or rejects it at once.
- overlap: once a job has `min` results and every aggregated component of its tasks is at least
  `confidence` sure, the job closes; its untaken slots' money goes back to the requester.
- autoReview.agreement (SimplePlurality): once the job has all the results it collects (or it
  closed as confident), each of its results in review that gives the aggregated answer on every
  component confident enough is approved, each that does not is rejected, as the policy says.

Every decision is an ordinary review, conditioned on the result still being in review, so a
requester, approve-all, the review sweep and a policy racing for one result decide it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from crowdtask import errors
from crowdtask.observability import logger
from crowdtask.services import aggregation, answers, market, results, votes

CONTROL_POLICY = "autoReview.control"
AGREEMENT_POLICY = "autoReview.agreement"


class Decided(NamedTuple):
    approved: list[results.Reviewed]
    rejected: list[results.Reviewed]
    touched: set[tuple[str, str]]  # (requester, campaign) pairs that may now be complete


def after_submission(submitted: results.Submitted) -> Decided:
    decided = Decided([], [], set())
    campaign = submitted.campaign
    policies = campaign.get("autoReview") or {}
    if policies.get("control"):
        _by_control(submitted, policies["control"], decided)
    if campaign.get("overlap") or policies.get("agreement"):
        _by_answers(submitted, campaign, decided)
    if decided.approved or decided.rejected:  # approvals may have brought in the last needed result
        decided.touched.add((submitted.moved.requester_id, submitted.moved.campaign_id))
    return decided


def _review(requester_id: str, result_id: str, approve: bool, why: str, by: str, decided: Decided) -> None:
    try:
        if approve:
            done = results.approve(requester_id, result_id, why, by=by)
        else:
            done, _ = results.reject(requester_id, result_id, why, by=by)
    except errors.Conflict:
        return  # reviewed by someone else first: decided once
    reviewed = results.Reviewed(done.id, requester_id, done.campaign, done.worker)
    (decided.approved if approve else decided.rejected).append(reviewed)


# ---------------------------------------------------------------- by control score
def control_score(result: Mapping[str, Any]) -> Decimal | None:
    """Sum of the control grades' scores over the sum of their weights (None without controls)."""
    graded = [entry["control"] for entry in result.get("taskResults", []) if entry.get("control")]
    weight = sum((Decimal(str(g["weight"])) for g in graded), Decimal(0))
    if not weight:
        return None
    return sum((Decimal(str(g["score"])) for g in graded), Decimal(0)) / weight


def _by_control(submitted: results.Submitted, policy: Mapping[str, Any], decided: Decided) -> None:
    score = control_score(submitted.result)
    if score is None:
        return
    shown = f"{float(score):.2f}"
    approve_at, reject_below = policy.get("approveAtLeast"), policy.get("rejectBelow")
    moved = submitted.moved
    if approve_at is not None and score >= Decimal(str(approve_at)):
        why = f"control score {shown} is at least {approve_at}"
        _review(moved.requester_id, moved.result_id, True, why, CONTROL_POLICY, decided)
    elif reject_below is not None and score < Decimal(str(reject_below)):
        why = f"control score {shown} is below {reject_below}"
        _review(moved.requester_id, moved.result_id, False, why, CONTROL_POLICY, decided)


# ---------------------------------------------------------------- by the job's answers
def _by_answers(submitted: results.Submitted, campaign: Mapping[str, Any], decided: Decided) -> None:
    moved, result = submitted.moved, submitted.result
    controls = {str(c) for c in result.get("control_ids") or []}
    task_ids = [str(t) for t in result.get("task_ids", []) if str(t) not in controls]
    if not task_ids:
        return
    job_id = str(result["job_id"])
    found = answers.job_answers(moved.campaign_id, task_ids)
    counted = min((found[t].answers if t in found else 0) for t in task_ids)
    overlap = campaign.get("overlap") or {}
    closed = False
    if overlap and counted >= int(overlap.get("min", 1)):
        threshold = float(overlap["confidence"])
        if all(t in found and aggregation.confident(found[t].winners, threshold) for t in task_ids):
            try:
                market.close_answered(moved.requester_id, moved.campaign_id, job_id)
            except Exception:  # the answer stays; the job collects on until a later submission closes it
                logger.exception("closing a confident job failed", extra={"job": job_id})
            decided.touched.add((moved.requester_id, moved.campaign_id))
            closed = True
    needed = int(result.get("needed") or 0)
    agreement = (campaign.get("autoReview") or {}).get("agreement")
    if agreement and (
        closed or (needed and counted >= needed) or market.job_closed(job_id, moved.campaign_id)
    ):
        _by_agreement(submitted, task_ids, found, agreement, decided)


def _by_agreement(
    submitted: results.Submitted,
    task_ids: list[str],
    found: Mapping[str, answers.TaskAnswer],
    policy: Mapping[str, Any],
    decided: Decided,
) -> None:
    moved = submitted.moved
    if not votes.keep_voters(submitted.result.get("needed")):
        return  # a job this large keeps no list of its results (refused when the campaign is made)
    minimum = float(policy.get("minConfidence", 0.5))
    for item in results.in_review(moved.requester_id, answers.job_voters(moved.campaign_id, task_ids[0])):
        verdicts = []
        for entry in item.get("taskResults", []):
            task_id = str(entry["task"]["id"])
            if task_id not in found:
                continue
            components = [c.get("data") or {} for c in entry.get("components", [])]
            given = [c.get("result") for c in entry.get("components", [])]
            verdicts.append(aggregation.agrees(components, given, found[task_id].winners, minimum))
        if any(v is False for v in verdicts):
            if policy.get("reject"):
                why = "disagrees with the aggregated answer"
                _review(moved.requester_id, str(item["id"]), False, why, AGREEMENT_POLICY, decided)
        elif any(v is True for v in verdicts) and policy.get("approve", True):
            why = "agrees with the aggregated answer"
            _review(moved.requester_id, str(item["id"]), True, why, AGREEMENT_POLICY, decided)
