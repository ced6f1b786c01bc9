"""Webhook fan-out and delivery with moto and a receiver on the loopback: signed requests (verified with
`standardwebhooks`), the retry schedule on a controllable clock, Retry-After, 410 and the 5-day disable,
rotation, redelivery, delivery-time address checks, and nothing lost or doubled under redelivery,
duplicates and a crash half way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from crowdtask import outbound
from crowdtask.config import settings
from crowdtask.models.webhooks import WebhookIn
from crowdtask.services import webhooks
from crowdtask.store import dynamo
from crowdtask.store import webhooks as webhook_store
from tests.support.infra import TABLE_NAMES
from tests.support.webhooks import (
    VerificationError,
    outbox_item,
    receiver,
    record_enqueued,
    run_delivery,
    run_fan_out,
    run_sweep,
    stream_event,
    verify,
)


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch):
    """The local stack's allowance: http to loopback addresses."""
    monkeypatch.setenv("ALLOW_LOOPBACK_WEBHOOKS", "true")
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture
def enqueued(monkeypatch, aws):
    return record_enqueued(monkeypatch)


def _subscribe(account_id: str, url: str, events: list[str] | None = None, campaign: str | None = None):
    return webhooks.create(account_id, WebhookIn(url=url, events=events or ["*"], campaign=campaign))


def _commit_event(account_id: str, type_: str = "result.submitted", **data: Any) -> dict[str, Any]:
    """An event committed to the outbox and read from the stream by the fan-out: the event."""
    from crowdtask import clock

    event = webhooks.new_event(
        type_, {"resultId": "R1", "state": "InReview", **data}, account_id, at=clock.now()
    )
    item = outbox_item(event)
    dynamo.put(item)
    answer = run_fan_out(stream_event(item))
    assert answer == {"batchItemFailures": []}
    return event


def _deliver_all(enqueued) -> list[tuple[dict[str, Any], int]]:
    """Run the delivery worker on what is queued now; what the attempts queued in turn."""
    messages = [message for message, _ in enqueued.take()]
    answer = run_delivery(messages)
    assert answer == {"batchItemFailures": []}
    return enqueued.take()


def _delivery(account_id: str, webhook_id: str) -> dict[str, Any]:
    page = webhook_store.page_deliveries(account_id, webhook_id, _query())
    assert len(page.items) == 1
    return page.items[0]


def _query():
    from crowdtask.models.listing import ListQuery

    return ListQuery(
        order="id", descending=True, limit=100, after=None, before=None, search=frozenset(), equals={}
    )


def _outbox_events(type_: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=TABLE_NAMES["MainTable"])["Items"]
    found = [dynamo.from_item(i) for i in items]
    return [i for i in found if i.get("record_type") == "event" and i.get("type") == type_]


# ---------------------------------------------------------------- a signed request for a committed event


def test_a_committed_event_reaches_the_subscriber_signed(requester, loopback, enqueued, frozen_clock):
    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url, ["result.submitted"])
        event = _commit_event(requester.id)
        assert [(m["attempt"], delay) for m, delay in enqueued.sent] == [(0, 0)]
        assert _deliver_all(enqueued) == []
        [request] = endpoint.received
    payload = verify(hook.secret, request, frozen_clock.now)
    assert payload == {"type": "result.submitted", "timestamp": event["occurred_at"], "data": event["data"]}
    assert request.headers["webhook-id"] == event["id"]
    assert request.headers["webhook-timestamp"] == str(int(frozen_clock.now.timestamp()))
    delivery = _delivery(requester.id, hook.id)
    assert (delivery["state"], delivery["attempt"], delivery["status_code"]) == ("succeeded", 1, 200)


def test_only_matching_subscriptions_of_the_events_account_get_it(requester, loopback, enqueued):
    from tests.support.accounts import make_account

    other = make_account(balance=0)
    with receiver() as endpoint:
        wanted = _subscribe(requester.id, endpoint.url, ["result.submitted"])
        _subscribe(requester.id, endpoint.url, ["campaign.finished"])
        _subscribe(requester.id, endpoint.url, ["*"], campaign=None)
        _subscribe(other.id, endpoint.url, ["*"])
        _commit_event(requester.id)
        assert len(enqueued.sent) == 2
        _deliver_all(enqueued)
        assert len(endpoint.received) == 2
    assert _delivery(requester.id, wanted.id)["state"] == "succeeded"


def test_a_redelivered_stream_record_never_doubles_the_delivery(requester, loopback, enqueued):
    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        event = _commit_event(requester.id)
        _deliver_all(enqueued)
        # the same stream record again, after the delivery was sent
        run_fan_out(stream_event(outbox_item(event)))
        assert enqueued.sent == []
        assert len(endpoint.received) == 1
    _delivery(requester.id, hook.id)


