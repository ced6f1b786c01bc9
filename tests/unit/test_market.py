"""The job market on moto: what publishing opens, what a worker may take, claims, releases, time-outs."""

from __future__ import annotations

import pytest

from crowdtask import errors, geo
from crowdtask.services import assignments, campaigns, jobs, market
from crowdtask.services.flows import publishing, reviewing, sweeping
from tests.support import builders
from tests.support.accounts import make_account
from tests.support.eventbus import EventTap
from tests.support.market import balances, claim_and_submit, market_item, published_job


def _listed(worker_id: str, **where) -> list[str]:
    return [job.id for job in market.list_jobs(worker_id, 100, where.get("lat"), where.get("lng"))]


def test_publishing_opens_the_job_with_its_terms(requester, worker):
    # Given a job of two tasks worth 3 and 4 points, in a campaign of 3 results at 0.5 USD
    campaign_id, job_id = published_job(
        requester.id, [{"points": 3}, {"points": 4}], results=3, title="Rate", maxUploadTime="5 min"
    )
    # When a worker looks at the market
    [job] = market.list_jobs(worker.id, 10, None, None)
    # Then the job is there with what the worker needs to decide
    assert (job.id, job.campaign, job.title, job.remaining) == (job_id, campaign_id, "Rate", 3)
    assert (job.workerPayment, job.points, job.taskCount) == (0.5, 7, 2)
    assert (job.workTime, job.uploadTime, job.expiresAt, job.region) == (3600, 300, None, None)


def test_task_rules_narrow_the_campaign(requester, worker):
    # process_count narrows the results needed; user_multi_process=false allows one result per worker
    _, job_id = published_job(
        requester.id, [{"process_count": 2}, {"user_multi_process": False}], results=5, maxResultsPerWorker=3
    )
    [job] = market.list_jobs(worker.id, 10, None, None)
    assert job.remaining == 2
    assignments.claim(worker.id, job_id, None, None, None)
    with pytest.raises(errors.Conflict, match=r"taken job .* 1 time"):
        assignments.claim(worker.id, job_id, None, None, None)
    assert _listed(worker.id) == []  # at its limit the worker no longer sees it
    assert _listed(make_account("worker").id) == [job_id]  # another worker still does


def test_max_results_per_worker_counts_claims_until_released(requester, worker):
    _, job_id = published_job(requester.id, results=5, maxResultsPerWorker=2)
    first = assignments.claim(worker.id, job_id, None, None, None)
    assignments.claim(worker.id, job_id, None, None, None)
    with pytest.raises(errors.Conflict, match="2 time"):
        assignments.claim(worker.id, job_id, None, None, None)
    reviewing.release(worker.id, first.id)
    assert assignments.claim(worker.id, job_id, None, None, None).state == "open"


def test_a_full_job_leaves_the_listing_index_and_refuses_claims(requester):
    campaign_id, job_id = published_job(requester.id, results=1)
    taker, late = make_account("worker"), make_account("worker")
    claimed = assignments.claim(taker.id, job_id, None, None, None)
    assert "gsi1pk" not in market_item(job_id, campaign_id)  # the index holds open jobs only
    assert _listed(late.id) == []
    with pytest.raises(errors.Conflict, match="no open slot"):
        assignments.claim(late.id, job_id, None, None, None)
    # When the taker gives it back, it is listed and claimable again
    reviewing.release(taker.id, claimed.id)
    assert market_item(job_id, campaign_id)["gsi1pk"].startswith("MARKET#")
    assert _listed(late.id) == [job_id]
    assert assignments.claim(late.id, job_id, None, None, None).state == "open"


def test_claim_gives_the_deadline_of_the_rules(requester, worker):
    _, by_ttl = published_job(requester.id, [{"user_ttl": 90}, {"user_ttl": 0}], maxWorkTime="10 min")
    _, by_campaign = published_job(requester.id, maxWorkTime="10 min", maxUploadTime="2 min")
    _, by_default = published_job(requester.id)
    first = assignments.claim(worker.id, by_ttl, None, None, None)
    second = assignments.claim(worker.id, by_campaign, None, None, None)
    third = assignments.claim(worker.id, by_default, None, None, None)
    assert (first.claimedAt, first.deadline, first.submitBy) == (
        "2026-03-14T03:14:15",
        "2026-03-14T03:15:45",
        "2026-03-14T03:15:45",
    )
    assert (second.deadline, second.submitBy) == ("2026-03-14T03:24:15", "2026-03-14T03:26:15")
    assert third.deadline == "2026-03-14T04:14:15"
    assert [t.name for t in first.tasks] == ["task 0", "task 1"]  # what to do, in order


