"""Results on moto: submission, review, auto-approval, payment, campaign end, repeats, worker figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crowdtask import errors
from crowdtask.models.market import SubmitIn
from crowdtask.services import assignments, campaigns, market, results, workers
from crowdtask.services.flows import publishing, reviewing, sweeping
from crowdtask.store import accounts as account_store
from crowdtask.store import keys
from tests.support.accounts import make_account
from tests.support.eventbus import EventTap
from tests.support.market import answers, balances, claim_and_submit, market_item, published_job


def _remaining(job_id: str, campaign_id: str) -> int:
    return int(market_item(job_id, campaign_id)["remaining"])


def _money_in_play(requester_id: str, *worker_ids: str) -> Decimal:
    """Requester available + frozen + workers' earnings + platform revenue: constant through every review."""
    available, frozen = balances(requester_id)
    total = Decimal(available.split()[0]) + Decimal(frozen.split()[0]) + account_store.platform_revenue()
    for worker_id in worker_ids:
        me = workers.me(worker_id)
        total += Decimal(me.earnings.paid.split()[0])
    return total


# ---------------------------------------------------------------- submitting
def test_submit_creates_a_result_in_review(requester, worker):
    campaign_id, job_id = published_job(requester.id, maxReviewTime="2 hours")
    tap = EventTap()
    assignment = assignments.claim(worker.id, job_id, None, None, None)
    result = reviewing.submit(
        worker.id, assignment.id, SubmitIn.model_validate(answers(assignment.tasks, "No"))
    )
    assert (result.state, result.worker, result.job, result.campaign) == (
        "InReview",
        worker.id,
        job_id,
        campaign_id,
    )
    assert result.assignmentId == assignment.id and result.reviewBy == "2026-03-14T05:14:15"
    [task_result] = result.taskResults
    assert task_result.task.name == "task 0"
    assert [c.result for c in task_result.components] == [None, {"selectedOption": "No"}]
    assert task_result.components[1].data["option1"] == "Yes"
    assert assignments.get_assignment(worker.id, assignment.id).state == "submitted"
    assert [e["detail-type"] for e in tap.drain()] == ["assignment.claimed", "result.submitted"]
    assert workers.me(worker.id).earnings.pending == "0.5 USD"


def test_submit_names_every_bad_component_result(requester, worker):
    _, job_id = published_job(requester.id, [{}, {}])
    assignment = assignments.claim(worker.id, job_id, None, None, None)
    body = answers(assignment.tasks)
    body["taskResults"][0]["components"][1]["result"] = {"selectedOption": "Maybe"}
    body["taskResults"][1]["components"][1]["result"] = None
    with pytest.raises(errors.ValidationFailed) as refused:
        reviewing.submit(worker.id, assignment.id, SubmitIn.model_validate(body))
    assert [e["field"] for e in refused.value.errors] == [
        "taskResults[0].components[1].result.selectedOption",
        "taskResults[1].components[1].result",
    ]
    body = answers(assignment.tasks)
    body["taskResults"].reverse()
    with pytest.raises(errors.ValidationFailed) as misordered:
        reviewing.submit(worker.id, assignment.id, SubmitIn.model_validate(body))
    assert misordered.value.errors[0]["field"] == "taskResults[0].task"
    with pytest.raises(errors.ValidationFailed) as short:
        reviewing.submit(worker.id, assignment.id, SubmitIn.model_validate({"taskResults": []}))
    assert short.value.errors[0]["field"] == "taskResults"
    assert assignments.get_assignment(worker.id, assignment.id).state == "open"  # nothing was written


def test_uploads_after_the_upload_deadline_are_refused(requester, worker, frozen_clock):
    _, job_id = published_job(requester.id, maxWorkTime="10 min", maxUploadTime="5 min")
    early, late = (assignments.claim(worker.id, job_id, None, None, None) for _ in range(2))
    frozen_clock.advance(minutes=14)  # after the deadline, inside the upload time: accepted
    assert (
        reviewing.submit(worker.id, early.id, SubmitIn.model_validate(answers(early.tasks))).state
        == "InReview"
    )
    frozen_clock.advance(minutes=2)
    with pytest.raises(errors.Conflict, match="until 2026-03-14T03:29:15"):
        reviewing.submit(worker.id, late.id, SubmitIn.model_validate(answers(late.tasks)))


