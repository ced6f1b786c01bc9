"""Dawid-Skene on request over the handlers: POST /campaigns/{id}/aggregations queues an AGGREGATION
operation, the aggregation worker runs it from the queue (redelivery included), GET /operations/{id}
says how it ended and GET /campaigns/{id}/aggregates?method=dawid-skene has its answers; a run that
keeps failing reaches the dead-letter queue, whose handler says FAIL."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from crowdtask.models.campaigns import CampaignIn
from crowdtask.models.jobs import JobIn
from crowdtask.models.market import SubmitIn
from crowdtask.models.tasks import TaskIn
from crowdtask.services import aggregations, assignments, campaigns, dawid_skene, jobs
from crowdtask.services import tasks as task_service
from crowdtask.services.flows import publishing, reviewing
from crowdtask.store import aggregates as aggregate_store
from tests.support.accounts import make_account
from tests.support.aggregations import (
    DEAD_LETTER_QUEUE_NAME,
    QUEUE_NAME,
    deliver,
    run_aggregation_dead_letters,
    run_aggregation_worker,
)
from tests.support.handlers import invoke
from tests.support.market import CHOICE, PICTURE

if TYPE_CHECKING:
    from tests.support.accounts import TestAccount

TASKS = 12


class World:
    """A campaign of two jobs: twelve tasks ann and bob answer truly and eve always wrongly, and one
    task only ann and eve answered (a tie for a majority vote, not for Dawid-Skene: eve is found out)."""

    def __init__(self, requester: TestAccount):
        self.requester = requester

        def make(n: object) -> str:
            body = {"name": f"task {n}", "components": [PICTURE, CHOICE]}
            return task_service.create_task(requester.id, TaskIn.model_validate(body)).id

        self.tasks = [make(n) for n in range(TASKS)]
        self.tie = make("tie")
        self.truth = {task: "Yes" if n % 3 else "No" for n, task in enumerate(self.tasks)}
        many = jobs.create_job(requester.id, JobIn(name="many"), self.tasks).id
        one = jobs.create_job(requester.id, JobIn(name="one"), [self.tie]).id
        body = {"name": "answers", "workerPayment": Decimal("0.1"), "results": 3}
        campaign = CampaignIn.model_validate(body)
        self.campaign = campaigns.create_campaign(requester.id, campaign, [many, one]).id
        publishing.publish(requester.id, self.campaign)
        self.observations: list[tuple[str, str, str]] = []
        ann, bob, eve = (make_account("worker") for _ in range(3))
        for worker, honest in ((ann, True), (bob, True), (eve, False)):
            self.submit(worker, many, {t: self.answer(t, honest) for t in self.tasks})
        self.submit(ann, one, {self.tie: "Yes"})
        self.submit(eve, one, {self.tie: "No"})

    def answer(self, task: str, honest: bool) -> str:
        truth = self.truth[task]
        return truth if honest else {"Yes": "No", "No": "Yes"}[truth]

    def submit(self, worker: TestAccount, job: str, choices: dict[str, str]) -> None:
        assignment = assignments.claim(worker.id, job, self.campaign, None, None)
        entries = [
            {"task": t.id, "components": [{"result": None}, {"result": {"selectedOption": choices[t.id]}}]}
            for t in assignment.tasks or []
        ]
        reviewing.submit(worker.id, assignment.id, SubmitIn.model_validate({"taskResults": entries}))
        for t in assignment.tasks or []:
            self.observations.append((t.id, worker.id, f'{{"selectedOption":"{choices[t.id]}"}}'))

    def start(self) -> dict[str, Any]:
        reply = invoke(
            "answers",
            "answers_start_aggregation",
            token=self.requester.token,
            path_params={"id": self.campaign},
            body={"method": "dawid-skene"},
        )
        assert reply.status == 202, reply.body
        return reply.body

    def operation(self, operation_id: str) -> dict[str, Any]:
        reply = invoke(
            "operations", "operations_get", token=self.requester.token, path_params={"id": operation_id}
        )
        assert reply.status == 200, reply.body
        return reply.body

    def aggregates(self, method: str | None = "dawid-skene") -> dict[str, dict[str, Any]]:
        query = {"limit": ["100"], **({"method": [method]} if method else {})}
        reply = invoke(
            "answers",
            "answers_campaign_aggregates",
            token=self.requester.token,
            path_params={"id": self.campaign},
            query=query,
        )
        assert reply.status == 200, reply.body
        return {a["task"]: a for a in reply.body["aggregates"]}


@pytest.fixture
def world(requester, aggregation_queues) -> World:
    return World(requester)


def _work(queues: Any) -> tuple[int, dict[str, Any]]:
    return deliver(queues.url, QUEUE_NAME, run_aggregation_worker)


def test_a_run_is_an_operation_whose_answers_are_dawid_skenes(world, aggregation_queues):
    # Given a campaign's results, when the requester asks for Dawid-Skene
    started = world.start()
    assert started["type"] == "AGGREGATION"
    assert started["status"] == "PENDING"
    # and the aggregation worker takes the queued run
    assert _work(aggregation_queues) == (1, {"batchItemFailures": []})
    # Then the operation succeeded, having read the campaign's five results
    ended = world.operation(started["id"])
    assert ended["status"] == "SUCCESS", ended
    # and the answers are those of Dawid-Skene over the same observations
    expected = dawid_skene.fit(world.observations).labels
    found = world.aggregates()
    assert set(found) == {*world.tasks, world.tie}
    for task, aggregate in found.items():
        picture, choice = aggregate["components"]
        assert picture is None  # a picture is shown, not answered
        label = expected[task]
        assert choice["result"] == {"selectedOption": label.answer.split('"')[3]}
        assert choice["confidence"] == pytest.approx(label.confidence, abs=1e-6)
        assert choice["votes"] == label.votes
    # which is the truth on every task, eve's answers counting for their opposite
    assert all(found[t]["components"][1]["result"]["selectedOption"] == world.truth[t] for t in world.tasks)
    assert found[world.tie]["components"][1]["result"] == {"selectedOption": "Yes"}
    assert found[world.tie]["components"][1]["confidence"] > 0.9
    assert found[world.tie]["answers"] == 2
    # where the live majority is a coin toss
    live_tie = world.aggregates(method=None)[world.tie]["components"][1]
    assert live_tie["confidence"] == pytest.approx(0.5)


def test_a_redelivered_run_runs_again_and_the_operation_ends_once(world, aggregation_queues, monkeypatch):
    # Given a run whose worker stored the answers, then died before ending the operation
    started = world.start()
    end = aggregations.operation_store.run_ended
    calls = {"n": 0}

    def dies_once(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the container went away")
        return end(*args, **kwargs)

    monkeypatch.setattr(aggregations.operation_store, "run_ended", dies_once)
    delivered, answer = _work(aggregation_queues)
    assert delivered == 1
    assert len(answer["batchItemFailures"]) == 1
    assert world.operation(started["id"])["status"] == "RUNNING"
    first = world.aggregates()
    # When the message comes again, it runs again: the same answers, and the operation ends
    assert _work(aggregation_queues) == (1, {"batchItemFailures": []})
    ended = world.operation(started["id"])
    assert ended["status"] == "SUCCESS"
    assert world.aggregates() == first
    # and a copy of the message delivered once more ends nothing twice and writes nothing
    writes: list[Any] = []
    monkeypatch.setattr(aggregate_store, "put_computed", lambda *a: writes.append(a))
    event_of_one = {
        "Records": [
            {
                "messageId": "again",
                "body": f'{{"kind":"aggregation.run","account":"{world.requester.id}",'
                f'"operation":"{started["id"]}"}}',
                "receiptHandle": "r",
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{QUEUE_NAME}",
                "awsRegion": "us-east-1",
            }
        ]
    }
    assert run_aggregation_worker(event_of_one) == {"batchItemFailures": []}
    assert writes == []
    assert world.operation(started["id"]) == ended
    assert calls["n"] == 2  # ended by the second delivery only


def test_a_run_that_keeps_failing_reaches_the_dead_letter_queue_and_says_fail(
    world, aggregation_queues, monkeypatch
):
    # Given a run that fails every time
    started = world.start()

    def broken(*_args: Any) -> None:
        raise RuntimeError("the table is down")

    monkeypatch.setattr(aggregate_store, "put_computed", broken)
    # When it is delivered as often as the queue's redrive allows
    tries = 0
    while (found := _work(aggregation_queues))[0]:
        tries += 1
        assert len(found[1]["batchItemFailures"]) == 1
        assert world.operation(started["id"])["status"] == "RUNNING"
    assert tries == 3  # template.yaml: maxReceiveCount
    # Then it is on the dead-letter queue, whose handler ends the operation as FAIL
    delivered, answer = deliver(
        aggregation_queues.dead_letter_url, DEAD_LETTER_QUEUE_NAME, run_aggregation_dead_letters
    )
    assert (delivered, answer) == (1, {"batchItemFailures": []})
    failed = world.operation(started["id"])
    assert failed["status"] == "FAIL"
    # and nothing was stored for the method
    assert world.aggregates() == {}