def test_paused_and_ended_campaigns_are_not_on_the_market(requester, worker):
    campaign_id, job_id = published_job(requester.id)
    campaigns.pause(requester.id, campaign_id)
    assert _listed(worker.id) == []
    with pytest.raises(errors.Conflict, match="is paused"):
        assignments.claim(worker.id, job_id, None, None, None)
    campaigns.resume(requester.id, campaign_id)
    assert _listed(worker.id) == [job_id]
    publishing.cancel(requester.id, campaign_id)
    assert _listed(worker.id) == []
    assert market_item(job_id, campaign_id)["closed"] is True
    with pytest.raises(errors.Conflict, match="no longer on the market"):
        assignments.claim(worker.id, job_id, None, None, None)


def test_a_campaign_past_its_end_date_takes_no_claims(requester, worker, frozen_clock):
    _, job_id = published_job(requester.id, endDate="2026-03-14T05:00")
    frozen_clock.advance(hours=2)  # the scheduler has not finished it yet
    assert _listed(worker.id) == []
    with pytest.raises(errors.Conflict, match="past its endDate"):
        assignments.claim(worker.id, job_id, None, None, None)


def test_task_ttl_expires_the_job(requester, worker, frozen_clock):
    _, job_id = published_job(requester.id, [{"task_ttl": 30}, {"task_ttl": 0}])
    [job] = market.list_jobs(worker.id, 10, None, None)
    assert job.expiresAt == "2026-03-14T03:44:15"
    frozen_clock.advance(minutes=31)
    assert _listed(worker.id) == []
    with pytest.raises(errors.Conflict, match="expired at 2026-03-14T03:44:15"):
        assignments.claim(worker.id, job_id, None, None, None)


def test_worker_groups(requester):
    _, job_id = published_job(requester.id, workerGroup=7)
    member, outsider = make_account("worker", groups=["7", "9"]), make_account("worker")
    assert _listed(outsider.id) == []
    with pytest.raises(errors.Forbidden, match="worker group 7"):
        assignments.claim(outsider.id, job_id, None, None, None)
    assert _listed(member.id) == [job_id]
    assert assignments.claim(member.id, job_id, None, None, None).state == "open"


def test_region_based_jobs_need_a_position_inside_the_radius(requester, worker):
    # Given a job for workers within 2 km of Berlin's centre
    _, job_id = published_job(
        requester.id, [{"region_based": True, "lat": 52.52, "lng": 13.405, "radius": 2000}]
    )
    # Then without a position, or from Potsdam, it is neither listed nor claimable
    assert _listed(worker.id) == []
    assert _listed(worker.id, lat=52.39, lng=13.06) == []
    with pytest.raises(errors.ValidationFailed) as missing:
        assignments.claim(worker.id, job_id, None, None, None)
    assert missing.value.errors[0]["field"] == "lat"
    with pytest.raises(errors.Conflict, match=r"within 2000 m .* you are \d+ m away"):
        assignments.claim(worker.id, job_id, None, 52.39, 13.06)
    # and a kilometre from the centre it is both
    [job] = market.list_jobs(worker.id, 10, 52.529, 13.405)
    assert job.region is not None and 900 < job.distance < 1100
    assert assignments.claim(worker.id, job_id, None, 52.529, 13.405).state == "open"


def test_the_region_index_reads_only_cells_near_the_worker(requester, worker):
    campaign_id, job_id = published_job(
        requester.id, [{"region_based": True, "lat": 40.7, "lng": -74.0, "radius": 300}]
    )
    item = market_item(job_id, campaign_id)
    assert item["gsi1pk"] == "GEO#" + geo.encode(40.7, -74.0, 6)  # a 300 m circle: the finest level
    assert item["gsi1pk"][4:] in geo.cells_near(40.7021, -74.0)
    assert (
        len(set(geo.cells_near(40.7, -74.0))) == 27
    )  # what a listing with a position reads, besides the shards


