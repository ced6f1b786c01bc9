"""The webhooks function through its sample events: the secret shown once and never kept by idempotency,
one requester's subscriptions invisible to another, refusals naming the field, test sends, deliveries
and redelivery."""

from __future__ import annotations

import boto3
import pytest

from crowdtask import outbound
from crowdtask.config import settings
from crowdtask.services import webhooks
from tests.support.accounts import make_account
from tests.support.handlers import invoke
from tests.support.infra import TABLE_NAMES
from tests.support.webhooks import receiver, verify

HOOK = {"url": "https://hooks.example.com/in", "events": ["result.submitted"]}


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALLOW_LOOPBACK_WEBHOOKS", "true")
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """Names resolve to a public address unless a test says otherwise (no lookups leave the machine)."""
    monkeypatch.setattr(outbound, "resolver", lambda host, port: ["93.184.215.14"])


def _create(token: str, body: dict | None = None, **headers: str):
    return invoke("webhooks", "webhooks_create", token=token, body=body or HOOK, headers=headers)


def _on(event: str, token: str, webhook_id: str, **extra):
    return invoke("webhooks", event, token=token, path_params={"id": webhook_id}, **extra)


def test_a_subscription_is_answered_with_its_secret_once(requester):
    created = _create(requester.token)
    assert created.status == 201, created.body
    assert created.body["secret"].startswith("whsec_")
    assert created.header("Location") == f"/webhooks/{created.body['id']}"
    assert created.body["enabled"] is True and created.body["events"] == ["result.submitted"]
    got = _on("webhooks_get", requester.token, created.body["id"])
    assert got.status == 200 and "secret" not in got.body and "secrets" not in got.body
    listed = invoke("webhooks", "webhooks_list", token=requester.token, query={})
    assert [w["id"] for w in listed.body["webhooks"]] == [created.body["id"]]
    assert "secret" not in listed.body["webhooks"][0]


def test_an_idempotency_key_never_keeps_the_secret(requester):
    first = _create(requester.token, **{"Idempotency-Key": "same-key"})
    second = _create(requester.token, **{"Idempotency-Key": "same-key"})
    assert first.status == second.status == 201
    assert first.body["id"] != second.body["id"] and first.body["secret"] != second.body["secret"]
    assert second.header("Idempotent-Replayed") is None
    stored = boto3.client("dynamodb").scan(TableName=TABLE_NAMES["IdempotencyTable"])["Items"]
    assert "whsec_" not in str(stored)


def test_another_requesters_subscription_is_a_404_on_every_route(requester):
    other = make_account(balance=0)
    hook_id = _create(requester.token).body["id"]
    assert _on("webhooks_get", other.token, hook_id).status == 404
    assert _on("webhooks_put", other.token, hook_id).status == 404
    assert _on("webhooks_rotate_secret", other.token, hook_id).status == 404
    assert _on("webhooks_test", other.token, hook_id).status == 404
    assert _on("webhooks_deliveries", other.token, hook_id, query={}).status == 404
    redeliver = invoke(
        "webhooks", "webhooks_redeliver", token=other.token, path_params={"id": hook_id, "deliveryId": "X1"}
    )
    assert redeliver.status == 404
    assert _on("webhooks_delete", other.token, hook_id).status == 404
    assert invoke("webhooks", "webhooks_list", token=other.token, query={}).body["webhooks"] == []
    assert _on("webhooks_get", requester.token, hook_id).status == 200  # still there


def test_workers_are_refused(worker):
    assert _create(worker.token).status == 403


def test_an_unknown_event_type_is_a_422_naming_its_index(requester):
    refused = _create(requester.token, {**HOOK, "events": ["result.submitted", "result.exploded"]})
    assert refused.status == 422
    assert [e["field"] for e in refused.body["errors"]] == ["events[1]"]
    both = _create(requester.token, {**HOOK, "events": ["*", "result.submitted"]})
    assert both.status == 422 and both.body["errors"][0]["field"] == "events"


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        ("http://hooks.example.com/in", ["93.184.215.14"]),
        ("https://10.0.0.1/in", []),
        ("https://[::ffff:127.0.0.1]/in", []),
        ("https://localtest.me/in", ["127.0.0.1"]),
        ("https://intranet.example.com/in", ["10.20.30.40"]),
        ("https://metadata.example.com/in", ["169.254.169.254"]),
    ],
)
def test_unsafe_urls_are_a_422_naming_url(requester, monkeypatch, url, resolved):
    monkeypatch.setattr(outbound, "resolver", lambda host, port: resolved)
    refused = _create(requester.token, {**HOOK, "url": url})
    assert refused.status == 422, refused.body
    assert refused.body["errors"][0]["field"] == "url"


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/in",  # public, but a literal address: the document takes host names
        "https://hooks.example.com/caf\u00e9",  # the document takes printable ASCII after the host
        "https://hooks.example.com/in\n",
        "https://hooks.example.com:65536/in",  # the document's ports run 1..65535
    ],
)
def test_a_url_outside_the_documents_pattern_is_a_422_naming_url_on_post_and_put(requester, url):
    refused = _create(requester.token, {**HOOK, "url": url})
    assert refused.status == 422, refused.body
    assert [e["field"] for e in refused.body["errors"]] == ["url"]
    assert "https URL to a host name" in refused.body["errors"][0]["message"]
    hook_id = _create(requester.token).body["id"]
    replaced = _on("webhooks_put", requester.token, hook_id, body={**HOOK, "url": url})
    assert replaced.status == 422, replaced.body
    assert [e["field"] for e in replaced.body["errors"]] == ["url"]
    assert _on("webhooks_get", requester.token, hook_id).body["url"] == HOOK["url"]  # unchanged


