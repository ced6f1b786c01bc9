"""Results: submitted by workers, reviewed by requesters (or approved when the review window closes), paid.

Money: a result costs `payment + commission`, both fixed when the job was published. Submitting
adds the cost to the campaign's `owed` (what results in review may still cost); approving moves
it out of the campaign's frozen budget and the requester's frozen balance, to the worker's paid
earnings and the platform's revenue; rejecting keeps it frozen for the result that replaces the
rejected one. Each review is one transaction conditioned on the result still being `InReview`,
so a result is paid at most once whoever approves it (a requester, approve-all, the sweep).
A campaign that ends keeps `owed` frozen, so results still in review can be paid after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crowdtask import clock, errors, ids
from crowdtask.services import assignments, market
from crowdtask.services import campaigns as campaign_service
from crowdtask.services.campaigns import CAMPAIGNS, require_campaign
from crowdtask.services.tasks import TASKS
from crowdtask.store import dynamo, events
from crowdtask.store import market as market_store
from crowdtask.store import results as result_store
from crowdtask.store.changes import Change
from crowdtask.store.collections import Collection

if TYPE_CHECKING:  # pragma: no cover - request and response models load where they are used
    from crowdtask.models.market import SubmitIn
    from crowdtask.models.results import ApproveAllOut, ResultOut

RESULTS = Collection("RESULT", shards=16)
IN_REVIEW = "InReview"
APPROVE_ALL_BUDGET_S = 20.0
# Attributes a review needs; the sweep index projects them, so auto-approval reads nothing else.
SETTLEMENT = (
    "account_id",
    "worker_id",
    "campaign_id",
    "job_id",
    "payment",
    "commission",
    "points",
    "repeat_after",
)
# What a result carries from its assignment (and a redo assignment from the result).
_CARRIED = ("payment", "commission", "points", "review_seconds", "repeat_after", "task_ids")


class AlreadyReviewed(Exception):
    """The result was no longer InReview when the review was written."""


# ---------------------------------------------------------------- reading
def to_result(item: dict[str, Any]) -> ResultOut:
    from crowdtask.models.results import ResultOut

    plain = dynamo.plain_numbers(item)
    return ResultOut.model_validate(
        {
            **plain,
            "id": plain["sk"],
            "worker": plain["worker_id"],
            "job": plain["job_id"],
            "campaign": plain["campaign_id"],
            "assignmentId": plain["assignment_id"],
        }
    )


def require_result(requester_id: str, result_id: str) -> dict[str, Any]:
    item = RESULTS.get(requester_id, result_id, consistent=True)
    if item is None:
        raise errors.NotFound(f"No result {result_id} in your campaigns.")
    return item


def get_result(requester_id: str, result_id: str) -> ResultOut:
    return to_result(require_result(requester_id, result_id))


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
    return [to_result(row) for row in rows], more


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
    return [to_result(row) for row in rows], more


# ---------------------------------------------------------------- submitting
def _components(task: dict[str, Any]) -> list[Any]:
    """A task's components in result order: its Swarms `components`, then its task-JSON ones."""
    return [*task.get("components", []), *task.get("components_attributes", [])]


def _task_results(item: dict[str, Any], body: SubmitIn, now_iso: str) -> list[dict[str, Any]]:
    """The submitted task results checked against the job's tasks; a 422 names every bad field."""
    from crowdtask.models.components import validate_results

    task_ids = list(item.get("task_ids", []))
    if len(body.taskResults) != len(task_ids):
        raise errors.ValidationFailed.one(
            "taskResults",
            f"expected {len(task_ids)} task results (one per task of the job), got {len(body.taskResults)}",
        )
    found = dynamo.batch_get((TASKS.pk(item["requester_id"], t), t) for t in task_ids)
    tasks = {sk: value for (_, sk), value in found.items()}
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
        components = _components(task)
        try:
            results = validate_results(
                components, [c.result for c in given.components], f"{where}.components", suffix=".result"
            )
        except errors.ValidationFailed as exc:
            problems.extend(exc.errors)
            continue
        stored.append(
            {
                "task": {"id": task_id, "name": task.get("name", "")},
                "startedAt": given.startedAt or item["claimedAt"],
                "completedAt": given.completedAt or now_iso,
                "components": [
                    {"data": dynamo.plain_numbers(c), "result": r}
                    for c, r in zip(components, results, strict=True)
                ],
            }
        )
    if problems:
        raise errors.ValidationFailed(problems)
    return stored


