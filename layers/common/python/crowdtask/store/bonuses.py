"""Bonuses: what a requester pays a worker beyond a result's reward, written with the money it moves.

A bonus is an item of its requester's BONUS collection. Paying one is a single transaction: the
bonus; the request it answers (one item per Idempotency-Key of the requester, so a retry the HTTP
layer no longer remembers still finds the bonus instead of paying again); the requester's available
balance, conditioned on covering amount plus commission (concurrent bonuses can never overdraw it);
the worker's bonus earnings; the platform's commission; and a check that the worker has submitted a
result to this requester (their per-requester statistics row counts `submitted`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crowdtask.models.listing import ListQuery, Page
from crowdtask.store import Contended, Refused, accounts, dynamo, keys, market
from crowdtask.store.changes import Change
from crowdtask.store.collections import Collection

BONUSES = Collection("BONUS", shards=1)
# What a worker's account holds of the bonuses paid to them (GET /workers/me reads them).
EARNINGS = "earnings_bonus"


class BalanceShort(Refused):
    """The requester's available balance does not cover the bonus and its commission."""


class NotWorkedFor(Refused):
    """The worker has never submitted a result to this requester (or is not a worker)."""


class AlreadyRequested(Refused):
    """This request (its Idempotency-Key) has paid a bonus already: `bonus_id`."""

    def __init__(self, bonus_id: str):
        super().__init__(bonus_id)
        self.bonus_id = bonus_id


_ITEM, _REQUEST, _BALANCE, _WORKER, _WORKED_FOR = range(5)


def pay(
    requester_id: str,
    bonus_id: str,
    data: Mapping[str, Any],
    *,
    request_digest: str,
    amount: Decimal,
    commission: Decimal,
    events: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Pay `data["worker"]` the bonus `bonus_id`: amount to them, commission to the platform, both
    from the requester's available balance, with its `events` (outbox items). BalanceShort,
    NotWorkedFor, AlreadyRequested (the request's bonus id), or Contended when concurrent payments
    kept cancelling it."""
    worker_id = str(data["worker"])
    stored = BONUSES.item(requester_id, bonus_id, data)
    request_pk, request_sk = keys.bonus_request(requester_id, request_digest)
    cost = amount + commission
    changes: list[Change | dict[str, Any]] = [
        dynamo.put_op(stored, "attribute_not_exists(pk)"),
        dynamo.put_op(
            {"pk": request_pk, "sk": request_sk, "type": "bonus_request", "bonus_id": bonus_id},
            "attribute_not_exists(pk)",
        ),
        accounts.balance_change(requester_id)
        .add("balance_available", -cost)
        .require("{balance_available} >= :cost", cost=cost),
        accounts.balance_change(worker_id).add(EARNINGS, amount).require("{role} = :worker", worker="worker"),
        Change(*keys.requester_worker(requester_id, worker_id)).require("{submitted} > :none", none=0),
    ]
    if commission:
        changes.append(accounts.revenue_change(bonus_id).add("commission", commission))
    changes += events
    try:
        dynamo.retry_contended(lambda: market.transact(changes))
    except dynamo.TransactionConflict as exc:
        if exc.failed(_REQUEST):
            earlier = requested(requester_id, request_digest)
            raise AlreadyRequested(earlier or bonus_id) from exc
        if exc.failed(_BALANCE):
            raise BalanceShort(requester_id) from exc
        if exc.failed(_WORKER) or exc.failed(_WORKED_FOR):
            raise NotWorkedFor(worker_id) from exc
        raise Contended(bonus_id) from exc
    return {**stored, "id": bonus_id}


def requested(requester_id: str, request_digest: str) -> str | None:
    """The id of the bonus the request paid, or None when it paid none."""
    item = dynamo.get(*keys.bonus_request(requester_id, request_digest), consistent=True)
    return None if item is None else str(item["bonus_id"])


def get(requester_id: str, bonus_id: str) -> dict[str, Any] | None:
    return BONUSES.get(requester_id, bonus_id, consistent=True)


def page(requester_id: str, query: ListQuery) -> Page:
    return BONUSES.list(requester_id, query)