def test_unknown_job_is_404_and_campaign_picks_among_several(requester, worker):
    with pytest.raises(errors.NotFound):
        assignments.claim(worker.id, "01JB0000000000000000000000", None, None, None)
    campaign_id, job_id = published_job(requester.id)
    with pytest.raises(errors.NotFound):
        assignments.claim(worker.id, job_id, "01JB0000000000000000000000", None, None)
    assert assignments.claim(worker.id, job_id, campaign_id, None, None).campaign == campaign_id


def test_release_and_isolation(requester, worker):
    _, job_id = published_job(requester.id, results=1)
    claimed = assignments.claim(worker.id, job_id, None, None, None)
    other = make_account("worker")
    with pytest.raises(errors.NotFound):
        reviewing.release(other.id, claimed.id)
    with pytest.raises(errors.NotFound):
        assignments.get_assignment(other.id, claimed.id)
    assert reviewing.release(worker.id, claimed.id).state == "released"
    with pytest.raises(errors.Conflict, match="is released"):
        reviewing.release(worker.id, claimed.id)


def test_sweep_expires_assignments_past_their_upload_deadline(requester, worker, frozen_clock):
    campaign_id, job_id = published_job(requester.id, results=1, maxWorkTime="10 min", maxUploadTime="5 min")
    claimed = assignments.claim(worker.id, job_id, None, None, None)
    tap = EventTap()
    frozen_clock.advance(minutes=14)  # past the deadline, not past submitBy
    assert sweeping.sweep_market()["assignments_expired"] == 0
    frozen_clock.advance(minutes=2)
    assert sweeping.sweep_market()["assignments_expired"] == 1
    assert sweeping.sweep_market()["assignments_expired"] == 0  # running again changes nothing
    assert assignments.get_assignment(worker.id, claimed.id).state == "expired"
    assert market_item(job_id, campaign_id)["remaining"] == 1
    assert "assignment.expired" in [e["detail-type"] for e in tap.drain()]
    with pytest.raises(errors.Conflict, match="is expired"):
        claim_and_submit_after(worker.id, claimed.id)


def claim_and_submit_after(worker_id: str, assignment_id: str) -> None:
    from crowdtask.models.market import SubmitIn

    reviewing.submit(worker_id, assignment_id, SubmitIn(taskResults=[]))


def test_task_ttl_sweep_closes_the_job_and_the_campaign_finishes(requester, frozen_clock):
    # Given a 2-result job that expires after 30 minutes, and one result approved before that
    campaign_id, job_id = published_job(requester.id, [{"task_ttl": 30}], results=2)

    result = claim_and_submit(make_account("worker").id, job_id)
    reviewing.approve(requester.id, result.id, None)
    assert campaigns.get_campaign(requester.id, campaign_id).state == "active"
    # When the job expires and the sweep runs
    frozen_clock.advance(minutes=31)
    assert sweeping.sweep_market()["jobs_expired"] == 1
    assert sweeping.sweep_market()["jobs_expired"] == 0
    # Then the job is closed, the campaign needs nothing more, finishes, and releases the rest
    assert market_item(job_id, campaign_id)["closed"] is True
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"
    assert balances(requester.id) == ("99.4 USD", "0 USD")


def test_an_expired_job_drops_slots_given_back_later(requester, frozen_clock):
    campaign_id, job_id = published_job(requester.id, [{"task_ttl": 30}], results=1, maxWorkTime="1 hour")
    taker = make_account("worker")
    claimed = assignments.claim(taker.id, job_id, None, None, None)
    frozen_clock.advance(minutes=31)
    sweeping.sweep_market()  # closes the job; the assignment is still open
    reviewing.release(taker.id, claimed.id)  # the slot cannot reopen: the campaign is done
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"


def _job_ids(requester_id: str, campaign_id: str) -> list[str]:
    return [job.id for job in campaigns.jobs_page(requester_id, campaign_id, 10, None)[0]]


def _died(*_args, **_kwargs):
    raise ConnectionError("the function died here")


