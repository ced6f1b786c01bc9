"""Webhooks: subscriptions, the fan-out of each committed event to them, and signed delivery with retries.

Delivery follows the Standard Webhooks specification: `webhook-id` is the event id (the same on every
retry and redelivery, so a receiver can drop duplicates), the body bytes are fixed when the delivery is
made, and every attempt is signed anew with the subscription's current secrets. Failed attempts are
retried on SCHEDULE (with jitter, at least what Retry-After asks, bounded); 410 Gone disables the
subscription at once, and so does failing for FAILING_LIMIT; both emit `webhook.disabled` through the
outbox, in the same transaction as the disabling.

Each attempt is claimed (a lease on the delivery at its attempt number) before it is sent and recorded
after, so a duplicated or redelivered message never sends an attempt twice while one is in flight, and a
sender that crashes mid-attempt leaves a message that sends it again (with the same webhook-id).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from crowdtask import clock, errors, ids, outbound
from crowdtask.config import settings
from crowdtask.models.listing import ListQuery, Page
from crowdtask.models.webhooks import (
    ALL_EVENTS,
    AttemptOut,
    DeliveryOut,
    SecretRotated,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookTestOut,
    WebhookUpdate,
)
from crowdtask.observability import logger
from crowdtask.store import Refused, outbox
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import webhooks as webhook_store

# Waits before each retry (the first attempt goes at once): about 3 days in all. A stack may set its own
# (WebhookRetrySchedule): the local one's tests do not wait minutes.
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
JITTER = 0.2  # each wait is drawn from +-20% of its value
MAX_RETRY_AFTER = timedelta(hours=24)  # a Retry-After beyond this is taken as this
FAILING_LIMIT = timedelta(days=5)
SECRET_OVERLAP = timedelta(hours=24)
LEASE = timedelta(seconds=120)  # longer than an attempt can take (15 s), shorter than a retry's wait
SQS_MAX_DELAY = timedelta(seconds=900)
BACKSTOP = timedelta(minutes=5)  # how long after its time a waiting delivery is picked up by the sweep
DELIVERY_KEEP = timedelta(days=35)

_random = random.SystemRandom()


class InFlight(Exception):
    """Another sender holds this attempt: the message is retried later (by then it is stale or free)."""


# ---------------------------------------------------------------- pure rules


def retry_delay(retries_made: int, *, jitter: float | None = None) -> timedelta | None:
    """The wait before retry number `retries_made` + 1 of a delivery, or None when the schedule is over.
    `jitter` in [-1, 1] picks the point in the jitter band (random by default)."""
    schedule = retry_schedule()
    if retries_made >= len(schedule):
        return None
    spread = _random.uniform(-1, 1) if jitter is None else jitter
    return schedule[retries_made] * (1 + JITTER * spread)


def retry_schedule() -> tuple[timedelta, ...]:
    """The waits of this stack (SCHEDULE unless the template sets another)."""
    return tuple(timedelta(seconds=int(s)) for s in settings().webhook_retry_schedule.split(","))


def honour_retry_after(delay: timedelta, retry_after: str | None, now: datetime) -> timedelta:
    """At least what the endpoint's Retry-After asks for (seconds or an HTTP date), at most a day."""
    asked = outbound.retry_after_seconds(retry_after, now.timestamp())
    if asked is None:
        return delay
    return max(delay, min(timedelta(seconds=asked), MAX_RETRY_AFTER))


def active_secrets(webhook: Mapping[str, Any], now: datetime) -> list[str]:
    """The secrets that sign now: the current one first, then a previous one within its overlap."""
    now_iso = clock.iso(now)
    return [
        str(s["secret"])
        for s in webhook.get("secrets") or []
        if not s.get("expires_at") or str(s["expires_at"]) > now_iso
    ]


