"""Webhooks over the local stack: an event committed to the outbox reaches a receiver on the loopback
through the table's stream, the fan-out and the delivery queue, signed (verified with
`standardwebhooks`); a receiver failing twice gets the third attempt with the same webhook-id; 410
disables a subscription and its `webhook.disabled` event reaches another one; duplicated messages
racing on DynamoDB Local send one attempt."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from crowdtask import clock
from crowdtask.store import dynamo, outbox
from tests.e2e.conftest import Session
from tests.support.stack import RunningStack
from tests.support.webhooks import Receiver, receiver, verify, wait_for

pytestmark = pytest.mark.e2e


def _subscribe(requester: Session, url: str, events: list[str]) -> dict[str, Any]:
    created = requester.call("POST", "/webhooks", json={"url": url, "events": events})
    assert created.status_code == 201, created.text
    return created.json()


def _commit(api: RunningStack, requester: Session, type_: str = "result.submitted") -> dict[str, Any]:
    """An event written to the outbox, as the transaction of a state change writes it."""
    event = outbox.event_record(type_, {"resultId": "R1", "state": "InReview"}, requester.id, at=clock.now())
    api.client("dynamodb").put_item(TableName=api.info["tables"]["MainTable"], Item=dynamo.to_item(event))
    return event


def _succeeded(requester: Session, webhook_id: str) -> list[dict[str, Any]]:
    found = requester.call("GET", f"/webhooks/{webhook_id}/deliveries?status=succeeded")
    return list(found.json()["deliveries"])


def _received(endpoint: Receiver, count: int, seconds: float = 60) -> None:
    assert wait_for(lambda: len(endpoint.received) >= count, seconds), (
        f"{len(endpoint.received)} of {count} requests arrived"
    )


def test_a_committed_event_reaches_a_receiver_on_the_loopback_signed(api, requester):
    with receiver() as endpoint:
        hook = _subscribe(requester, endpoint.url, ["result.submitted"])
        event = _commit(api, requester)
        _received(endpoint, 1)
        [request] = endpoint.received
    payload = verify(hook["secret"], request)
    assert request.headers["webhook-id"] == event["id"]
    assert payload == {"type": "result.submitted", "timestamp": event["occurred_at"], "data": event["data"]}
    deliveries = requester.call("GET", f"/webhooks/{hook['id']}/deliveries").json()["deliveries"]
    assert wait_for(
        lambda: requester.call("GET", f"/webhooks/{hook['id']}/deliveries?status=succeeded").json()[
            "deliveries"
        ]
    )
    assert [d["event"] for d in deliveries] == [event["id"]]


def test_publishing_a_campaign_reaches_its_subscriber_as_campaign_published(api, requester):
    task = requester.call("POST", "/tasks", json={"name": "t"}).json()["id"]
    job = requester.call("POST", "/jobs", json={"name": "j"}).json()["id"]
    assert requester.call("PUT", f"/jobs/{job}/tasks", json=[task]).status_code == 200
    made = requester.call("POST", "/campaigns", json={"name": "c", "workerPayment": 0.1, "results": 1})
    campaign = made.json()["id"]
    assert requester.call("PUT", f"/campaigns/{campaign}/jobs", json=[job]).status_code == 200
    with receiver() as endpoint:
        body = {"url": endpoint.url, "events": ["campaign.published"], "campaign": campaign}
        created = requester.call("POST", "/webhooks", json=body)
        assert created.status_code == 201, created.text
        assert requester.call("POST", f"/campaigns/{campaign}/publish").status_code == 200
        _received(endpoint, 1)
        [request] = endpoint.received
    payload = verify(created.json()["secret"], request)
    assert payload["type"] == "campaign.published" and payload["data"]["campaignId"] == campaign
    assert request.headers["webhook-id"].startswith("evt_")


def test_a_receiver_failing_twice_gets_the_third_attempt_with_the_same_id(api, requester):
    with receiver(500, 503) as endpoint:
        hook = _subscribe(requester, endpoint.url, ["result.submitted"])
        event = _commit(api, requester)
        _received(endpoint, 3, seconds=90)
        first, second, third = endpoint.received[:3]
        assert {r.headers["webhook-id"] for r in (first, second, third)} == {event["id"]}
        assert first.body == second.body == third.body
        verify(hook["secret"], third)
        assert wait_for(lambda: _succeeded(requester, hook["id"]), 20)
        [delivery] = _succeeded(requester, hook["id"])
        assert [a["statusCode"] for a in delivery["attempts"]] == [500, 503, 200]
        assert len(endpoint.received) == 3


def test_410_disables_and_the_webhook_disabled_event_reaches_another_subscription(api, requester):
    with receiver(410) as gone, receiver() as watcher:
        doomed = _subscribe(requester, gone.url, ["result.submitted"])
        watching = _subscribe(requester, watcher.url, ["webhook.disabled"])
        _commit(api, requester)
        _received(gone, 1)
        _received(watcher, 1)
        payload = verify(watching["secret"], watcher.received[0])
    assert payload["type"] == "webhook.disabled" and payload["data"]["webhookId"] == doomed["id"]
    found = requester.call("GET", f"/webhooks/{doomed['id']}").json()
    assert found["enabled"] is False and "410" in found["disabledReason"]


def test_duplicated_messages_racing_send_the_attempt_once(api, requester):
    """The same attempt queued eight times at once (a redelivered record, a sweep beside the message):
    the conditional claim on DynamoDB Local lets one through."""
    with receiver(delay=0.5) as endpoint:
        hook = _subscribe(requester, endpoint.url, ["result.submitted"])
        event = _commit(api, requester)
        _received(endpoint, 1)
        listed = requester.call("GET", f"/webhooks/{hook['id']}/deliveries").json()["deliveries"]
        [delivery] = listed
        assert wait_for(lambda: _succeeded(requester, hook["id"]), 20)
        again = requester.call("POST", f"/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 202, again.text
        queue_url = api.client("sqs").get_queue_url(QueueName=_queue_name(api))["QueueUrl"]
        message = json.dumps(
            {"account": requester.id, "webhook": hook["id"], "delivery": delivery["id"], "attempt": 1}
        )
        sqs = api.client("sqs")
        threads = [
            threading.Thread(target=sqs.send_message, kwargs={"QueueUrl": queue_url, "MessageBody": message})
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _received(endpoint, 2)
        assert wait_for(lambda: _succeeded(requester, hook["id"]), 20)
        wait_for(lambda: False, 3)  # time for any duplicate to arrive
        assert len(endpoint.received) == 2
        assert {r.headers["webhook-id"] for r in endpoint.received} == {event["id"]}


def _queue_name(api: RunningStack) -> str:
    urls = api.client("sqs").list_queues().get("QueueUrls", [])
    [url] = [u for u in urls if "WebhookDeliveryQueue" in u]
    return url.rsplit("/", 1)[1]
