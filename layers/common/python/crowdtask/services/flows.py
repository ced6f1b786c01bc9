"""The flows that cross aggregates, held in one place.

- A campaign's lifecycle as it reaches the market: publishing opens its jobs and its pool tasks
  on the market, ending closes them; each transition is announced once all of it is done.
- A campaign finishes when nothing is outstanding: after a review, a release, a time-out or a
  repeat that dropped the last needed result.
- A bulk upload's end does what it asks (open_pool: publish or continue its campaigns).
- The scheduled sweeps, which do all of the above for what is due.

The aggregate services (campaigns, market, pools, assignments, results, bulk) never call each
other back: they hand what a flow needs (a campaign that may be complete, an operation that
ended) to this module. Nothing in services/ imports it; the functions do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from pydantic import ValidationError

from crowdtask import clock, errors
from crowdtask.models.bulk import BulkCreateOut, OperationOut
from crowdtask.models.campaigns import CampaignOut
from crowdtask.models.market import AssignmentOut
from crowdtask.models.results import ApproveAllOut, ResultOut
from crowdtask.models.submissions import SubmitIn
from crowdtask.models.tasks import TaskIn, TaskOut
from crowdtask.observability import logger
from crowdtask.services import (
    assignments,
    bulk,
    bulk_chunks,
    bulk_items,
    campaigns,
    decisions,
    lifecycle,
    market,
    pools,
    quality,
    quotas,
    results,
    tasks,
)
from crowdtask.services.bulk_items import BulkParams
from crowdtask.store import campaigns as campaign_store
from crowdtask.validation import refusal

CAMPAIGN_STEPS_LIMIT = 200
MARKET_SWEEP_LIMIT = 2000


# ---------------------------------------------------------------- a campaign's lifecycle
def publish(account_id: str, campaign_id: str) -> CampaignOut:
    """unpublished -> active, then its jobs and pool tasks go on the market."""
    campaigns.publish(account_id, campaign_id)
    open_market(account_id, campaign_id)
    return campaigns.get_campaign(account_id, campaign_id)


def open_market(account_id: str, campaign_id: str) -> None:
    """The market of a live campaign: its jobs, then its pool tasks in steps of pools.STEP.

    A big pool opens in steps: until the last one, the campaign's `market` step stays due and the
    market scheduler carries on. A failure leaves it due too (safe to run again).
    """
    campaign = market.open_campaign(account_id, campaign_id)
    if campaign is None:
        return
    try:
        if not pools.open_pool(account_id, campaign):
            return
    except Exception:
        logger.exception(
            "opening the pool tasks failed; the market scheduler carries on", extra={"campaign": campaign_id}
        )
        return
    market.opened(account_id, campaign_id)


def cancel(account_id: str, campaign_id: str) -> CampaignOut:
    return _end(account_id, campaign_id, "cancel")


def finish(account_id: str, campaign_id: str) -> CampaignOut:
    return _end(account_id, campaign_id, "finish")


def _end(account_id: str, campaign_id: str, action: str) -> CampaignOut:
    """Cancel or finish: what is still frozen goes back, and the campaign's work leaves the market."""
    moved = campaigns.move(account_id, campaign_id, action)
    market.close_campaign(account_id, campaign_id)
    # a big pool closes in steps: the scheduler carries on from the campaign's `pool-close` step
    if moved.pool and pools.close_pool(account_id, campaign_id):
        campaign_store.clear_due(account_id, campaign_id, "pool-close")
    return campaigns.get_campaign(account_id, campaign_id)


