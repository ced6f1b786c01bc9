"""Webhook rules without AWS: Standard Webhooks signatures (verified by the `standardwebhooks` package),
the addresses a delivery may reach, the retry schedule and Retry-After, and what a subscription wants."""

from __future__ import annotations

import base64
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from crowdtask import outbound
from crowdtask.services import webhooks
from tests.support.webhooks import Received, VerificationError, verify


def _request(secrets: list[str], body: str = '{"type":"x","timestamp":"t","data":{}}') -> Received:
    timestamp = int(datetime.now(UTC).timestamp())
    return Received(outbound.signed_headers(secrets, "evt_01ABC", timestamp, body), body, 0.0)


def test_a_new_secret_is_whsec_and_at_least_24_random_bytes():
    first, second = outbound.new_secret(), outbound.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) >= 24


def test_the_signature_verifies_with_the_standardwebhooks_library_and_not_with_another_secret():
    secret = outbound.new_secret()
    request = _request([secret])
    assert verify(secret, request) == {"type": "x", "timestamp": "t", "data": {}}
    assert request.headers["webhook-id"] == "evt_01ABC"
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(VerificationError):
        verify(outbound.new_secret(), request)


def test_a_changed_body_does_not_verify():
    secret = outbound.new_secret()
    request = _request([secret])
    with pytest.raises(VerificationError):
        verify(secret, Received(request.headers, request.body.replace("x", "y"), 0.0))


def test_during_a_rotation_two_signatures_are_sent_and_either_secret_verifies():
    old, new = outbound.new_secret(), outbound.new_secret()
    request = _request([new, old])
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in request.headers["webhook-signature"].split(" "))
    verify(new, request)
    verify(old, request)


def test_the_previous_secret_signs_for_24_hours_only():
    now = datetime(2026, 3, 14, 12, tzinfo=UTC)
    hook = {
        "secrets": [{"secret": "whsec_new"}, {"secret": "whsec_old", "expires_at": "2026-03-15T12:00:00"}]
    }
    assert webhooks.active_secrets(hook, now + timedelta(hours=23, minutes=59)) == ["whsec_new", "whsec_old"]
    assert webhooks.active_secrets(hook, now + timedelta(hours=24)) == ["whsec_new"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address under test, nothing binds to it
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",  # site-local (deprecated, still not public)
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address):
    assert outbound.refusal(ipaddress.ip_address(address), allow_loopback=False) is not None


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "169.254.169.254", "192.168.0.1", "fd00::1", "::ffff:10.0.0.1"]
)
def test_the_loopback_allowance_leaves_private_and_link_local_refused(address):
    assert outbound.refusal(ipaddress.ip_address(address), allow_loopback=True) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_the_loopback_allowance_allows_loopback(address):
    assert outbound.refusal(ipaddress.ip_address(address), allow_loopback=True) is None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(address):
    assert outbound.refusal(ipaddress.ip_address(address), allow_loopback=False) is None


@pytest.mark.parametrize(
    ("url", "allow_loopback"),
    [
        ("http://example.com/hook", False),
        ("ftp://example.com/hook", False),
        ("https://user:pw@example.com/hook", False),
        ("https:///nohost", False),
        ("http://example.com/hook", True),  # http only to loopback, even locally
        ("http://10.0.0.1/hook", True),
        ("https://127.0.0.1/hook", False),
    ],
)
def test_urls_refused_at_subscription(url, allow_loopback):
    with pytest.raises(outbound.UnsafeUrl):
        outbound.check_url(url, allow_loopback=allow_loopback)


@pytest.mark.parametrize(
    "resolved", [["127.0.0.1"], ["10.0.0.7"], ["169.254.169.254"], ["93.184.215.14", "10.0.0.1"]]
)
def test_a_host_name_resolving_to_a_refused_address_is_refused(monkeypatch, resolved):
    monkeypatch.setattr(outbound, "resolver", lambda host, port: resolved)
    with pytest.raises(outbound.UnsafeUrl, match="resolves to"):
        outbound.check_url("https://hooks.example.com/in", allow_loopback=False)