def _cost(item: dict[str, Any]) -> tuple[Decimal, Decimal]:
    payment = Decimal(str(item.get("payment", 0)))
    return payment, payment + Decimal(str(item.get("commission", 0)))


def result_record(
    assignment: dict[str, Any], result_id: str, task_results: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """The stored result of an assignment: in review, listed, due for auto-approval, carrying its pay."""
    requester, campaign_id, worker_id = (
        assignment["requester_id"],
        assignment["campaign_id"],
        assignment["worker_id"],
    )
    review_by = clock.iso(now + timedelta(seconds=int(assignment.get("review_seconds", 0))))
    data: dict[str, Any] = {
        "worker_id": worker_id,
        "campaign_id": campaign_id,
        "job_id": assignment["job_id"],
        "assignment_id": assignment["sk"],
        "state": IN_REVIEW,
        "startedAt": assignment["claimedAt"],
        "completedAt": clock.iso(now),
        "taskResults": task_results,
        "reviewBy": review_by,
        **{k: assignment[k] for k in _CARRIED if k in assignment},
        **result_store.index_keys(campaign_id, worker_id, result_id),
        **result_store.review_due(review_by, RESULTS.pk(requester, result_id)),
    }
    return RESULTS.item(requester, result_id, data)


def submit(worker_id: str, assignment_id: str, body: SubmitIn) -> ResultOut:
    """Turn an open assignment into a result in review; late uploads (past `submitBy`) are refused."""
    item = assignments.require_assignment(worker_id, assignment_id)
    now = clock.now()
    now_iso = clock.iso(now)
    if item["state"] != "open":
        raise errors.Conflict(
            f"Assignment {assignment_id} is {item['state']}; only an open one takes a result."
        )
    if item["submitBy"] < now_iso:
        raise errors.Conflict(
            f"Assignment {assignment_id} took results until {item['submitBy']} (its deadline plus the "
            "campaign's maxUploadTime); this upload is too late."
        )
    task_results = _task_results(item, body, now_iso)
    requester, campaign_id, job_id = item["requester_id"], item["campaign_id"], item["job_id"]
    result_id = ids.new_id()
    stored = result_record(item, result_id, task_results, now)
    review_by = stored["reviewBy"]
    payment, cost = _cost(item)
    changes: list[Change | dict[str, Any]] = [
        Change(item["pk"], item["sk"])
        .set("state", "submitted")
        .set("result_id", result_id)
        .set("endedAt", now_iso)
        .remove("due_pk", "due_sk")
        .require("{state} = :open AND {submitBy} >= :now", open="open", now=now_iso),
        dynamo.put_op(stored, "attribute_not_exists(pk)"),
        market_store.campaign_change(CAMPAIGNS.pk(requester, campaign_id), campaign_id)
        .add("owed", cost)
        .add("version", 1)
        .require("{state} IN (:active, :paused)", active="active", paused="paused"),
        result_store.worker_account_change(worker_id)
        .add("earnings_pending", payment)
        .add("results_in_review", 1),
        result_store.campaign_worker_change(campaign_id, worker_id).add("in_review", 1),
    ]
    try:
        dynamo.retry_contended(lambda: market_store.transact(changes))
    except dynamo.TransactionConflict as exc:
        if market.failed(exc, 0):
            current = assignments.require_assignment(worker_id, assignment_id)
            raise errors.Conflict(
                f"Assignment {assignment_id} is {current['state']}; only an open one takes a result "
                f"(results were accepted until {current['submitBy']})."
            ) from exc
        if market.failed(exc, 2):
            raise errors.Conflict(
                f"Campaign {campaign_id} is {market.campaign_state_text(requester, campaign_id)}; "
                "it takes no results."
            ) from exc
        raise
    events.publish(
        "result.submitted",
        {
            "resultId": result_id,
            "workerId": worker_id,
            "jobId": job_id,
            "campaignId": campaign_id,
            "reviewBy": review_by,
        },
    )
    return to_result(stored)


# ---------------------------------------------------------------- approving
def settlement_of(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in (*SETTLEMENT, "pk", "sk") if k in item}


def approval_changes(
    s: dict[str, Any], now: datetime, message: str | None, auto: bool
) -> list[Change | dict[str, Any]]:
    """Everything approving one result moves, from its settlement attributes alone (no read)."""
    now_iso = clock.iso(now)
    result_id, requester, worker = s["sk"], s["account_id"], s["worker_id"]
    campaign_id = s["campaign_id"]
    payment, cost = _cost(s)
    commission = cost - payment
    result = Change(s["pk"], s["sk"]).set("state", "Approved").set("reviewedAt", now_iso)
    result.remove("due_pk", "due_sk", "reviewBy").require("{state} = :in_review", in_review=IN_REVIEW)
    if message:
        result.set("message", message)
    if auto:
        result.set("autoApproved", True)
    campaign = market_store.campaign_change(CAMPAIGNS.pk(requester, campaign_id), campaign_id)
    campaign.add("frozen_remaining", -cost).add("owed", -cost).add("version", 1)
    campaign.require("{frozen_remaining} >= :cost", cost=cost)
    repeat_after = s.get("repeat_after")
    if repeat_after is None:  # a repeating job needs another result: the campaign is not closer to done
        campaign.add("results_outstanding", -1)
    changes: list[Change | dict[str, Any]] = [
        result,
        campaign,
        market_store.spend_frozen(market_store.account_change(requester), cost),
        result_store.worker_account_change(worker)
        .add("earnings_pending", -payment)
        .add("earnings_paid", payment)
        .add("points", int(s.get("points", 0)))
        .add("results_in_review", -1)
        .add("results_approved", 1),
        result_store.campaign_worker_change(campaign_id, worker).add("in_review", -1).add("approved", 1),
        result_store.requester_worker_change(requester, worker).add("approved", 1),
    ]
    if commission:
        changes.append(market_store.revenue_change(result_id).add("commission", commission))
    if repeat_after is not None:
        due = clock.iso(now + timedelta(seconds=int(repeat_after)))
        data = {k: s[k] for k in ("account_id", "campaign_id", "job_id", "payment", "commission")}
        changes.append(market_store.after_completion_repeat(campaign_id, s["job_id"], result_id, due, data))
    return changes


def approve_settlement(s: dict[str, Any], message: str | None = None, *, auto: bool = False) -> None:
    """Write one approval; AlreadyReviewed when someone else reviewed the result first."""
    try:
        dynamo.retry_contended(lambda: market_store.transact(approval_changes(s, clock.now(), message, auto)))
    except dynamo.TransactionConflict as exc:
        if market.failed(exc, 0):
            raise AlreadyReviewed(s["sk"]) from exc
        if market.failed(exc, 1) or market.failed(exc, 2):
            raise errors.Conflict(
                f"Approving result {s['sk']} would take more than its campaign still holds frozen; "
                "the campaign's budget is inconsistent, please report this."
            ) from exc
        raise


def _not_in_review(item: dict[str, Any], action: str) -> errors.Conflict:
    return errors.Conflict(
        f"Result {item['sk']} is {item['state']}; only results in review (InReview) can be {action}."
    )


def _reviewed(requester_id: str, result_id: str, action: str) -> errors.Conflict:
    return _not_in_review(require_result(requester_id, result_id), action)


def approve(requester_id: str, result_id: str, message: str | None) -> ResultOut:
    item = require_result(requester_id, result_id)
    if item["state"] != IN_REVIEW:
        raise _not_in_review(item, "approved")
    try:
        approve_settlement(settlement_of(item), message)
    except AlreadyReviewed as exc:
        raise _reviewed(requester_id, result_id, "approved") from exc
    finish_if_complete([(requester_id, item["campaign_id"])])
    events.publish("result.approved", _event(item, auto=False))
    return get_result(requester_id, result_id)


def _event(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resultId": item["sk"],
        "workerId": item["worker_id"],
        "jobId": item["job_id"],
        "campaignId": item["campaign_id"],
        "requesterId": item["account_id"],
        **extra,
    }


def approve_all(
    requester_id: str, campaign_id: str, worker_id: str | None, message: str | None
) -> ApproveAllOut:
    """Approve every result in review of a campaign (or of one worker in it), within a time budget."""
    require_campaign(requester_id, campaign_id)
    started = time.monotonic()
    approved, more, after = 0, False, None
    published: list[tuple[str, dict[str, Any]]] = []
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
                approve_settlement(settlement_of(item), message)
            except AlreadyReviewed:
                continue
            approved += 1
            published.append(("result.approved", _event(item, auto=False)))
        if more or not has_more or not page:
            break
        after = page[-1]["sk"]
    events.publish_many(published)
    finish_if_complete([(requester_id, campaign_id)])
    from crowdtask.models.results import ApproveAllOut

    return ApproveAllOut(campaign=campaign_id, worker=worker_id, approved=approved, more=more)


def finish_if_complete(campaigns: Iterable[tuple[str, str]]) -> list[str]:
    """Finish every live campaign whose needed results are all approved; returns those finished."""
    wanted = {(CAMPAIGNS.pk(a, c), c): (a, c) for a, c in campaigns}
    if not wanted:
        return []
    found = dynamo.batch_get(wanted, attributes=["state", "results_outstanding"], consistent=True)
    finished = []
    for key, item in found.items():
        outstanding = item.get("results_outstanding")
        if item.get("state") in market.LIVE_STATES and outstanding is not None and int(outstanding) <= 0:
            account_id, campaign_id = wanted[key]
            try:
                campaign_service.finish(account_id, campaign_id)
            except errors.Conflict:
                continue  # finished (or cancelled) by someone else meanwhile
            finished.append(campaign_id)
    return finished


# ---------------------------------------------------------------- rejecting
def reject(requester_id: str, result_id: str, reason: str) -> ResultOut:
    """Rejected: the worker is not paid and their reputation drops; the job needs another result."""
    item = require_result(requester_id, result_id)
    if item["state"] != IN_REVIEW:
        raise _not_in_review(item, "rejected")
    campaign_id, worker = item["campaign_id"], item["worker_id"]
    payment, cost = _cost(item)

    def changes(open_path: bool) -> list[Change | dict[str, Any]]:
        state = market.campaign_state(requester_id, campaign_id)
        now_iso = clock.iso(clock.now())
        result = Change(item["pk"], item["sk"]).set("state", "Rejected").set("reason", reason)
        result.set("reviewedAt", now_iso).remove("due_pk", "due_sk", "reviewBy")
        result.require("{state} = :in_review", in_review=IN_REVIEW)
        campaign = market_store.campaign_change(CAMPAIGNS.pk(requester_id, campaign_id), campaign_id)
        campaign.add("owed", -cost).add("version", 1).require("{state} = :seen", seen=state)
        ops: list[Change | dict[str, Any]] = [result, campaign]
        ops += market.slot_back(
            open_path=open_path,
            requester_id=requester_id,
            campaign_id=campaign_id,
            job_id=item["job_id"],
            campaign=campaign,
        )
        if state in market.ENDED_STATES:  # nothing will replace it: its money goes back
            campaign.add("frozen_remaining", -cost).require("{frozen_remaining} >= :cost", cost=cost)
            ops.append(market_store.unfreeze(market_store.account_change(requester_id), cost))
        ops += [
            result_store.worker_account_change(worker)
            .add("earnings_pending", -payment)
            .add("results_in_review", -1)
            .add("results_rejected", 1),
            result_store.campaign_worker_change(campaign_id, worker).add("in_review", -1).add("rejected", 1),
            result_store.requester_worker_change(requester_id, worker).add("rejected", 1),
        ]
        return ops

    def attempt(open_path: bool) -> None:
        dynamo.retry_contended(lambda: market_store.transact(changes(open_path)))

    dead = False
    for _ in range(8):
        try:
            attempt(open_path=not dead)
            break
        except dynamo.TransactionConflict as exc:
            if market.failed(exc, 0):
                raise _reviewed(requester_id, result_id, "rejected") from exc
            if market.failed(exc, 2) and not dead:
                dead = True  # the job is closed: the slot cannot reopen
                continue
            if market.failed(exc, 1):
                continue  # the campaign changed state meanwhile: decide again
            raise
    else:
        raise errors.Conflict(f"Campaign {campaign_id} is changing too often right now; retry.")
    if dead:
        finish_if_complete([(requester_id, campaign_id)])
    events.publish("result.rejected", _event(item, reason=reason))
    return get_result(requester_id, result_id)


def soft_reject(requester_id: str, result_id: str, reason: str, until: str) -> ResultOut:
    """Soft-rejected: the worker may redo the job until `until` (a new assignment); reputation untouched."""
    now = clock.now()
    if until <= clock.iso(now):
        raise errors.ValidationFailed.one("until", f"must be in the future (it is {clock.iso(now)} now)")
    item = require_result(requester_id, result_id)
    if item["state"] != IN_REVIEW:
        raise _not_in_review(item, "soft-rejected")
    campaign_id, worker = item["campaign_id"], item["worker_id"]
    payment, cost = _cost(item)
    until_moment = datetime.fromisoformat(until + "+00:00")
    terms: dict[str, Any] = {
        "account_id": requester_id,
        "campaign_id": campaign_id,
        "job_id": item["job_id"],
        **{k: item[k] for k in _CARRIED if k in item},
    }
    if "task_ids" not in terms:
        terms["task_ids"] = [t["task"]["id"] for t in item.get("taskResults", [])]
    redo = assignments.assignment_item(
        worker,
        ids.new_id(),
        terms,
        claimed=now,
        deadline=until_moment,
        submit_by=until_moment,
        extra={"redo_of": result_id, "reason": reason},
    )
    now_iso = clock.iso(now)
    changes: list[Change | dict[str, Any]] = [
        Change(item["pk"], item["sk"])
        .set("state", "SoftRejected")
        .set("reason", reason)
        .set("until", until)
        .set("reviewedAt", now_iso)
        .remove("due_pk", "due_sk", "reviewBy")
        .require("{state} = :in_review", in_review=IN_REVIEW),
        market_store.campaign_change(CAMPAIGNS.pk(requester_id, campaign_id), campaign_id)
        .add("owed", -cost)
        .add("version", 1)
        .require("{state} IN (:active, :paused)", active="active", paused="paused"),
        result_store.worker_account_change(worker)
        .add("earnings_pending", -payment)
        .add("results_in_review", -1),
        result_store.campaign_worker_change(campaign_id, worker).add("in_review", -1),
        dynamo.put_op(redo, "attribute_not_exists(pk)"),
    ]
    try:
        dynamo.retry_contended(lambda: market_store.transact(changes))
    except dynamo.TransactionConflict as exc:
        if market.failed(exc, 0):
            raise _reviewed(requester_id, result_id, "soft-rejected") from exc
        if market.failed(exc, 1):
            raise errors.Conflict(
                f"Campaign {campaign_id} is {market.campaign_state_text(requester_id, campaign_id)}: "
                "nobody can redo its jobs any more; approve or reject the result."
            ) from exc
        raise
    events.publish("result.soft_rejected", _event(item, reason=reason, until=until, assignmentId=redo["sk"]))
    return get_result(requester_id, result_id)


# ---------------------------------------------------------------- the sweep's part
def approve_due(now_iso: str, limit: int) -> dict[str, int]:
    """Approve every result whose review window has closed, from the sweep index alone.

    One index item per due result carries what the approval writes; the only other read is one
    batched look at the campaigns touched, to finish those that are complete.
    """
    from crowdtask.store import keys, sweeps

    due = sweeps.due_items("review", now_iso, limit, shards=keys.BUSY_DUE_SHARDS)
    approved = skipped = 0
    touched: dict[tuple[str, str], None] = {}
    published: list[tuple[str, dict[str, Any]]] = []
    for found in due:
        entry = found
        if "account_id" not in entry:  # the index does not project the settlement (yet): read the item
            entry = dynamo.get(found["pk"], found["sk"], consistent=True) or {}
            if entry.get("state") != IN_REVIEW:
                continue
        try:
            approve_settlement(settlement_of(entry), auto=True)
        except AlreadyReviewed:
            skipped += 1
            continue
        except (errors.Conflict, dynamo.TransactionConflict):
            from crowdtask.observability import logger

            logger.exception(
                "auto-approval failed; it is retried by the next sweep", extra={"result": entry["sk"]}
            )
            skipped += 1
            continue
        approved += 1
        touched[(entry["account_id"], entry["campaign_id"])] = None
        published.append(("result.approved", _event(entry, auto=True)))
    events.publish_many(published)
    finished = finish_if_complete(touched)
    return {"approved": approved, "skipped": skipped, "finished": len(finished)}