def finish_if_complete(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """Finish every live campaign (account, campaign) whose needed results are all in; those finished."""
    finished = []
    for (account_id, campaign_id), progress in campaign_store.progress(pairs, consistent=True).items():
        outstanding = progress.get("results_outstanding")
        if lifecycle.state_of(progress) not in lifecycle.LIVE or outstanding is None or int(outstanding) > 0:
            continue
        try:
            finish(account_id, campaign_id)
        except errors.Conflict:
            continue  # finished (or cancelled) by someone else meanwhile
        finished.append(campaign_id)
    return finished


# ---------------------------------------------------------------- work, reviews and releases
def _judge(events_: Iterable[quality.Event]) -> None:
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


def _reviewed(kind: str, done: Iterable[results.Reviewed], what: str) -> list[quality.Event]:
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
    _judge(
        [
            *_reviewed("submission", [submitted.moved], "submitted"),
            *_reviewed("review", decided.approved, "approved"),
            *_reviewed("review", decided.rejected, "rejected"),
        ]
    )
    return result


def approve(requester_id: str, result_id: str, message: str | None) -> ResultOut:
    approved = results.approve(requester_id, result_id, message)
    finish_if_complete([(requester_id, approved.campaign)])
    moved = results.Reviewed(approved.id, requester_id, approved.campaign, approved.worker)
    _judge(_reviewed("review", [moved], "approved"))
    return approved


def approve_all(
    requester_id: str, campaign_id: str, worker_id: str | None, message: str | None
) -> ApproveAllOut:
    done, reviewed = results.approve_all(requester_id, campaign_id, worker_id, message)
    finish_if_complete([(requester_id, campaign_id)])
    _judge(_reviewed("review", reviewed, "approved"))
    return done


def reject(requester_id: str, result_id: str, reason: str) -> ResultOut:
    rejected, job_closed = results.reject(requester_id, result_id, reason)
    if job_closed:  # the slot was dropped: the campaign may need nothing more
        finish_if_complete([(requester_id, rejected.campaign)])
    moved = results.Reviewed(rejected.id, requester_id, rejected.campaign, rejected.worker)
    _judge(_reviewed("review", [moved], "rejected"))
    return rejected


def release(worker_id: str, assignment_id: str) -> AssignmentOut:
    released, requester, job_closed = assignments.release(worker_id, assignment_id)
    if job_closed:
        finish_if_complete([(requester, released.campaign)])
    _judge([quality.Event(f"{released.id}:released", "skip", requester, released.campaign, worker_id)])
    return released


# ---------------------------------------------------------------- sweeps
def sweep_campaign_steps(limit: int = CAMPAIGN_STEPS_LIMIT) -> dict[str, int]:
    """Run the campaign steps that are due: startDate publishes, endDate finishes, pending locks apply,
    an ended campaign's pool goes on leaving the market.

    Reads only the due index and the campaigns concerned; a step is deleted only once done,
    and every step is idempotent, so a sweep that dies half way is simply run again.
    """
    now = clock.iso(clock.now())
    done = {"start": 0, "end": 0, "locks": 0, "pool-close": 0}
    steps: dict[str, Any] = {
        "start": publish,
        "end": finish,
        "locks": campaigns.apply_locks,
        "pool-close": pools.close_pool,
    }
    for kind, step in steps.items():
        for account_id, campaign_id in campaign_store.due_steps(kind, now, limit):
            try:
                if step(account_id, campaign_id) is False:
                    continue  # a step taken in parts (closing a big pool): due again next time
            except errors.Conflict as refused:
                if kind == "start":
                    campaigns.report_publish_failed(account_id, campaign_id, refused.description)
            except errors.NotFound:
                pass  # the campaign is gone: drop its step
            campaign_store.clear_due_step(account_id, campaign_id, kind, now)
            done[kind] += 1
    return done


def sweep_market(limit: int = MARKET_SWEEP_LIMIT) -> dict[str, Any]:
    """The market's scheduled work, each kind found through the sweep index only:

    markets a publish left to open, pool chunks a crash left off the market, assignment
    time-outs, auto-approval, task_ttl expiry, repeats and quality actions a crash left without
    an outcome; then every campaign they touched that needs nothing more finishes. Every action
    is a conditional write keyed to the state it was found in (or rewrites what it wrote before),
    so a sweep that dies half way, or two at once, do each thing once.
    """
    now = clock.now()
    now_iso = clock.iso(now)
    markets = 0
    for account_id, campaign_id in market.pending_openings(now_iso, limit):
        try:
            open_market(account_id, campaign_id)
        except Exception:
            logger.exception("opening a market failed; retried next time", extra={"campaign": campaign_id})
            continue
        markets += 1
    chunks = pools.finish_pending_chunks(now_iso, limit)
    expired, touched, ended = assignments.expire_due(now_iso, limit)
    finish_if_complete(touched)
    _judge(
        quality.Event(f"{a['id']}:expired", "skip", a["requester_id"], a["campaign_id"], a["worker_id"])
        for a in ended
    )
    reviews, touched, reviewed = results.approve_due(now_iso, limit)
    reviews["finished"] = len(finish_if_complete(touched))
    _judge(_reviewed("review", reviewed, "approved"))
    jobs_expired, touched = market.expire_jobs(now_iso, limit)
    finish_if_complete(touched)
    repeats, touched = market.run_repeats(now, limit)
    finish_if_complete(touched)
    quality_actions, touched = quality.finish_unfinished(now_iso, limit)
    finish_if_complete(touched)
    return {
        "markets_opened": markets,
        "pool_chunks_opened": chunks,
        "assignments_expired": expired,
        "results": reviews,
        "jobs_expired": jobs_expired,
        "repeats": repeats,
        "quality_actions_finished": quality_actions,
    }


# ---------------------------------------------------------------- task uploads
class Upload(NamedTuple):
    """What an upload of tasks answers: one task, the created items, or an operation (202)."""

    task: TaskOut | None = None
    items: BulkCreateOut | None = None
    operation: OperationOut | None = None
    quota_headers: dict[str, str] | None = None


def upload_tasks(account_id: str, body: dict[str, Any] | list[Any], params: BulkParams) -> Upload:
    """POST of one task (a JSON object) or many (an array), in the bulk API's modes.

    One task of either task form is created at once; anything else goes through the bulk
    service, and so does one task sent with an operation_id (which makes sending it again create
    nothing more). A single task refused is a 422 naming its fields, as for any single task.
    """
    plain = isinstance(body, dict) and not bulk_items.is_pool_task(body)
    if plain and not params.async_mode and params.operation_id is None:
        try:
            task = TaskIn.model_validate(body)
        except ValidationError as exc:
            raise refusal(exc) from None
        created, reservation = tasks.create_counted(account_id, task)
        return Upload(task=created, quota_headers=reservation.headers())
    items = body if isinstance(body, list) else [body]
    if params.async_mode:
        operation, reservation_or_none = submit_tasks(account_id, items, params)
        return Upload(
            operation=operation, quota_headers=reservation_or_none.headers() if reservation_or_none else None
        )
    try:
        reply, reservation = create_tasks_now(account_id, items, params)
    except bulk.Deferred as deferred:  # could not finish in time: the bulk worker finishes it
        return Upload(operation=deferred.operation)
    except bulk_items.BulkRefused as refused:
        if isinstance(body, dict):  # one pool task: its fields, as for any single task
            raise _refusal_of(refused.validation_errors["0"]) from None
        raise
    if isinstance(body, list):
        return Upload(items=reply, quota_headers=reservation.headers())
    if "0" not in reply.items:  # refused, and skip_invalid_items=true skipped it
        skipped = (reply.validation_errors or {}).get("0", {})
        raise _refusal_of({name: problem.model_dump() for name, problem in skipped.items()})
    return Upload(task=tasks.get_task(account_id, reply.items["0"].id), quota_headers=reservation.headers())


def _refusal_of(problems: dict[str, dict[str, str]]) -> errors.ValidationFailed:
    return errors.ValidationFailed([{"field": name, **problem} for name, problem in problems.items()])


def create_tasks_now(
    account_id: str, items: list[Any], params: BulkParams
) -> tuple[BulkCreateOut, quotas.Reservation]:
    """A synchronous bulk upload, then what its end asks."""
    created = bulk.create_now(account_id, items, params)
    if created.ending is not None:
        end_operation(created.ending)
    return created.reply, created.reservation


def submit_tasks(
    account_id: str, items: list[Any], params: BulkParams
) -> tuple[OperationOut, quotas.Reservation | None]:
    """An asynchronous bulk upload (an operation with nothing to store ends at once)."""
    submitted = bulk.submit(account_id, items, params)
    if submitted.ending is not None:
        end_operation(submitted.ending)
    return submitted.operation, submitted.reservation


def store_task_chunk(message: dict[str, Any]) -> None:
    """The bulk worker's chunk of tasks, then what the operation's end asks once it ends."""
    ending = bulk_chunks.store_chunk(message)
    if ending is not None:
        end_operation(ending)


def dead_task_chunk(message: dict[str, Any]) -> None:
    """A dead-lettered chunk of tasks (bulk_chunks.dead_chunk), then the operation's end."""
    ending = bulk_chunks.dead_chunk(message)
    if ending is not None:
        end_operation(ending)


def end_operation(item: dict[str, Any]) -> None:
    """An operation ended: publish or continue its campaigns if it asked (open_pool), then record it."""
    problems = (
        _open_pools(item["account_id"], set(item.get("pools", []))) if bulk_chunks.opens_pools(item) else []
    )
    bulk_chunks.record_end(item, problems)


def _open_pools(account_id: str, pool_ids: set[str]) -> list[str]:
    """New tasks reached their campaigns: open the campaigns. Returns what could not be opened."""
    problems = []
    for campaign_id in sorted(pool_ids):
        try:
            state = lifecycle.state_of(campaigns.require_campaign(account_id, campaign_id, consistent=True))
            if state == lifecycle.UNPUBLISHED:
                publish(account_id, campaign_id)
            elif state == lifecycle.PAUSED:
                campaigns.resume(account_id, campaign_id)
        except errors.CrowdtaskError as refused:
            problems.append(f"campaign {campaign_id}: {refused.description}")
        except Exception:
            logger.exception("opening a campaign after an upload failed", extra={"campaign": campaign_id})
            problems.append(
                f"campaign {campaign_id}: could not be opened now; publish or continue it yourself"
            )
    return problems