def test_stream_records_of_no_outbox_event_are_skipped_and_the_events_beside_them_fan_out(
    requester, loopback, enqueued
):
    from crowdtask import clock

    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        event = webhooks.new_event("result.submitted", {"resultId": "R1"}, requester.id, at=clock.now())
        dynamo.put(outbox_item(event))
        # Given a batch where the event sits between an item that is no event, an item that only calls
        # itself one (its key is not an outbox key) and a removal (no new image), as the local runner
        # may pass them (the event source's filter does not on AWS)
        task = {"pk": f"ACCOUNT#{requester.id}", "sk": "TASK#T1", "record_type": "task", "name": "t"}
        posing = {**outbox_item(event), "pk": f"ACCOUNT#{requester.id}", "sk": "NOTE#1"}
        batch = stream_event(task, outbox_item(event), posing)
        removal = stream_event(outbox_item(event), event_name="REMOVE")["Records"][0]
        del removal["dynamodb"]["NewImage"]
        batch["Records"].append(removal)
        # When the fan-out reads it, nothing fails and only the event makes a delivery
        assert run_fan_out(batch) == {"batchItemFailures": []}
        assert [m["webhook"] for m, _ in enqueued.sent] == [hook.id]
        _deliver_all(enqueued)
        assert [r.headers["webhook-id"] for r in endpoint.received] == [event["id"]]


def test_a_crash_between_writing_the_delivery_and_queueing_it_loses_nothing(
    requester, loopback, enqueued, monkeypatch
):
    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        event = webhooks.new_event("result.submitted", {"resultId": "R1"}, requester.id, at=_now())
        item = outbox_item(event)
        dynamo.put(item)
        real = webhook_store.enqueue
        monkeypatch.setattr(webhook_store, "enqueue", _fails_once(real))
        # When the fan-out crashes after writing the delivery, the record is reported failed
        first = run_fan_out(stream_event(item))
        assert len(first["batchItemFailures"]) == 1
        # and its retry queues the delivery that was written
        assert run_fan_out(stream_event(item)) == {"batchItemFailures": []}
        _deliver_all(enqueued)
        assert len(endpoint.received) == 1
    assert _delivery(requester.id, hook.id)["state"] == "succeeded"


def _now():
    from crowdtask import clock

    return clock.now()


def _fails_once(real):
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected crash")
        return real(*args, **kwargs)

    return flaky


# ---------------------------------------------------------------- retries


def test_failures_are_retried_on_the_schedule_with_the_same_id_and_body(
    requester, loopback, enqueued, frozen_clock
):
    with receiver(500, 503) as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        _commit_event(requester.id)
        # attempt 1 fails: the next is queued ~5 s on
        [(message, delay)] = _deliver_all(enqueued)
        assert message["attempt"] == 1 and 4 <= delay <= 6
        frozen_clock.advance(seconds=delay)
        enqueued.sent.append((message, delay))
        # attempt 2 fails: the next ~5 min on
        [(message, delay)] = _deliver_all(enqueued)
        assert message["attempt"] == 2 and 240 <= delay <= 360
        frozen_clock.advance(seconds=delay)
        enqueued.sent.append((message, delay))
        # attempt 3 succeeds
        assert _deliver_all(enqueued) == []
        ids = {r.headers["webhook-id"] for r in endpoint.received}
        bodies = {r.body for r in endpoint.received}
        assert len(endpoint.received) == 3 and len(ids) == 1 and len(bodies) == 1
        verify(hook.secret, endpoint.received[-1], frozen_clock.now)
    delivery = _delivery(requester.id, hook.id)
    assert delivery["state"] == "succeeded" and delivery["attempt"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]


def test_the_whole_schedule_then_the_delivery_fails(requester, loopback, enqueued, frozen_clock):
    expected = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    waits = []
    with receiver(*([500] * 10)) as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        _commit_event(requester.id)
        queued = _deliver_all(enqueued)
        for _ in expected:
            delivery = _delivery(requester.id, hook.id)
            assert delivery["state"] == "pending"
            wait = (_parse(delivery["next_attempt_at"]) - frozen_clock.now).total_seconds()
            waits.append(wait)
            if queued:  # a short wait rides on the message's delay
                assert queued[0][1] == pytest.approx(wait, abs=1)
                frozen_clock.advance(seconds=queued[0][1])
                enqueued.sent.extend(queued)
            else:  # a long one on the sweep
                frozen_clock.advance(seconds=wait - 1)
                assert run_sweep() == {"webhookDeliveriesEnqueued": 0}
                frozen_clock.advance(seconds=2)
                assert run_sweep() == {"webhookDeliveriesEnqueued": 1}
            queued = _deliver_all(enqueued)
        assert len(endpoint.received) == 10
    delivery = _delivery(requester.id, hook.id)
    assert (delivery["state"], delivery["attempt"]) == ("failed", 10)
    for wait, planned in zip(waits, expected, strict=True):
        assert 0.8 * planned - 1 <= wait <= 1.2 * planned + 1