def test_submit_to_another_workers_assignment_is_404(requester, worker):
    _, job_id = published_job(requester.id)
    assignment = assignments.claim(worker.id, job_id, None, None, None)
    with pytest.raises(errors.NotFound):
        reviewing.submit(
            make_account("worker").id, assignment.id, SubmitIn.model_validate(answers(assignment.tasks))
        )


# ---------------------------------------------------------------- reviewing
def test_approval_pays_the_worker_and_the_platform(requester, worker):
    # Given 0.5 USD per result and a 20% commission: publishing 2 results froze 1.2 USD
    _, job_id = published_job(requester.id, [{"points": 5}], results=2)
    assert balances(requester.id) == ("98.8 USD", "1.2 USD")
    result = claim_and_submit(worker.id, job_id)
    tap = EventTap()
    # When it is approved with a message
    approved = reviewing.approve(requester.id, result.id, "Well done!")
    # Then the worker is paid 0.5, the platform earns 0.1, the requester's frozen money pays both
    assert (approved.state, approved.message, approved.reviewedAt) == (
        "Approved",
        "Well done!",
        "2026-03-14T03:14:15",
    )
    me = workers.me(worker.id)
    assert (me.earnings.paid, me.earnings.pending, me.points, me.experience, me.reputation) == (
        "0.5 USD",
        "0 USD",
        5,
        1,
        100.0,
    )
    assert balances(requester.id) == ("98.8 USD", "0.6 USD")
    assert account_store.platform_revenue() == Decimal("0.1")
    assert _money_in_play(requester.id, worker.id) == 100
    assert [e["detail-type"] for e in tap.drain()] == ["result.approved"]
    # And a result is reviewed once: approving again names its state
    for review in (
        lambda: reviewing.approve(requester.id, result.id, None),
        lambda: reviewing.reject(requester.id, result.id, "no"),
        lambda: results.soft_reject(requester.id, result.id, "no", "2026-03-15T00:00:00"),
    ):
        with pytest.raises(errors.Conflict, match=r"is Approved; only results in review \(InReview\)"):
            review()


def test_another_requesters_result_is_404(requester, worker):
    _, job_id = published_job(requester.id)
    result = claim_and_submit(worker.id, job_id)
    stranger = make_account(balance=10)
    for look in (
        lambda: results.get_result(stranger.id, result.id),
        lambda: reviewing.approve(stranger.id, result.id, None),
        lambda: reviewing.reject(stranger.id, result.id, "x"),
        lambda: results.list_campaign_results(
            stranger.id, result.campaign, state=None, since=None, after=None, limit=10
        ),
    ):
        with pytest.raises(errors.NotFound):
            look()


def test_reject_reopens_the_slot_without_paying(requester, worker):
    campaign_id, job_id = published_job(requester.id, results=1)
    result = claim_and_submit(worker.id, job_id)
    assert _remaining(job_id, campaign_id) == 0
    tap = EventTap()
    rejected = reviewing.reject(requester.id, result.id, "Cheating detected!")
    assert (rejected.state, rejected.reason) == ("Rejected", "Cheating detected!")
    assert _remaining(job_id, campaign_id) == 1  # a new result is needed
    me = workers.me(worker.id)
    assert (me.earnings.paid, me.earnings.pending, me.reputation, me.results.rejected) == (
        "0 USD",
        "0 USD",
        0.0,
        1,
    )
    assert balances(requester.id) == ("99.4 USD", "0.6 USD")  # the money waits for the replacement
    assert [e["detail-type"] for e in tap.drain()] == ["result.rejected"]
    replacement = claim_and_submit(make_account("worker").id, job_id)
    reviewing.approve(requester.id, replacement.id, None)
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"


