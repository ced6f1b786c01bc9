"""Answers on moto: live aggregates kept on every submission and rejection, dynamic overlap closing
a job and giving back what it did not need, review policies deciding once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crowdtask import errors
from crowdtask.models.campaigns import CampaignIn
from crowdtask.models.jobs import JobIn
from crowdtask.models.market import SubmitIn
from crowdtask.models.quality import SkillIn
from crowdtask.models.tasks import TaskIn
from crowdtask.services import aggregation, answers, assignments, campaigns, jobs, quality, results
from crowdtask.services import tasks as task_service
from crowdtask.services.flows import publishing, reviewing
from tests.support.accounts import make_account
from tests.support.market import CHOICE, PICTURE, balances, market_item

RATING = {"type": "Rating", "steps": 5}
TEXT = {"type": "TextInput", "hint": "Anything to add?"}


def _task(requester_id: str, solution: str | None = None) -> str:
    body: dict[str, Any] = {"name": "question", "components": [PICTURE, CHOICE, RATING, TEXT]}
    if solution is not None:
        checked = [
            {"result": None},
            {"result": {"selectedOption": solution}},
            {"result": None},
            {"result": None},
        ]
        body["knownSolutions"] = [{"components": checked, "weight": 1}]
    return task_service.create_task(requester_id, TaskIn.model_validate(body)).id


def _campaign(requester_id: str, tasks: int = 1, **settings: Any) -> tuple[str, str, list[str]]:
    """A published campaign of one job of `tasks` tasks: (campaign, job, task ids)."""
    task_ids = [_task(requester_id) for _ in range(tasks)]
    job_id = jobs.create_job(requester_id, JobIn(name="job"), task_ids).id
    body = {"name": "answers", "workerPayment": Decimal("0.25"), "results": 3, **settings}
    campaign_id = campaigns.create_campaign(requester_id, CampaignIn.model_validate(body), [job_id]).id
    publishing.publish(requester_id, campaign_id)
    return campaign_id, job_id, task_ids


def _submit(worker_id: str, job_id: str, choice: str = "Yes", rating: int = 4, controls: str = "Yes") -> Any:
    assignment = assignments.claim(worker_id, job_id, None, None, None)
    entries = []
    for task in assignment.tasks or []:
        picked = controls if task.id not in _real_tasks else choice
        entries.append(
            {
                "task": task.id,
                "components": [
                    {"result": None},
                    {"result": {"selectedOption": picked}},
                    {"result": {"rating": rating}},
                    {"result": {"text": "ok"}},
                ],
            }
        )
    return reviewing.submit(worker_id, assignment.id, SubmitIn.model_validate({"taskResults": entries}))


_real_tasks: set[str] = set()  # the tasks a test's campaign asks (anything else is a control)


@pytest.fixture(autouse=True)
def _no_real_tasks_yet() -> None:
    _real_tasks.clear()


def _live(requester_id: str, campaign_id: str, task_id: str) -> Any:
    return answers.task_aggregate(requester_id, task_id, campaign_id)


# ---------------------------------------------------------------- the tally (pure)
def test_the_winner_has_the_most_weight_and_its_share_is_the_confidence():
    components = [CHOICE, RATING, TEXT]
    item: dict[str, Any] = {}
    for choice, rating, weight in [("Yes", 4, 1), ("Yes", 5, 1), ("No", 5, 2)]:
        for vote in aggregation.votes(
            components, [{"selectedOption": choice}, {"rating": rating}, {"text": "x"}]
        ):
            item[f"w{vote.key}"] = item.get(f"w{vote.key}", 0) + weight
            item[f"n{vote.key}"] = item.get(f"n{vote.key}", 0) + 1
            item[f"l{vote.key}"] = vote.answer
    choice_winner, rating_winner, text_winner = aggregation.tally(item, 3)
    # 2 of 4 each: a tie by weight goes to the answer more workers gave
    assert choice_winner == aggregation.Winner({"selectedOption": "Yes"}, 0.5, 2)
    assert rating_winner == aggregation.Winner({"rating": 5}, 0.75, 2)
    assert text_winner is None  # free text does not aggregate
    assert aggregation.confident([choice_winner, rating_winner, text_winner], 0.5)
    assert not aggregation.confident([choice_winner, rating_winner], 0.6)
    assert not aggregation.confident([None], 0.1)  # nothing counted is never confident


def test_a_tie_is_broken_the_same_way_by_every_reader():
    item = {"w0_a": 1, "n0_a": 1, "l0_a": '{"x":2}', "w0_b": 1, "n0_b": 1, "l0_b": '{"x":1}'}
    assert aggregation.tally(item, 1)[0].result == {"x": 1}
    assert aggregation.tally(dict(reversed(list(item.items()))), 1)[0].result == {"x": 1}


def test_tag_collections_vote_as_sets():
    tags = {"component_type": "tags_collection"}
    assert aggregation.canonical(tags, {"values": ["b", "a", "a"]}) == aggregation.canonical(
        tags, {"values": ["a", "b"]}
    )
    assert aggregation.canonical(TEXT, {"text": "x"}) is None


def test_a_number_is_one_answer_however_it_is_spelled():
    spelled = [{"rating": 4}, {"rating": 4.0}, {"rating": Decimal("4")}, {"rating": Decimal("4.00")}]
    assert len({aggregation.canonical(RATING, r) for r in spelled}) == 1
    assert aggregation.canonical(RATING, {"rating": 4.5}) != aggregation.canonical(RATING, {"rating": 4})
    toggle = {"type": "Toggle"}
    assert aggregation.canonical(toggle, {"checked": True}) != aggregation.canonical(toggle, {"checked": 1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, Decimal("0.5")), (Decimal(80), Decimal("0.8")), (Decimal(130), Decimal(1)), (Decimal(-5), 0)],
)
def test_a_weighted_vote_weighs_the_workers_figure(value, expected):
    assert aggregation.weight("weighted", value) == expected
    assert aggregation.weight("majority", value) == 1


def test_agreement_counts_only_components_confident_enough():
    winners = [
        None,
        aggregation.Winner({"selectedOption": "Yes"}, 0.9, 3),
        aggregation.Winner({"rating": 4}, 0.4, 1),
    ]
    components = [PICTURE, CHOICE, RATING]
    assert (
        aggregation.agrees(components, [None, {"selectedOption": "Yes"}, {"rating": 1}], winners, 0.8) is True
    )
    assert (
        aggregation.agrees(components, [None, {"selectedOption": "No"}, {"rating": 4}], winners, 0.8) is False
    )
    assert (
        aggregation.agrees(components, [None, {"selectedOption": "No"}, {"rating": 4}], winners, 0.95) is None
    )


# ---------------------------------------------------------------- live aggregates
def test_every_submission_counts_at_once_and_a_rejection_is_taken_back_once(requester):
    campaign_id, job_id, (task_id,) = _campaign(requester.id, results=3)
    _real_tasks.add(task_id)
    workers = [make_account("worker") for _ in range(3)]
    submitted = [
        _submit(w.id, job_id, choice, rating)
        for w, (choice, rating) in zip(workers, [("Yes", 4), ("Yes", 5), ("No", 5)], strict=True)
    ]
    live = _live(requester.id, campaign_id, task_id)
    assert live.answers == 3 and live.method == "majority"
    picture, choice, rating, text = live.components
    assert picture is None and text is None
    assert (choice.result, choice.votes, choice.confidence) == (
        {"selectedOption": "Yes"},
        2,
        pytest.approx(2 / 3),
    )
    assert (rating.result, rating.votes) == ({"rating": 5}, 2)

    reviewing.reject(requester.id, submitted[0].id, "blurry")
    with pytest.raises(errors.Conflict):  # decided once: a second rejection changes nothing
        reviewing.reject(requester.id, submitted[0].id, "again")
    live = _live(requester.id, campaign_id, task_id)
    assert live.answers == 2
    assert live.components[1].votes == 1 and live.components[1].confidence == pytest.approx(0.5)
    assert (live.components[2].result, live.components[2].votes, live.components[2].confidence) == (
        {"rating": 5},
        2,
        1.0,
    )
    page, more = answers.campaign_aggregates(requester.id, campaign_id, method=None, after=None, limit=10)
    assert [a.task for a in page] == [task_id] and not more
    assert page[0] == live


def test_a_soft_rejection_takes_the_votes_back_too(requester):
    campaign_id, job_id, (task_id,) = _campaign(requester.id, results=2)
    _real_tasks.add(task_id)
    worker = make_account("worker")
    result = _submit(worker.id, job_id, "No")
    results.soft_reject(requester.id, result.id, "try again", "2030-01-01T00:00:00")
    live = _live(requester.id, campaign_id, task_id)
    assert live.answers == 0 and live.components[1] is None


def test_controls_do_not_vote(requester):
    control = _task(requester.id, solution="Yes")
    campaign_id, job_id, (task_id,) = _campaign(
        requester.id, results=2, quality={"controlTasks": [control], "controlPerAssignment": 1}
    )
    _real_tasks.add(task_id)
    _submit(make_account("worker").id, job_id, "No")
    assert _live(requester.id, campaign_id, task_id).answers == 1
    page, _ = answers.campaign_aggregates(requester.id, campaign_id, method=None, after=None, limit=10)
    assert [a.task for a in page] == [task_id]  # the control has no aggregate


def test_weighted_votes_weigh_the_skill_of_each_worker(requester):
    skill = quality.create_skill(requester.id, SkillIn(name="birds")).id
    campaign_id, job_id, (task_id,) = _campaign(
        requester.id, results=3, aggregation={"method": "weighted", "skill": skill}
    )
    _real_tasks.add(task_id)
    expert, novice1, novice2 = (make_account("worker") for _ in range(3))
    quality.set_skill_value(requester.id, skill, expert.id, 90)
    for novice in (novice1, novice2):
        quality.set_skill_value(requester.id, skill, novice.id, 30)
    _submit(expert.id, job_id, "No")
    _submit(novice1.id, job_id, "Yes")
    _submit(novice2.id, job_id, "Yes")
    choice = _live(requester.id, campaign_id, task_id).components[1]
    assert choice.result == {"selectedOption": "No"}  # 0.9 against 0.3 + 0.3
    assert choice.confidence == pytest.approx(0.9 / 1.5)


def test_another_requesters_aggregates_are_not_found(requester):
    campaign_id, job_id, (task_id,) = _campaign(requester.id)
    _real_tasks.add(task_id)
    _submit(make_account("worker").id, job_id)
    stranger = make_account(balance=1)
    with pytest.raises(errors.NotFound):
        answers.task_aggregate(stranger.id, task_id, None)
    with pytest.raises(errors.NotFound):
        answers.campaign_aggregates(stranger.id, campaign_id, method=None, after=None, limit=10)


def test_aggregates_by_a_method_the_campaign_does_not_use_are_not_found(requester):
    """Given a campaign aggregating by its live method, a page by another is a 404 naming `method`."""
    campaign_id, _, _ = _campaign(requester.id)
    answers.campaign_aggregates(requester.id, campaign_id, method="majority", after=None, limit=10)
    with pytest.raises(errors.NotFound) as missing:
        answers.campaign_aggregates(requester.id, campaign_id, method="weighted", after=None, limit=10)
    assert missing.value.extra["errors"][0]["field"] == "method"


# ---------------------------------------------------------------- dynamic overlap
def test_a_confident_job_closes_and_gives_back_exactly_what_it_did_not_need(requester):
    before_available, _ = balances(requester.id)
    campaign_id, job_id, (task_id,) = _campaign(
        requester.id, results=5, overlap={"min": 2, "confidence": 0.9}
    )
    _real_tasks.add(task_id)
    published_available, published_frozen = balances(requester.id)
    slot = Decimal(before_available.split()[0]) - Decimal(published_available.split()[0])
    assert slot > 0
    per_result = slot / 5
    first, second = make_account("worker"), make_account("worker")
    _submit(first.id, job_id, "Yes")
    assert not market_item(job_id, campaign_id).get("closed")  # one result is under `min`
    _submit(second.id, job_id, "Yes")
    assert market_item(job_id, campaign_id).get("closed")  # two agree: 100% sure
    available, frozen = balances(requester.id)
    released = Decimal(available.split()[0]) - Decimal(published_available.split()[0])
    assert released == per_result * 3  # the three results it never needed, to the micro-dollar
    assert Decimal(frozen.split()[0]) == Decimal(published_frozen.split()[0]) - per_result * 3
    with pytest.raises(errors.CrowdtaskError):  # a closed job takes no more claims
        assignments.claim(make_account("worker").id, job_id, None, None, None)
    # the two results it did need are paid as usual, and the campaign then has all it needs
    approved = reviewing.approve_all(requester.id, campaign_id, None, None)
    assert approved.approved == 2
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"
    available, frozen = balances(requester.id)
    assert Decimal(frozen.split()[0]) == 0
    assert Decimal(available.split()[0]) == Decimal(before_available.split()[0]) - per_result * 2


def test_a_job_still_unsure_collects_on_to_max(requester):
    campaign_id, job_id, (task_id,) = _campaign(
        requester.id, results=3, overlap={"min": 2, "confidence": 0.9}
    )
    _real_tasks.add(task_id)
    _submit(make_account("worker").id, job_id, "Yes")
    _submit(make_account("worker").id, job_id, "No")
    assert not market_item(job_id, campaign_id).get("closed")
    _submit(make_account("worker").id, job_id, "Yes")
    assert int(market_item(job_id, campaign_id)["remaining"]) == 0  # max reached, 2/3 < 0.9


def test_overlap_settings_are_checked_naming_the_field(requester):
    job_id = jobs.create_job(requester.id, JobIn(name="j"), [_task(requester.id)]).id
    body = {"name": "c", "workerPayment": 1, "results": 3, "overlap": {"min": 4, "confidence": 0.9}}
    with pytest.raises(ValueError, match=r"overlap\.min"):
        campaigns.create_campaign(requester.id, CampaignIn.model_validate(body), [job_id])
    with pytest.raises(ValueError, match="confidence"):
        CampaignIn.model_validate({**body, "overlap": {"min": 1, "confidence": 1.5}})


# ---------------------------------------------------------------- review policies
def test_the_control_policy_decides_at_submit_and_names_itself(requester):
    control = _task(requester.id, solution="Yes")
    _, job_id, (task_id,) = _campaign(
        requester.id,
        results=2,
        quality={"controlTasks": [control], "controlPerAssignment": 1},
        autoReview={"control": {"approveAtLeast": 0.8, "rejectBelow": 0.5}},
    )
    _real_tasks.add(task_id)
    good = _submit(make_account("worker").id, job_id, controls="Yes")
    bad = _submit(make_account("worker").id, job_id, controls="No")
    good_now, bad_now = results.get_result(requester.id, good.id), results.get_result(requester.id, bad.id)
    assert (good_now.state, good_now.reviewedBy) == ("Approved", "autoReview.control")
    assert (bad_now.state, bad_now.reviewedBy) == ("Rejected", "autoReview.control")
    assert "below 0.5" in (bad_now.reason or "")
    with pytest.raises(errors.Conflict):  # decided once: a requester cannot decide it again
        results.approve(requester.id, bad.id, None)


def test_the_agreement_policy_decides_once_the_overlap_is_complete(requester):
    campaign_id, job_id, (task_id,) = _campaign(
        requester.id,
        results=3,
        autoReview={"agreement": {"approve": True, "reject": True, "minConfidence": 0.6}},
    )
    _real_tasks.add(task_id)
    yes1 = _submit(make_account("worker").id, job_id, "Yes")
    no = _submit(make_account("worker").id, job_id, "No")
    assert results.get_result(requester.id, yes1.id).state == "InReview"  # 2 of 3: not complete yet
    yes2 = _submit(make_account("worker").id, job_id, "Yes")
    states = {r: results.get_result(requester.id, r) for r in (yes1.id, no.id, yes2.id)}
    assert [states[r].state for r in (yes1.id, yes2.id)] == ["Approved", "Approved"]
    assert states[no.id].state == "Rejected"
    assert {s.reviewedBy for s in states.values()} == {"autoReview.agreement"}
    live = _live(requester.id, campaign_id, task_id)
    assert live.answers == 2 and live.components[1].confidence == 1.0  # the rejected vote withdrawn
