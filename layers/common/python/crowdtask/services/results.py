"""Results: submitted by workers, reviewed by requesters (or approved when the review window closes), paid.

Money: a result costs `payment + commission`, both fixed when the job was published. Submitting
adds the cost to the campaign's `owed` (what results in review may still cost); approving moves
it out of the campaign's frozen budget and the requester's frozen balance, to the worker's paid
earnings and the platform's revenue; rejecting keeps it frozen for the result that replaces the
rejected one. Each review is one transaction conditioned on the result still being `InReview`
(store/results.py), so a result is paid at most once whoever approves it (a requester,
approve-all, the sweep). A campaign that ends keeps `owed` frozen, so results still in review
can be paid after it. A review that may complete its campaign says so; finishing the campaign
is the coordinator's (services/flows/reviewing.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from crowdtask import clock, errors, ids, store
from crowdtask.models.components import validate_results
from crowdtask.models.durations import seconds
from crowdtask.models.results import ApproveAllOut, ResultOut
from crowdtask.models.submissions import SubmitIn
from crowdtask.numbers import plain_numbers
from crowdtask.observability import logger
from crowdtask.services import assignments, grading, lifecycle, market, media, pricing, votes
from crowdtask.services.campaigns import require_campaign
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import outbox
from crowdtask.store import results as result_store
from crowdtask.store import tasks as task_store

IN_REVIEW = result_store.IN_REVIEW
APPROVE_ALL_BUDGET_S = 20.0
EARNINGS_KEPT = timedelta(days=2)  # hourly earnings buckets outlive the 24 hours quality rules read
# What a result carries from its assignment (and a redo assignment from the result).
_CARRIED = (
    "payment",
    "commission",
    "points",
    "review_seconds",
    "repeat_after",
    "task_ids",
    "control_ids",
    "needed",
)
_REJECT_ATTEMPTS = 8
Touched = set[tuple[str, str]]  # (requester, campaign) pairs that may now have all their results
# What a caller reviewing many results adds to each review's transaction, given the result.
AlsoWritten = Callable[[Mapping[str, Any]], Iterable[result_store.ReviewPart]]


class Reviewed(NamedTuple):
    """A result just reviewed (or submitted): which worker's statistics in which campaign it moved."""

    result_id: str
    requester_id: str
    campaign_id: str
    worker_id: str


class Submitted(NamedTuple):
    """A result just submitted: the statistics it moved, the result as stored and its campaign as read."""

    moved: Reviewed
    result: dict[str, Any]
    campaign: dict[str, Any]


# ---------------------------------------------------------------- reading
def to_result(item: dict[str, Any], *, downloads: bool = False) -> ResultOut:
    """A stored result; `downloads`: with time-limited download URLs of its media (requesters only)."""
    plain = plain_numbers(item)
    if downloads:
        plain["taskResults"] = media.with_download_urls(plain.get("taskResults", []))
    return ResultOut.model_validate(
        {
            **plain,
            "worker": plain["worker_id"],
            "job": plain["job_id"],
            "campaign": plain["campaign_id"],
            "assignmentId": plain["assignment_id"],
        }
    )