def test_on_aws_loopback_is_refused_and_locally_allowed(requester, monkeypatch):
    url = "http://127.0.0.1:9/in"
    assert _create(requester.token, {**HOOK, "url": url}).status == 422
    monkeypatch.setenv("ALLOW_LOOPBACK_WEBHOOKS", "true")
    settings.cache_clear()
    try:
        assert _create(requester.token, {**HOOK, "url": url}).status == 201
        assert _create(requester.token, {**HOOK, "url": "http://10.0.0.1/in"}).status == 422
    finally:
        settings.cache_clear()


def test_a_campaign_of_another_account_is_a_404(requester):
    assert _create(requester.token, {**HOOK, "campaign": "01JB0000000000000000000003"}).status == 404


def test_put_pauses_and_resumes_and_delete_removes(requester):
    hook_id = _create(requester.token).body["id"]
    paused = _on("webhooks_put", requester.token, hook_id, body={**HOOK, "events": ["*"], "enabled": False})
    assert paused.status == 200 and paused.body["enabled"] is False and paused.body["events"] == ["*"]
    resumed = _on("webhooks_put", requester.token, hook_id, body={**HOOK, "enabled": True})
    assert resumed.body["enabled"] is True and "disabledReason" not in resumed.body
    assert _on("webhooks_delete", requester.token, hook_id).status == 204
    assert _on("webhooks_get", requester.token, hook_id).status == 404


def test_rotating_answers_a_new_secret_and_when_the_old_one_stops(requester):
    created = _create(requester.token).body
    rotated = _on("webhooks_rotate_secret", requester.token, created["id"])
    assert rotated.status == 200
    assert rotated.body["secret"].startswith("whsec_") and rotated.body["secret"] != created["secret"]
    assert rotated.body["previousSecretExpiresAt"] == "2026-03-15T03:14:15"  # the frozen clock + 24 h


def test_a_test_send_is_signed_and_says_how_the_endpoint_answered(requester, loopback, frozen_clock):
    with receiver(200, 500) as endpoint:
        created = _create(requester.token, {**HOOK, "url": endpoint.url}).body
        ok = _on("webhooks_test", requester.token, created["id"])
        failed = _on("webhooks_test", requester.token, created["id"])
        request = endpoint.received[0]
    assert ok.status == 200 and ok.body["success"] is True and ok.body["statusCode"] == 200
    assert ok.body["errorType"] is None and ok.body["durationMs"] >= 0
    assert failed.body == {**failed.body, "success": False, "statusCode": 500, "errorType": "http_status"}
    assert set(ok.body) == {"success", "statusCode", "errorType", "durationMs"}
    payload = verify(created["secret"], request, frozen_clock.now)
    assert payload["type"] == "webhook.test" and payload["data"] == {"webhookId": created["id"]}


def test_a_test_send_to_an_address_that_turned_private_is_refused(requester, monkeypatch):
    created = _create(requester.token).body
    monkeypatch.setattr(outbound, "resolver", lambda host, port: ["10.0.0.1"])
    sent = _on("webhooks_test", requester.token, created["id"])
    assert sent.body["success"] is False and sent.body["errorType"] == "refused_address"


def test_deliveries_are_listed_by_status_and_sent_again_on_request(requester, webhook_queue):
    from crowdtask import clock
    from crowdtask.store import webhooks as webhook_store

    hook_id = _create(requester.token).body["id"]
    events = [
        webhooks.new_event("result.submitted", {"n": n}, requester.id, at=clock.now()) for n in range(3)
    ]
    for event in events:
        webhooks.fan_out(event)
    failed_id = webhooks.delivery_id(events[0], hook_id)
    webhook_store.close_delivery(requester.id, hook_id, failed_id, 0, "failed", "gave up")
    every = _on("webhooks_deliveries", requester.token, hook_id, query={"limit": ["2"]})
    assert every.status == 200 and len(every.body["deliveries"]) == 2
    rest = every.header("Link")
    assert rest and 'rel="next"' in rest
    failed = _on("webhooks_deliveries", requester.token, hook_id, query={"status": ["failed"]}).body
    assert [d["id"] for d in failed["deliveries"]] == [failed_id]
    assert failed["deliveries"][0]["event"] == events[0]["id"]
    assert failed["deliveries"][0]["eventType"] == "result.submitted"
    bad = _on("webhooks_deliveries", requester.token, hook_id, query={"status": ["lost"]})
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "status"
    path = {"id": hook_id, "deliveryId": failed_id}
    again = invoke("webhooks", "webhooks_redeliver", token=requester.token, path_params=path)
    assert again.status == 202 and again.body["status"] == "pending"
    pending = invoke("webhooks", "webhooks_redeliver", token=requester.token, path_params=path)
    assert pending.status == 409
    messages = boto3.client("sqs").receive_message(QueueUrl=webhook_queue, MaxNumberOfMessages=10)["Messages"]
    # the fan-out's message and the redelivery's: the 409 queued none
    assert sum(failed_id in m["Body"] for m in messages) == 2