def test_soft_reject_lets_the_same_worker_redo_until_then(requester, worker, frozen_clock):
    campaign_id, job_id = published_job(requester.id, results=1)
    result = claim_and_submit(worker.id, job_id)
    with pytest.raises(errors.ValidationFailed) as past:
        results.soft_reject(requester.id, result.id, "again", "2026-03-14T03:00:00")
    assert past.value.errors[0]["field"] == "until"
    soft = results.soft_reject(requester.id, result.id, "Be more precise, please", "2026-03-14T08:00:00")
    assert (soft.state, soft.until) == ("SoftRejected", "2026-03-14T08:00:00")
    assert _remaining(job_id, campaign_id) == 0  # the slot stays with the worker
    [redo] = assignments.list_assignments(worker.id, _open_query())[0]
    assert (redo.redoOf, redo.reason, redo.deadline, redo.submitBy) == (
        result.id,
        "Be more precise, please",
        "2026-03-14T08:00:00",
        "2026-03-14T08:00:00",
    )
    me = workers.me(worker.id)
    assert (me.reputation, me.results.rejected, me.earnings.pending) == (100.0, 0, "0 USD")
    full = assignments.get_assignment(worker.id, redo.id)
    redone = reviewing.submit(worker.id, redo.id, SubmitIn.model_validate(answers(full.tasks)))
    assert redone.state == "InReview" and redone.id != result.id
    reviewing.approve(requester.id, redone.id, None)
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"
    assert workers.me(worker.id).earnings.paid == "0.5 USD"


def test_a_redo_that_runs_out_gives_the_slot_back(requester, worker, frozen_clock):
    campaign_id, job_id = published_job(requester.id, results=1)
    result = claim_and_submit(worker.id, job_id)
    results.soft_reject(requester.id, result.id, "again", "2026-03-14T04:00:00")
    frozen_clock.advance(hours=1, seconds=1)
    assert sweeping.sweep_market()["assignments_expired"] == 1
    assert _remaining(job_id, campaign_id) == 1


def _open_query():
    from crowdtask.models.listing import ListQuery

    return ListQuery(equals={"state": "open"})


# ---------------------------------------------------------------- auto-approval
def test_results_are_approved_when_the_review_window_closes(requester, worker, frozen_clock):
    campaign_id, job_id = published_job(requester.id, results=2, maxReviewTime="1 hour")
    first = claim_and_submit(worker.id, job_id)
    frozen_clock.advance(minutes=30)
    second = claim_and_submit(make_account("worker").id, job_id)
    frozen_clock.advance(minutes=31)  # the first is due, the second not yet
    assert sweeping.sweep_market()["results"] == {"approved": 1, "skipped": 0, "finished": 0}
    assert sweeping.sweep_market()["results"]["approved"] == 0  # a second run changes nothing
    auto = results.get_result(requester.id, first.id)
    assert (auto.state, auto.autoApproved, auto.reviewBy) == ("Approved", True, None)
    assert results.get_result(requester.id, second.id).state == "InReview"
    frozen_clock.advance(minutes=30)
    assert sweeping.sweep_market()["results"] == {"approved": 1, "skipped": 0, "finished": 1}
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"
    assert balances(requester.id) == ("98.8 USD", "0 USD")


def test_the_default_review_window_is_three_days(requester, worker, frozen_clock):
    _, job_id = published_job(requester.id)
    result = claim_and_submit(worker.id, job_id)
    assert result.reviewBy == "2026-03-17T03:14:15"
    frozen_clock.advance(days=2, hours=23)
    assert sweeping.sweep_market()["results"]["approved"] == 0
    frozen_clock.advance(hours=2)
    assert sweeping.sweep_market()["results"]["approved"] == 1


def test_a_reviewed_result_is_not_auto_approved(requester, worker, frozen_clock):
    _, job_id = published_job(requester.id, maxReviewTime="1 hour")
    result = claim_and_submit(worker.id, job_id)
    reviewing.reject(requester.id, result.id, "wrong")
    frozen_clock.advance(hours=2)
    assert sweeping.sweep_market()["results"]["approved"] == 0
    assert results.get_result(requester.id, result.id).state == "Rejected"


def test_auto_approval_is_paid_once_even_from_a_stale_index_entry(requester, worker, frozen_clock):
    # Given a due result that a requester approves after the sweep read the index
    _, job_id = published_job(requester.id, maxReviewTime="1 hour")
    result = claim_and_submit(worker.id, job_id)
    frozen_clock.advance(hours=2)
    from crowdtask.store import sweeps

    [entry] = sweeps.due_items("review", "2026-03-14T06:00:00", shards=keys.BUSY_DUE_SHARDS)
    reviewing.approve(requester.id, result.id, None)
    # When the sweep acts on what it read, Then nothing more is paid
    with pytest.raises(results.AlreadyReviewed):
        results.approve_settlement(results.settlement_of(entry), auto=True)
    assert workers.me(worker.id).earnings.paid == "0.5 USD"


