"""Bonuses on moto: who may be paid, exact money with the commission, once per key, the 409, the list."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crowdtask import errors
from crowdtask.models.bonuses import BonusIn
from crowdtask.models.listing import ListQuery
from crowdtask.services import assignments, bonuses, workers
from crowdtask.store import accounts as account_store
from tests.support.accounts import make_account
from tests.support.eventbus import EventTap
from tests.support.market import balances, claim_and_submit, published_job


def _usd(text: str) -> Decimal:
    return Decimal(text.split(maxsplit=1)[0])


def _worked_for(requester_id: str, worker_id: str) -> str:
    """The worker submits a result in a campaign of the requester: its id."""
    _, job_id = published_job(requester_id)
    return claim_and_submit(worker_id, job_id).id


def _bonus(
    worker_id: str, amount: str = "0.25", result: str | None = None, reason: str = "thanks"
) -> BonusIn:
    return BonusIn.model_validate({"worker": worker_id, "amount": amount, "result": result, "reason": reason})


def test_a_bonus_moves_amount_and_commission_exactly_and_the_worker_sees_it(requester, worker):
    # Given a worker who has a result with the requester (whose commission rate is 0.2)
    result_id = _worked_for(requester.id, worker.id)
    available_before = _usd(balances(requester.id)[0])
    revenue_before = account_store.platform_revenue()
    tap = EventTap()
    # When the requester pays a bonus of a third of a dollar, to the micro-dollar
    paid, created = bonuses.pay(requester.id, _bonus(worker.id, "0.333333", result_id), "key-1")
    # Then the commission is rounded down to the micro-dollar, as on results, and both leave the balance
    assert created
    assert (paid.amount, paid.commission, paid.cost, paid.result) == (
        "0.333333 USD",
        "0.066666 USD",
        "0.399999 USD",
        result_id,
    )
    assert _usd(balances(requester.id)[0]) == available_before - Decimal("0.399999")
    assert account_store.platform_revenue() - revenue_before == Decimal("0.066666")
    # And the worker's earnings show it apart from rewards, in the total, with nothing pending or in points
    me = workers.me(worker.id)
    assert (me.earnings.bonuses, me.earnings.paid, me.earnings.total, me.earnings.pending) == (
        "0.333333 USD",
        "0 USD",
        "0.333333 USD",
        "0.5 USD",
    )
    assert me.points == 0 and me.results.approved == 0
    # And the bus hears of it
    [event] = [e for e in tap.drain() if e["detail-type"] == "bonus.paid"]
    assert (event["detail"]["account"], event["detail"]["type"]) == (requester.id, "bonus.paid")
    assert event["detail"]["data"] == {
        "bonusId": paid.id,
        "requesterId": requester.id,
        "workerId": worker.id,
        "resultId": result_id,
        "amount": "0.333333",
        "commission": "0.066666",
        "reason": "thanks",
    }


def test_the_same_key_pays_once_and_another_body_with_it_is_refused(requester, worker):
    _worked_for(requester.id, worker.id)
    available_before = _usd(balances(requester.id)[0])
    first, created = bonuses.pay(requester.id, _bonus(worker.id, "1"), "same")
    again, created_again = bonuses.pay(requester.id, _bonus(worker.id, "1"), "same")
    assert (created, created_again) == (True, False) and again == first
    assert _usd(balances(requester.id)[0]) == available_before - Decimal("1.2")
    assert workers.me(worker.id).earnings.bonuses == "1 USD"
    with pytest.raises(errors.ValidationFailed) as refused:
        bonuses.pay(requester.id, _bonus(worker.id, "2"), "same")
    assert refused.value.errors[0]["field"] == "Idempotency-Key"
    # a new key is a new bonus
    bonuses.pay(requester.id, _bonus(worker.id, "1"), "other")
    assert workers.me(worker.id).earnings.bonuses == "2 USD"


@pytest.mark.balance(2)
def test_a_bonus_past_the_available_balance_is_a_409_with_the_balance_and_moves_nothing(requester, worker):
    # Given 2 USD of which publishing froze 1.2: 0.8 available
    _worked_for(requester.id, worker.id)
    assert balances(requester.id) == ("0.8 USD", "1.2 USD")
    # When a bonus of 0.7 (0.84 with the commission) is asked for
    with pytest.raises(errors.Conflict) as refused:
        bonuses.pay(requester.id, _bonus(worker.id, "0.7"), "too-much")
    # Then it is refused with the balance, and nothing moved
    assert refused.value.extra == {"balance": {"available": "0.8 USD", "frozen": "1.2 USD"}}
    assert "0.84 USD" in refused.value.description
    assert balances(requester.id) == ("0.8 USD", "1.2 USD")
    assert workers.me(worker.id).earnings.bonuses == "0 USD"
    # While what the balance covers exactly is paid
    bonuses.pay(requester.id, _bonus(worker.id, "0.666666"), "exactly")
    assert balances(requester.id)[0] == "0.000001 USD"


def test_only_workers_who_worked_for_the_requester_and_their_results(requester, worker):
    stranger = make_account("worker")
    other = make_account(balance=10)
    mine = _worked_for(requester.id, worker.id)
    theirs = _worked_for(other.id, stranger.id)
    for asked in (
        _bonus(stranger.id),  # worked for another requester only
        _bonus(requester.id),  # not a worker at all
        _bonus("01JB0000000000000000000000"),  # no such account
        _bonus(worker.id, result=theirs),  # another requester's result
        _bonus(stranger.id, result=theirs),
    ):
        with pytest.raises(errors.NotFound):
            bonuses.pay(requester.id, asked, f"k-{asked.worker}-{asked.result}")
    second = make_account("worker")
    other_worker_result = _worked_for(requester.id, second.id)
    with pytest.raises(errors.NotFound, match="No result"):
        bonuses.pay(requester.id, _bonus(worker.id, result=other_worker_result), "not-theirs")
    assert bonuses.pay(requester.id, _bonus(worker.id, result=mine), "fine")[1]


def test_a_worker_who_only_gave_up_assignments_has_not_worked_for_the_requester(requester, worker):
    _, job_id = published_job(requester.id)
    claimed = assignments.claim(worker.id, job_id, None, None, None)
    assignments.release(worker.id, claimed.id)
    with pytest.raises(errors.NotFound, match="has not worked for you"):
        bonuses.pay(requester.id, _bonus(worker.id), "released")


def test_bonuses_are_listed_newest_first_by_worker_and_paged(requester, worker, frozen_clock):
    second = make_account("worker")
    _worked_for(requester.id, worker.id)
    _worked_for(requester.id, second.id)
    paid = []
    for n, paid_to in enumerate([worker.id, second.id, worker.id, worker.id]):
        frozen_clock.advance(seconds=1)  # ids sort by the time they are made
        paid.append(bonuses.pay(requester.id, _bonus(paid_to, "0.01", reason=f"n{n}"), f"k{n}")[0])
    query = ListQuery(order="id", descending=True, limit=2)
    page, more = bonuses.list_bonuses(requester.id, query, worker=worker.id)
    assert [b.reason for b in page] == ["n3", "n2"] and more.has_more
    rest, last = bonuses.list_bonuses(requester.id, query._replace(after=more.last_key), worker=worker.id)
    assert [b.reason for b in rest] == ["n0"] and not last.has_more
    everyone, _ = bonuses.list_bonuses(requester.id, query._replace(limit=10), worker=None)
    assert [b.id for b in everyone] == [b.id for b in reversed(paid)]
    # another requester sees none of them
    other = make_account(balance=1)
    assert bonuses.list_bonuses(other.id, query, worker=None)[0] == []
    with pytest.raises(errors.NotFound):
        bonuses.get_bonus(other.id, paid[0].id)
