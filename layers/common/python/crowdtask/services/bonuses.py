"""Bonuses, as Mechanical Turk pays them: from the requester's available balance at once, with the
commission on top, to a worker who has worked for the requester; once per request.

A bonus is not a result's reward: it is never in review, moves no points, reputation or quality
figure (`earnings24h` counts approved rewards only), and shows apart in the worker's earnings.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from crowdtask import clock, errors, ids, money
from crowdtask.models.accounts import Balance
from crowdtask.models.bonuses import BonusIn, BonusOut
from crowdtask.models.listing import ListQuery, Page
from crowdtask.services import pricing
from crowdtask.store import Contended, outbox
from crowdtask.store import accounts as account_store
from crowdtask.store import bonuses as bonus_store
from crowdtask.store import results as result_store


def _digest(request_key: str) -> str:
    return hashlib.sha256(request_key.encode()).hexdigest()


def to_bonus(item: dict[str, Any]) -> BonusOut:
    amount, commission = Decimal(str(item["amount"])), Decimal(str(item["commission"]))
    return BonusOut(
        id=str(item["id"]),
        worker=str(item["worker"]),
        result=item.get("result"),
        amount=money.usd(amount),
        commission=money.usd(commission),
        cost=money.usd(amount + commission),
        reason=str(item["reason"]),
        createdAt=str(item["createdAt"]),
    )


def _require_worked_for(requester_id: str, bonus: BonusIn) -> None:
    """404 unless the worker has a result with the requester (and `result` is one of the worker's)."""
    row = result_store.requester_worker(requester_id, bonus.worker) or {}
    if int(row.get("submitted", 0) or 0) < 1:
        raise errors.NotFound(f"Worker {bonus.worker} has not worked for you.")
    if bonus.result is not None:
        result = result_store.get(requester_id, bonus.result)
        if result is None or result.get("worker_id") != bonus.worker:
            raise errors.NotFound(f"No result {bonus.result} of worker {bonus.worker} in your account.")


def _same_request(requester_id: str, bonus_id: str, bonus: BonusIn) -> BonusOut:
    """The bonus an earlier request with the same key paid; the key must not carry another bonus."""
    item = bonus_store.get(requester_id, bonus_id)
    if item is None:  # the bonus and its request are written together: never the one alone
        raise errors.Conflict(f"Bonus {bonus_id} of this Idempotency-Key cannot be read yet; retry.")
    asked = (bonus.worker, money.amount(bonus.amount), bonus.result, bonus.reason)
    if (item["worker"], money.amount(item["amount"]), item.get("result"), item["reason"]) != asked:
        raise errors.ValidationFailed.one(
            "Idempotency-Key", "this key was already used with a different request body", "KEY_REUSED"
        )
    return to_bonus(item)


def _balance_short(requester_id: str, cost: Decimal) -> errors.Conflict:
    account = account_store.get(requester_id) or {}
    balance = Balance(
        available=money.usd(account.get("balance_available", 0)),
        frozen=money.usd(account.get("balance_frozen", 0)),
    )
    return errors.Conflict(
        f"The bonus costs {money.usd(cost)} with the commission; {balance.available} is available. "
        "Credit the account or pay less.",
        balance=balance.model_dump(),
    )


def pay(requester_id: str, bonus: BonusIn, request_key: str) -> tuple[BonusOut, bool]:
    """Pay a bonus once per `request_key` (the client's Idempotency-Key): (the bonus, paid now).

    The amount goes to the worker's earnings and the commission (the requester's rate, as on
    results) to the platform, both from the available balance, in one conditional write: 409 with
    the balance when it cannot cover them, however many bonuses are paid at once.
    """
    digest = _digest(request_key)
    earlier = bonus_store.requested(requester_id, digest)
    if earlier is not None:
        return _same_request(requester_id, earlier, bonus), False
    _require_worked_for(requester_id, bonus)
    account = account_store.get(requester_id) or {}
    amount = money.amount(bonus.amount)
    commission = pricing.commission_of(amount, Decimal(str(account.get("commissionRate", 0))))
    data = {
        "worker": bonus.worker,
        "result": bonus.result,
        "amount": amount,
        "commission": commission,
        "reason": bonus.reason,
        "createdAt": clock.iso(clock.now()),
    }
    bonus_id = ids.new_id()
    paid_event = outbox.event_item(
        "bonus.paid",
        {
            "bonusId": bonus_id,
            "requesterId": requester_id,
            "workerId": bonus.worker,
            "resultId": bonus.result,
            "amount": str(amount),
            "commission": str(commission),
            "reason": bonus.reason,
        },
        requester_id,
    )
    try:
        stored = bonus_store.pay(
            requester_id,
            bonus_id,
            {k: v for k, v in data.items() if v is not None},
            request_digest=digest,
            amount=amount,
            commission=commission,
            events=[paid_event],
        )
    except bonus_store.AlreadyRequested as exc:  # the same request, concurrently: it paid
        return _same_request(requester_id, exc.bonus_id, bonus), False
    except bonus_store.BalanceShort as exc:
        raise _balance_short(requester_id, amount + commission) from exc
    except bonus_store.NotWorkedFor as exc:
        raise errors.NotFound(f"Worker {bonus.worker} has not worked for you.") from exc
    except Contended as exc:
        raise errors.Conflict(
            "Too many payments from this account at once; retry with the same key."
        ) from exc
    return to_bonus(stored), True


def get_bonus(requester_id: str, bonus_id: str) -> BonusOut:
    found = bonus_store.get(requester_id, bonus_id)
    if found is None:
        raise errors.NotFound(f"No bonus {bonus_id} in your account.")
    return to_bonus(found)


def list_bonuses(requester_id: str, query: ListQuery, *, worker: str | None) -> tuple[list[BonusOut], Page]:
    """A page of the requester's bonuses (of one worker, with `worker`)."""
    equals = {**query.equals, **({"worker": worker} if worker else {})}
    page = bonus_store.page(requester_id, query._replace(equals=equals))
    return [to_bonus(item) for item in page.items], page