# ---------------------------------------------------------------- campaign end and money
def test_the_campaign_finishes_when_every_job_has_its_results(requester):
    # Given process_count narrows 3 wanted results to 2: publishing froze 3 x 0.6 = 1.8
    campaign_id, job_id = published_job(requester.id, [{"process_count": 2}], results=3)
    assert balances(requester.id) == ("98.2 USD", "1.8 USD")
    ids = [claim_and_submit(make_account("worker").id, job_id).id for _ in range(2)]
    tap = EventTap()
    reviewing.approve(requester.id, ids[0], None)
    assert campaigns.get_campaign(requester.id, campaign_id).state == "active"
    reviewing.approve(requester.id, ids[1], None)
    # Then it is finished, and what was frozen for the third result is released
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"
    assert balances(requester.id) == ("98.8 USD", "0 USD")
    assert "campaign.finished" in [e["detail-type"] for e in tap.drain()]


def test_results_in_review_stay_payable_after_a_cancel(requester):
    campaign_id, job_id = published_job(requester.id, results=4)
    first, second, third = (claim_and_submit(make_account("worker").id, job_id) for _ in range(3))
    # When the campaign is cancelled with three results in review: only the fourth result's money returns
    publishing.cancel(requester.id, campaign_id)
    assert balances(requester.id) == ("98.2 USD", "1.8 USD")
    # Then nobody can redo a job any more, but each result can still be approved (paid) or rejected
    with pytest.raises(errors.Conflict, match="is cancelled: nobody can redo"):
        results.soft_reject(requester.id, third.id, "again", "2026-03-15T00:00:00")
    reviewing.approve(requester.id, first.id, None)
    reviewing.reject(requester.id, second.id, "wrong")  # its money returns
    reviewing.approve(requester.id, third.id, None)
    assert balances(requester.id) == ("98.8 USD", "0 USD")
    assert workers.me(first.worker).earnings.paid == "0.5 USD"
    assert _money_in_play(requester.id, first.worker, second.worker, third.worker) == 100


def test_an_open_assignment_cannot_submit_after_the_campaign_ended(requester, worker):
    campaign_id, job_id = published_job(requester.id)
    assignment = assignments.claim(worker.id, job_id, None, None, None)
    publishing.cancel(requester.id, campaign_id)
    with pytest.raises(errors.Conflict, match="is cancelled; it takes no results"):
        reviewing.submit(worker.id, assignment.id, SubmitIn.model_validate(answers(assignment.tasks)))


def test_approve_all_of_a_worker_and_of_a_campaign(requester, worker):
    campaign_id, job_id = published_job(requester.id, results=5, maxResultsPerWorker=5)
    mine = [claim_and_submit(worker.id, job_id) for _ in range(2)]
    others = [claim_and_submit(make_account("worker").id, job_id) for _ in range(2)]
    done = reviewing.approve_all(requester.id, campaign_id, worker.id, "thanks")
    assert (done.approved, done.more, done.worker) == (2, False, worker.id)
    assert {results.get_result(requester.id, r.id).state for r in mine} == {"Approved"}
    assert {results.get_result(requester.id, r.id).state for r in others} == {"InReview"}
    assert reviewing.approve_all(requester.id, campaign_id, None, None).approved == 2
    assert reviewing.approve_all(requester.id, campaign_id, None, None).approved == 0
    assert _money_in_play(requester.id, worker.id, *(r.worker for r in others)) == 100


# ---------------------------------------------------------------- lists and figures
def test_results_list_by_state_and_since_and_workers_with_their_figures(requester, frozen_clock):
    campaign_id, job_id = published_job(requester.id, results=4, maxResultsPerWorker=4)
    ann, bob = make_account("worker"), make_account("worker")
    first = claim_and_submit(ann.id, job_id)
    frozen_clock.advance(minutes=5)
    second = claim_and_submit(ann.id, job_id)
    frozen_clock.advance(seconds=1)  # ids sort by submission time (to the millisecond)
    third = claim_and_submit(bob.id, job_id)
    reviewing.approve(requester.id, first.id, None)
    reviewing.reject(requester.id, third.id, "no")

    def listed(**filters):
        found, _ = results.list_campaign_results(requester.id, campaign_id, limit=10, after=None, **filters)
        return [r.id for r in found]

    assert listed(state=None, since=None) == [first.id, second.id, third.id]
    assert listed(state="InReview", since=None) == [second.id]
    assert listed(state=None, since="2026-03-14T03:15:00") == [second.id, third.id]
    page, more = results.list_campaign_results(
        requester.id, campaign_id, state=None, since=None, after=None, limit=2
    )
    assert [r.id for r in page] == [first.id, second.id] and more
    found, _ = results.list_worker_results(
        requester.id, campaign_id, ann.id, state=None, since=None, after=None, limit=10
    )
    assert [r.id for r in found] == [first.id, second.id]
    everyone, _ = workers.campaign_workers(
        requester.id, campaign_id, limit=10, after=None, in_review_only=False
    )
    by_id = {w.id: w for w in everyone}
    assert by_id[ann.id].results.model_dump() == {"inReview": 1, "approved": 1, "rejected": 0}
    assert by_id[bob.id].reputation.model_dump(by_alias=True) == {"me": 0.0, "global": 0.0}
    assert by_id[ann.id].experience.model_dump(by_alias=True) == {"me": 1, "global": 1}
    in_review, _ = workers.campaign_workers(
        requester.id, campaign_id, limit=10, after=None, in_review_only=True
    )
    assert [w.id for w in in_review] == [ann.id]