def test_a_name_that_does_not_resolve_yet_is_accepted_at_subscription(monkeypatch):
    def unresolvable(host, port):
        raise OSError("no such name")

    monkeypatch.setattr(outbound, "resolver", unresolvable)
    assert outbound.check_url("https://later.example.com/x", allow_loopback=False).host == "later.example.com"


def test_at_delivery_time_a_name_resolving_to_a_private_address_is_not_connected_to(monkeypatch):
    monkeypatch.setattr(outbound, "resolver", lambda host, port: ["10.0.0.1"])
    connections = []
    monkeypatch.setattr(outbound.socket, "create_connection", lambda *a, **k: connections.append(a))
    outcome = outbound.post("https://hooks.example.com/in", "{}", {}, allow_loopback=False)
    assert (outcome.success, outcome.error_type, outcome.status_code) == (False, "refused_address", None)
    assert connections == []


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch):
    # Given a name that resolves to a public address first and to the loopback on any later lookup
    answers = iter([["93.184.215.14"], ["127.0.0.1"], ["127.0.0.1"]])
    monkeypatch.setattr(outbound, "resolver", lambda host, port: next(answers))
    connected = []

    def refuse(address, timeout=None, source=None):
        connected.append(address)
        raise ConnectionRefusedError

    monkeypatch.setattr(outbound.socket, "create_connection", refuse)
    # When a delivery is sent there
    outcome = outbound.post("https://rebind.example.com/in", "{}", {}, allow_loopback=False)
    # Then it connected to the checked address, never looking the name up again
    assert connected == [("93.184.215.14", 443)]
    assert outcome.error_type == "connection"


def test_the_retry_schedule_and_its_jitter():
    expected = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    assert [webhooks.retry_delay(n, jitter=0).total_seconds() for n in range(9)] == expected
    assert webhooks.retry_delay(9, jitter=0) is None
    for n, seconds in enumerate(expected):
        drawn = [webhooks.retry_delay(n).total_seconds() for _ in range(50)]
        assert all(0.8 * seconds <= d <= 1.2 * seconds for d in drawn)
        assert len(set(drawn)) > 1  # jittered


def test_retry_after_is_honoured_in_seconds_or_as_a_date_and_bounded():
    now = datetime(2026, 3, 14, 12, tzinfo=UTC)
    five = timedelta(seconds=5)
    assert webhooks.honour_retry_after(five, "120", now) == timedelta(seconds=120)
    assert webhooks.honour_retry_after(five, "Sat, 14 Mar 2026 12:10:00 GMT", now) == timedelta(minutes=10)
    assert webhooks.honour_retry_after(five, "1", now) == five  # never sooner than the schedule
    assert webhooks.honour_retry_after(five, "999999999", now) == timedelta(hours=24)
    assert webhooks.honour_retry_after(five, "soon", now) == five


def test_a_subscription_wants_its_types_or_every_type_and_only_its_campaign():
    event = {"type": "result.submitted", "campaign_id": "C1"}
    assert webhooks.matches({"events": ["result.submitted"]}, event)
    assert webhooks.matches({"events": ["*"]}, event)
    assert not webhooks.matches({"events": ["campaign.finished"]}, event)
    assert webhooks.matches({"events": ["*"], "campaign": "C1"}, event)
    assert not webhooks.matches({"events": ["*"], "campaign": "C2"}, event)
    assert not webhooks.matches({"events": ["*"], "enabled": False}, event)


def test_the_body_is_type_timestamp_and_data_with_exact_numbers():
    event = {"type": "bonus.paid", "occurred_at": "2026-03-14T12:00:00.000Z", "data": {"amount": "0.25"}}
    assert (
        webhooks.body_of(event)
        == '{"type":"bonus.paid","timestamp":"2026-03-14T12:00:00.000Z","data":{"amount":"0.25"}}'
    )


