"""Quality control on moto: control tasks graded and mixed, statistics kept on write, skills,
requirements, blocks and rules (each acting once per observation), nothing revealed to workers."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

from crowdtask.http.app import dump

import pytest

from crowdtask import errors
from crowdtask.models.campaigns import CampaignIn
from crowdtask.models.jobs import JobIn
from crowdtask.models.listing import ListQuery
from crowdtask.models.market import SubmitIn
from crowdtask.models.quality import BlockIn, SkillIn
from crowdtask.models.tasks import TaskIn
from crowdtask.services import assignments, campaigns, grading, jobs, market, quality, results, workers
from crowdtask.services import tasks as task_service
from crowdtask.services.bulk_items import BulkParams
from crowdtask.services.flows import publishing, reviewing, sweeping, uploading
from crowdtask.store import campaigns as campaign_store
from tests.support.accounts import make_account
from tests.support.eventbus import EventTap
from tests.support.market import CHOICE, PICTURE

SECRET = "zebra-7f3c"  # the one answer only a control task's solution holds
TEXT = {"type": "TextInput", "hint": "What does the sign say?"}


def _task(requester_id: str, solution: str | None = None, name: str = "task") -> str:
    body: dict[str, Any] = {"name": name, "components": [PICTURE, CHOICE, TEXT]}
    if solution is not None:
        body["knownSolutions"] = [
            {"components": [{"result": None}, {"result": None}, {"result": {"text": solution}}], "weight": 1}
        ]
    return task_service.create_task(requester_id, TaskIn.model_validate(body)).id


def _campaign(
    requester_id: str, jobs_: int = 1, publish: bool = True, **settings: Any
) -> tuple[str, list[str]]:
    """A campaign of `jobs_` jobs of one task each (one result each unless `results` says)."""
    job_ids = [
        jobs.create_job(requester_id, JobIn(name=f"job {n}"), [_task(requester_id)]).id for n in range(jobs_)
    ]
    body = {"name": "quality", "workerPayment": Decimal("0.25"), "results": 1, **settings}
    campaign_id = campaigns.create_campaign(requester_id, CampaignIn.model_validate(body), job_ids).id
    if publish:
        publishing.publish(requester_id, campaign_id)
    return campaign_id, job_ids


def _answer(tasks: list[Any], text: str = "hello", controls_text: dict[str, str] | None = None) -> SubmitIn:
    entries = []
    for task in tasks:
        said = (controls_text or {}).get(task.id, text)
        entries.append(
            {
                "task": task.id,
                "components": [
                    {"result": None},
                    {"result": {"selectedOption": "Yes"}},
                    {"result": {"text": said}},
                ],
            }
        )
    return SubmitIn.model_validate({"taskResults": entries})


def _work(worker_id: str, job_id: str, text: str = "hello") -> Any:
    assignment = assignments.claim(worker_id, job_id, None, None, None)
    return assignment, reviewing.submit(worker_id, assignment.id, _answer(assignment.tasks or [], text))


def _stats(requester_id: str, campaign_id: str, worker_id: str) -> Any:
    return workers.campaign_worker(requester_id, campaign_id, worker_id).quality


def _rule(metric: str, operator: str, value: float, action: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"metric": metric, "operator": operator, "value": value, "action": action, **more}


# ---------------------------------------------------------------- grading (pure)
@pytest.mark.parametrize(
    ("component", "given", "expected", "correct"),
    [
        ({"type": "BinaryChoice"}, {"selectedOption": "Yes"}, {"selectedOption": "Yes"}, True),
        ({"type": "BinaryChoice"}, {"selectedOption": "No"}, {"selectedOption": "Yes"}, False),
        ({"type": "Rating"}, {"rating": 4}, {"rating": 4}, True),
        ({"type": "Rating"}, {"rating": 3}, {"rating": 4}, False),
        ({"type": "Toggle"}, {"checked": False}, {"checked": True}, False),
        ({"type": "Stepper"}, {"result": 2}, {"result": 2}, True),
        ({"type": "TextInput"}, {"text": "  Stop Sign "}, {"text": "stop sign"}, True),
        ({"type": "TextInput"}, {"text": "stop"}, {"text": "stop sign"}, False),
        ({"component_type": "text_area"}, {"text": "ÉTÉ"}, {"text": "été"}, True),
        ({"component_type": "tags_collection"}, {"values": ["b", "a"]}, {"values": ["a", "b"]}, True),
        ({"component_type": "tags_collection"}, {"values": ["a"]}, {"values": ["a", "b"]}, False),
        ({"type": "AudioRecording"}, {"url": "x"}, {"url": "y"}, True),  # recordings are not checked
    ],
)
def test_each_component_type_is_compared_its_own_way(component, given, expected, correct):
    assert grading.grade([component], [given], [{"components": [{"result": expected}]}]).correct is correct


def test_the_best_matching_solution_scores_and_unchecked_components_are_ignored():
    components = [{"type": "BinaryChoice"}, {"type": "TextInput"}]
    solutions = [
        {"components": [{"result": {"selectedOption": "Yes"}}, {"result": None}], "weight": 1},
        {"components": [{"result": {"selectedOption": "No"}}, {"result": None}], "weight": 0.5},
    ]
    assert grading.grade(components, [{"selectedOption": "No"}, {"text": "x"}], solutions) == (True, 0.5, 1.0)
    assert grading.grade(components, [{"selectedOption": "Yes"}, None], solutions) == (True, 1.0, 1.0)
    assert grading.grade(components, [None, None], solutions) == (False, 0.0, 1.0)


# ---------------------------------------------------------------- control settings
def test_known_solutions_must_fit_the_task_naming_the_field(requester):
    body = {
        "name": "t",
        "components": [PICTURE, CHOICE],
        "knownSolutions": [{"components": [{"result": None}, {"result": {"selectedOption": 7}}]}],
    }
    with pytest.raises(errors.ValidationFailed) as refused:
        task_service.create_task(requester.id, TaskIn.model_validate(body))
    assert refused.value.errors[0]["field"].startswith("knownSolutions[0].components[1].result")
    body["knownSolutions"] = [{"components": [{"result": None}]}]
    with pytest.raises(errors.ValidationFailed, match="one per component"):
        task_service.create_task(requester.id, TaskIn.model_validate(body))


def test_campaign_settings_name_only_own_skills_and_real_control_tasks(requester):
    stranger = make_account(balance=1)
    theirs = quality.create_skill(stranger.id, SkillIn(name="theirs")).id
    plain = _task(requester.id)
    job = jobs.create_job(requester.id, JobIn(name="j"), [_task(requester.id)]).id
    body = {
        "name": "c",
        "workerPayment": 1,
        "results": 1,
        "quality": {"controlTasks": [plain, "01AAAAAAAAAAAAAAAAAAAAAAAA"]},
        "requirements": [{"skill": theirs, "operator": "exists"}],
    }
    with pytest.raises(errors.ValidationFailed) as refused:
        campaigns.create_campaign(requester.id, CampaignIn.model_validate(body), [job])
    fields = {e["field"]: e["message"] for e in refused.value.errors}
    assert set(fields) == {"requirements[0].skill", "quality.controlTasks[0]", "quality.controlTasks[1]"}
    assert "no knownSolutions" in fields["quality.controlTasks[0]"]
    body["quality"] = {"controlTasks": ["01AAAAAAAAAAAAAAAAAAAAAAAA"]}
    with pytest.raises(errors.NotFound) as missing:
        campaigns.create_campaign(requester.id, CampaignIn.model_validate(body), [job])
    named = [e["field"] for e in missing.value.extra["errors"]]
    assert named == ["requirements[0].skill", "quality.controlTasks[0]"]


def test_control_settings_and_requirements_are_kept_as_published(requester):
    control = _task(requester.id, SECRET)
    campaign_id, _ = _campaign(requester.id, quality={"controlTasks": [control]})
    current = campaigns.get_campaign(requester.id, campaign_id).model_dump(exclude_none=True)
    changed = {**current, "quality": {"controlTasks": []}}
    for key in ("id", "state", "jobCount", "readOnly", "lastModifiedAt", "createdAt", "archived"):
        changed.pop(key, None)
    with pytest.raises(errors.Conflict, match="quality"):
        campaigns.replace_campaign(requester.id, campaign_id, CampaignIn.model_validate(changed))


# ---------------------------------------------------------------- mixing, and what workers see
def test_controls_are_mixed_in_never_repeated_while_unanswered_ones_remain(requester, worker):
    controls = [_task(requester.id, f"{SECRET}-{n}", name="task") for n in range(3)]
    campaign_id, job_ids = _campaign(
        requester.id, 6, quality={"controlTasks": controls}, maxResultsPerWorker=6
    )
    got: list[str] = []
    positions: Counter[int] = Counter()
    for job_id in job_ids:
        assignment = assignments.claim(worker.id, job_id, None, None, None)
        ids_ = [t.id for t in assignment.tasks or []]
        [control] = [t for t in ids_ if t in controls]
        got.append(control)
        positions[ids_.index(control)] += 1
        reviewing.submit(worker.id, assignment.id, _answer(assignment.tasks or []))
    assert sorted(got[:3]) == sorted(controls)  # each once before any comes back
    assert set(got[3:]) <= set(controls) and len(got) == 6
    assert _stats(requester.id, campaign_id, worker.id).controlAnswers == 6


def test_control_position_is_not_predictable(requester):
    control = _task(requester.id, SECRET)
    _, job_ids = _campaign(requester.id, 1, quality={"controlTasks": [control]}, results=40)
    places: Counter[int] = Counter()  # the job has one task: the control goes before or after it
    for _ in range(40):
        taker = make_account("worker")
        assignment = assignments.claim(taker.id, job_ids[0], None, None, None)
        places[[t.id for t in assignment.tasks or []].index(control)] += 1
    assert set(places) == {0, 1}


def test_nothing_a_worker_receives_tells_a_control_or_its_answer(requester, worker):
    control = _task(requester.id, SECRET)
    _, [job_id] = _campaign(requester.id, quality={"controlTasks": [control]})
    listed = market.list_jobs(worker.id, 10, None, None)
    assignment = assignments.claim(worker.id, job_id, None, None, None)
    again = assignments.get_assignment(worker.id, assignment.id)
    mine, _ = assignments.list_assignments(worker.id, ListQuery(limit=10))
    submitted = reviewing.submit(worker.id, assignment.id, _answer(assignment.tasks or [], "my guess"))
    seen = [*listed, assignment, again, *mine, submitted]
    dumped = json.dumps([dump(s) for s in seen])  # as the API sends them
    for telling in (SECRET, "knownSolutions", "known_solutions", "control", "weight"):
        assert telling not in dumped, dumped[max(0, dumped.find(telling) - 200) : dumped.find(telling) + 100]
    by_task = {t.id: t.model_dump() for t in assignment.tasks or []}
    assert set(by_task[control]) == set(next(v for k, v in by_task.items() if k != control))
    # the requester sees it, graded
    reviewed = results.get_result(requester.id, submitted.id)
    grades = {t.task.id: t.control for t in reviewed.taskResults}
    assert grades[control] is not None and grades[control].correct is False
    assert [g for k, g in grades.items() if k != control] == [None]


# ---------------------------------------------------------------- statistics, kept on write
def test_statistics_are_exact_per_campaign_and_per_requester(requester, worker, frozen_clock):
    controls = [_task(requester.id, f"{SECRET}-{n}") for n in range(2)]
    rules = [_rule("fastSubmits", "gte", 99, {"type": "approveAll"}, fastSubmitThreshold="30 sec")]
    campaign_id, job_ids = _campaign(
        requester.id, 4, quality={"controlTasks": controls}, qualityRules=rules, maxResultsPerWorker=4
    )
    made = []
    for n, job_id in enumerate(job_ids):
        assignment = assignments.claim(worker.id, job_id, None, None, None)
        frozen_clock.advance(seconds=10 if n < 3 else 60)
        [control] = [t.id for t in assignment.tasks or [] if t.id in controls]
        right = f"{SECRET}-{controls.index(control)}" if n % 2 == 0 else "wrong"
        made.append(
            reviewing.submit(
                worker.id, assignment.id, _answer(assignment.tasks or [], controls_text={control: right})
            )
        )
    reviewing.approve(requester.id, made[0].id, None)
    reviewing.approve(requester.id, made[1].id, None)
    reviewing.reject(requester.id, made[2].id, "no")
    spare = assignments.claim(
        worker.id, job_ids[2], None, None, None
    )  # the rejected slot, taken and given back
    reviewing.release(worker.id, spare.id)
    stats = _stats(requester.id, campaign_id, worker.id)
    assert (stats.controlAnswers, stats.controlCorrect, stats.controlAccuracy) == (4, 2, 50.0)
    assert (stats.submitted, stats.approved, stats.rejected, stats.acceptanceRate) == (4, 2, 1, 66.67)
    assert stats.fastSubmits == {"30": 3}
    assert stats.skippedInRow == 1
    assert stats.earnings24h == 0.5
    overall = quality.worker_quality(requester.id, worker.id).quality
    assert overall == stats  # one campaign so far: the requester's view is the same figures


def test_earnings_leave_the_24_hours(requester, worker, frozen_clock):
    _, [job_id] = _campaign(requester.id)
    _, result = _work(worker.id, job_id)
    reviewing.approve(requester.id, result.id, None)
    assert quality.worker_quality(requester.id, worker.id).quality.earnings24h == 0.25
    frozen_clock.advance(hours=25)
    assert quality.worker_quality(requester.id, worker.id).quality.earnings24h == 0


def test_a_requesters_view_of_a_worker_is_their_own(requester, worker):
    other = make_account(balance=10)
    _, [job_id] = _campaign(requester.id)
    _work(worker.id, job_id)
    assert quality.worker_quality(requester.id, worker.id).quality.submitted == 1
    with pytest.raises(errors.NotFound, match="has not worked for you"):
        quality.worker_quality(other.id, worker.id)


# ---------------------------------------------------------------- skills
def test_skills_are_private_to_their_requester(requester, worker):
    other = make_account(balance=1)
    skill = quality.create_skill(requester.id, SkillIn(name="accuracy", description="of labels"))
    quality.set_skill_value(requester.id, skill.id, worker.id, 80)
    assert quality.get_skill(requester.id, skill.id).name == "accuracy"
    workers_, _ = quality.skill_workers(requester.id, skill.id, after=None, limit=10)
    assert [(v.worker, v.value) for v in workers_] == [(worker.id, 80)]
    for attempt in (
        lambda: quality.get_skill(other.id, skill.id),
        lambda: quality.set_skill_value(other.id, skill.id, worker.id, 1),
        lambda: quality.skill_workers(other.id, skill.id, after=None, limit=10),
        lambda: quality.delete_skill_value(other.id, skill.id, worker.id),
    ):
        with pytest.raises(errors.NotFound):
            attempt()
    assert quality.list_skills(other.id, ListQuery(limit=10))[0] == []
    quality.delete_skill_value(requester.id, skill.id, worker.id)
    assert quality.skill_workers(requester.id, skill.id, after=None, limit=10)[0] == []


def test_a_skill_value_is_only_for_a_worker(requester):
    skill = quality.create_skill(requester.id, SkillIn(name="s"))
    with pytest.raises(errors.NotFound, match="No worker"):
        quality.set_skill_value(requester.id, skill.id, requester.id, 5)


# ---------------------------------------------------------------- requirements and blocks
@pytest.mark.parametrize(
    ("requirement", "value", "allowed"),
    [
        ({"operator": "gte", "value": 70}, 80, True),
        ({"operator": "gte", "value": 70}, 60, False),
        ({"operator": "lt", "value": 70}, 60, True),
        ({"operator": "eq", "value": 60}, 60, True),
        ({"operator": "ne", "value": 60}, 60, False),
        ({"operator": "ne", "value": 60}, 61, True),
        ({"operator": "eq", "value": 60}, 61, False),
        ({"operator": "lt", "value": 70}, 70, False),
        ({"operator": "lte", "value": 70}, 70, True),
        ({"operator": "lte", "value": 70}, 71, False),
        ({"operator": "gt", "value": 70}, 70, False),
        ({"operator": "gt", "value": 70}, 71, True),
        ({"operator": "exists"}, None, False),
        ({"operator": "exists"}, 1, True),
        ({"operator": "notExists"}, None, True),
        ({"operator": "notExists"}, 1, False),
    ],
)
def test_a_requirement_hides_and_refuses(requester, worker, requirement, value, allowed):
    skill = quality.create_skill(requester.id, SkillIn(name="s")).id
    if value is not None:
        quality.set_skill_value(requester.id, skill, worker.id, value)
    _, [job_id] = _campaign(requester.id, requirements=[{"skill": skill, **requirement}])
    listed = market.list_jobs(worker.id, 10, None, None)
    if allowed:
        assert [j.id for j in listed] == [job_id]
        assert assignments.claim(worker.id, job_id, None, None, None).job == job_id
    else:
        assert listed == []
        with pytest.raises(errors.Forbidden, match=f"requires skill {skill} {requirement['operator']}"):
            assignments.claim(worker.id, job_id, None, None, None)


def test_all_requirements_must_hold(requester, worker):
    a, b = (quality.create_skill(requester.id, SkillIn(name=n)).id for n in "ab")
    quality.set_skill_value(requester.id, a, worker.id, 90)
    quality.set_skill_value(requester.id, b, worker.id, 10)
    reqs = [{"skill": a, "operator": "gt", "value": 50}, {"skill": b, "operator": "gt", "value": 50}]
    _, [job_id] = _campaign(requester.id, requirements=reqs)
    with pytest.raises(errors.Forbidden, match=f"skill {b} gt 50 \\(yours: 10\\)"):
        assignments.claim(worker.id, job_id, None, None, None)


def test_a_block_hides_and_refuses_but_claimed_work_may_be_submitted(requester, worker, frozen_clock):
    campaign_id, [first, second] = _campaign(requester.id, 2, maxResultsPerWorker=2)
    other_campaign, [elsewhere] = _campaign(requester.id)
    claimed = assignments.claim(worker.id, first, None, None, None)
    tap = EventTap()
    block = quality.create_block(
        requester.id,
        BlockIn(worker=worker.id, campaign=campaign_id, until="2026-03-15T00:00:00", reason="spam"),
    )
    assert [e["detail-type"] for e in tap.drain()] == ["worker.blocked"]
    assert [j.id for j in market.list_jobs(worker.id, 10, None, None)] == [elsewhere]
    with pytest.raises(errors.Forbidden, match="blocked"):
        assignments.claim(worker.id, second, None, None, None)
    assert reviewing.submit(worker.id, claimed.id, _answer(claimed.tasks or [])).state == "InReview"
    frozen_clock.now = frozen_clock.now.replace(day=15, hour=1)  # the block has ended
    assert assignments.claim(worker.id, second, None, None, None).job == second
    everywhere = quality.create_block(requester.id, BlockIn(worker=worker.id, reason="all"))
    assert market.list_jobs(worker.id, 10, None, None) == []
    listed, _ = quality.list_blocks(requester.id, ListQuery(limit=10), worker=worker.id, campaign=None)
    assert {b.id for b in listed} == {block.id, everywhere.id}
    quality.delete_block(requester.id, everywhere.id)
    assert [j.id for j in market.list_jobs(worker.id, 10, None, None)] == [elsewhere]
    assert other_campaign


def test_blocks_are_the_requesters_own(requester, worker):
    other = make_account(balance=1)
    block = quality.create_block(requester.id, BlockIn(worker=worker.id, reason="r"))
    with pytest.raises(errors.NotFound):
        quality.delete_block(other.id, block.id)
    _, [job_id] = _campaign(other.id)  # another requester's work stays open to the worker
    assert [j.id for j in market.list_jobs(worker.id, 10, None, None)] == [job_id]
    with pytest.raises(errors.ValidationFailed, match="future"):
        quality.create_block(requester.id, BlockIn(worker=worker.id, until="2020-01-01T00:00:00", reason="r"))


# ---------------------------------------------------------------- rules
def test_a_rule_acts_once_however_often_its_event_is_evaluated(requester, worker):
    control = _task(requester.id, SECRET)
    rules = [_rule("controlAccuracy", "lt", 50, {"type": "block", "scope": "account", "reason": "bad"})]
    campaign_id, [job_id, _] = _campaign(
        requester.id, 2, quality={"controlTasks": [control]}, qualityRules=rules, maxResultsPerWorker=2
    )
    _, result = _work(worker.id, job_id, "wrong")
    event = quality.Event(f"{result.id}:submitted", "submission", requester.id, campaign_id, worker.id)
    for _ in range(3):
        quality.evaluate(event)
    done, _ = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)
    assert len(done) == 1 and done[0].outcome["block"] and done[0].observed == 0
    blocks, _ = quality.list_blocks(requester.id, ListQuery(limit=10), worker=worker.id, campaign=None)
    assert [(b.source, b.campaign) for b in blocks] == [("rule", None)]
    assert market.list_jobs(worker.id, 10, None, None) == []


def test_min_answers_holds_a_rule_back(requester, worker):
    control = _task(requester.id, SECRET)
    rules = [_rule("controlAccuracy", "lt", 50, {"type": "block", "reason": "bad"}, minAnswers=2)]
    campaign_id, jobs_ = _campaign(
        requester.id, 3, quality={"controlTasks": [control]}, qualityRules=rules, maxResultsPerWorker=3
    )
    _work(worker.id, jobs_[0], "wrong")
    assert quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0] == []
    _work(worker.id, jobs_[1], "wrong")
    [action] = quality.actions(requester.id, campaign_id, worker=worker.id, after=None, limit=10)[0]
    assert action.metric == "controlAccuracy" and action.id.startswith(f"{worker.id}#00#submission#")
    with pytest.raises(errors.Forbidden, match="blocked"):
        assignments.claim(worker.id, jobs_[2], None, None, None)


def test_reject_all_returns_exactly_what_the_rejected_results_cost(requester, worker):
    control = _task(requester.id, SECRET)
    rules = [
        _rule("controlAccuracy", "lt", 40, {"type": "rejectAll", "reason": "failed controls"}, minAnswers=3)
    ]
    campaign_id, jobs_ = _campaign(
        requester.id,
        3,
        quality={"controlTasks": [control]},
        qualityRules=rules,
        maxResultsPerWorker=3,
        workerPayment=Decimal("0.333333"),
    )
    _, good = _work(worker.id, jobs_[0], SECRET)
    reviewing.approve(requester.id, good.id, None)
    owed_before = Decimal(str(campaign_store.get(requester.id, campaign_id)["owed"]))
    tap = EventTap()
    _work(worker.id, jobs_[1], "wrong")
    owed_between = Decimal(str(campaign_store.get(requester.id, campaign_id)["owed"]))
    _work(worker.id, jobs_[2], "wrong")  # accuracy 1/3 over 3 answers: the rule rejects both in review
    [action] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    cost = owed_between - owed_before
    assert cost > 0 and action.outcome == {"rejected": 2, "returned": str(2 * cost)}
    assert Decimal(str(campaign_store.get(requester.id, campaign_id)["owed"])) == owed_before
    assert workers.me(worker.id).earnings.pending == "0 USD"
    kinds = [e["detail-type"] for e in tap.drain()]
    assert kinds.count("result.rejected") == 2 and "worker.results_rejected" in kinds


def test_set_skill_from_the_metric_and_approve_all(requester, worker):
    control = _task(requester.id, SECRET)
    skill = quality.create_skill(requester.id, SkillIn(name="accuracy")).id
    rules = [
        _rule("controlAnswers", "gte", 1, {"type": "setSkill", "skill": skill, "fromMetric": True}),
        _rule("controlAccuracy", "gte", 100, {"type": "approveAll"}),
    ]
    campaign_id, [job_id] = _campaign(requester.id, quality={"controlTasks": [control]}, qualityRules=rules)
    tap = EventTap()
    _, result = _work(worker.id, job_id, SECRET)
    kinds = [e["detail-type"] for e in tap.drain()]
    assert "worker.skill_set" in kinds and "worker.results_approved" in kinds
    assert [
        (v.worker, v.value) for v in quality.skill_workers(requester.id, skill, after=None, limit=5)[0]
    ] == [(worker.id, 1)]
    assert results.get_result(requester.id, result.id).state == "Approved"
    assert campaigns.get_campaign(requester.id, campaign_id).state == "finished"  # approveAll completed it


def test_skipping_in_a_row_blocks_and_a_submission_ends_the_run(requester, worker):
    rules = [_rule("skippedInRow", "gte", 2, {"type": "block", "duration": "1 hours", "reason": "skips"})]
    campaign_id, [job_id] = _campaign(requester.id, qualityRules=rules, maxResultsPerWorker=5, results=5)
    for _ in range(2):
        reviewing.release(worker.id, assignments.claim(worker.id, job_id, None, None, None).id)
    [action] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert action.observed == 2 and action.action["type"] == "block"
    [block] = quality.list_blocks(requester.id, ListQuery(limit=5), worker=worker.id, campaign=campaign_id)[0]
    assert block.until == "2026-03-14T04:14:15"


def test_a_block_rule_does_not_block_twice(requester, worker):
    rules = [_rule("acceptanceRate", "lt", 50, {"type": "block", "reason": "rejected"})]
    campaign_id, jobs_ = _campaign(requester.id, 2, qualityRules=rules, maxResultsPerWorker=2)
    done = [_work(worker.id, job_id)[1] for job_id in jobs_]
    for result in done:
        reviewing.reject(requester.id, result.id, "no")
    found = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert [a.outcome.get("alreadyBlocked", False) for a in found] == [False, True]
    assert len(quality.list_blocks(requester.id, ListQuery(limit=5), worker=worker.id, campaign=None)[0]) == 1


def test_pool_tasks_known_solutions_are_controls_graded_with_their_correctness_weight(requester, worker):
    template = {"name": "Is it a cat?", "components": [CHOICE]}
    body = {"name": "pool", "workerPayment": Decimal("0.1"), "taskTemplate": template}
    pool = campaigns.create_campaign(requester.id, CampaignIn.model_validate(body)).id
    solutions = [
        {"output_values": {"result": {"selectedOption": "Yes"}}, "correctness_weight": 0.5},
        {"output_values": {"result": {"selectedOption": "No"}}, "correctness_weight": 0.25},
    ]
    item = {"pool_id": pool, "input_values": {}, "overlap": 1, "known_solutions": solutions}
    uploading.create_tasks_now(requester.id, [item], BulkParams())
    publishing.publish(requester.id, pool)
    [job] = market.list_jobs(worker.id, 10, None, None)
    claimed = assignments.claim(worker.id, job.id, None, None, None)
    [task] = claimed.tasks or []
    stored = task_service.get_task(requester.id, task.id).model_dump(exclude_none=True)
    assert [s["weight"] for s in stored["knownSolutions"]] == [0.5, 0.25]
    answer = {"taskResults": [{"task": task.id, "components": [{"result": {"selectedOption": "No"}}]}]}
    submitted = reviewing.submit(worker.id, claimed.id, SubmitIn.model_validate(answer))
    [graded] = results.get_result(requester.id, submitted.id).taskResults
    assert graded.control is not None
    assert (graded.control.correct, graded.control.score, graded.control.weight) == (True, 0.25, 0.5)
    figures = _stats(requester.id, pool, worker.id)
    assert (figures.controlAnswers, figures.controlCorrect, figures.controlAccuracy) == (1, 1, 50.0)


def test_earnings_rule_sets_a_skill_to_a_value_on_review(requester, worker):
    skill = quality.create_skill(requester.id, SkillIn(name="trusted")).id
    rules = [_rule("earnings24h", "gte", 0.5, {"type": "setSkill", "skill": skill, "value": 42})]
    campaign_id, jobs_ = _campaign(requester.id, 2, qualityRules=rules, maxResultsPerWorker=2)
    done = [_work(worker.id, job_id)[1] for job_id in jobs_]
    tap = EventTap()
    reviewing.approve(requester.id, done[0].id, None)  # 0.25 earned: the rule holds back
    assert quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0] == []
    reviewing.approve(requester.id, done[1].id, None)  # 0.5
    [action] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert (action.metric, action.observed, action.outcome) == (
        "earnings24h",
        0.5,
        {"skill": skill, "value": 42},
    )
    [value] = quality.skill_workers(requester.id, skill, after=None, limit=5)[0]
    assert (value.worker, value.value) == (worker.id, 42)
    published = [e for e in tap.drain() if e["detail-type"] == "worker.skill_set"]
    assert [e["detail"]["data"]["value"] for e in published] == [42]


def test_an_expired_assignment_counts_as_skipped_and_blocks_across_the_account(
    requester, worker, frozen_clock
):
    rules = [
        _rule(
            "skippedInRow",
            "gte",
            1,
            {"type": "block", "scope": "account", "duration": "2 days", "reason": "let it expire"},
        )
    ]
    campaign_id, [job_id] = _campaign(requester.id, qualityRules=rules, maxWorkTime="10 min")
    _, [elsewhere] = _campaign(requester.id)
    assignments.claim(worker.id, job_id, None, None, None)
    tap = EventTap()
    frozen_clock.advance(minutes=11)
    assert sweeping.sweep_market()["assignments_expired"] == 1
    [action] = quality.actions(requester.id, campaign_id, worker=worker.id, after=None, limit=10)[0]
    assert (action.metric, action.observed) == ("skippedInRow", 1)
    assert quality.worker_quality(requester.id, worker.id).quality.skippedInRow == 1
    [block] = quality.list_blocks(requester.id, ListQuery(limit=5), worker=worker.id, campaign=None)[0]
    assert (block.campaign, block.until, block.source) == (None, "2026-03-16T03:25:15", "rule")
    assert [e["detail-type"] for e in tap.drain()].count("worker.blocked") == 1
    with pytest.raises(errors.Forbidden, match="blocked"):
        assignments.claim(worker.id, elsewhere, None, None, None)


# ---------------------------------------------------------------- actions cut short by a crash
class Killed(BaseException):
    """The process dies here: no handler catches it and nothing after it runs."""


def _kill_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, *, after_calls: int = 0) -> None:
    """The `after_calls`+1-th call of owner.name kills the process before it does anything."""
    real, calls = getattr(owner, name), []

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        if len(calls) > after_calls:
            monkeypatch.setattr(owner, name, real)
            raise Killed(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, dying)


# Where a crash strikes: right after the action is recorded, or after it was taken and before its
# outcome was noted (the first run's writes are then already there).
CRASH_POINTS = [(quality, "_act"), (quality.quality_store, "note_outcome")]


def _unfinished(requester_id: str, campaign_id: str) -> tuple[Any, quality.Event]:
    """The one action recorded in the campaign, still without an outcome, and the event that set it off."""
    [action] = quality.actions(requester_id, campaign_id, worker=None, after=None, limit=10)[0]
    assert action.outcome == {}
    kind = action.id.split("#")[2]
    return action, quality.Event(action.event, kind, requester_id, campaign_id, action.worker)


def _submit_and_die(worker_id: str, job_id: str, text: str) -> None:
    assignment = assignments.claim(worker_id, job_id, None, None, None)
    with pytest.raises(Killed):
        reviewing.submit(worker_id, assignment.id, _answer(assignment.tasks or [], text))


@pytest.mark.parametrize(("owner", "step"), CRASH_POINTS, ids=["before-acting", "before-the-outcome"])
def test_a_block_cut_short_is_made_once_when_its_event_comes_again(
    requester, worker, frozen_clock, monkeypatch, owner, step
):
    # Given a block rule whose action was recorded, then the process died
    control = _task(requester.id, SECRET)
    rules = [
        _rule(
            "controlAccuracy",
            "lt",
            50,
            {"type": "block", "scope": "account", "duration": "2 days", "reason": "bad"},
        )
    ]
    campaign_id, [job_id] = _campaign(requester.id, quality={"controlTasks": [control]}, qualityRules=rules)
    tap = EventTap()
    _kill_once(monkeypatch, owner, step)
    _submit_and_die(worker.id, job_id, "wrong")
    action, event = _unfinished(requester.id, campaign_id)
    # When the event is delivered again (an hour later), then once more
    frozen_clock.advance(hours=1)
    quality.evaluate(event)
    quality.evaluate(event)
    # Then the block exists once, as the first run would have made it, and the action has its outcome
    [block] = quality.list_blocks(requester.id, ListQuery(limit=5), worker=worker.id, campaign=None)[0]
    assert (block.until, block.createdAt, block.source) == (
        "2026-03-16T03:14:15",
        "2026-03-14T03:14:15",
        "rule",
    )
    [done] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert (done.id, done.outcome) == (action.id, {"block": block.id})
    published = [e["detail"] for e in tap.drain() if e["detail-type"] == "worker.blocked"]
    # the second run rewrote the first run's event (same id): one event, not two
    assert [(e["data"]["blockId"], e["data"]["actionId"], e["data"]["until"]) for e in published] == [
        (block.id, action.id, block.until)
    ]
    assert market.list_jobs(worker.id, 10, None, None) == []


def test_a_skill_cut_short_is_set_to_the_value_the_rule_saw(requester, worker, frozen_clock, monkeypatch):
    # Given a setSkill rule killed right after its record was written
    control = _task(requester.id, SECRET)
    skill = quality.create_skill(requester.id, SkillIn(name="accuracy")).id
    rules = [_rule("controlAnswers", "gte", 1, {"type": "setSkill", "skill": skill, "fromMetric": True})]
    campaign_id, [job_id] = _campaign(requester.id, quality={"controlTasks": [control]}, qualityRules=rules)
    tap = EventTap()
    _kill_once(monkeypatch, quality, "_act")
    _submit_and_die(worker.id, job_id, SECRET)
    assert quality.skill_workers(requester.id, skill, after=None, limit=5)[0] == []
    _, event = _unfinished(requester.id, campaign_id)
    # When the event comes again
    quality.evaluate(event)
    # Then the value is set and noted, and announced once
    [value] = quality.skill_workers(requester.id, skill, after=None, limit=5)[0]
    assert (value.worker, value.value) == (worker.id, 1)
    [done] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert done.outcome == {"skill": skill, "value": 1}
    skill_events = [e["detail"]["data"] for e in tap.drain() if e["detail-type"] == "worker.skill_set"]
    assert [data["value"] for data in skill_events] == [1]


def _reject_all_campaign(requester_id: str, worker_id: str) -> tuple[str, list[str], Decimal, Decimal]:
    """A worker with one good control answer approved and one wrong in review: a rejectAll rule fires
    on a third (wrong) submission. The campaign, its jobs, what it owed before the wrong ones and
    what one result costs."""
    control = _task(requester_id, SECRET)
    rules = [
        _rule("controlAccuracy", "lt", 40, {"type": "rejectAll", "reason": "failed controls"}, minAnswers=3)
    ]
    campaign_id, jobs_ = _campaign(
        requester_id,
        3,
        quality={"controlTasks": [control]},
        qualityRules=rules,
        maxResultsPerWorker=3,
        workerPayment=Decimal("0.333333"),
    )
    _, good = _work(worker_id, jobs_[0], SECRET)
    reviewing.approve(requester_id, good.id, None)
    owed_before = Decimal(str(campaign_store.get(requester_id, campaign_id)["owed"]))
    _work(worker_id, jobs_[1], "wrong")
    cost = Decimal(str(campaign_store.get(requester_id, campaign_id)["owed"])) - owed_before
    return campaign_id, jobs_, owed_before, cost


@pytest.mark.parametrize(
    ("owner", "step", "after_calls"),
    [(quality, "_act", 0), (results, "reject", 1), (quality.quality_store, "note_outcome", 0)],
    ids=["before-acting", "half-way", "before-the-outcome"],
)
def test_a_reject_all_cut_short_returns_the_money_of_what_it_rejected_once(
    requester, worker, monkeypatch, owner, step, after_calls
):
    # Given a rejectAll killed after its record was written (before, during or after its rejections)
    campaign_id, jobs_, owed_before, cost = _reject_all_campaign(requester.id, worker.id)
    _kill_once(monkeypatch, owner, step, after_calls=after_calls)
    _submit_and_die(worker.id, jobs_[2], "wrong")
    _, event = _unfinished(requester.id, campaign_id)
    # When the event is delivered again, twice
    quality.evaluate(event)
    quality.evaluate(event)
    # Then both results are rejected once, and the record says exactly what went back
    [done] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert cost > 0 and done.outcome == {"rejected": 2, "returned": str(2 * cost)}
    assert Decimal(str(campaign_store.get(requester.id, campaign_id)["owed"])) == owed_before
    mine, _ = results.list_campaign_results(
        requester.id, campaign_id, state=None, since=None, after=None, limit=10
    )
    assert Counter(r.state for r in mine) == {"Approved": 1, "Rejected": 2}
    assert workers.me(worker.id).earnings.pending == "0 USD"


def test_a_redelivery_overtaking_a_reject_all_half_way_rejects_each_result_once(
    requester, worker, monkeypatch
):
    # Given a rejectAll killed right after its record was written
    campaign_id, jobs_, owed_before, cost = _reject_all_campaign(requester.id, worker.id)
    _kill_once(monkeypatch, quality, "_act")
    _submit_and_die(worker.id, jobs_[2], "wrong")
    _, event = _unfinished(requester.id, campaign_id)
    tap = EventTap()
    # When a delivery of the event, half way through its rejections, is overtaken by another that
    # finishes the whole action first (interleaved by hand: moto's transactions are not atomic
    # under threads; tests/e2e races them on DynamoDB Local)
    real_reject, overtaken = results.reject, []

    def overtaken_once(*args: Any, **kwargs: Any) -> Any:
        if not overtaken:
            overtaken.append(event)
            quality.evaluate(event)
        return real_reject(*args, **kwargs)

    monkeypatch.setattr(results, "reject", overtaken_once)
    quality.evaluate(event)
    # Then each result was rejected by one of them, and the outcome counts both, once
    [done] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert overtaken and done.outcome == {"rejected": 2, "returned": str(2 * cost)}
    assert Decimal(str(campaign_store.get(requester.id, campaign_id)["owed"])) == owed_before
    assert [e["detail-type"] for e in tap.drain()].count("result.rejected") == 2


def test_an_approve_all_cut_short_before_its_outcome_pays_once(requester, worker, monkeypatch):
    # Given an approveAll that approved, then died before noting it
    control = _task(requester.id, SECRET)
    rules = [_rule("controlAccuracy", "gte", 100, {"type": "approveAll"})]
    campaign_id, [job_id] = _campaign(requester.id, quality={"controlTasks": [control]}, qualityRules=rules)
    _kill_once(monkeypatch, quality.quality_store, "note_outcome")
    _submit_and_die(worker.id, job_id, SECRET)
    _, event = _unfinished(requester.id, campaign_id)
    # When the event comes again
    quality.evaluate(event)
    # Then the result was paid once and the outcome counts it
    [done] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert done.outcome == {"approved": 1}
    assert workers.me(worker.id).earnings.paid == "0.25 USD"


def test_the_market_sweep_finishes_an_action_nobody_came_back_to(
    requester, worker, frozen_clock, monkeypatch
):
    # Given a block rule killed right after its record was written, its event never delivered again
    rules = [_rule("skippedInRow", "gte", 1, {"type": "block", "reason": "skips"})]
    campaign_id, [job_id] = _campaign(requester.id, qualityRules=rules, maxResultsPerWorker=5, results=5)
    assignment = assignments.claim(worker.id, job_id, None, None, None)
    _kill_once(monkeypatch, quality, "_act")
    with pytest.raises(Killed):
        reviewing.release(worker.id, assignment.id)
    # When the sweep runs while whoever took it might still be at it: it waits
    assert sweeping.sweep_market()["quality_actions_finished"] == 0
    # Then, once the action is overdue, the sweep takes it, once
    frozen_clock.advance(minutes=6)
    assert sweeping.sweep_market()["quality_actions_finished"] == 1
    assert sweeping.sweep_market()["quality_actions_finished"] == 0
    [block] = quality.list_blocks(requester.id, ListQuery(limit=5), worker=worker.id, campaign=campaign_id)[0]
    [done] = quality.actions(requester.id, campaign_id, worker=None, after=None, limit=10)[0]
    assert done.outcome == {"block": block.id}
    with pytest.raises(errors.Forbidden, match="blocked"):
        assignments.claim(worker.id, job_id, None, None, None)
