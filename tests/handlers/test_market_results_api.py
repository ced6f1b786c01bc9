"""The market and results functions through their handlers, with the events in events/."""

from __future__ import annotations

import pytest

from tests.support.accounts import make_account
from tests.support.handlers import FakeLambdaContext, function_module, invoke, sample_event
from tests.support.market import answers, claim_and_submit, published_job


@pytest.fixture
def submitted(requester, worker):
    """A published job, claimed and submitted by the worker: (campaign, job, assignment, result)."""
    campaign_id, job_id = published_job(requester.id, results=3)
    claim = invoke("market", "market_claim", token=worker.token, path_params={"jobId": job_id}, query={})
    assert claim.status == 201, claim.body
    assignment = claim.body
    body = _answers(assignment)
    result = invoke(
        "market", "market_submit", token=worker.token, path_params={"id": assignment["id"]}, body=body
    )
    assert result.status == 201, result.body
    return campaign_id, job_id, assignment["id"], result.body["id"]


def _answers(assignment: dict) -> dict:
    from crowdtask.models.tasks import WorkerTaskOut

    return answers([WorkerTaskOut.model_validate(t) for t in assignment["tasks"]])


def test_the_seed_review_bodies_work(requester, worker, submitted):
    campaign_id, _, _, result_id = submitted
    approved = invoke("results", "results_approve", token=requester.token, path_params={"id": result_id})
    assert approved.status == 200 and approved.body["message"] == "Well done!"
    again = invoke("results", "results_reject", token=requester.token, path_params={"id": result_id})
    assert again.status == 409 and "is Approved" in again.body["description"]
    worker_page = invoke(
        "results",
        "results_worker_results",
        token=requester.token,
        path_params={"id": campaign_id, "workerId": worker.id},
    )
    assert worker_page.status == 200
    assert worker_page.body["worker"]["results"] == {"inReview": 0, "approved": 1, "rejected": 0}
    assert worker_page.body["worker"]["reputation"] == {"me": 100.0, "global": 100.0}
    assert [r["id"] for r in worker_page.body["results"]] == [result_id]


def test_roles_are_kept_apart(requester, worker, submitted):
    campaign_id, _, _, result_id = submitted
    for name in ("market_list_jobs", "market_worker_me", "market_assignments_list"):
        assert invoke("market", name, token=requester.token).status == 403
    assert invoke("results", "results_get", token=worker.token, path_params={"id": result_id}).status == 403
    assert (
        invoke(
            "results", "results_campaign_results", token=worker.token, path_params={"id": campaign_id}
        ).status
        == 403
    )


def test_other_accounts_see_404(requester, worker, submitted):
    campaign_id, _, assignment_id, result_id = submitted
    stranger, other_worker = make_account(balance=1), make_account("worker")
    assert invoke("results", "results_get", token=stranger.token, path_params={"id": result_id}).status == 404
    approve = invoke(
        "results", "results_approve_all_campaign", token=stranger.token, path_params={"id": campaign_id}
    )
    assert approve.status == 404
    for name in ("market_assignment_get", "market_release", "market_submit"):
        assert (
            invoke("market", name, token=other_worker.token, path_params={"id": assignment_id}).status == 404
        )


def test_review_bodies_are_checked(requester, submitted, frozen_clock):
    _, _, _, result_id = submitted
    no_reason = invoke(
        "results", "results_reject", token=requester.token, path_params={"id": result_id}, body={}
    )
    assert no_reason.status == 422 and no_reason.body["errors"][0]["field"] == "reason"
    no_until = invoke(
        "results",
        "results_soft_reject",
        token=requester.token,
        path_params={"id": result_id},
        body={"reason": "x"},
    )
    assert no_until.status == 422 and no_until.body["errors"][0]["field"] == "until"
    past = invoke(
        "results",
        "results_soft_reject",
        token=requester.token,
        path_params={"id": result_id},
        body={"reason": "x", "until": "2020-01-01T00:00"},
    )
    assert past.status == 422 and past.body["errors"][0]["field"] == "until"
    empty = invoke(
        "results", "results_approve", token=requester.token, path_params={"id": result_id}, raw_body=""
    )
    assert empty.status == 200 and empty.body["state"] == "Approved"


