"""Webhook subscriptions and their deliveries.

A subscription is an item of its requester's WEBHOOK collection; its deliveries are a collection of
their own per subscription (A#<account>#WHDELIVERY#<webhook>#00 / <delivery id>), so the list of one
subscription's deliveries is one query. A delivery id is derived from the event and the subscription:
writing it again (a redelivered stream record) finds it there instead of adding a second.

A delivery waiting for its next attempt sits on the sweep index (by_due, kind `webhook`): at the
attempt's time when the wait is longer than SQS can delay a message, and a few minutes after it
otherwise, as a backstop for a message that was never sent (a crash between the write and the send).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from crowdtask.models.listing import ListQuery, Page
from crowdtask.store import dynamo, keys, outbox, queues, sweeps
from crowdtask.store.collections import Collection

WEBHOOKS = Collection("WEBHOOK", shards=1)
DUE_KIND = "webhook"


def deliveries_of(webhook_id: str) -> Collection:
    return Collection(f"WHDELIVERY#{webhook_id}", shards=1)


# ---------------------------------------------------------------- subscriptions


def create(account_id: str, webhook_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return WEBHOOKS.put_new(account_id, webhook_id, data)


def get(account_id: str, webhook_id: str) -> dict[str, Any] | None:
    return WEBHOOKS.get(account_id, webhook_id, consistent=True)


def page(account_id: str, query: ListQuery) -> Page:
    return WEBHOOKS.list(account_id, query)


def every(account_id: str) -> Iterator[dict[str, Any]]:
    """Every subscription of the account (a fan-out reads them all; an account has few)."""
    for pk in WEBHOOKS.shard_pks(account_id):
        start = None
        while True:
            items, start = dynamo.query(key_condition="pk = :pk", vals={":pk": pk}, start_key=start)
            for item in items:
                yield {**item, "id": item["sk"]}
            if not start:
                break


def update(account_id: str, webhook_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """SET the fields (None removes); ConditionFailed when the subscription is gone."""
    return WEBHOOKS.update(account_id, webhook_id, fields)


def delete(account_id: str, webhook_id: str) -> None:
    dynamo.delete(*WEBHOOKS.key(account_id, webhook_id), condition="attribute_exists(pk)")


def set_failing_since(account_id: str, webhook_id: str, moment_iso: str) -> dict[str, Any]:
    """Note when deliveries started failing, unless it is noted already; the subscription as it is now."""
    pk, sk = WEBHOOKS.key(account_id, webhook_id)
    return dynamo.update(
        pk,
        sk,
        "SET failing_since = if_not_exists(failing_since, :t)",
        condition="attribute_exists(pk)",
        vals={":t": moment_iso},
    )


def clear_failing_since(account_id: str, webhook_id: str) -> None:
    pk, sk = WEBHOOKS.key(account_id, webhook_id)
    with contextlib.suppress(dynamo.ConditionFailed):  # deleted meanwhile: nothing to clear
        dynamo.update(pk, sk, "REMOVE failing_since", condition="attribute_exists(pk)")


def disable_with_event(
    account_id: str, webhook_id: str, fields: Mapping[str, Any], event_data: Mapping[str, Any], at: datetime
) -> bool:
    """Disable the subscription and write its `webhook.disabled` event to the outbox in one transaction;
    False when it was disabled (or deleted) already, and then no event is written."""
    pk, sk = WEBHOOKS.key(account_id, webhook_id)
    names = {f"#f{n}": name for n, name in enumerate(fields)}
    vals: dict[str, Any] = {f":f{n}": value for n, value in enumerate(fields.values())}
    vals[":on"] = True
    expression = "SET " + ", ".join(f"#f{n} = :f{n}" for n in range(len(fields)))
    try:
        dynamo.transact(
            [
                dynamo.update_op(
                    pk, sk, expression, "attribute_exists(pk) AND enabled = :on", names=names, vals=vals
                ),
                outbox.event_item("webhook.disabled", event_data, account_id, at=at),
            ]
        )
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            return False
        raise
    return True


# ---------------------------------------------------------------- deliveries


def _due_fields(pk: str, due_iso: str | None) -> dict[str, Any]:
    if due_iso is None:
        return {"due_pk": None, "due_sk": None}
    due_pk, due_sk = keys.due(DUE_KIND, due_iso, pk)
    return {"due_pk": due_pk, "due_sk": due_sk}


def put_delivery(
    account_id: str, webhook_id: str, delivery_id: str, data: Mapping[str, Any], *, due_iso: str
) -> tuple[dict[str, Any], bool]:
    """Write a new delivery: (it, True); or (the one written before under this id, False)."""
    collection = deliveries_of(webhook_id)
    stored = collection.item(account_id, delivery_id, data)
    stored.update(_due_fields(stored["pk"], due_iso))
    try:
        dynamo.put(stored, condition="attribute_not_exists(pk)")
    except dynamo.ConditionFailed:
        earlier = collection.get(account_id, delivery_id, consistent=True)
        if earlier is not None:
            return earlier, False
        raise
    return {**stored, "id": delivery_id}, True


def get_delivery(account_id: str, webhook_id: str, delivery_id: str) -> dict[str, Any] | None:
    return deliveries_of(webhook_id).get(account_id, delivery_id, consistent=True)


def page_deliveries(account_id: str, webhook_id: str, query: ListQuery) -> Page:
    return deliveries_of(webhook_id).list(account_id, query)


def claim_attempt(
    account_id: str,
    webhook_id: str,
    delivery_id: str,
    attempt: int,
    now_iso: str,
    lease_until_iso: str,
    *,
    backstop_iso: str,
) -> dict[str, Any]:
    """Take attempt `attempt` + 1 of a pending delivery for one sender until `lease_until_iso`; its place
    on the sweep index moves to `backstop_iso` (after the lease), in case the sender and its message
    both vanish. ConditionFailed when the delivery is no longer pending at that attempt, or another
    sender holds it."""
    pk, sk = deliveries_of(webhook_id).key(account_id, delivery_id)
    due_pk, due_sk = keys.due(DUE_KIND, backstop_iso, pk)
    return dynamo.update(
        pk,
        sk,
        "SET lease_until = :lease, due_pk = :dp, due_sk = :ds",
        condition="#s = :pending AND attempt = :n"
        " AND (attribute_not_exists(lease_until) OR lease_until < :now)",
        names={"#s": "state"},
        vals={
            ":pending": "pending",
            ":n": attempt,
            ":now": now_iso,
            ":lease": lease_until_iso,
            ":dp": due_pk,
            ":ds": due_sk,
        },
    )


def record_attempt(
    account_id: str,
    webhook_id: str,
    delivery_id: str,
    attempt: int,
    fields: Mapping[str, Any],
    log_entry: Mapping[str, Any],
    *,
    due_iso: str | None,
) -> dict[str, Any]:
    """Write what attempt `attempt` + 1 came to (the attempt counter moves on and the lease ends);
    ConditionFailed if another sender recorded it first."""
    pk, sk = deliveries_of(webhook_id).key(account_id, delivery_id)
    all_fields = {**fields, **_due_fields(pk, due_iso)}
    sets = ["attempt = :next", "attempts = list_append(if_not_exists(attempts, :empty), :entry)"]
    removes = ["lease_until"]
    names: dict[str, str] = {}
    vals: dict[str, Any] = {":n": attempt, ":next": attempt + 1, ":empty": [], ":entry": [dict(log_entry)]}
    for n, (name, value) in enumerate(all_fields.items()):
        names[f"#f{n}"] = name
        if value is None:
            removes.append(f"#f{n}")
        else:
            vals[f":f{n}"] = value
            sets.append(f"#f{n} = :f{n}")
    return dynamo.update(
        pk,
        sk,
        "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes),
        condition="attempt = :n",
        names=names,
        vals=vals,
    )


def close_delivery(
    account_id: str, webhook_id: str, delivery_id: str, attempt: int, state: str, error: str | None
) -> None:
    """End a pending delivery without an attempt (its subscription is gone or disabled); ConditionFailed
    if it moved on meanwhile."""
    pk, sk = deliveries_of(webhook_id).key(account_id, delivery_id)
    dynamo.update(
        pk,
        sk,
        "SET #s = :state, #e = :error REMOVE due_pk, due_sk, next_attempt_at",
        condition="#s = :pending AND attempt = :n",
        names={"#s": "state", "#e": "error"},
        vals={":state": state, ":error": error or "", ":pending": "pending", ":n": attempt},
    )


def reopen(
    account_id: str,
    webhook_id: str,
    delivery_id: str,
    *,
    was: str,
    attempt: int,
    next_attempt_iso: str,
    due_iso: str,
) -> dict[str, Any]:
    """A finished delivery pending again (a redelivery), its retry schedule started afresh;
    ConditionFailed if it changed meanwhile."""
    pk, sk = deliveries_of(webhook_id).key(account_id, delivery_id)
    due_pk, due_sk = keys.due(DUE_KIND, due_iso, pk)
    return dynamo.update(
        pk,
        sk,
        "SET #s = :pending, round_start = :n, next_attempt_at = :next, due_pk = :dp, due_sk = :ds",
        condition="#s = :was AND attempt = :n",
        names={"#s": "state"},
        vals={
            ":pending": "pending",
            ":was": was,
            ":n": attempt,
            ":next": next_attempt_iso,
            ":dp": due_pk,
            ":ds": due_sk,
        },
    )


def due_deliveries(before_iso: str, limit: int = 500) -> list[tuple[str, str, str]]:
    """(account, webhook, delivery) of the deliveries due before the time, from the sweep index."""
    found = []
    for pk, sk in sweeps.due_keys(DUE_KIND, before_iso, limit):
        _, account_id, _, webhook_id, _ = pk.split("#", 4)
        found.append((account_id, webhook_id, sk))
    return found


def postpone_due(account_id: str, webhook_id: str, delivery_id: str, before_iso: str, due_iso: str) -> bool:
    """Move a due delivery's backstop on to `due_iso` while it is still due; False if it is not."""
    pk, sk = deliveries_of(webhook_id).key(account_id, delivery_id)
    due_pk, due_sk = keys.due(DUE_KIND, due_iso, pk)
    try:
        dynamo.update(
            pk,
            sk,
            "SET due_pk = :dp, due_sk = :ds",
            condition="due_sk < :t",
            vals={":dp": due_pk, ":ds": due_sk, ":t": before_iso},
        )
    except dynamo.ConditionFailed:
        return False
    return True


# ---------------------------------------------------------------- the delivery queue


def enqueue(message: Mapping[str, Any], delay_seconds: int = 0) -> None:
    """One delivery attempt for the delivery worker, after `delay_seconds` (SQS delays up to 900 s)."""
    queues.send_webhook_delivery(dict(message), delay_seconds)
