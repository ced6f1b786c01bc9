"""The spine over HTTP: the local stack on DynamoDB Local, as a client meets it."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import Session, admin, new_account
from tests.support.stack import RunningStack, run_readme_session

pytestmark = pytest.mark.e2e

SEED_TASK = {
    "name": "My first Task",
    "components": [
        {
            "type": "BinaryChoice",
            "sticky": False,
            "optionalResult": False,
            "landscape": True,
            "properties": {"key": "key", "value": "value"},
        }
    ],
    "properties": {"key": "key", "value": "value"},
}


def test_readme_curl_session_works_when_pasted(api: RunningStack, tmp_path):
    # Given the README's curl session, pointed at this stack
    # When it runs
    done = run_readme_session(api, tmp_path, "auth/token/request", "/publish")
    # Then every step answered: the profile, three tasks, two pages
    assert done.returncode == 0, done.stderr
    assert '"balance":{"available":"100 USD","frozen":"0 USD"}' in done.stdout
    assert done.stdout.count('"name":"Rate image') >= 6
    assert '"_links":{"self":{"href":"/tasks?limit=2&order=name"},"next"' in done.stdout
    # and the worked campaign example published, freezing 0.15 USD plus 0.03 commission
    assert '"state":"active"' in done.stdout and '"pause":{' in done.stdout
    assert '"balance":{"available":"99.82 USD","frozen":"0.18 USD"}' in done.stdout


def test_seed_task_round_trip_and_lifecycle(requester: Session):
    created = requester.call("POST", "/tasks", json=SEED_TASK)
    assert created.status_code == 201
    task = created.json()
    assert created.headers["Location"] == f"/tasks/{task['id']}"
    assert task["components"][0]["landscape"] is True and task["properties"] == SEED_TASK["properties"]
    fetched = requester.call("GET", f"/tasks/{task['id']}").json()
    assert fetched == task
    updated = requester.call("PUT", f"/tasks/{task['id']}", json={**SEED_TASK, "name": "Renamed"})
    assert updated.status_code == 200 and updated.json()["name"] == "Renamed"
    copy = requester.call("POST", f"/tasks/{task['id']}/copy")
    assert copy.status_code == 201 and copy.json()["id"] != task["id"]
    archived = requester.call("POST", f"/tasks/{task['id']}/archive").json()
    assert archived["archived"] is True
    assert requester.call("PUT", f"/tasks/{task['id']}", json=SEED_TASK).status_code == 409
    assert requester.call("POST", f"/tasks/{task['id']}/unarchive").json()["archived"] is False


def test_numbers_come_back_as_numbers_after_storage(requester: Session):
    body = {
        "name": "stepper",
        "components": [{"type": "Stepper", "min": 0, "max": 10, "step": 0.5, "start": 1}],
    }
    task_id = requester.call("POST", "/tasks", json=body).json()["id"]
    listed = requester.call("GET", "/tasks", params={"search": "stepper"}).json()["tasks"]
    assert listed[0]["id"] == task_id
    component = requester.call("GET", f"/tasks/{task_id}").json()["components"][0]
    assert (component["min"], component["max"], component["step"], component["start"]) == (0, 10, 0.5, 1)


def test_list_pages_by_link_header(requester: Session):
    for n in range(7):
        assert requester.call("POST", "/tasks", json={"name": f"page item {n}"}).status_code == 201
    names, url = [], "/tasks?limit=3&order=-name&search=page+item"
    while url:
        page = requester.call("GET", url)
        names += [t["name"] for t in page.json()["tasks"]]
        match = re.search(r'<([^>]+)>; rel="next"', page.headers.get("Link", ""))
        url = match.group(1) if match else None
    assert names == [f"page item {n}" for n in reversed(range(7))]


def test_accounts_are_isolated(api: RunningStack, requester: Session):
    task_id = requester.call("POST", "/tasks", json={"name": "private"}).json()["id"]
    other = new_account(api)
    for method, path in [
        ("GET", f"/tasks/{task_id}"),
        ("PUT", f"/tasks/{task_id}"),
        ("POST", f"/tasks/{task_id}/copy"),
        ("POST", f"/tasks/{task_id}/archive"),
    ]:
        reply = other.call(method, path, json={"name": "x"} if method == "PUT" else None)
        assert reply.status_code == 404, (method, path)
    assert other.call("GET", "/tasks").json()["tasks"] == []


def test_every_response_has_request_id_and_version(api: RunningStack, requester: Session):
    replies = [
        api.request("GET", "/no/such/route"),
        api.request("DELETE", "/tasks"),
        api.request("POST", "/tasks", data="{not json", headers={"X-Auth-Token": requester.token}),
        requester.call("GET", "/me", headers={"X-Request-ID": "abc-123"}),
        requester.call("GET", "/tasks", params={"limit": 1000}),
        api.request("GET", "/me"),
    ]
    assert [r.status_code for r in replies] == [404, 405, 400, 200, 422, 401]
    for reply in replies:
        assert reply.headers.get("X-API-Version") == "1.0"
        assert reply.headers.get("X-Request-ID")
        assert set(reply.json()) >= {"code", "message", "description"} or reply.status_code == 200
    assert replies[3].headers["X-Request-ID"] == "abc-123"


def test_oversize_bodies_are_413(api: RunningStack, requester: Session):
    over_function_limit = {"name": "x", "details": "y" * (6 * 1024 * 1024)}
    assert requester.call("POST", "/tasks", json=over_function_limit).status_code == 413
    over_gateway_limit = "z" * (10 * 1024 * 1024 + 1)
    reply = requester.call("POST", "/tasks", data=over_gateway_limit)
    assert reply.status_code == 413 and reply.json()["code"] == 1013


def test_concurrent_credits_add_up_to_the_cent(api: RunningStack):
    account = new_account(api, balance=0.1)
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(
            pool.map(
                lambda _: admin(api, "POST", f"/admin/accounts/{account.id}/credit", json={"amount": "1.55"}),
                range(24),
            )
        )
    assert {r.status_code for r in replies} == {200}
    assert account.call("GET", "/me").json()["balance"]["available"] == "37.3 USD"


def test_concurrent_sign_ups_with_one_email_create_one_account(api: RunningStack):
    body = {"email": f"race-{os.getpid()}-{id(api)}@example.com", "password": "long enough pass"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(
            pool.map(lambda _: api.request("POST", "/workers/signup", json=body).status_code, range(6))
        )
    assert statuses == [201, 409, 409, 409, 409, 409]


def test_concurrent_retries_with_one_idempotency_key_create_one_task(requester: Session):
    headers = {"Idempotency-Key": f"upload-{requester.id}"}

    def post(_: int) -> requests.Response:
        return requester.call("POST", "/tasks", json={"name": "exactly once"}, headers=headers)

    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(post, range(6)))
    created_ids = {r.json()["id"] for r in replies if r.status_code == 201}
    assert len(created_ids) == 1
    assert all(r.status_code in (201, 409) for r in replies)
    assert [t["name"] for t in requester.call("GET", "/tasks").json()["tasks"]] == ["exactly once"]


def test_failed_logins_lock_then_answer_429(api: RunningStack):
    account = new_account(api)
    wrong = {"email": account.email, "password": "wrong guess!"}
    statuses = [api.request("POST", "/auth/token/request", json=wrong).status_code for _ in range(5)]
    assert statuses == [401] * 5
    locked = api.request(
        "POST", "/auth/token/request", json={"email": account.email, "password": account.password}
    )
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


def test_cors_preflight_over_http(api: RunningStack):
    reply = api.request(
        "OPTIONS",
        "/tasks",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Auth-Token",
        },
    )
    assert reply.status_code == 204
    assert reply.headers["Access-Control-Allow-Origin"] == "*"


def test_swagger_and_openapi_are_served(api: RunningStack):
    assert api.request("GET", "/openapi.json").json()["info"]["title"] == "crowdtask API"
    page = api.request("GET", "/swagger")
    assert page.status_code == 200 and "swagger/swagger-ui-bundle.min.js" in page.text
    assert api.request("GET", "/swagger/swagger-ui.min.css").status_code == 200


def test_scheduled_sweep_runs_on_demand(api: RunningStack):
    ran = api.request("POST", "/_local/schedules/run").json()["ran"]
    by_function = {r["function"]: r for r in ran}
    assert by_function["MaintenanceFunction"]["ok"] and by_function["CampaignSchedulerFunction"]["ok"]
    assert set(by_function["MaintenanceFunction"]["result"]) == {"token", "login"}
    assert set(by_function["CampaignSchedulerFunction"]["result"]) == {"start", "end", "locks", "pool-close"}
