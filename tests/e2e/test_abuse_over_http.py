"""Abuse over HTTP on the real stack: parallel guesses, and bodies built to make the functions work hard."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.e2e.conftest import new_account
from tests.support.stack import RunningStack

MAX_FAILURES = 5  # LOGIN_MAX_FAILURES: the template leaves the default


def test_parallel_guesses_for_one_email_get_no_more_tries_than_the_limit(api: RunningStack):
    account = new_account(api)

    def guess(n: int) -> int:
        body = {"email": account.email, "password": f"wrong guess {n}"}
        return api.request("POST", "/auth/token/request", json=body).status_code

    with ThreadPoolExecutor(max_workers=12) as threads:
        statuses = list(threads.map(guess, range(40)))
    assert statuses.count(401) <= MAX_FAILURES, statuses
    assert set(statuses) <= {401, 429} and statuses.count(429) >= 40 - MAX_FAILURES
    right = {"email": account.email, "password": account.password}
    refused = api.request("POST", "/auth/token/request", json=right)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_a_dataset_body_asking_for_millions_of_tasks_answers_422(api: RunningStack):
    requester = new_account(api)
    body: dict[str, Any] = {
        "name": "huge",
        "type": "single_frame",
        "stages": [f"stage {n}" for n in range(10)],
        "files": [f"https://example.com/{n}.png" for n in range(10_000)],
        "objects": [f"object {n}" for n in range(500)],
    }
    reply = requester.call("POST", "/datasets", json=body)
    assert reply.status_code == 422, reply.text
    assert "50000000 tasks" in reply.json()["description"]


def test_a_template_that_would_amplify_its_inputs_answers_422(api: RunningStack):
    requester = new_account(api, balance=10)
    template = {"name": "t", "components": [{"type": "Text", "text": "{{a}}" * 1001}]}
    refused = requester.call(
        "POST", "/campaigns", json={"name": "c", "workerPayment": 1, "taskTemplate": template}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "taskTemplate"
    template["components"][0]["text"] = "{{a}}" * 1000
    pool = requester.call(
        "POST", "/campaigns", json={"name": "c", "workerPayment": 1, "taskTemplate": template}
    )
    assert pool.status_code == 201, pool.text
    item = {"pool_id": pool.json()["id"], "input_values": {"a": "y" * 150_000}, "overlap": 1}
    reply = requester.call("POST", "/tasks", json=item)
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["code"] == "TOO_LONG"


def test_an_unauthenticated_body_of_deeply_nested_arrays_is_refused_not_a_gateway_error(api: RunningStack):
    reply = api.request("POST", "/tasks", data="[" * 200_000, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == 1000


def test_trace_and_unknown_methods_get_the_api_405_body(api: RunningStack):
    for method in ("TRACE", "PROPFIND"):
        reply = api.request(method, "/tasks")
        assert reply.status_code == 405, (method, reply.text)
        assert reply.json()["code"] == 1005 and "GET" in reply.headers["Allow"]
