"""Durable events: each is an outbox item of its change's own transaction, forwarded from the stream.

moto in-process: a failed transaction writes no event, a crash right after the commit still leaves
the event, a retried conditional request writes one event, and the forwarder puts each outbox item
on the bus with its id (twice delivered, twice the same id). tests/e2e/test_events_over_http.py
proves the same over the local stack's real stream.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from crowdtask import errors
from crowdtask.models.accounts import AccountCreateIn
from crowdtask.models.bonuses import BonusIn
from crowdtask.models.campaigns import CampaignIn
from crowdtask.models.events import CATALOGUE, ResultSubmitted, validate
from crowdtask.models.market import SubmitIn
from crowdtask.models.quality import BlockIn
from crowdtask.services import (
    accounts,
    assignments,
    bonuses,
    bulk_chunks,
    campaigns,
    lifecycle,
    quality,
    results,
)
from crowdtask.services.flows import reviewing
from crowdtask.store import dynamo, events, keys, outbox
from tests.support.eventbus import EventTap, forward
from tests.support.handlers import sample_event
from tests.support.infra import ROOT
from tests.support.market import answers, claim_and_submit, published_job


class Crash(Exception):
    """The process dies right after a transaction committed."""


def _outbox(kind: str | None = None) -> list[dict[str, Any]]:
    """Every outbox item in the table (of one type), oldest first."""
    found, start = [], None
    while True:
        kwargs: dict[str, Any] = {"TableName": dynamo.table(), "ConsistentRead": True}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = dynamo.client().scan(**kwargs)
        found += [dynamo.from_item(i) for i in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    items = [i for i in found if i.get("record_type") == "event" and (kind is None or i["type"] == kind)]
    return sorted(items, key=lambda item: item["id"])


def _crash_after_commit(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """Every transaction commits, then the process 'dies'; returns the transactions committed."""
    real = dynamo.transact
    committed: list[list[dict[str, Any]]] = []

    def commit_then_crash(operations: list[dict[str, Any]], **kwargs: Any) -> None:
        real(operations, **kwargs)
        committed.append(operations)
        raise Crash

    monkeypatch.setattr(dynamo, "transact", commit_then_crash)
    return committed


# ---------------------------------------------------------------- the item contract


def test_an_outbox_item_holds_the_fixed_contract(aws, frozen_clock):
    # When an event is written
    item = outbox.event_record("result.submitted", {"resultId": "r1", "gone": None}, "acc", "camp")
    outbox.write([dynamo.put_op(item)])
    # Then it holds exactly the contract's attributes
    [stored] = _outbox()
    assert set(stored) == set(
        [
            "pk",
            "sk",
            "record_type",
            "id",
            "type",
            "occurred_at",
            "account_id",
            "campaign_id",
            "data",
            "expire_at",
        ]
    )
    assert stored["pk"] == f"EVENT#{stored['id']}" and stored["sk"] == "EVENT"
    assert stored["record_type"] == "event" and stored["type"] == "result.submitted"
    assert stored["id"].startswith("evt_") and len(stored["id"]) == 30
    assert stored["occurred_at"] == "2026-03-14T03:14:15.000Z"
    assert (stored["account_id"], stored["campaign_id"], stored["data"]) == (
        "acc",
        "camp",
        {"resultId": "r1"},
    )
    assert stored["expire_at"] == int(frozen_clock.now.timestamp()) + 30 * 86400
    assert outbox.read_event(stored["id"]) == stored
    # an account event has no campaign at all
    assert "campaign_id" not in dynamo.from_item(
        dynamo.to_item(outbox.event_record("account.created", {}, "a"))
    )


def test_event_ids_sort_in_the_order_they_were_made_even_within_a_millisecond(frozen_clock):
    made = [outbox.new_event_id() for _ in range(500)]
    assert made == sorted(made) and len(set(made)) == 500
    frozen_clock.advance(milliseconds=1)
    assert outbox.new_event_id() > made[-1]


def test_ids_made_at_once_on_many_threads_are_all_different(frozen_clock):
    made: list[str] = []

    def make() -> None:
        made.extend(outbox.new_event_id() for _ in range(200))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1600


def test_a_derived_id_is_the_same_for_the_same_inputs(frozen_clock):
    moment = frozen_clock.now
    assert outbox.derived_event_id("operation.finished:op1", moment) == outbox.derived_event_id(
        "operation.finished:op1", moment
    )
    assert outbox.derived_event_id("operation.finished:op1", moment) != outbox.derived_event_id(
        "operation.finished:op2", moment
    )


# ---------------------------------------------------------------- in the same transaction


def _new_account(email: str = "jon@example.com") -> AccountCreateIn:
    return AccountCreateIn(email=email, password="long enough", role="requester")


def test_a_failed_transaction_writes_no_event(aws, frozen_clock):
    # Given an account
    accounts.create_account(_new_account())
    # When another is created with the same e-mail (its transaction fails its condition)
    with pytest.raises(errors.Conflict):
        accounts.create_account(_new_account("JON@example.com"))
    # Then only the first account's event exists
    assert len(_outbox("account.created")) == 1


def test_a_crash_right_after_the_commit_still_leaves_the_event(aws, frozen_clock, monkeypatch):
    # Given a process that dies right after each transaction commits
    committed = _crash_after_commit(monkeypatch)
    # When an account is created
    with pytest.raises(Crash):
        accounts.create_account(_new_account())
    # Then the event was part of the committed transaction, and is there
    [operations] = committed
    [event] = _outbox("account.created")
    assert {"Put": {"TableName": dynamo.table(), "Item": dynamo.to_item(event)}} in operations
    assert event["data"]["accountId"] == event["account_id"]


def _claim(worker_id: str, job_id: str) -> Any:
    return assignments.claim(worker_id, job_id, None, None, None)


def _claimed(worker_id: str, job_id: str, monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    committed = _crash_after_commit(monkeypatch)
    with pytest.raises(Crash):
        _claim(worker_id, job_id)
    return committed


def _submitted(worker_id: str, job_id: str, monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    assignment = _claim(worker_id, job_id)
    committed = _crash_after_commit(monkeypatch)
    with pytest.raises(Crash):
        reviewing.submit(worker_id, assignment.id, SubmitIn.model_validate(answers(assignment.tasks or [])))
    return committed


@pytest.mark.parametrize(
    ("kind", "act"),
    [("assignment.claimed", _claimed), ("result.submitted", _submitted)],
    ids=["claim", "submit"],
)
def test_a_worker_step_crashing_after_its_commit_keeps_its_event(
    requester, worker, monkeypatch, kind: str, act: Callable[..., list[list[dict[str, Any]]]]
):
    # Given a published job
    campaign_id, job_id = published_job(requester.id)
    # When the step commits, then the process dies before answering
    committed = act(worker.id, job_id, monkeypatch)
    # Then the step's event is in the outbox, the requester's, about the campaign
    [event] = _outbox(kind)
    assert (event["account_id"], event["campaign_id"], event["data"]["workerId"]) == (
        requester.id,
        campaign_id,
        worker.id,
    )
    assert any(
        op.get("Put", {}).get("Item", {}).get("id", {}).get("S") == event["id"] for op in committed[-1]
    )


def test_publishing_writes_its_event_with_the_money_it_froze(requester):
    campaign_id, _job = published_job(requester.id)
    [published] = _outbox("campaign.published")
    assert published["campaign_id"] == campaign_id and published["account_id"] == requester.id
    assert Decimal(published["data"]["frozen"]) > 0
    # and a campaign that is not published writes none
    draft = campaigns.create_campaign(
        requester.id, CampaignIn.model_validate({"name": "draft", "results": 1})
    )
    assert [e for e in _outbox("campaign.published") if e["campaign_id"] == draft.id] == []


def test_a_retried_approval_writes_one_event(requester, worker):
    # Given a result in review
    _, job_id = published_job(requester.id)
    result = claim_and_submit(worker.id, job_id)
    # When it is approved, and the same request comes again
    results.approve(requester.id, result.id, None)
    with pytest.raises(errors.Conflict):
        results.approve(requester.id, result.id, None)
    # Then one result.approved event exists
    [approved] = _outbox("result.approved")
    assert approved["data"]["resultId"] == result.id and approved["data"]["auto"] is False


def test_the_same_bonus_request_twice_writes_one_event(requester, worker):
    _, job_id = published_job(requester.id)
    claim_and_submit(worker.id, job_id)
    bonus = BonusIn(worker=worker.id, amount=Decimal("0.5"), reason="thanks")
    first, _ = bonuses.pay(requester.id, bonus, "key-1")
    again, created = bonuses.pay(requester.id, bonus, "key-1")
    assert (again.id, created) == (first.id, False)
    [paid] = _outbox("bonus.paid")
    assert paid["data"]["bonusId"] == first.id and paid["account_id"] == requester.id


def test_a_claim_refused_for_want_of_slots_writes_no_event(requester, worker):
    # Given a job of one result, taken
    _, job_id = published_job(requester.id, results=1)
    _claim(worker.id, job_id)
    # When the worker asks again (a conditional write that fails)
    with pytest.raises(errors.CrowdtaskError):
        _claim(worker.id, job_id)
    # Then there is one claim event
    assert len(_outbox("assignment.claimed")) == 1


# ---------------------------------------------------------------- the forwarder


def test_the_sample_stream_record_reaches_the_bus_with_its_id(aws):
    tap = EventTap()
    assert forward(sample_event("events_forwarder_outbox")["Records"]) == {"batchItemFailures": []}
    [event] = tap.drain()
    assert (event["source"], event["detail-type"]) == ("crowdtask", "result.submitted")
    assert event["detail"] == {
        "id": "evt_01KKN5CQTR0000000000000000",
        "type": "result.submitted",
        "timestamp": "2026-03-14T03:14:15.000Z",
        "account": "01JB0000000000000000000000",
        "campaign": "01JB0000000000000000000004",
        "data": {
            "resultId": "01JB0000000000000000000007",
            "workerId": "01JB0000000000000000000001",
            "jobId": "01JB0000000000000000000005",
            "campaignId": "01JB0000000000000000000004",
            "reviewBy": "2026-03-21T03:14:15",
        },
    }


def test_a_record_delivered_twice_carries_the_same_event_id(aws, frozen_clock):
    # Given an event committed by a service
    tap = EventTap()
    accounts.create_account(_new_account())
    records = tap.stream.new_records()
    # When the stream delivers its record twice (a retried batch)
    forward(records)
    forward(copy.deepcopy(records))
    # Then the bus got it twice, with one id: the one in the outbox
    delivered = tap.drain()
    [stored] = _outbox("account.created")
    assert [e["detail"]["id"] for e in delivered] == [stored["id"], stored["id"]]


def test_a_record_the_bus_refuses_is_reported_and_the_others_go(aws, monkeypatch):
    # Given two records, the bus refusing the second
    first = sample_event("events_forwarder_outbox")["Records"][0]
    second = copy.deepcopy(first)
    second["dynamodb"]["SequenceNumber"] = "111100000000000000000002"
    second["dynamodb"]["NewImage"]["id"] = {"S": "evt_01KKN5CQTR0000000000000001"}
    tap = EventTap()
    real = events.put_on_bus

    def refuse_second(detail: dict[str, Any]) -> None:
        if detail["id"].endswith("1"):
            raise events.NotPublished("refused")
        real(detail)

    monkeypatch.setattr(events, "put_on_bus", refuse_second)
    # Then the second is a batch item failure (retried from it), the first reached the bus
    assert forward([first, second]) == {"batchItemFailures": [{"itemIdentifier": "111100000000000000000002"}]}
    assert [e["detail"]["id"] for e in tap.drain()] == ["evt_01KKN5CQTR0000000000000000"]


def test_a_stream_record_that_is_no_event_is_skipped(aws):
    record = copy.deepcopy(sample_event("events_forwarder_outbox")["Records"][0])
    record["dynamodb"]["NewImage"]["record_type"] = {"S": "task"}
    tap = EventTap()
    assert forward([record]) == {"batchItemFailures": []}
    assert tap.drain() == []


def test_flows_end_of_an_operation_rewrites_one_event_when_done_again(aws, frozen_clock):
    item = {
        "account_id": "acc",
        "operation_id": "op1",
        "final_status": "SUCCESS",
        "success_count": 3,
        "failed_count": 0,
        "finished": "2026-03-14T03:14:15",
    }
    dynamo.put({"pk": keys.operation("acc", "op1")[0], "sk": keys.operation("acc", "op1")[1], **item})
    bulk_chunks.record_end(item, [])
    frozen_clock.advance(minutes=5)
    bulk_chunks.record_end(item, [])  # after a crash before `ended` was read back
    [finished] = _outbox("operation.finished")
    assert finished["data"]["successCount"] == 3 and finished["occurred_at"] == "2026-03-14T03:14:15.000Z"


# ---------------------------------------------------------------- the catalogue

EVENT_NAME = re.compile(
    r'"((?:account|dataset|dataset_task|operation|campaign|job|assignment|result|bonus|worker)\.[a-z_]+)"'
)


def _names_in_code() -> set[str]:
    services = ROOT / "layers/common/python/crowdtask/services"
    return {name for path in services.glob("*.py") for name in EVENT_NAME.findall(path.read_text())}


def test_every_event_the_code_writes_is_in_the_catalogue_and_every_entry_is_written():
    written = _names_in_code() | {t.event for t in lifecycle.TRANSITIONS.values()}
    assert written - set(CATALOGUE) == set()
    assert set(CATALOGUE) - written == {"webhook.test", "webhook.disabled"}  # the webhooks feature's


def test_the_openapi_document_has_one_webhook_per_event_type():
    document = json.loads((ROOT / "openapi.json").read_text())
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == set(CATALOGUE)
    body = document["webhooks"]["result.submitted"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    assert schema["required"] == ["type", "timestamp", "data"]
    assert schema["properties"]["type"]["const"] == "result.submitted"
    assert set(schema["properties"]["data"]["properties"]) == set(ResultSubmitted.model_fields)


def test_a_payload_the_catalogue_does_not_describe_is_refused():
    with pytest.raises(ValidationError, match="surprise"):
        validate("account.created", {"accountId": "a", "role": "worker", "surprise": 1})
    with pytest.raises(KeyError):
        validate("account.exploded", {})


# ---------------------------------------------------------------- more services, crashing after the commit


def _result_in_review(requester_id: str, worker_id: str) -> str:
    _, job_id = published_job(requester_id)
    return str(claim_and_submit(worker_id, job_id).id)


def _prepare_approve(requester_id: str, worker_id: str) -> Callable[[], Any]:
    result_id = _result_in_review(requester_id, worker_id)
    return lambda: results.approve(requester_id, result_id, None)


def _prepare_reject(requester_id: str, worker_id: str) -> Callable[[], Any]:
    result_id = _result_in_review(requester_id, worker_id)
    return lambda: results.reject(requester_id, result_id, "wrong")


def _prepare_release(requester_id: str, worker_id: str) -> Callable[[], Any]:
    _, job_id = published_job(requester_id)
    assignment = _claim(worker_id, job_id)
    return lambda: assignments.release(worker_id, assignment.id)


def _prepare_pause(requester_id: str, worker_id: str) -> Callable[[], Any]:
    campaign_id, _ = published_job(requester_id)
    return lambda: campaigns.pause(requester_id, campaign_id)


def _prepare_bonus(requester_id: str, worker_id: str) -> Callable[[], Any]:
    _result_in_review(requester_id, worker_id)
    bonus = BonusIn(worker=worker_id, amount=Decimal("0.25"), reason="thanks")
    return lambda: bonuses.pay(requester_id, bonus, "bonus-key")


def _prepare_block(requester_id: str, worker_id: str) -> Callable[[], Any]:
    return lambda: quality.create_block(requester_id, BlockIn(worker=worker_id, reason="spam"))


@pytest.mark.parametrize(
    ("kind", "prepare"),
    [
        ("result.approved", _prepare_approve),
        ("result.rejected", _prepare_reject),
        ("assignment.released", _prepare_release),
        ("campaign.paused", _prepare_pause),
        ("bonus.paid", _prepare_bonus),
        ("worker.blocked", _prepare_block),
    ],
)
def test_each_service_commits_its_event_with_its_change(
    requester, worker, monkeypatch, kind: str, prepare: Callable[[str, str], Callable[[], Any]]
):
    # Given what the step acts on
    act = prepare(requester.id, worker.id)
    before = len(_outbox(kind))
    # When the step commits and the process dies before it answers
    committed = _crash_after_commit(monkeypatch)
    with pytest.raises(Crash):
        act()
    # Then its event is in the outbox: written by the very transaction that committed the change
    [event] = _outbox(kind)[before:]
    written = [op["Put"]["Item"].get("id", {}).get("S") for op in committed[0] if "Put" in op]
    assert event["id"] in written and len(committed[0]) > 1
    assert event["account_id"] == requester.id
    validate(kind, event["data"])
