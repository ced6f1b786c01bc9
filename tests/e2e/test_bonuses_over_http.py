"""Bonuses over HTTP on DynamoDB Local: once per Idempotency-Key, never past the balance under races."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import Session, new_account
from tests.support.stack import RunningStack

pytestmark = pytest.mark.e2e

CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}


def _usd(text: str) -> Decimal:
    return Decimal(text.split(maxsplit=1)[0])


def _worked_for(owner: Session, worker: Session) -> str:
    """A published campaign of one yes/no task at 0.5 USD x 2 results; the worker submits: the result id."""
    task = owner.call("POST", "/tasks", json={"name": "Yes?", "components": [CHOICE]}).json()["id"]
    job = owner.call("POST", "/jobs", json={"name": "j"}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=[task]).status_code == 200
    body = {"name": "c", "workerPayment": 0.5, "results": 2}
    campaign = owner.call("POST", "/campaigns", json=body).json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign}/jobs", json=[job]).status_code == 200
    assert owner.call("POST", f"/campaigns/{campaign}/publish").status_code == 200
    claim = worker.call("POST", f"/market/jobs/{job}/claim").json()
    answer = {"taskResults": [{"task": task, "components": [{"result": {"selectedOption": "Yes"}}]}]}
    submitted = worker.call("POST", f"/assignments/{claim['id']}/submit", json=answer)
    assert submitted.status_code == 201, submitted.text
    return submitted.json()["id"]


def _pay(owner: Session, key: str, **body: Any) -> Any:
    return owner.call("POST", "/bonuses", json={"reason": "thanks", **body}, headers={"Idempotency-Key": key})


def _available(owner: Session) -> Decimal:
    return _usd(owner.call("GET", "/me").json()["balance"]["available"])


def test_a_retried_bonus_pays_once_and_another_key_pays_again(api: RunningStack):
    # Given a worker with a result for a requester holding 10 USD (8.8 available once published)
    owner, worker = new_account(api, balance=10), new_account(api, role="worker")
    result_id = _worked_for(owner, worker)
    assert _available(owner) == Decimal("8.8")
    # When the same payment is sent three times with one key
    key = str(uuid.uuid4())
    replies = [_pay(owner, key, worker=worker.id, amount=1.5, result=result_id) for _ in range(3)]
    # Then every answer is the same bonus, and it was paid once (1.5 plus 20%)
    assert [r.status_code for r in replies] == [201, 201, 201]
    assert len({r.json()["id"] for r in replies}) == 1
    assert [r.headers.get("Idempotent-Replayed") for r in replies[1:]] == ["true", "true"]
    assert _available(owner) == Decimal("7")
    # And a second key is a second bonus
    assert _pay(owner, str(uuid.uuid4()), worker=worker.id, amount=1.5).status_code == 201
    assert _available(owner) == Decimal("5.2")
    # And the worker's earnings show both, apart from the pending reward
    assert worker.call("GET", "/workers/me").json()["earnings"] == {
        "pending": "0.5 USD",
        "paid": "0 USD",
        "bonuses": "3 USD",
        "total": "3 USD",
    }
    listed = owner.call("GET", "/bonuses", params={"worker": worker.id}).json()["bonuses"]
    assert [b["amount"] for b in listed] == ["1.5 USD", "1.5 USD"]
    # And without a key nothing is paid
    refused = owner.call("POST", "/bonuses", json={"worker": worker.id, "amount": 1, "reason": "x"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"].lower() == "idempotency-key"


def test_concurrent_bonuses_never_overdraw_the_balance(api: RunningStack):
    # Given 2.8 USD available after publishing (4 USD, 1.2 frozen) and a worker who worked for the requester
    owner, worker = new_account(api, balance=4), new_account(api, role="worker")
    _worked_for(owner, worker)
    assert _available(owner) == Decimal("2.8")
    # When 12 bonuses of 0.25 USD (0.3 each with the commission) are paid at once, each with its own key
    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(
            pool.map(
                lambda n: _pay(owner, f"race-{uuid.uuid4()}-{n}", worker=worker.id, amount=0.25), range(12)
            )
        )
    # Then 9 are paid (2.7 USD) and 3 are refused with the balance; nothing is overdrawn
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201] * 9 + [409] * 3, [r.text for r in replies if r.status_code not in (201, 409)]
    for refused in (r for r in replies if r.status_code == 409):
        assert set(refused.json()["balance"]) == {"available", "frozen"}
    assert _available(owner) == Decimal("0.1")
    me = worker.call("GET", "/workers/me").json()["earnings"]
    assert me["bonuses"] == "2.25 USD"
    # And one more past the balance is a 409 naming it
    late = _pay(owner, str(uuid.uuid4()), worker=worker.id, amount=0.1)
    assert late.status_code == 409 and late.json()["balance"] == {"available": "0.1 USD", "frozen": "1.2 USD"}


def test_another_requesters_worker_and_result_are_404(api: RunningStack):
    owner, other = new_account(api, balance=10), new_account(api, balance=10)
    worker, stranger = new_account(api, role="worker"), new_account(api, role="worker")
    result_id = _worked_for(owner, worker)
    _worked_for(other, stranger)
    assert _pay(owner, str(uuid.uuid4()), worker=stranger.id, amount=1).status_code == 404
    assert _pay(other, str(uuid.uuid4()), worker=worker.id, amount=1).status_code == 404
    assert _pay(other, str(uuid.uuid4()), worker=stranger.id, amount=1, result=result_id).status_code == 404
    assert _available(other) == Decimal("8.8")
    assert stranger.call("GET", "/workers/me").json()["earnings"]["bonuses"] == "0 USD"