def _parse(text: str):
    from crowdtask import clock

    return clock.parse(text)


def test_retry_after_is_honoured(requester, loopback, enqueued, frozen_clock):
    with receiver((429, {"Retry-After": "120"}), (503, {"Retry-After": "3600"})) as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        _commit_event(requester.id)
        [(message, delay)] = _deliver_all(enqueued)
        assert delay == 120
        frozen_clock.advance(seconds=120)
        enqueued.sent.append((message, delay))
        # an hour is longer than SQS delays: the sweep sends it when it is due
        assert _deliver_all(enqueued) == []
        delivery = _delivery(requester.id, hook.id)
        assert _parse(delivery["next_attempt_at"]) - frozen_clock.now == timedelta(hours=1)
        frozen_clock.advance(minutes=59)
        assert run_sweep()["webhookDeliveriesEnqueued"] == 0
        frozen_clock.advance(minutes=2)
        assert run_sweep()["webhookDeliveriesEnqueued"] == 1
        _deliver_all(enqueued)
        assert len(endpoint.received) == 3
    assert _delivery(requester.id, hook.id)["state"] == "succeeded"


# ---------------------------------------------------------------- disabling


def test_410_disables_the_subscription_and_emits_webhook_disabled(requester, loopback, enqueued):
    with receiver(410) as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        _commit_event(requester.id)
        assert _deliver_all(enqueued) == []
        assert len(endpoint.received) == 1
    found = webhooks.get(requester.id, hook.id)
    assert found.enabled is False and "410" in (found.disabledReason or "")
    assert _delivery(requester.id, hook.id)["state"] == "failed"
    [disabled] = _outbox_events("webhook.disabled")
    assert disabled["account_id"] == requester.id and disabled["data"]["webhookId"] == hook.id
    assert disabled["id"].startswith("evt_")
    # a later event is not delivered to it
    _commit_event(requester.id)
    assert enqueued.sent == []


def test_failing_for_five_days_disables_the_subscription_once(requester, loopback, enqueued, frozen_clock):
    with receiver(*([500] * 50)) as endpoint:
        hook = _subscribe(requester.id, endpoint.url, ["result.submitted"])
        _commit_event(requester.id)
        _deliver_all(enqueued)
        assert webhooks.get(requester.id, hook.id).failingSince is not None
        frozen_clock.advance(days=4, hours=23)
        _commit_event(requester.id)
        _deliver_all(enqueued)
        assert webhooks.get(requester.id, hook.id).enabled is True
        frozen_clock.advance(hours=1)
        _commit_event(requester.id)
        _deliver_all(enqueued)
        assert len(endpoint.received) == 3
    found = webhooks.get(requester.id, hook.id)
    assert found.enabled is False and "5 days" in (found.disabledReason or "")
    assert len(_outbox_events("webhook.disabled")) == 1


def test_a_success_ends_the_failing_period(requester, loopback, enqueued, frozen_clock):
    with receiver(500, 200, 500) as endpoint:
        hook = _subscribe(requester.id, endpoint.url, ["result.submitted"])
        _commit_event(requester.id)
        _deliver_all(enqueued)
        frozen_clock.advance(days=3)
        _commit_event(requester.id)
        _deliver_all(enqueued)  # succeeds
        assert webhooks.get(requester.id, hook.id).failingSince is None
        frozen_clock.advance(days=3)
        _commit_event(requester.id)
        _deliver_all(enqueued)
        assert len(endpoint.received) == 3
    assert webhooks.get(requester.id, hook.id).enabled is True


# ---------------------------------------------------------------- rotation and redelivery


def test_after_a_rotation_both_secrets_verify_for_24_hours_then_only_the_new(
    requester, loopback, enqueued, frozen_clock
):
    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        rotated = webhooks.rotate_secret(requester.id, hook.id)
        assert rotated.secret != hook.secret
        _commit_event(requester.id)
        _deliver_all(enqueued)
        during = endpoint.received[-1]
        verify(hook.secret, during, frozen_clock.now)
        verify(rotated.secret, during, frozen_clock.now)
        frozen_clock.advance(hours=24, seconds=1)
        _commit_event(requester.id)
        _deliver_all(enqueued)
        after = endpoint.received[-1]
        verify(rotated.secret, after, frozen_clock.now)
        with pytest.raises(VerificationError):
            verify(hook.secret, after, frozen_clock.now)
        assert len(after.headers["webhook-signature"].split(" ")) == 1