def matches(webhook: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Does the subscription want the event (its type or *, its campaign if it names one)?"""
    if not webhook.get("enabled", True):
        return False
    wanted = webhook.get("events") or []
    if ALL_EVENTS not in wanted and event.get("type") not in wanted:
        return False
    return not webhook.get("campaign") or webhook.get("campaign") == event.get("campaign_id")


def body_of(event: Mapping[str, Any]) -> str:
    """The request body of an event: {"type", "timestamp", "data"}, the same bytes on every attempt."""
    return json.dumps(
        {"type": event["type"], "timestamp": event["occurred_at"], "data": event.get("data") or {}},
        separators=(",", ":"),
        ensure_ascii=False,
        default=_plain_number,
    )


def _plain_number(value: Any) -> Any:
    """DynamoDB numbers come back as Decimals: integral ones as ints, others as their exact text."""
    return int(value) if value == int(value) else str(value)


def delivery_id(event: Mapping[str, Any], webhook_id: str) -> str:
    """The one delivery of this event to this subscription: the same inputs always name it."""
    moment = datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00"))
    return ids.named_id(int(moment.timestamp() * 1000), f"{event['id']}|{webhook_id}")


def _allow_loopback() -> bool:
    return settings().allow_loopback_webhooks


# ---------------------------------------------------------------- subscriptions


def _to_webhook(item: Mapping[str, Any]) -> WebhookOut:
    return WebhookOut(
        id=str(item["id"]),
        url=str(item["url"]),
        events=list(item.get("events") or []),
        campaign=item.get("campaign"),
        description=item.get("description"),
        enabled=bool(item.get("enabled", True)),
        disabledReason=item.get("disabled_reason"),
        failingSince=item.get("failing_since"),
        createdAt=str(item["createdAt"]),
        lastModifiedAt=str(item["lastModifiedAt"]),
    )


def _checked(account_id: str, wanted: WebhookIn) -> None:
    try:
        outbound.check_url(wanted.url, allow_loopback=_allow_loopback())
    except outbound.UnsafeUrl as exc:
        raise errors.ValidationFailed.one("url", str(exc), "UNSAFE_URL") from exc
    if wanted.campaign is not None and campaign_store.get(account_id, wanted.campaign) is None:
        raise errors.NotFound(f"No campaign {wanted.campaign} in your account.")


def create(account_id: str, wanted: WebhookIn) -> WebhookCreated:
    """A new subscription, with its signing secret (the only time the secret is shown)."""
    _checked(account_id, wanted)
    now = clock.iso(clock.now())
    secret = outbound.new_secret()
    data = {
        "url": wanted.url,
        "events": wanted.events,
        "campaign": wanted.campaign,
        "description": wanted.description,
        "enabled": True,
        "secrets": [{"secret": secret}],
        "createdAt": now,
        "lastModifiedAt": now,
    }
    item = webhook_store.create(account_id, ids.new_id(), {k: v for k, v in data.items() if v is not None})
    return WebhookCreated(**_to_webhook(item).model_dump(), secret=secret)


def _found(account_id: str, webhook_id: str) -> dict[str, Any]:
    item = webhook_store.get(account_id, webhook_id)
    if item is None:
        raise errors.NotFound(f"No webhook {webhook_id} in your account.")
    return item


def get(account_id: str, webhook_id: str) -> WebhookOut:
    return _to_webhook(_found(account_id, webhook_id))


def list_webhooks(account_id: str, query: ListQuery) -> tuple[list[WebhookOut], Page]:
    found = webhook_store.page(account_id, query)
    return [_to_webhook(item) for item in found.items], found


def replace(account_id: str, webhook_id: str, wanted: WebhookUpdate) -> WebhookOut:
    """The subscription as sent; enabling a disabled one clears its failure record."""
    before = _found(account_id, webhook_id)
    _checked(account_id, wanted)
    fields: dict[str, Any] = {
        "url": wanted.url,
        "events": wanted.events,
        "campaign": wanted.campaign,
        "description": wanted.description,
        "enabled": wanted.enabled,
        "lastModifiedAt": clock.iso(clock.now()),
    }
    if wanted.enabled and not before.get("enabled", True):
        fields.update(disabled_reason=None, failing_since=None)
    elif not wanted.enabled and before.get("enabled", True):
        fields["disabled_reason"] = "paused by you"
    try:
        return _to_webhook(webhook_store.update(account_id, webhook_id, fields))
    except Refused as exc:
        raise errors.NotFound(f"No webhook {webhook_id} in your account.") from exc


def delete(account_id: str, webhook_id: str) -> None:
    try:
        webhook_store.delete(account_id, webhook_id)
    except Refused as exc:
        raise errors.NotFound(f"No webhook {webhook_id} in your account.") from exc


def rotate_secret(account_id: str, webhook_id: str) -> SecretRotated:
    """A new secret; the current one keeps signing beside it for SECRET_OVERLAP (older ones stop)."""
    item = _found(account_id, webhook_id)
    now = clock.now()
    current = active_secrets(item, now)
    secret = outbound.new_secret()
    expires = clock.iso(now + SECRET_OVERLAP)
    kept = [{"secret": secret}] + ([{"secret": current[0], "expires_at": expires}] if current else [])
    try:
        webhook_store.update(account_id, webhook_id, {"secrets": kept, "lastModifiedAt": clock.iso(now)})
    except Refused as exc:
        raise errors.NotFound(f"No webhook {webhook_id} in your account.") from exc
    return SecretRotated(id=webhook_id, secret=secret, previousSecretExpiresAt=expires if current else None)


def send_test(account_id: str, webhook_id: str) -> WebhookTestOut:
    """Send a `webhook.test` event now, signed like any other, and say how the endpoint answered."""
    item = _found(account_id, webhook_id)
    now = clock.now()
    event = new_event("webhook.test", {"webhookId": webhook_id}, account_id, at=now)
    body = body_of(event)
    headers = outbound.signed_headers(active_secrets(item, now), event["id"], int(now.timestamp()), body)
    outcome = outbound.post(str(item["url"]), body, headers, allow_loopback=_allow_loopback())
    return WebhookTestOut(
        success=outcome.success,
        statusCode=outcome.status_code,
        errorType=outcome.error_type,
        durationMs=outcome.duration_ms,
    )


def new_event(
    type_: str, data: Mapping[str, Any], account_id: str, *, at: datetime, campaign_id: str | None = None
) -> dict[str, Any]:
    """An event as the outbox holds it (a test send's is never stored)."""
    return outbox.event_record(type_, data, account_id, campaign_id, at=at)


# ---------------------------------------------------------------- deliveries, as the requester sees them


def _to_delivery(item: Mapping[str, Any]) -> DeliveryOut:
    return DeliveryOut(
        id=str(item["id"]),
        event=str(item["event_id"]),
        eventType=str(item["event_type"]),
        status=item["state"],
        attempt=int(item.get("attempt", 0)),
        statusCode=None if item.get("status_code") is None else int(item["status_code"]),
        error=item.get("error"),
        nextAttemptAt=item.get("next_attempt_at") if item["state"] == "pending" else None,
        createdAt=str(item["createdAt"]),
        attempts=[
            AttemptOut(
                attempt=int(a["attempt"]),
                at=str(a["at"]),
                statusCode=None if a.get("status_code") is None else int(a["status_code"]),
                error=a.get("error"),
                durationMs=int(a.get("duration_ms", 0)),
            )
            for a in item.get("attempts") or []
        ],
    )


def list_deliveries(
    account_id: str, webhook_id: str, query: ListQuery, status: str | None
) -> tuple[list[DeliveryOut], Page]:
    _found(account_id, webhook_id)
    equals = {**query.equals, **({"state": status} if status else {})}
    found = webhook_store.page_deliveries(account_id, webhook_id, query._replace(equals=equals))
    return [_to_delivery(item) for item in found.items], found


def redeliver(account_id: str, webhook_id: str, delivery_id_: str) -> DeliveryOut:
    """Send a finished delivery again, now (same event id, same body); failures retry on the schedule."""
    webhook = _found(account_id, webhook_id)
    item = webhook_store.get_delivery(account_id, webhook_id, delivery_id_)
    if item is None:
        raise errors.NotFound(f"No delivery {delivery_id_} of webhook {webhook_id}.")
    if not webhook.get("enabled", True):
        raise errors.Conflict("The webhook is disabled: enable it (PUT with enabled true) first.")
    if item["state"] == "pending":
        raise errors.Conflict("The delivery is pending already: its next attempt is on its way.")
    now = clock.now()
    attempt = int(item.get("attempt", 0))
    try:
        reopened = webhook_store.reopen(
            account_id,
            webhook_id,
            delivery_id_,
            was=str(item["state"]),
            attempt=attempt,
            next_attempt_iso=clock.iso(now),
            due_iso=clock.iso_precise(now + BACKSTOP),
        )
    except Refused as exc:
        raise errors.Conflict("The delivery changed meanwhile; read it again.") from exc
    webhook_store.enqueue(_message(account_id, webhook_id, delivery_id_, attempt))
    return _to_delivery({**reopened, "id": delivery_id_})


def _message(account_id: str, webhook_id: str, delivery_id_: str, attempt: int) -> dict[str, Any]:
    return {"account": account_id, "webhook": webhook_id, "delivery": delivery_id_, "attempt": attempt}


# ---------------------------------------------------------------- fan-out: one event, its deliveries


def fan_out_stream_record(record: Mapping[str, Any]) -> int | None:
    """Fan out the outbox event a table stream record carries (read as the events forwarder reads it):
    the deliveries made, or None when the record carries no outbox event."""
    event = outbox.event_in_stream_record(record)
    if event is None:
        return None
    made = fan_out(event)
    logger.debug("event fanned out", extra={"event": event["id"], "deliveries": made})
    return made


def fan_out(event: Mapping[str, Any]) -> int:
    """Make and enqueue the deliveries of one outbox event; safe to repeat (derived delivery ids, and
    a delivery not yet attempted is enqueued again: its claim lets one attempt through). The count."""
    account_id = str(event.get("account_id") or "")
    if not account_id or event.get("type") == "webhook.test":
        return 0
    now = clock.now()
    made = 0
    for webhook in webhook_store.every(account_id):
        if not matches(webhook, event):
            continue
        delivery, _ = webhook_store.put_delivery(
            account_id,
            webhook["id"],
            delivery_id(event, webhook["id"]),
            {
                "event_id": event["id"],
                "event_type": event["type"],
                "body": body_of(event),
                "state": "pending",
                "attempt": 0,
                "round_start": 0,
                "next_attempt_at": clock.iso(now),
                "createdAt": clock.iso(now),
                "expire_at": int((now + DELIVERY_KEEP).timestamp()),
            },
            due_iso=clock.iso_precise(now + BACKSTOP),
        )
        if delivery["state"] == "pending" and int(delivery.get("attempt", 0)) == 0:
            webhook_store.enqueue(_message(account_id, webhook["id"], delivery["id"], 0))
        made += 1
    return made


# ---------------------------------------------------------------- delivery: one attempt


def deliver(message: Mapping[str, Any]) -> str:
    """Make the attempt a queue message asks for, if it is still due: what came of it (for the log).
    InFlight when another sender holds the attempt."""
    account_id, webhook_id = str(message["account"]), str(message["webhook"])
    delivery_id_, attempt = str(message["delivery"]), int(message["attempt"])
    item = webhook_store.get_delivery(account_id, webhook_id, delivery_id_)
    if item is None or item["state"] != "pending" or int(item.get("attempt", 0)) != attempt:
        return "stale"
    now = clock.now()
    webhook = webhook_store.get(account_id, webhook_id)
    if webhook is None or not webhook.get("enabled", True):
        why = "the webhook was deleted" if webhook is None else "the webhook is disabled"
        _record(item, account_id, webhook_id, attempt, now, None, why, state="failed", attempted=False)
        return "dropped"
    try:
        webhook_store.claim_attempt(
            account_id,
            webhook_id,
            delivery_id_,
            attempt,
            clock.iso_precise(now),
            clock.iso_precise(now + LEASE),
            backstop_iso=clock.iso_precise(now + LEASE + BACKSTOP),
        )
    except Refused:
        again = webhook_store.get_delivery(account_id, webhook_id, delivery_id_)
        if again and again["state"] == "pending" and int(again.get("attempt", 0)) == attempt:
            raise InFlight(delivery_id_) from None
        return "stale"
    body = str(item["body"])
    signing = active_secrets(webhook, now)
    headers = outbound.signed_headers(signing, str(item["event_id"]), int(now.timestamp()), body)
    outcome = outbound.post(str(webhook["url"]), body, headers, allow_loopback=_allow_loopback())
    log = {"status_code": outcome.status_code, "error": outcome.error, "duration_ms": outcome.duration_ms}
    if outcome.success:
        _record(item, account_id, webhook_id, attempt, now, log, None, state="succeeded")
        if webhook.get("failing_since"):
            webhook_store.clear_failing_since(account_id, webhook_id)
        return "succeeded"
    return _failed(item, account_id, webhook_id, attempt, now, outcome, log)


def _failed(
    item: Mapping[str, Any],
    account_id: str,
    webhook_id: str,
    attempt: int,
    sent_at: datetime,
    outcome: outbound.Outcome,
    log: Mapping[str, Any],
) -> str:
    """Record a failed attempt: its retry, or the end of the delivery (and of the subscription, after
    410 Gone or FAILING_LIMIT of failures)."""
    finished = clock.now()
    disabled_because: str | None = None
    if outcome.status_code == 410:
        disabled_because = "the endpoint answered 410 Gone"
    else:
        failing = webhook_store.set_failing_since(account_id, webhook_id, clock.iso(finished))
        since = clock.parse(str(failing.get("failing_since"))) or finished
        if finished - since >= FAILING_LIMIT:
            disabled_because = f"deliveries failed for {FAILING_LIMIT.days} days"
    retries_made = attempt - int(item.get("round_start", 0))  # before this attempt, in this round
    delay = None if disabled_because else retry_delay(retries_made)
    if delay is None:
        _record(item, account_id, webhook_id, attempt, sent_at, log, outcome.error, state="failed")
        if disabled_because:
            disable(account_id, webhook_id, disabled_because, finished)
            return "disabled"
        return "given up"
    delay = honour_retry_after(delay, outcome.retry_after, finished)
    next_at = finished + delay
    _record(
        item, account_id, webhook_id, attempt, sent_at, log, outcome.error, state="pending", next_at=next_at
    )
    if delay <= SQS_MAX_DELAY:
        message = _message(account_id, webhook_id, str(item["id"]), attempt + 1)
        webhook_store.enqueue(message, math.ceil(delay.total_seconds()))
    return "retrying"


def _record(
    item: Mapping[str, Any],
    account_id: str,
    webhook_id: str,
    attempt: int,
    at: datetime,
    log: Mapping[str, Any] | None,
    error: str | None,
    *,
    state: str,
    next_at: datetime | None = None,
    attempted: bool = True,
) -> None:
    """Write the attempt's outcome; a waiting delivery goes on the sweep index (at its time when SQS
    cannot wait that long, a little after it otherwise)."""
    due: str | None = None
    if next_at is not None:
        wait = next_at - at
        due = clock.iso_precise(next_at if wait > SQS_MAX_DELAY else next_at + BACKSTOP)
    fields = {
        "state": state,
        "status_code": (log or {}).get("status_code"),
        "error": error,
        "next_attempt_at": clock.iso(next_at) if next_at else None,
    }
    try:
        if not attempted:
            webhook_store.close_delivery(account_id, webhook_id, str(item["id"]), attempt, state, error)
            return
        entry = {"attempt": attempt + 1, "at": clock.iso(at), **(log or {})}
        webhook_store.record_attempt(
            account_id, webhook_id, str(item["id"]), attempt, fields, entry, due_iso=due
        )
    except Refused:
        pass  # another sender recorded this attempt: its record stands


def disable(account_id: str, webhook_id: str, reason: str, at: datetime) -> bool:
    """Disable the subscription and emit `webhook.disabled` (once: False if it was disabled already)."""
    return webhook_store.disable_with_event(
        account_id,
        webhook_id,
        {"enabled": False, "disabled_reason": reason, "lastModifiedAt": clock.iso(at)},
        {"webhookId": webhook_id, "reason": reason},
        at,
    )


# ---------------------------------------------------------------- the sweep of waiting deliveries


def sweep_due() -> dict[str, int]:
    """Enqueue the attempts that are due (waits longer than SQS delays, and lost messages); each stays on
    the sweep index a while longer, until the attempt is claimed."""
    now = clock.now()
    enqueued = 0
    for account_id, webhook_id, delivery_id_ in webhook_store.due_deliveries(clock.iso_precise(now)):
        item = webhook_store.get_delivery(account_id, webhook_id, delivery_id_)
        if item is None or item["state"] != "pending":
            continue
        later = clock.iso_precise(now + BACKSTOP)
        if webhook_store.postpone_due(account_id, webhook_id, delivery_id_, clock.iso_precise(now), later):
            webhook_store.enqueue(_message(account_id, webhook_id, delivery_id_, int(item.get("attempt", 0))))
            enqueued += 1
    return {"webhookDeliveriesEnqueued": enqueued}
