"""Bonuses through the answers function: the required Idempotency-Key, links, the 409 body, paging."""

from __future__ import annotations

import json

from tests.support.accounts import make_account
from tests.support.handlers import call, invoke, sample_event
from tests.support.market import claim_and_submit, published_job

HAL = {"Accept": "application/hal+json"}


def _worked_for(requester_id: str, worker_id: str) -> str:
    _, job_id = published_job(requester_id)
    return claim_and_submit(worker_id, job_id).id


def _pay(token: str, body: dict, key: str | None, **extra: str):
    """POST /bonuses with `key` as the Idempotency-Key (None: without the header)."""
    if key is not None:
        headers = {**extra, "Idempotency-Key": key}
        return invoke("answers", "answers_pay_bonus", token=token, body=body, headers=headers)
    event = sample_event("answers_pay_bonus")
    kept = {k: v for k, v in event["headers"].items() if k != "Idempotency-Key"}
    event["headers"] = {**kept, "X-Auth-Token": token, **extra}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["body"] = json.dumps(body)
    return call("answers", event)


def test_a_bonus_without_an_idempotency_key_is_refused_naming_the_header(requester, worker):
    _worked_for(requester.id, worker.id)
    body = {"worker": worker.id, "amount": 1, "reason": "thanks"}
    for key in (None, ""):
        refused = _pay(requester.token, body, key)
        assert refused.status == 422, refused.body
        assert refused.body["errors"][0]["field"].lower() == "idempotency-key"
    me = invoke("market", "market_worker_me", token=worker.token)
    assert me.body["earnings"]["bonuses"] == "0 USD"


def test_a_bonus_is_created_with_location_and_links_and_replayed_for_its_key(requester, worker):
    result_id = _worked_for(requester.id, worker.id)
    body = {"worker": worker.id, "amount": 0.5, "result": result_id, "reason": "great work"}
    made = _pay(requester.token, body, "k-1", **HAL)
    assert made.status == 201, made.body
    bonus_id = made.body["id"]
    assert made.header("Location") == f"/bonuses/{bonus_id}"
    assert made.body["_links"] == {
        "self": {"href": f"/bonuses/{bonus_id}"},
        "worker": {"href": f"/workers/{worker.id}/quality"},
        "workerBonuses": {"href": f"/bonuses?worker={worker.id}"},
        "result": {"href": f"/results/{result_id}"},
    }
    assert (made.body["amount"], made.body["commission"], made.body["cost"]) == (
        "0.5 USD",
        "0.1 USD",
        "0.6 USD",
    )
    again = _pay(requester.token, body, "k-1", **HAL)
    assert (again.status, again.body) == (201, made.body)
    assert again.header("Idempotent-Replayed") == "true"
    got = invoke("answers", "answers_get_bonus", token=requester.token, path_params={"id": bonus_id})
    assert got.status == 200 and got.body["reason"] == "great work"
    me = invoke("market", "market_worker_me", token=worker.token)
    assert me.body["earnings"] == {
        "pending": "0.5 USD",
        "paid": "0 USD",
        "bonuses": "0.5 USD",
        "total": "0.5 USD",
    }


def test_a_bonus_the_balance_does_not_cover_is_409_with_the_balance(worker):
    poor = make_account(balance=2)
    _worked_for(poor.id, worker.id)
    refused = _pay(poor.token, {"worker": worker.id, "amount": 5, "reason": "x"}, "k-2")
    assert refused.status == 409
    assert refused.body["balance"] == {"available": "0.8 USD", "frozen": "1.2 USD"}
    assert refused.body["code"] == 1009 and "6 USD" in refused.body["description"]


def test_bonus_refusals_by_field_role_and_ownership(requester, worker):
    other = make_account(balance=10)
    result_id = _worked_for(requester.id, worker.id)
    for n, (body, field) in enumerate(
        (
            ({"worker": worker.id, "amount": 0, "reason": "x"}, "amount"),
            ({"worker": worker.id, "amount": "0.0000001", "reason": "x"}, "amount"),
            ({"worker": worker.id, "amount": 1, "reason": ""}, "reason"),
            ({"worker": worker.id, "amount": 1}, "reason"),
        )
    ):
        reply = _pay(requester.token, body, f"bad-{n}")
        assert reply.status == 422 and reply.body["errors"][0]["field"] == field, reply.body
    assert _pay(worker.token, {"worker": worker.id, "amount": 1, "reason": "x"}, "w").status == 403
    # another requester: the worker never worked for them, the result is not theirs, the bonus is not theirs
    assert _pay(other.token, {"worker": worker.id, "amount": 1, "reason": "x"}, "o1").status == 404
    made = _pay(requester.token, {"worker": worker.id, "amount": 1, "reason": "x"}, "mine")
    assert made.status == 201
    for name, params in (("answers_get_bonus", {"id": made.body["id"]}),):
        assert invoke("answers", name, token=other.token, path_params=params).status == 404
    _worked_for(other.id, worker.id)
    stolen = _pay(other.token, {"worker": worker.id, "amount": 1, "result": result_id, "reason": "x"}, "o2")
    assert stolen.status == 404


def test_bonuses_are_listed_by_worker_in_pages_with_next_links(requester, worker, frozen_clock):
    second = make_account("worker")
    _worked_for(requester.id, worker.id)
    _worked_for(requester.id, second.id)
    made = []
    for n, paid_to in enumerate([worker.id, second.id, worker.id, worker.id, worker.id]):
        frozen_clock.advance(seconds=1)
        reply = _pay(requester.token, {"worker": paid_to, "amount": 0.01, "reason": f"n{n}"}, f"k{n}")
        made.append(reply.body["id"])
    seen, query = [], {"worker": [worker.id], "limit": ["2"]}
    while True:
        page = invoke("answers", "answers_list_bonuses", token=requester.token, query=query, headers=HAL)
        assert page.status == 200, page.body
        seen += [b["reason"] for b in page.body["bonuses"]]
        assert all(b["worker"] == worker.id for b in page.body["bonuses"])
        following = page.body["_links"].get("next")
        if following is None:
            break
        assert f"worker={worker.id}" in following["href"] and page.header("Link")
        query = {**query, "after": [following["href"].split("after=")[1].split("&")[0]]}
    assert seen == ["n4", "n3", "n2", "n0"]