def in_review(requester_id: str, result_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Those of the requester's results that are still in review, by id."""
    found = result_store.get_many(requester_id, sorted(set(result_ids)))
    return [{**item, "id": rid} for rid, item in sorted(found.items()) if item.get("state") == IN_REVIEW]


def require_result(requester_id: str, result_id: str) -> dict[str, Any]:
    item = result_store.get(requester_id, result_id)
    if item is None:
        raise errors.NotFound(f"No result {result_id} in your campaigns.")
    return item


def get_result(requester_id: str, result_id: str) -> ResultOut:
    return to_result(require_result(requester_id, result_id), downloads=True)


def _since_cursor(after: str | None, since: str | None) -> str | None:
    """The later of a page cursor and the first id that `since` allows (ids sort by submission)."""
    floor = None
    if since is not None:
        moment = datetime.fromisoformat(since + "+00:00")
        floor = ids.first_id_at(int(moment.timestamp() * 1000))  # submitted at that moment or later
    candidates = [c for c in (after, floor) if c]
    return max(candidates) if candidates else None


def list_campaign_results(
    requester_id: str,
    campaign_id: str,
    *,
    state: str | None,
    since: str | None,
    after: str | None,
    limit: int,
) -> tuple[list[ResultOut], bool]:
    require_campaign(requester_id, campaign_id)
    rows, more = result_store.campaign_results(
        campaign_id, after=_since_cursor(after, since), state=state, limit=limit
    )
    return [to_result(row, downloads=True) for row in rows], more


def list_worker_results(
    requester_id: str,
    campaign_id: str,
    worker_id: str,
    *,
    state: str | None,
    since: str | None,
    after: str | None,
    limit: int,
) -> tuple[list[ResultOut], bool]:
    require_campaign(requester_id, campaign_id)
    rows, more = result_store.worker_results(
        campaign_id, worker_id, after=_since_cursor(after, since), state=state, limit=limit
    )
    return [to_result(row, downloads=True) for row in rows], more


# ---------------------------------------------------------------- submitting
def _task_results(item: dict[str, Any], body: SubmitIn, now_iso: str) -> list[dict[str, Any]]:
    """The submitted task results checked against the job's tasks; a 422 names every bad field."""
    task_ids = list(item.get("task_ids", []))
    if len(body.taskResults) != len(task_ids):
        raise errors.ValidationFailed.one(
            "taskResults",
            f"expected {len(task_ids)} task results (one per task of the job), got {len(body.taskResults)}",
        )
    tasks = task_store.get_many(item["requester_id"], task_ids)
    problems: list[dict[str, str]] = []
    stored: list[dict[str, Any]] = []
    for position, (task_id, given) in enumerate(zip(task_ids, body.taskResults, strict=True)):
        where = f"taskResults[{position}]"
        if given.task != task_id:
            problems.append(
                {
                    "field": f"{where}.task",
                    "message": f"expected task {task_id} here (the job's order)",
                    "code": "INVALID_VALUE",
                }
            )
            continue
        task = tasks.get(task_id, {})
        components = grading.task_components(task)
        try:
            results = validate_results(
                components, [c.result for c in given.components], f"{where}.components", suffix=".result"
            )
        except errors.ValidationFailed as exc:
            problems.extend(exc.errors)
            continue
        checked = media.check_uploads(item["id"], task_id, components, results, f"{where}.components")
        if checked.problems:
            problems.extend(checked.problems)
            continue
        entry: dict[str, Any] = {
            "task": {"id": task_id, "name": task.get("name", "")},
            "startedAt": given.startedAt or item["claimedAt"],
            "completedAt": given.completedAt or now_iso,
            "components": [
                {"data": plain_numbers(c), "result": r, **_upload_of(checked.uploads.get(index))}
                for index, (c, r) in enumerate(zip(components, results, strict=True))
            ],
        }
        if task.get("knownSolutions"):  # a control task: graded now, shown to the requester only
            plain = plain_numbers(components)
            grade = grading.grade(plain, results, plain_numbers(task["knownSolutions"]))
            entry["control"] = {
                "correct": grade.correct,
                "score": Decimal(str(grade.score)),
                "weight": Decimal(str(grade.weight)),
            }
        stored.append(entry)
    if problems:
        raise errors.ValidationFailed(problems)
    return stored


def _upload_of(checked: dict[str, Any] | None) -> dict[str, Any]:
    return {} if checked is None else {"upload": checked}


def _settings(requester_id: str, campaign_id: str) -> dict[str, Any]:
    """What a submission needs of its campaign: its rules (they may change while it runs) and how
    it aggregates (kept as published)."""
    return campaign_store.get(requester_id, campaign_id) or {}


def _fast_thresholds(campaign: Mapping[str, Any]) -> set[int]:
    """The fast-submit thresholds (seconds) the campaign's rules name now: each is counted from when
    a rule names it."""
    rules = campaign.get("qualityRules") or []
    return {seconds(str(r["fastSubmitThreshold"])) for r in rules if r.get("fastSubmitThreshold")}


def quality_counts(
    task_results: list[dict[str, Any]], fast_under: Iterable[int], took_seconds: float
) -> dict[str, Any]:
    """What a submission adds to the worker's statistics: its control answers (how many, how many
    correct, their score out of their weight) and, per fast-submit threshold it is under, one."""
    graded = [entry["control"] for entry in task_results if entry.get("control")]
    counts: dict[str, Any] = {f"fast_{threshold}": 1 for threshold in fast_under if took_seconds < threshold}
    if graded:
        counts.update(
            control_answers=len(graded),
            control_correct=sum(1 for g in graded if g["correct"]),
            control_score=sum((g["score"] for g in graded), Decimal(0)),
            control_weight=sum((g["weight"] for g in graded), Decimal(0)),
        )
    return counts


def to_worker_result(item: dict[str, Any]) -> ResultOut:
    """A result as its worker sees it: nothing tells which of its tasks were controls."""
    shown = {
        **item,
        "taskResults": [{k: v for k, v in t.items() if k != "control"} for t in item.get("taskResults", [])],
    }
    return to_result(shown)


def result_record(
    assignment: dict[str, Any], result_id: str, task_results: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """The stored result of an assignment: in review, listed, due for auto-approval, carrying its pay."""
    review_by = clock.iso(now + timedelta(seconds=int(assignment.get("review_seconds", 0))))
    data: dict[str, Any] = {
        "worker_id": assignment["worker_id"],
        "campaign_id": assignment["campaign_id"],
        "job_id": assignment["job_id"],
        "assignment_id": assignment["id"],
        "state": IN_REVIEW,
        "startedAt": assignment["claimedAt"],
        "completedAt": clock.iso(now),
        "taskResults": task_results,
        "reviewBy": review_by,
        **{k: assignment[k] for k in _CARRIED if k in assignment},
    }
    return result_store.record(assignment["requester_id"], result_id, data)


def submit(worker_id: str, assignment_id: str, body: SubmitIn) -> tuple[ResultOut, Submitted]:
    """Turn an open assignment into a result in review; late uploads (past `submitBy`) are refused.

    The result as its worker sees it, and what the flows after a submission need."""
    now = clock.now()
    now_iso = clock.iso(now)
    item = assignments.require_open(worker_id, assignment_id, now_iso, "results")
    task_results = _task_results(item, body, now_iso)
    media.keep(task_results)
    requester, campaign_id, job_id = item["requester_id"], item["campaign_id"], item["job_id"]
    result_id = ids.new_id()
    settings = _settings(requester, campaign_id)
    claimed = clock.parse(item["claimedAt"]) or now
    counts = quality_counts(task_results, _fast_thresholds(settings), (now - claimed).total_seconds())
    # the result's votes in its tasks' live aggregates, weighed as the campaign says
    weight = votes.weight_of(settings.get("aggregation"), campaign_id, worker_id, counts)
    controls = {str(c) for c in item.get("control_ids") or []}
    ballots = votes.ballots(campaign_id, result_id, task_results, controls, weight)
    keep_voter = votes.keep_voters(item.get("needed"))
    stored = result_record(item, result_id, task_results, now)
    stored.update(votes.recorded(ballots, weight, keep_voter=keep_voter))
    in_transaction = stored["votes_in_transaction"]
    payment, cost = pricing.result_cost(item)
    submitted = outbox.event_item(
        "result.submitted",
        {
            "resultId": result_id,
            "workerId": worker_id,
            "jobId": job_id,
            "campaignId": campaign_id,
            "reviewBy": stored["reviewBy"],
        },
        requester,
        campaign_id,
    )
    cast = votes.cast_in_transaction(ballots, keep_voter=keep_voter) if in_transaction else []
    try:
        result_store.submit(
            item,
            stored,
            payment=payment,
            cost=cost,
            now_iso=now_iso,
            live_states=lifecycle.LIVE,
            quality=counts,
            controls=controls,
            also=[*cast, submitted],
        )
    except store.Refused as exc:
        if isinstance(exc, result_store.CampaignNotLive):
            raise errors.Conflict(
                f"Campaign {campaign_id} is {market.campaign_state_text(requester, campaign_id)}; "
                "it takes no results."
            ) from exc
        current = assignments.require_assignment(worker_id, assignment_id)
        raise errors.Conflict(
            f"Assignment {assignment_id} is {current['state']}; only an open one takes a result "
            f"(results were accepted until {current['submitBy']})."
        ) from exc
    if not in_transaction:
        votes.cast_after(ballots, keep_voter=keep_voter)
    moved = Reviewed(result_id, requester, campaign_id, worker_id)
    return to_worker_result(stored), Submitted(moved, stored, settings)


# ---------------------------------------------------------------- approving
def _repeat_at(settlement: dict[str, Any], now: datetime) -> str | None:
    """When a job that repeats after completion opens its next slot, if it does."""
    repeat_after = settlement.get("repeat_after")
    return None if repeat_after is None else clock.iso(now + timedelta(seconds=int(repeat_after)))


def approve_settlement(
    settlement: dict[str, Any],
    message: str | None = None,
    *,
    auto: bool = False,
    by: str | None = None,
    also: Iterable[result_store.ReviewPart] = (),
) -> None:
    """Write one approval from a result's settlement, with its event result.approved; AlreadyReviewed
    when it was reviewed first. `by`: the policy that decided it (recorded as the result's
    reviewedBy); `also`: written with it."""
    payment, cost = pricing.result_cost(settlement)
    now = clock.now()
    approved = _event_item("result.approved", settlement, auto=auto, reviewedBy=by)
    try:
        result_store.approve(
            settlement,
            payment=payment,
            cost=cost,
            now_iso=clock.iso(now),
            message=message,
            auto=auto,
            reviewed_by=by,
            repeat_at=_repeat_at(settlement, now),
            earned_hour=now.strftime("%Y-%m-%dT%H"),
            expire_epoch=int((now + EARNINGS_KEPT).timestamp()),
            also=[*also, approved],
        )
    except result_store.BudgetShort as exc:
        raise errors.Conflict(
            f"Approving result {settlement['id']} would take more than its campaign still holds frozen; "
            "the campaign's budget is inconsistent, please report this."
        ) from exc


AlreadyReviewed = result_store.AlreadyReviewed
settlement_of = result_store.settlement


def _not_in_review(item: dict[str, Any], action: str) -> errors.Conflict:
    return errors.Conflict(
        f"Result {item['id']} is {item['state']}; only results in review (InReview) can be {action}."
    )


def _reviewed(requester_id: str, result_id: str, action: str) -> errors.Conflict:
    return _not_in_review(require_result(requester_id, result_id), action)


def _event_item(kind: str, item: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The outbox item of a result's review event (a result, or its settlement)."""
    data = {
        "resultId": item["id"],
        "workerId": item["worker_id"],
        "jobId": item["job_id"],
        "campaignId": item["campaign_id"],
        "requesterId": item["account_id"],
        **extra,
    }
    return outbox.event_item(kind, data, item["account_id"], item["campaign_id"])


def approve(requester_id: str, result_id: str, message: str | None, *, by: str | None = None) -> ResultOut:
    """Approve and pay one result in review (its campaign may then have all its results)."""
    item = require_result(requester_id, result_id)
    if item["state"] != IN_REVIEW:
        raise _not_in_review(item, "approved")
    try:
        approve_settlement(settlement_of(item), message, by=by)
    except AlreadyReviewed as exc:
        raise _reviewed(requester_id, result_id, "approved") from exc
    return get_result(requester_id, result_id)


def approve_all(
    requester_id: str,
    campaign_id: str,
    worker_id: str | None,
    message: str | None,
    *,
    also: AlsoWritten | None = None,
) -> tuple[ApproveAllOut, list[Reviewed]]:
    """Approve every result in review of a campaign (or of one worker in it), within a time budget;
    the answer, and the results it approved. `also`: written in each approval's transaction."""
    require_campaign(requester_id, campaign_id)
    started = time.monotonic()
    approved, more, after = 0, False, None
    reviewed: list[Reviewed] = []
    while True:
        if worker_id is None:
            page, has_more = result_store.campaign_results(
                campaign_id, after=after, state=IN_REVIEW, limit=100
            )
        else:
            page, has_more = result_store.worker_results(
                campaign_id, worker_id, after=after, state=IN_REVIEW, limit=100
            )
        for item in page:
            if time.monotonic() - started > APPROVE_ALL_BUDGET_S:
                more = True
                break
            try:
                approve_settlement(settlement_of(item), message, also=also(item) if also else ())
            except AlreadyReviewed:
                continue
            approved += 1
            reviewed.append(Reviewed(item["id"], requester_id, campaign_id, item["worker_id"]))
        if more or not has_more or not page:
            break
        after = page[-1]["id"]
    return ApproveAllOut(campaign=campaign_id, worker=worker_id, approved=approved, more=more), reviewed


def reject_all(
    requester_id: str, campaign_id: str, worker_id: str, reason: str, *, also: AlsoWritten | None = None
) -> tuple[int, Decimal]:
    """Reject every result of the worker in review in the campaign, within a time budget; how many, and
    what they would have cost (it stays in the campaign's budget for the results that replace them).
    `also`: written in each rejection's transaction."""
    started = time.monotonic()
    rejected, returned, after = 0, Decimal(0), None
    while time.monotonic() - started < APPROVE_ALL_BUDGET_S:
        page, has_more = result_store.worker_results(
            campaign_id, worker_id, after=after, state=IN_REVIEW, limit=100
        )
        for item in page:
            try:
                reject(requester_id, item["id"], reason, also=also(item) if also else ())
            except errors.Conflict:
                continue  # reviewed by someone else meanwhile
            rejected += 1
            returned += pricing.result_cost(item)[1]
        if not has_more or not page:
            break
        after = page[-1]["id"]
    return rejected, returned


def approve_due(now_iso: str, limit: int) -> tuple[dict[str, int], Touched, list[Reviewed]]:
    """Approve every result whose review window has closed, from the sweep index alone.

    One index item per due result carries what the approval writes. Returns the counts and the
    (requester, campaign) pairs touched, which may now have all their results.
    """
    approved = skipped = 0
    touched: Touched = set()
    reviewed: list[Reviewed] = []
    for entry in result_store.due_for_approval(now_iso, limit):
        try:
            approve_settlement(entry, auto=True)
        except AlreadyReviewed:
            skipped += 1
            continue
        except (errors.Conflict, store.Contended):
            logger.exception(
                "auto-approval failed; it is retried by the next sweep", extra={"result": entry["id"]}
            )
            skipped += 1
            continue
        approved += 1
        touched.add((entry["account_id"], entry["campaign_id"]))
        reviewed.append(Reviewed(entry["id"], entry["account_id"], entry["campaign_id"], entry["worker_id"]))
    return {"approved": approved, "skipped": skipped}, touched, reviewed


# ---------------------------------------------------------------- rejecting
def reject(
    requester_id: str,
    result_id: str,
    reason: str,
    *,
    by: str | None = None,
    also: Iterable[result_store.ReviewPart] = (),
) -> tuple[ResultOut, bool]:
    """Rejected: the worker is not paid and their reputation drops; the job needs another result;
    the result's votes leave its tasks' aggregates.

    Also returns whether the job was closed, so its slot was dropped and the campaign may now
    have all its results. `by`: the policy that decided it (the result's reviewedBy); `also`:
    written in the rejection's transaction.
    """
    item = require_result(requester_id, result_id)
    if item["state"] != IN_REVIEW:
        raise _not_in_review(item, "rejected")
    rejected = _event_item("result.rejected", item, reason=reason, reviewedBy=by)
    also = [*also, rejected]  # written again by each attempt
    campaign_id = item["campaign_id"]
    payment, cost = pricing.result_cost(item)
    dead = False
    for _ in range(_REJECT_ATTEMPTS):
        state = market.campaign_state(requester_id, campaign_id)
        try:
            result_store.reject(
                item,
                reason=reason,
                payment=payment,
                cost=cost,
                now_iso=clock.iso(clock.now()),
                seen_state=state,
                refund=state in lifecycle.ENDED,  # nothing will replace it: its money goes back
                open_path=not dead,
                reviewed_by=by,
                also=[*votes.withdraw_in_transaction(item), *also],
            )
            break
        except result_store.AlreadyReviewed as exc:
            raise _reviewed(requester_id, result_id, "rejected") from exc
        except result_store.JobClosed:
            dead = True  # the job is closed: the slot cannot reopen
        except result_store.CampaignMoved:
            continue  # the campaign changed state meanwhile: decide again
    else:
        raise errors.Conflict(f"Campaign {campaign_id} is changing too often right now; retry.")
    votes.withdraw_after(item)
    media.discard(item.get("taskResults", []))
    return get_result(requester_id, result_id), dead


def soft_reject(requester_id: str, result_id: str, reason: str, until: str) -> ResultOut:
    """Soft-rejected: the worker may redo the job until `until` (a new assignment); reputation untouched."""
    now = clock.now()
    if until <= clock.iso(now):
        raise errors.ValidationFailed.one("until", f"must be in the future (it is {clock.iso(now)} now)")
    item = require_result(requester_id, result_id)
    if item["state"] != IN_REVIEW:
        raise _not_in_review(item, "soft-rejected")
    campaign_id, worker = item["campaign_id"], item["worker_id"]
    payment, cost = pricing.result_cost(item)
    until_moment = datetime.fromisoformat(until + "+00:00")
    terms: dict[str, Any] = {
        "account_id": requester_id,
        "campaign_id": campaign_id,
        "job_id": item["job_id"],
        **{k: item[k] for k in _CARRIED if k in item},
    }
    if "task_ids" not in terms:
        terms["task_ids"] = [t["task"]["id"] for t in item.get("taskResults", [])]
    redo = assignments.new_assignment(
        worker,
        terms,
        claimed=now,
        deadline=until_moment,
        submit_by=until_moment,
        extra={"redo_of": result_id, "reason": reason},
    )
    try:
        result_store.soft_reject(
            item,
            reason=reason,
            until=until,
            payment=payment,
            cost=cost,
            now_iso=clock.iso(now),
            redo=redo,
            live_states=lifecycle.LIVE,
            also=[
                *votes.withdraw_in_transaction(item),
                _event_item(
                    "result.soft_rejected", item, reason=reason, until=until, assignmentId=redo["id"]
                ),
            ],
        )
    except result_store.AlreadyReviewed as exc:
        raise _reviewed(requester_id, result_id, "soft-rejected") from exc
    except result_store.CampaignNotLive as exc:
        raise errors.Conflict(
            f"Campaign {campaign_id} is {market.campaign_state_text(requester_id, campaign_id)}: "
            "nobody can redo its jobs any more; approve or reject the result."
        ) from exc
    votes.withdraw_after(item)
    return get_result(requester_id, result_id)
