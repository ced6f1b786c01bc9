"""The job market over HTTP on DynamoDB Local: the full path, and the races moto cannot hold.

moto applies conditional writes one request at a time under a lock of its own; DynamoDB Local
behaves like DynamoDB (concurrent transactions, cancellations), so claims racing for the last slot
and approve-all racing the auto-approval sweep are tested here.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import Session, new_account
from tests.support.stack import RunningStack, run_readme_session

pytestmark = pytest.mark.e2e

CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}


def _published_job(owner: Session, **campaign: Any) -> tuple[str, str]:
    """A published campaign of one job with one yes/no task: (campaign id, job id)."""
    task = owner.call(
        "POST",
        "/tasks",
        json={"name": "Is it a cat?", "components": [{"type": "Image", "url": "https://x.io/c.png"}, CHOICE]},
    ).json()["id"]
    job = owner.call("POST", "/jobs", json={"name": "cats"}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=[task]).status_code == 200
    body = {"name": "cats", "workerPayment": 0.5, "results": 2, **campaign}
    campaign_id = owner.call("POST", "/campaigns", json=body).json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign_id}/jobs", json=[job]).status_code == 200
    published = owner.call("POST", f"/campaigns/{campaign_id}/publish")
    assert published.status_code == 200, published.text
    return campaign_id, job


def _answers(assignment: dict[str, Any], choice: str = "Yes") -> dict[str, Any]:
    return {
        "taskResults": [
            {"task": t["id"], "components": [{"result": None}, {"result": {"selectedOption": choice}}]}
            for t in assignment["tasks"]
        ]
    }


def _claim_and_submit(worker: Session, job_id: str) -> dict[str, Any]:
    claim = worker.call("POST", f"/market/jobs/{job_id}/claim")
    assert claim.status_code == 201, claim.text
    submitted = worker.call("POST", f"/assignments/{claim.json()['id']}/submit", json=_answers(claim.json()))
    assert submitted.status_code == 201, submitted.text
    return submitted.json()


def _usd(text: str) -> Decimal:
    return Decimal(text.split(maxsplit=1)[0])


def _revenue(api: RunningStack) -> Decimal:
    table = api.info["tables"]["MainTable"]
    keys = [{"pk": {"S": f"PLATFORM#REVENUE#{n:02d}"}, "sk": {"S": "REVENUE"}} for n in range(16)]
    found = api.client("dynamodb").batch_get_item(
        RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
    )
    return sum(
        (Decimal(i["commission"]["N"]) for i in found["Responses"][table] if "commission" in i), Decimal(0)
    )


def _self_signed_worker(api: RunningStack) -> Session:
    email, password = f"worker-{uuid.uuid4().hex[:12]}@example.com", "a long enough passphrase"
    signed = api.request("POST", "/workers/signup", json={"email": email, "password": password})
    assert signed.status_code == 201, signed.text
    token = api.request("POST", "/auth/token/request", json={"email": email, "password": password}).json()
    return Session(api, signed.json()["id"], email, password, token["accessToken"])


def test_publish_claim_submit_review_pay_finish(api: RunningStack):
    # Given a requester with 10 USD and a campaign of one job needing 2 results at 0.5 USD (20% commission)
    owner = new_account(api, balance=10)
    campaign_id, job_id = _published_job(owner, title="Cats", maxWorkTime="10 min")
    assert owner.call("GET", "/me").json()["balance"] == {"available": "8.8 USD", "frozen": "1.2 USD"}
    revenue_before = _revenue(api)
    ann, bob = _self_signed_worker(api), new_account(api, role="worker")
    # When a worker finds the job on the market and claims it
    listed = ann.call("GET", "/market/jobs", params={"limit": 100}).json()["jobs"]
    mine = next(j for j in listed if j["id"] == job_id)
    assert (mine["campaign"], mine["title"], mine["remaining"], mine["workerPayment"]) == (
        campaign_id,
        "Cats",
        2,
        0.5,
    )
    claim = ann.call("POST", f"/market/jobs/{job_id}/claim", params={"campaign": campaign_id})
    assert claim.status_code == 201
    assignment = claim.json()
    assert [t["name"] for t in assignment["tasks"]] == ["Is it a cat?"] and assignment["state"] == "open"
    assert ann.call("GET", f"/assignments/{assignment['id']}").json()["deadline"] == assignment["deadline"]
    # and submits: a bad component result is named, a good one is in review
    bad = ann.call("POST", f"/assignments/{assignment['id']}/submit", json=_answers(assignment, "Maybe"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "taskResults[0].components[1].result.selectedOption"
    first = ann.call("POST", f"/assignments/{assignment['id']}/submit", json=_answers(assignment)).json()
    assert first["state"] == "InReview"
    assert ann.call("GET", "/workers/me").json()["earnings"] == {
        "pending": "0.5 USD",
        "paid": "0 USD",
        "bonuses": "0 USD",
        "total": "0 USD",
    }
    second = _claim_and_submit(bob, job_id)
    # Then the requester sees both, by campaign and by worker
    listed_results = owner.call(
        "GET", f"/campaigns/{campaign_id}/results", params={"state": "InReview"}
    ).json()
    assert {r["id"] for r in listed_results["results"]} == {first["id"], second["id"]}
    workers = owner.call("GET", f"/campaigns/{campaign_id}/workers", params={"InReview": "true"}).json()[
        "workers"
    ]
    assert {w["id"] for w in workers} == {ann.id, bob.id}
    # When one is rejected (the job reopens) and the replacement and the other are approved
    rejected = owner.call("POST", f"/results/{second['id']}/reject", json={"reason": "Not a cat"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "Rejected"
    assert bob.call("GET", "/workers/me").json()["reputation"] == 0
    third = _claim_and_submit(bob, job_id)
    approved = owner.call("POST", f"/results/{first['id']}/approve", json={"message": "Well done!"})
    assert approved.status_code == 200 and approved.json()["message"] == "Well done!"
    again = owner.call("POST", f"/results/{first['id']}/approve")
    assert again.status_code == 409 and "is Approved" in again.json()["description"]
    assert owner.call("POST", f"/results/{third['id']}/approve").status_code == 200
    # Then the workers are paid, the campaign is finished and nothing stays frozen
    assert owner.call("GET", f"/campaigns/{campaign_id}").json()["state"] == "finished"
    assert owner.call("GET", "/me").json()["balance"] == {"available": "8.8 USD", "frozen": "0 USD"}
    for worker in (ann, bob):
        me = worker.call("GET", "/workers/me").json()
        assert (
            me["earnings"] == {"pending": "0 USD", "paid": "0.5 USD", "bonuses": "0 USD", "total": "0.5 USD"}
            and me["points"] == 1
        )
    assert _revenue(api) - revenue_before == Decimal("0.2")
    assert ann.call("POST", f"/market/jobs/{job_id}/claim").status_code == 409


def test_many_workers_race_for_the_last_slots(api: RunningStack):
    # Given a job that needs 3 results and 12 workers who want it
    owner = new_account(api, balance=10)
    _, job_id = _published_job(owner, results=3)
    crowd = [new_account(api, role="worker") for _ in range(12)]
    # When they all claim at once
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda w: w.call("POST", f"/market/jobs/{job_id}/claim").status_code, crowd))
    # Then exactly 3 win and the rest are told the job is full
    assert sorted(statuses) == [201] * 3 + [409] * 9
    assert all(
        job_id != j["id"] for j in crowd[0].call("GET", "/market/jobs", params={"limit": 100}).json()["jobs"]
    )


def test_one_worker_racing_itself_stays_within_max_results_per_worker(api: RunningStack):
    owner = new_account(api, balance=10)
    _, job_id = _published_job(owner, results=8, maxResultsPerWorker=2)
    worker = new_account(api, role="worker")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: worker.call("POST", f"/market/jobs/{job_id}/claim").status_code, range(8))
        )
    assert sorted(statuses) == [201] * 2 + [409] * 6


def test_approve_all_racing_the_auto_approval_sweep_pays_each_result_once(api: RunningStack):
    # Given 16 results in review with a 1-second review window: the first 8 are past it by the time
    # the other 8 workers have signed up and submitted
    owner = new_account(api, balance=20)
    campaign_id, job_id = _published_job(owner, results=16, maxReviewTime="1 sec")
    revenue_before = _revenue(api)
    crowd: list[Session] = []
    submitted: list[dict[str, Any]] = []
    for _ in range(2):
        wave = [new_account(api, role="worker") for _ in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            submitted += list(pool.map(lambda w: _claim_and_submit(w, job_id), wave))
        crowd += wave

    # When approve-all runs while the scheduled sweeps keep firing
    def sweep_until(done: Any) -> int:
        runs = 0
        while not done.done() or runs == 0:
            assert api.request("POST", "/_local/schedules/run", timeout=120).status_code == 200
            runs += 1
        return runs

    with ThreadPoolExecutor(max_workers=3) as pool:
        approve_all = pool.submit(owner.call, "POST", f"/campaigns/{campaign_id}/results/approve-all")
        sweepers = [pool.submit(sweep_until, approve_all) for _ in range(2)]
        assert approve_all.result().status_code == 200
        assert all(s.result() >= 1 for s in sweepers)
    # Then every result is approved once: each worker got one payment, the money adds up to the cent
    states = owner.call("GET", f"/campaigns/{campaign_id}/results", params={"limit": 100}).json()["results"]
    assert sorted(r["state"] for r in states) == ["Approved"] * 16
    assert {r["id"] for r in states} == {r["id"] for r in submitted}
    paid = [_usd(w.call("GET", "/workers/me").json()["earnings"]["paid"]) for w in crowd]
    assert paid == [Decimal("0.5")] * 16
    balance = owner.call("GET", "/me").json()["balance"]
    revenue = _revenue(api) - revenue_before
    assert revenue == Decimal("1.6")
    assert _usd(balance["available"]) + _usd(balance["frozen"]) + sum(paid) + revenue == Decimal(20)
    assert balance == {"available": "10.4 USD", "frozen": "0 USD"}
    assert owner.call("GET", f"/campaigns/{campaign_id}").json()["state"] == "finished"


def test_roles_and_isolation_over_http(api: RunningStack):
    owner, stranger = new_account(api, balance=5), new_account(api, balance=5)
    worker, other = new_account(api, role="worker"), new_account(api, role="worker")
    campaign_id, job_id = _published_job(owner)
    result = _claim_and_submit(worker, job_id)
    assignment_id = result["assignmentId"]
    assert owner.call("GET", "/market/jobs").status_code == 403
    assert worker.call("GET", f"/results/{result['id']}").status_code == 403
    assert stranger.call("GET", f"/results/{result['id']}").status_code == 404
    assert stranger.call("GET", f"/campaigns/{campaign_id}/results").status_code == 404
    assert other.call("GET", f"/assignments/{assignment_id}").status_code == 404
    assert other.call("POST", f"/assignments/{assignment_id}/release").status_code == 404
    no_reason = owner.call("POST", f"/results/{result['id']}/reject", json={})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    soft = owner.call(
        "POST",
        f"/results/{result['id']}/soft-reject",
        json={"reason": "sharper", "until": "2099-01-01T00:00"},
    )
    assert soft.status_code == 200 and soft.json()["state"] == "SoftRejected"
    redo = worker.call("GET", "/assignments", params={"state": "open"}).json()["assignments"]
    assert [a["redoOf"] for a in redo] == [result["id"]]


def test_readme_market_session_works_when_pasted(api: RunningStack, tmp_path):
    # Given the README's curl sessions (account, tasks, campaign, then the worker's part), on this stack
    # When it runs
    done = run_readme_session(api, tmp_path, "auth/token/request", "/publish", "/market/jobs")
    # Then the result was approved and the worker paid 0.05 USD
    assert done.returncode == 0, done.stderr
    assert '"state":"Approved"' in done.stdout and '"message":"Well done!"' in done.stdout
    assert (
        '"earnings":{"pending":"0 USD","paid":"0.05 USD","bonuses":"0 USD","total":"0.05 USD"}' in done.stdout
    )
