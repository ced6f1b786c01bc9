"""Campaign lifecycle races on DynamoDB Local: exactly one request wins, money moves once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import Session, new_account
from tests.support.stack import RunningStack

pytestmark = pytest.mark.e2e


def _publishable_campaign(owner: Session, payment: float = 1, results: int = 2) -> str:
    task = owner.call("POST", "/tasks", json={"name": "t"}).json()["id"]
    job = owner.call("POST", "/jobs", json={"name": "j"}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=[task]).status_code == 200
    campaign = owner.call(
        "POST", "/campaigns", json={"name": "c", "workerPayment": payment, "results": results}
    )
    campaign_id = campaign.json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign_id}/jobs", json=[job]).status_code == 200
    return campaign_id


def _race(owner: Session, calls: list[tuple[str, str]]) -> list[int]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: owner.call("POST", call[1]).status_code, calls))


def _balance(owner: Session) -> dict[str, str]:
    return owner.call("GET", "/me").json()["balance"]


def test_concurrent_publishes_freeze_once(api: RunningStack):
    owner = new_account(api, balance=10)
    campaign_id = _publishable_campaign(owner)
    statuses = _race(owner, [("publish", f"/campaigns/{campaign_id}/publish")] * 6)
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409]
    assert _balance(owner) == {"available": "7.6 USD", "frozen": "2.4 USD"}


def test_concurrent_publish_and_cancel_leave_a_consistent_balance(api: RunningStack):
    owner = new_account(api, balance=10)
    campaign_id = _publishable_campaign(owner)
    statuses = _race(
        owner,
        [("publish", f"/campaigns/{campaign_id}/publish"), ("cancel", f"/campaigns/{campaign_id}/cancel")]
        * 3,
    )
    state = owner.call("GET", f"/campaigns/{campaign_id}").json()["state"]
    publishes, cancels = statuses[0::2], statuses[1::2]
    assert publishes.count(200) == 1
    assert cancels.count(200) <= 1
    expected = {
        "active": {"available": "7.6 USD", "frozen": "2.4 USD"},
        "cancelled": {"available": "10 USD", "frozen": "0 USD"},
    }
    assert state in expected and _balance(owner) == expected[state]
    assert (state == "cancelled") == (cancels.count(200) == 1)


def test_concurrent_cancels_release_once(api: RunningStack):
    owner = new_account(api, balance=10)
    campaign_id = _publishable_campaign(owner)
    assert owner.call("POST", f"/campaigns/{campaign_id}/publish").status_code == 200
    statuses = _race(owner, [("cancel", f"/campaigns/{campaign_id}/cancel")] * 6)
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409]
    assert _balance(owner) == {"available": "10 USD", "frozen": "0 USD"}


def test_two_campaigns_cannot_both_spend_the_same_balance(api: RunningStack):
    owner = new_account(api, balance=3)
    first, second = _publishable_campaign(owner), _publishable_campaign(owner)
    statuses = _race(
        owner, [("publish", f"/campaigns/{first}/publish"), ("publish", f"/campaigns/{second}/publish")]
    )
    assert sorted(statuses) == [200, 409]
    assert _balance(owner) == {"available": "0.6 USD", "frozen": "2.4 USD"}


def test_concurrent_job_appends_keep_every_task(api: RunningStack):
    owner = new_account(api)
    job = owner.call("POST", "/jobs", json={"name": "j"}).json()["id"]
    task_ids = [owner.call("POST", "/tasks", json={"name": f"t{n}"}).json()["id"] for n in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(lambda t: owner.call("POST", f"/jobs/{job}/tasks", json=[t]).status_code, task_ids)
        )
    assert statuses == [200] * 6
    listed = owner.call("GET", f"/jobs/{job}/tasks", params={"limit": 100}).json()["tasks"]
    assert sorted(t["id"] for t in listed) == sorted(task_ids)