@pytest.mark.parametrize("dies_in", ["apply_locks", "open_campaign"])
def test_a_publish_that_dies_half_way_is_finished_by_the_schedulers(
    requester, worker, monkeypatch, frozen_clock, dies_in
):
    # Given a campaign of two jobs whose publish dies after its transaction: before locking its jobs,
    # or once they are locked but before its market opens
    campaign_id = builders.campaign(requester.id, jobs=2, results=2)
    with monkeypatch.context() as patched, pytest.raises(ConnectionError):
        patched.setattr(campaigns if dies_in == "apply_locks" else market, dies_in, _died)
        publishing.publish(requester.id, campaign_id)
    assert campaigns.get_campaign(requester.id, campaign_id).state == "active"
    assert _listed(worker.id) == []
    # When the schedulers run its `locks` and `market` steps, which are handed nothing and read it all
    frozen_clock.advance(seconds=5)
    assert sweeping.sweep_campaign_steps()["locks"] == (1 if dies_in == "apply_locks" else 0)
    assert sweeping.sweep_market()["markets_opened"] == 1
    # Then its jobs are locked and on the market with every slot, the campaign counts their results,
    # and a worker can do them
    job_ids = _job_ids(requester.id, campaign_id)
    assert all(jobs.get_job(requester.id, job_id).readOnly for job_id in job_ids)
    assert {job.id: job.remaining for job in market.list_jobs(worker.id, 100, None, None)} == dict.fromkeys(
        job_ids, 2
    )
    assert int(campaigns.require_campaign(requester.id, campaign_id)["results_outstanding"]) == 4
    claim_and_submit(worker.id, job_ids[0], campaign_id)
    # and the steps are done: running the schedulers again opens nothing twice
    assert sweeping.sweep_campaign_steps()["locks"] == 0
    assert sweeping.sweep_market()["markets_opened"] == 0
    assert int(campaigns.require_campaign(requester.id, campaign_id)["results_outstanding"]) == 4


def test_a_campaign_cancelled_while_it_publishes_does_not_open_its_market(requester, worker, monkeypatch):
    # Given a publish whose campaign is cancelled by another request once its jobs are locked
    campaign_id = builders.campaign(requester.id, jobs=1, results=2)
    real = campaigns.apply_locks

    def locks_then_cancel(account_id, campaign_id, campaign=None):
        locked = real(account_id, campaign_id, campaign)
        with monkeypatch.context() as inner:
            inner.setattr(campaigns, "apply_locks", real)
            publishing.cancel(account_id, campaign_id)
        return locked

    monkeypatch.setattr(campaigns, "apply_locks", locks_then_cancel)
    # When the publish goes on with the campaign as it wrote it
    reply = publishing.publish(requester.id, campaign_id)
    # Then it sees the cancel when it counts the market in, opens no job and says so
    assert reply.state == "cancelled"
    assert _listed(worker.id) == []
    assert market_item(_job_ids(requester.id, campaign_id)[0], campaign_id) is None
    assert balances(requester.id) == ("100 USD", "0 USD")


def test_a_cancel_unlocking_before_its_publish_locks_is_unlocked_again_by_the_scheduler(
    requester, monkeypatch, frozen_clock
):
    # Given a publish whose job lock lands only after another request cancelled the campaign and unlocked
    campaign_id = builders.campaign(requester.id, jobs=1, results=2)
    job_store_lock = campaigns.job_store.lock

    def cancelled_first(account_id, job_ids, locked_by, *, on):
        if on:
            with monkeypatch.context() as inner:
                inner.setattr(campaigns.job_store, "lock", job_store_lock)
                publishing.cancel(account_id, locked_by)
        return job_store_lock(account_id, job_ids, locked_by, on=on)

    monkeypatch.setattr(campaigns.job_store, "lock", cancelled_first)
    publishing.publish(requester.id, campaign_id)
    monkeypatch.setattr(campaigns.job_store, "lock", job_store_lock)
    (job_id,) = _job_ids(requester.id, campaign_id)
    assert campaigns.get_campaign(requester.id, campaign_id).state == "cancelled"
    assert jobs.get_job(requester.id, job_id).readOnly  # the publish's lock won the race
    # When the campaign scheduler runs once the end's unlock has settled (its step kept due)
    assert sweeping.sweep_campaign_steps()["locks"] == 0  # not yet: a publish may still be in flight
    frozen_clock.advance(seconds=campaigns.LOCKS_SETTLE.total_seconds() + 1)
    assert sweeping.sweep_campaign_steps()["locks"] == 1
    # Then the job is unlocked for good, and the step is done
    assert not jobs.get_job(requester.id, job_id).readOnly
    frozen_clock.advance(minutes=5)
    assert sweeping.sweep_campaign_steps()["locks"] == 0