def test_a_bad_component_result_is_a_422_naming_it(requester, worker):
    _, job_id = published_job(requester.id)
    claim = invoke("market", "market_claim", token=worker.token, path_params={"jobId": job_id}, query={})
    body = _answers(claim.body)
    body["taskResults"][0]["components"][1]["result"] = {"selectedOption": 42}
    reply = invoke(
        "market", "market_submit", token=worker.token, path_params={"id": claim.body["id"]}, body=body
    )
    assert reply.status == 422
    assert reply.body["errors"][0]["field"] == "taskResults[0].components[1].result.selectedOption"


def test_claim_answers_201_with_location_and_hal_actions(requester, worker):
    _, job_id = published_job(requester.id)
    hal = {"Accept": "application/hal+json"}
    listed = invoke("market", "market_list_jobs", token=worker.token, query={}, headers=hal)
    assert listed.status == 200 and listed.body["jobs"][0]["_links"]["claim"]["method"] == "POST"
    claim = invoke(
        "market", "market_claim", token=worker.token, path_params={"jobId": job_id}, query={}, headers=hal
    )
    assert claim.status == 201
    assert claim.header("Location") == f"/assignments/{claim.body['id']}"
    assert set(claim.body["_links"]) == {"self", "submit", "release"}
    released = invoke(
        "market", "market_release", token=worker.token, path_params={"id": claim.body["id"]}, headers=hal
    )
    assert released.body["state"] == "released" and set(released.body["_links"]) == {"self"}


def test_assignments_page_newest_first(requester, worker, frozen_clock):
    _, job_id = published_job(requester.id, results=5, maxResultsPerWorker=5)
    made = []
    for _ in range(3):
        frozen_clock.advance(seconds=1)  # ids sort by time; within one millisecond they do not
        made.append(
            invoke(
                "market", "market_claim", token=worker.token, path_params={"jobId": job_id}, query={}
            ).body["id"]
        )
    first = invoke("market", "market_assignments_list", token=worker.token, query={"limit": ["2"]})
    assert [a["id"] for a in first.body["assignments"]] == made[::-1][:2]
    assert "tasks" not in first.body["assignments"][0]
    after = first.header("Link").split(">")[0].lstrip("<").split("after=")[1]
    rest = invoke(
        "market", "market_assignments_list", token=worker.token, query={"limit": ["2"], "after": [after]}
    )
    assert [a["id"] for a in rest.body["assignments"]] == [made[0]]


def test_worker_me_and_groups_at_sign_up(aws, frozen_clock):
    from tests.conftest import ADMIN_KEY

    created = invoke(
        "auth",
        "auth_admin_create_account",
        headers={"X-Admin-Key": ADMIN_KEY},
        body={
            "email": "w@example.com",
            "password": "long enough",
            "role": "worker",
            "workerGroups": [1, "b"],
        },
    )
    assert created.status == 201 and created.body["workerGroups"] == ["1", "b"]
    refused = invoke(
        "auth",
        "auth_admin_create_account",
        headers={"X-Admin-Key": ADMIN_KEY},
        body={
            "email": "r@example.com",
            "password": "long enough",
            "role": "requester",
            "workerGroups": ["a"],
        },
    )
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "workerGroups"
    from crowdtask.services import auth

    token = auth.request_token("w@example.com", "long enough").accessToken
    me = invoke("market", "market_worker_me", token=token)
    assert me.status == 200
    assert (
        me.body["earnings"] == {"pending": "0 USD", "paid": "0 USD", "bonuses": "0 USD", "total": "0 USD"}
        and me.body["reputation"] == 100
    )


def test_the_scheduler_runs_from_its_event(requester, worker, frozen_clock):
    handler = function_module("market_scheduler").lambda_handler
    event = sample_event("market_scheduler_schedule")
    done = handler(event, FakeLambdaContext(function_name="market_scheduler"))
    assert done["results"] == {"approved": 0, "skipped": 0, "finished": 0}
    # Given a result past its review window, the next run from the same event approves it
    _, job_id = published_job(requester.id, maxReviewTime="1 hour")
    claim_and_submit(worker.id, job_id)
    frozen_clock.advance(hours=2)
    done = handler(event, FakeLambdaContext(function_name="market_scheduler"))
    assert done["results"] == {"approved": 1, "skipped": 0, "finished": 0}