def test_a_delivery_id_is_derived_from_the_event_and_the_subscription():
    event = {"id": "evt_1", "occurred_at": "2026-03-14T12:00:00.000Z"}
    assert webhooks.delivery_id(event, "W1") == webhooks.delivery_id(dict(event), "W1")
    assert webhooks.delivery_id(event, "W1") != webhooks.delivery_id(event, "W2")


def test_the_default_schedule_is_the_template_default_and_a_stack_may_set_its_own(monkeypatch):
    from crowdtask.config import settings
    from tests.support.infra import template

    default = template()["Parameters"]["WebhookRetrySchedule"]["Default"]
    assert settings().webhook_retry_schedule == default
    assert webhooks.retry_schedule() == webhooks.SCHEDULE
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", "1,2")
    settings.cache_clear()
    try:
        assert [webhooks.retry_delay(n, jitter=0).total_seconds() for n in range(2)] == [1, 2]
        assert webhooks.retry_delay(2) is None
    finally:
        monkeypatch.delenv("WEBHOOK_RETRY_SCHEDULE")
        settings.cache_clear()


def test_the_template_gives_an_attempt_room_to_finish():
    from tests.support.infra import template

    resources = template()["Resources"]
    delivery = resources["WebhookDeliveryFunction"]["Properties"]
    queue = resources["WebhookDeliveryQueue"]["Properties"]
    # the function outlives an attempt's 15 s; the lease outlives the function; SQS hides a message longer
    assert delivery["Timeout"] > outbound.TIMEOUT_SECONDS
    assert webhooks.LEASE.total_seconds() > delivery["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * delivery["Timeout"]
    assert resources["WebhooksFunction"]["Properties"]["Timeout"] > outbound.TIMEOUT_SECONDS  # the test send


def test_the_document_states_the_event_types_and_the_url_form_the_api_takes():
    """Every type of the catalogue, or "*" alone, as the schema says; a URL of the schema's
    pattern is one the subscription takes (its host resolving nowhere yet)."""
    import re

    from crowdtask.models.events import CATALOGUE
    from crowdtask.models.webhooks import URL_PATTERN, WebhookIn

    schema = WebhookIn.model_json_schema()["properties"]
    some, every = schema["events"]["anyOf"]
    assert set(some["items"]["enum"]) == set(CATALOGUE)
    assert every["items"] == {"const": "*"} and every["maxItems"] == 1
    assert schema["url"]["pattern"] == URL_PATTERN
    for url in ["https://a.bc", "https://hooks.example.com:8443/in?x=1", "https://x-y.example.org#f"]:
        assert re.search(URL_PATTERN, url)
        outbound.parse_url(url, allow_loopback=False)
    for url in ["0", "http://example.com", "https://user@example.com", "https://example.com:99999"]:
        assert not re.search(URL_PATTERN, url)


@pytest.mark.parametrize(
    ("scheme", "first"),
    [
        ("http", b""),
        # https: the start of a TLS handshake record of 16 KiB, whose bytes then come one at a time, so
        # the handshake itself never ends and never stalls long enough for the socket's timeout
        ("https", b"\x16\x03\x03\x40\x00"),
    ],
)
def test_an_answer_dripping_a_byte_at_a_time_is_cut_off_at_the_deadline(scheme, first):
    import socket
    import threading
    import time

    # Given an endpoint on the loopback that answers one byte every 0.2 s, for ever
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(first)
            while not stop.is_set():
                try:
                    conn.sendall(b"X")
                except OSError:
                    return
                time.sleep(0.2)

    threading.Thread(target=drip, daemon=True).start()
    try:
        # When a delivery with a 1 s timeout is sent there
        url = f"{scheme}://127.0.0.1:{server.getsockname()[1]}/hook"
        outcome = outbound.post(url, "{}", {}, allow_loopback=True, timeout=1.0)
    finally:
        stop.set()
        server.close()
    # Then the attempt ends at its deadline (each byte came within the socket timeout) as a timeout
    assert outcome.error_type == "timeout" and outcome.status_code is None
    assert outcome.duration_ms < 2000
