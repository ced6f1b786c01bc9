"""Campaigns: every transition and refusal, the money they move, locks, schedules, copies, templates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crowdtask import errors, templates
from crowdtask.models.campaigns import CampaignIn
from crowdtask.models.jobs import JobIn
from crowdtask.models.tasks import TaskIn
from crowdtask.services import campaigns, jobs, lifecycle, tasks
from crowdtask.services.flows import publishing, sweeping
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import jobs as job_store
from crowdtask.store import tasks as task_store
from tests.support import builders
from tests.support.accounts import make_account
from tests.support.eventbus import EventTap
from tests.support.market import balances


def test_publish_freezes_payment_times_results_times_jobs_plus_commission(requester):
    # Given 2 jobs, 2 results each, 0.5 USD per result, commission 20%
    campaign_id = builders.campaign(requester.id, jobs=2, payment="0.5", results=2)
    tap = EventTap()
    # When it is published
    published = publishing.publish(requester.id, campaign_id)
    # Then 2 x 2 x 0.5 = 2 USD plus 0.4 commission is frozen
    assert published.state == "active"
    assert balances(requester.id) == ("97.6 USD", "2.4 USD")
    assert [e["detail-type"] for e in tap.drain()] == ["campaign.published"]


def test_every_allowed_transition(requester):
    campaign_id = builders.campaign(requester.id)
    assert publishing.publish(requester.id, campaign_id).state == "active"
    assert campaigns.pause(requester.id, campaign_id).state == "paused"
    assert campaigns.resume(requester.id, campaign_id).state == "active"
    assert campaigns.pause(requester.id, campaign_id).state == "paused"
    assert publishing.cancel(requester.id, campaign_id).state == "cancelled"
    assert balances(requester.id) == ("100 USD", "0 USD")
    other = builders.campaign(requester.id)
    publishing.publish(requester.id, other)
    assert publishing.finish(requester.id, other).state == "finished"
    assert balances(requester.id) == ("100 USD", "0 USD")


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ([], "pause"),
        ([], "continue"),
        ([], "cancel"),
        (["publish"], "publish"),
        (["publish"], "continue"),
        (["publish", "pause"], "pause"),
        (["publish", "pause"], "publish"),
        (["publish", "cancel"], "publish"),
        (["publish", "cancel"], "pause"),
        (["publish", "cancel"], "continue"),
        (["publish", "cancel"], "cancel"),
        (["publish", "finish"], "cancel"),
        (["publish", "finish"], "publish"),
        (["publish", "finish"], "continue"),
    ],
)
def test_every_refused_transition_names_the_states(requester, path, action):
    campaign_id = builders.campaign(requester.id)
    steps = {
        "publish": publishing.publish,
        "pause": campaigns.pause,
        "continue": campaigns.resume,
        "cancel": publishing.cancel,
        "finish": publishing.finish,
    }
    for step in path:
        steps[step](requester.id, campaign_id)
    before = balances(requester.id)
    state = campaigns.get_campaign(requester.id, campaign_id).state
    with pytest.raises(errors.Conflict) as refused:
        steps[action](requester.id, campaign_id)
    assert f"that is {state}" in refused.value.description
    for allowed in lifecycle.TRANSITIONS[action].sources:
        assert allowed in refused.value.description
    assert balances(requester.id) == before


def test_publish_needs_jobs_with_tasks_and_enoughbalances(requester):
    empty = campaigns.create_campaign(requester.id, CampaignIn(name="empty")).id
    with pytest.raises(errors.Conflict, match="at least one job"):
        publishing.publish(requester.id, empty)
    taskless = jobs.create_job(requester.id, JobIn(name="no tasks")).id
    campaigns.change_jobs(requester.id, empty, [taskless], append=False)
    with pytest.raises(errors.Conflict, match="without tasks"):
        publishing.publish(requester.id, empty)
    costly = builders.campaign(requester.id, jobs=1, payment="60", results=2)
    with pytest.raises(errors.Conflict, match=r"needs 144 USD.*100 USD is available"):
        publishing.publish(requester.id, costly)
    assert campaigns.get_campaign(requester.id, costly).state == "unpublished"
    assert balances(requester.id) == ("100 USD", "0 USD")


def test_publish_names_the_jobs_without_tasks_and_the_archived_ones(requester):
    campaign_id = builders.campaign(requester.id, jobs=2)
    archived, kept = campaigns.change_jobs(requester.id, campaign_id, [], append=True)
    jobs.set_archived(requester.id, archived, True)
    taskless = jobs.create_job(requester.id, JobIn(name="no tasks")).id
    campaigns.change_jobs(requester.id, campaign_id, [taskless], append=True)
    with pytest.raises(errors.Conflict) as refused:
        publishing.publish(requester.id, campaign_id)
    assert refused.value.description == (
        f"The campaign cannot be published: jobs without tasks: {taskless}; archived jobs: {archived}."
    )
    jobs.set_archived(requester.id, archived, False)
    campaigns.change_jobs(requester.id, campaign_id, [archived, kept], append=False)
    assert publishing.publish(requester.id, campaign_id).state == "active"


def test_published_campaign_locks_its_jobs_and_tasks_until_it_ends(requester):
    campaign_id = builders.campaign(requester.id, jobs=1)
    job_id = campaigns.jobs_page(requester.id, campaign_id, 10, None)[0][0].id
    task_id = jobs.tasks_page(requester.id, job_id, 10, None)[0][0].id
    publishing.publish(requester.id, campaign_id)
    assert jobs.get_job(requester.id, job_id).readOnly and tasks.get_task(requester.id, task_id).readOnly
    with pytest.raises(errors.Conflict, match="read-only"):
        tasks.replace_task(requester.id, task_id, TaskIn(name="changed"))
    with pytest.raises(errors.Conflict):
        jobs.replace_job(requester.id, job_id, JobIn(name="changed"))
    with pytest.raises(errors.Conflict):
        jobs.change_tasks(requester.id, job_id, [builders.task(requester.id)], append=True)
    with pytest.raises(errors.Conflict):
        campaigns.change_jobs(requester.id, campaign_id, [builders.job(requester.id)], append=True)
    with pytest.raises(errors.Conflict):
        tasks.set_archived(requester.id, task_id, True)
    publishing.cancel(requester.id, campaign_id)
    assert not jobs.get_job(requester.id, job_id).readOnly
    assert tasks.replace_task(requester.id, task_id, TaskIn(name="changed")).name == "changed"


def test_a_task_shared_by_two_campaigns_stays_locked_while_either_runs(requester):
    job_id = builders.job(requester.id, tasks=1)
    first, second = (campaigns.create_campaign(requester.id, CampaignIn(name=n), [job_id]).id for n in "ab")
    publishing.publish(requester.id, first)
    publishing.publish(requester.id, second)
    publishing.cancel(requester.id, first)
    assert jobs.get_job(requester.id, job_id).readOnly
    publishing.cancel(requester.id, second)
    assert not jobs.get_job(requester.id, job_id).readOnly


def test_active_campaign_keeps_payment_and_work_but_may_be_renamed(requester):
    campaign_id = builders.campaign(requester.id, payment="0.5", results=2, maxWorkTime="10 min")
    publishing.publish(requester.id, campaign_id)
    current = campaigns.get_campaign(requester.id, campaign_id).model_dump(
        include=set(CampaignIn.model_fields)
    )
    renamed = campaigns.replace_campaign(
        requester.id, campaign_id, CampaignIn.model_validate({**current, "name": "new"})
    )
    assert renamed.name == "new" and renamed.workerPayment == 0.5
    for change in (
        {"workerPayment": 1},
        {"results": 3},
        {"maxWorkTime": "20 min"},
        {"taskTemplate": {"name": "x"}},
    ):
        with pytest.raises(errors.Conflict, match=next(iter(change))):
            campaigns.replace_campaign(
                requester.id, campaign_id, CampaignIn.model_validate({**current, **change})
            )
    publishing.cancel(requester.id, campaign_id)
    with pytest.raises(errors.Conflict, match="no longer be changed"):
        campaigns.replace_campaign(requester.id, campaign_id, CampaignIn.model_validate(current))


@pytest.mark.parametrize(
    "bad",
    [
        {"estDuration": "soon"},
        {"maxWorkTime": "10 parsecs"},
        {"maxReviewTime": "0 min"},
        {"workerPayment": -1},
        {"results": 0},
        {"startDate": "yesterday"},
        {"startDate": "2030-01-02T00:00", "endDate": "2030-01-01T00:00"},
    ],
)
def test_bad_campaign_fields_are_refused(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CampaignIn.model_validate({"name": "c", **bad})


def test_durations_and_dates_are_normalised():
    campaign = CampaignIn.model_validate(
        {
            "name": "c",
            "maxWorkTime": " 10 min ",
            "startDate": "2018-01-01T10:00",
            "endDate": "2018-01-01T13:00+02:00",
        }
    )
    assert (campaign.maxWorkTime, campaign.startDate, campaign.endDate) == (
        "10 min",
        "2018-01-01T10:00:00",
        "2018-01-01T11:00:00",
    )


def test_start_and_end_dates_publish_and_finish_through_the_sweep(requester, frozen_clock):
    campaign_id = builders.campaign(requester.id, startDate="2026-03-14T04:00", endDate="2026-03-14T06:00")
    assert sweeping.sweep_campaign_steps() == {"start": 0, "end": 0, "locks": 0, "pool-close": 0}
    frozen_clock.advance(hours=1)
    assert sweeping.sweep_campaign_steps()["start"] == 1
    assert campaigns.get_campaign(requester.id, campaign_id).state == "active"
    frozen_clock.advance(hours=2)
    assert sweeping.sweep_campaign_steps()["end"] == 1
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"
    assert balances(requester.id) == ("100 USD", "0 USD")
    assert sweeping.sweep_campaign_steps() == {"start": 0, "end": 0, "locks": 0, "pool-close": 0}


def test_a_failed_scheduled_publish_is_reported_and_not_retried(requester, frozen_clock):
    tap = EventTap()
    campaign_id = builders.campaign(requester.id, payment="100", startDate="2026-03-14T04:00")
    frozen_clock.advance(hours=1)
    assert sweeping.sweep_campaign_steps()["start"] == 1
    assert campaigns.get_campaign(requester.id, campaign_id).state == "unpublished"
    assert [e["detail-type"] for e in tap.drain()] == ["campaign.publish_failed"]
    assert sweeping.sweep_campaign_steps()["start"] == 0


def test_a_failed_scheduled_publish_reported_twice_is_one_event(requester, frozen_clock):
    # Given a scheduled publish that fails, reported by two sweeps (or one redone after a crash)
    tap = EventTap()
    campaign_id = builders.campaign(requester.id, payment="100", startDate="2026-03-14T04:00")
    frozen_clock.advance(hours=1)
    campaigns.report_publish_failed(requester.id, campaign_id, "no money")
    frozen_clock.advance(seconds=30)
    campaigns.report_publish_failed(requester.id, campaign_id, "no money")
    # Then both wrote the same event: one id, which a webhook receiver drops the second time
    ids = {e["detail"]["id"] for e in tap.drain()}
    assert len(ids) == 1


def test_moving_the_start_date_reschedules(requester, frozen_clock):
    campaign_id = builders.campaign(requester.id, startDate="2026-03-14T04:00")
    current = campaigns.get_campaign(requester.id, campaign_id).model_dump(
        include=set(CampaignIn.model_fields)
    )
    campaigns.replace_campaign(
        requester.id, campaign_id, CampaignIn.model_validate({**current, "startDate": None})
    )
    frozen_clock.advance(hours=2)
    assert sweeping.sweep_campaign_steps()["start"] == 0
    assert campaigns.get_campaign(requester.id, campaign_id).state == "unpublished"


def _dies(*_args, **_kwargs):
    raise ConnectionError("the function died here")


def test_sweep_repairs_locks_left_pending_by_a_crash(requester, frozen_clock, monkeypatch):
    campaign_id = builders.campaign(requester.id, jobs=1)
    job_id = campaigns.jobs_page(requester.id, campaign_id, 10, None)[0][0].id
    monkeypatch.setattr(campaigns, "apply_locks", _dies)  # the function dies after the transaction
    with pytest.raises(ConnectionError):
        publishing.publish(requester.id, campaign_id)
    assert not jobs.get_job(requester.id, job_id).readOnly
    monkeypatch.undo()
    frozen_clock.advance(seconds=5)
    assert sweeping.sweep_campaign_steps()["locks"] == 1
    assert jobs.get_job(requester.id, job_id).readOnly


def test_deep_copy_and_deep_archive(requester, frozen_clock):
    campaign_id = builders.campaign(
        requester.id, jobs=2, startDate="2026-03-14T03:00", endDate="2030-01-01T00:00"
    )
    shallow = campaigns.copy_campaign(requester.id, campaign_id, deep=False)
    deep = campaigns.copy_campaign(requester.id, campaign_id, deep=True)
    original_jobs = [j.id for j in campaigns.jobs_page(requester.id, campaign_id, 10, None)[0]]
    assert [j.id for j in campaigns.jobs_page(requester.id, shallow.id, 10, None)[0]] == original_jobs
    deep_jobs = campaigns.jobs_page(requester.id, deep.id, 10, None)[0]
    assert {j.id for j in deep_jobs}.isdisjoint(original_jobs) and [j.taskCount for j in deep_jobs] == [2, 2]
    assert (deep.state, deep.startDate, deep.endDate) == ("unpublished", None, "2030-01-01T00:00:00")
    campaigns.set_archived(requester.id, deep.id, True, deep=True)
    assert all(j.archived for j in campaigns.jobs_page(requester.id, deep.id, 10, None)[0])
    assert all(t.archived for j in deep_jobs for t in jobs.tasks_page(requester.id, j.id, 10, None)[0])
    publishing.publish(requester.id, campaign_id)
    with pytest.raises(errors.Conflict):
        campaigns.set_archived(requester.id, campaign_id, True)


def test_campaigns_are_isolated(requester):
    campaign_id = builders.campaign(requester.id)
    stranger = make_account(balance=Decimal(100))
    for action in (publishing.publish, campaigns.pause, publishing.cancel, campaigns.get_campaign):
        with pytest.raises(errors.NotFound):
            action(stranger.id, campaign_id)
    with pytest.raises(errors.NotFound):
        campaigns.change_jobs(
            stranger.id, builders.campaign(stranger.id), [builders.job(requester.id)], append=True
        )


def test_hal_actions_follow_the_state(requester):
    from crowdtask.http.links import campaign_links

    campaign_id = builders.campaign(requester.id)
    expected = {
        "unpublished": {"publish", "update", "setJobs", "addJobs", "archive"},
        "active": {"pause", "cancel", "update"},
        "paused": {"continue", "cancel", "update"},
        "cancelled": {"archive"},
    }
    moves = {"active": publishing.publish, "paused": campaigns.pause, "cancelled": publishing.cancel}
    for state, actions in expected.items():
        if state in moves:
            moves[state](requester.id, campaign_id)
        links = set(campaign_links(campaigns.get_campaign(requester.id, campaign_id))) - {
            "self",
            "jobs",
            "copy",
        }
        assert links == actions, state


def test_task_template_rule():
    template = {
        "name": "Rate {{image}}",
        "components": [{"type": "Image", "url": "{{image}}"}],
        "points": "{{points}}",
        "meta_data": [{"label": "src", "value": "{{meta}}"}],
    }
    rendered = templates.render(template, {"image": "http://images.com/1.png", "points": 3, "meta": {"a": 1}})
    assert rendered["name"] == "Rate http://images.com/1.png"
    assert rendered["points"] == 3 and rendered["meta_data"][0]["value"] == {"a": 1}
    assert TaskIn.model_validate({**rendered, "meta_data": []}).points == 3
    with pytest.raises(errors.ValidationFailed) as missing:
        templates.render(template, {"image": None, "points": 1})
    assert [(e["field"], e["code"]) for e in missing.value.errors] == [
        ("input_values.image", "VALUE_REQUIRED"),
        ("input_values.meta", "VALUE_REQUIRED"),
    ]


def _typed(item: dict) -> dict:
    return {name: (type(value), value) for name, value in item.items()}


@pytest.mark.parametrize("action", ["publish", "cancel", "pause"])
def test_a_transition_hands_on_the_campaign_and_jobs_a_read_would_answer(requester, frozen_clock, action):
    # Given a campaign of two jobs (published first, unless it is to be published)
    campaign_id = builders.campaign(requester.id, jobs=2, endDate="2026-04-01T00:00")
    if action != "publish":
        publishing.publish(requester.id, campaign_id)
    frozen_clock.advance(minutes=1)
    # When it moves (the service alone: nothing after the transition and its locks writes to it)
    moved = (
        campaigns.publish(requester.id, campaign_id)
        if action == "publish"
        else campaigns.move(requester.id, campaign_id, action)
    )
    # Then the campaign it hands on is the item as stored now, to the type of every number,
    stored = campaign_store.get(requester.id, campaign_id, consistent=True)
    assert stored is not None and _typed(moved.campaign) == _typed(stored)
    # and the jobs and tasks it locked or unlocked are handed on whole, as stored once (un)locked
    if action == "pause":
        assert moved.locked == ({}, {})
        return
    jobs_stored = job_store.get_many(requester.id, moved.campaign["job_ids"], consistent=True)
    task_ids = [task_id for job in jobs_stored.values() for task_id in job["task_ids"]]
    tasks_stored = task_store.get_many(requester.id, task_ids, consistent=True)
    assert (len(jobs_stored), len(tasks_stored)) == (2, 4)
    assert moved.locked == (jobs_stored, tasks_stored)
    locked = [
        campaign_id in item.get("locked_by", ()) for item in [*jobs_stored.values(), *tasks_stored.values()]
    ]
    assert locked == [action == "publish"] * 6