# ---------------------------------------------------------------- repeats
def test_after_completion_repeat_opens_a_paid_slot_later(requester, worker, frozen_clock):
    campaign_id, job_id = published_job(
        requester.id, [{"repeat": "after_completion", "repeat_schedule": "after_completion:60"}], results=1
    )
    result = claim_and_submit(worker.id, job_id)
    reviewing.approve(requester.id, result.id, None)
    assert campaigns.get_campaign(requester.id, campaign_id).state == "active"  # a repeat is coming
    assert _remaining(job_id, campaign_id) == 0
    frozen_clock.advance(seconds=30)
    assert sweeping.sweep_market()["repeats"]["reopened"] == 0
    frozen_clock.advance(seconds=31)
    assert sweeping.sweep_market()["repeats"]["reopened"] == 1
    assert sweeping.sweep_market()["repeats"]["reopened"] == 0
    assert _remaining(job_id, campaign_id) == 1
    assert balances(requester.id) == ("98.8 USD", "0.6 USD")  # the next result is paid for now


def test_daily_repeat_tops_the_job_up_at_midnight(requester, frozen_clock):
    campaign_id, job_id = published_job(requester.id, [{"repeat": "daily"}], results=2)
    ann = make_account("worker")
    reviewing.approve(requester.id, claim_and_submit(ann.id, job_id).id, None)
    assert _remaining(job_id, campaign_id) == 1
    frozen_clock.advance(hours=21)  # 2026-03-15T00:14:15: the first midnight has passed
    assert sweeping.sweep_market()["repeats"] == {"reopened": 1, "skipped": 0}
    assert _remaining(job_id, campaign_id) == 2
    assert balances(requester.id) == ("98.2 USD", "1.2 USD")
    frozen_clock.advance(hours=1)
    assert sweeping.sweep_market()["repeats"] == {"reopened": 0, "skipped": 0}  # re-armed for the 16th
    frozen_clock.advance(days=1)
    assert sweeping.sweep_market()["repeats"] == {"reopened": 1, "skipped": 0}  # already full: nothing added
    assert balances(requester.id) == ("98.2 USD", "1.2 USD")
    assert market.list_jobs(ann.id, 10, None, None)[0].remaining == 2


def test_a_sweep_that_dies_half_way_is_run_again_safely(requester, frozen_clock, monkeypatch):
    # Given 4 results past their review window
    campaign_id, job_id = published_job(requester.id, results=4, maxReviewTime="1 hour")
    crowd = [make_account("worker") for _ in range(4)]
    for member in crowd:
        claim_and_submit(member.id, job_id)
    frozen_clock.advance(hours=2)
    # When the sweep dies after two approvals
    real, calls = results.approve_settlement, []

    def dies_on_the_third(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("the function timed out")
        return real(*args, **kwargs)

    monkeypatch.setattr(results, "approve_settlement", dies_on_the_third)
    with pytest.raises(RuntimeError):
        sweeping.sweep_market()
    monkeypatch.setattr(results, "approve_settlement", real)
    # Then the next run approves the other two, and each worker is paid once
    assert sweeping.sweep_market()["results"] == {"approved": 2, "skipped": 0, "finished": 1}
    assert [workers.me(m.id).earnings.paid for m in crowd] == ["0.5 USD"] * 4
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"
    assert _money_in_play(requester.id, *(m.id for m in crowd)) == 100