def test_redelivery_sends_the_same_event_again(requester, loopback, enqueued, frozen_clock):
    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        _commit_event(requester.id)
        _deliver_all(enqueued)
        delivery = _delivery(requester.id, hook.id)
        again = webhooks.redeliver(requester.id, hook.id, delivery["id"])
        assert again.status == "pending"
        _deliver_all(enqueued)
        first, second = endpoint.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
    verify(hook.secret, second, frozen_clock.now)
    delivery = _delivery(requester.id, hook.id)
    assert (delivery["state"], delivery["attempt"]) == ("succeeded", 2)


# ---------------------------------------------------------------- duplicates, crashes, slow endpoints


def test_a_duplicated_message_sends_the_attempt_once(requester, loopback, enqueued):
    # (moto's conditional writes are not atomic across threads: the concurrent case runs in
    # tests/e2e/test_webhooks_over_http.py, on DynamoDB Local)
    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        _commit_event(requester.id)
        [(message, _)] = enqueued.take()
        assert run_delivery([message]) == {"batchItemFailures": []}
        assert run_delivery([dict(message)]) == {"batchItemFailures": []}  # stale: dropped
        assert len(endpoint.received) == 1
    assert _delivery(requester.id, hook.id)["attempt"] == 1


def test_a_crash_after_sending_sends_again_with_the_same_id_once_the_lease_ends(
    requester, loopback, enqueued, frozen_clock, monkeypatch
):
    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        _commit_event(requester.id)
        [(message, _)] = enqueued.take()
        monkeypatch.setattr(webhook_store, "record_attempt", _fails_once(webhook_store.record_attempt))
        # the worker crashes between the send and its record: the message comes back
        assert len(run_delivery([message])["batchItemFailures"]) == 1
        # while the lease holds, the message is held off; after, the attempt is sent again
        assert len(run_delivery([message])["batchItemFailures"]) == 1
        frozen_clock.advance(seconds=webhooks.LEASE.total_seconds() + 1)
        assert run_delivery([message]) == {"batchItemFailures": []}
        first, second = endpoint.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert _delivery(requester.id, hook.id)["state"] == "succeeded"


def test_a_crash_whose_message_is_lost_too_is_sent_again_by_the_sweep(
    requester, loopback, enqueued, frozen_clock, monkeypatch
):
    with receiver() as endpoint:
        hook = _subscribe(requester.id, endpoint.url)
        _commit_event(requester.id)
        [(message, _)] = enqueued.take()
        monkeypatch.setattr(webhook_store, "record_attempt", _fails_once(webhook_store.record_attempt))
        assert (
            len(run_delivery([message])["batchItemFailures"]) == 1
        )  # crashed; its message is never seen again
        frozen_clock.advance(seconds=(webhooks.LEASE + webhooks.BACKSTOP).total_seconds() - 1)
        assert run_sweep() == {"webhookDeliveriesEnqueued": 0}  # the lease (and a margin) first
        frozen_clock.advance(seconds=2)
        assert run_sweep() == {"webhookDeliveriesEnqueued": 1}
        assert _deliver_all(enqueued) == []
        first, second = endpoint.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    delivery = _delivery(requester.id, hook.id)
    assert delivery["state"] == "succeeded" and "due_pk" not in delivery


def test_a_slow_endpoint_does_not_delay_another(requester, loopback, enqueued):
    import time

    with receiver(delay=2.0) as slow, receiver() as fast:
        _subscribe(requester.id, slow.url)
        _subscribe(requester.id, fast.url)
        _commit_event(requester.id)
        messages = [m for m, _ in enqueued.take()]
        started = time.time()
        assert run_delivery(messages) == {"batchItemFailures": []}
        assert fast.received[0].at - started < 1.5
        assert slow.received[0].at - started >= 2.0


def test_at_delivery_time_a_name_now_resolving_to_metadata_is_refused(requester, enqueued, monkeypatch):
    # Given a subscription whose host resolved to a public address when it was made
    monkeypatch.setattr(outbound, "resolver", lambda host, port: ["93.184.215.14"])
    hook = _subscribe(requester.id, "https://hooks.example.com/in")
    _commit_event(requester.id)
    # When, at delivery, the name resolves to the instance metadata address
    monkeypatch.setattr(outbound, "resolver", lambda host, port: ["169.254.169.254"])
    connections = []
    monkeypatch.setattr(outbound.socket, "create_connection", lambda *a, **k: connections.append(a))
    queued = _deliver_all(enqueued)
    # Then nothing was connected to, and the attempt failed (to be retried)
    assert connections == []
    delivery = _delivery(requester.id, hook.id)
    assert delivery["state"] == "pending" and "link-local" in delivery["error"]
    assert "169.254" not in delivery["error"]  # the requester learns no internal address
    assert len(queued) == 1
