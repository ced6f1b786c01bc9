"""Bulk uploads over HTTP on the local stack: the queue, the bulk worker and DynamoDB Local, for real."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from crowdtask_cli import main as cli
from tests.e2e.conftest import Session, new_account
from tests.support.stack import RunningStack, run_readme_session, wait_for

pytestmark = pytest.mark.e2e

TEMPLATE = {"name": "Is {{animal}} a cat?", "components": [{"type": "Image", "url": "{{image}}"}]}


def _pool(requester: Session) -> str:
    body = {"name": "Cats", "workerPayment": 0.01, "results": 2, "taskTemplate": TEMPLATE}
    reply = requester.call("POST", "/campaigns", json=body)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def _items(pool: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "pool_id": pool,
            "input_values": {"animal": f"animal {n}", "image": f"https://x/{n}.png"},
            "overlap": 1,
        }
        for n in range(start, start + count)
    ]


def _finished(requester: Session, operation_id: str, timeout: float = 120) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        operation = requester.call("GET", f"/operations/{operation_id}").json()
        return operation if operation["status"] in {"SUCCESS", "FAIL"} else None

    return dict(wait_for(ended, timeout, f"operation {operation_id} to end", interval=0.2))


def _count_tasks(requester: Session) -> int:
    count, path = 0, "/tasks?limit=100"
    while path:
        reply = requester.call("GET", path, headers={"Accept": "application/hal+json"}).json()
        count += len(reply["tasks"])
        path = reply["_links"].get("next", {}).get("href")
    return count


def _cli_argv(requester: Session, path: Path, *options: str) -> list[str]:
    return ["--url", requester.api.url, "--token", requester.token, "upload", str(path), *options, "--quiet"]


def test_an_async_upload_is_stored_by_the_bulk_worker_through_the_queue(requester: Session):
    pool = _pool(requester)
    reply = requester.call("POST", "/tasks?async_mode=true", json=_items(pool, 3000))
    assert reply.status_code == 202, reply.text
    assert int(reply.headers["X-Task-Quota-Minute-Remaining"]) <= 100_000 - 3000
    operation = _finished(requester, reply.json()["id"])
    assert operation["status"] == "SUCCESS", operation
    assert operation["details"]["success_count"] == 3000 and operation["progress"] == 100
    log = requester.call("GET", f"/operations/{operation['id']}/log?limit=10000").json()["log"]
    assert [entry["index"] for entry in log] == list(range(3000))
    task = requester.call("GET", f"/tasks/{log[1234]['output']['task_id']}").json()
    assert task["name"] == "Is animal 1234 a cat?" and task["pool_id"] == pool
    assert _count_tasks(requester) == 3000


def test_concurrent_identical_requests_with_one_operation_id_create_the_tasks_once(requester: Session):
    pool = _pool(requester)
    operation_id = str(uuid.uuid4())
    items = _items(pool, 400)

    def send(_: int) -> Any:
        return requester.call("POST", f"/tasks?async_mode=true&operation_id={operation_id}", json=items)

    with ThreadPoolExecutor(max_workers=6) as threads:
        replies = list(threads.map(send, range(6)))
    assert {r.status_code for r in replies} == {202}, [r.text for r in replies]
    assert {r.json()["id"] for r in replies} == {operation_id}
    operation = _finished(requester, operation_id)
    assert operation["details"]["success_count"] == 400
    again = requester.call("POST", f"/tasks?async_mode=true&operation_id={operation_id}", json=items)
    assert again.status_code == 202 and again.json()["status"] == "SUCCESS"
    time.sleep(1.0)
    assert _count_tasks(requester) == 400


def test_the_command_line_client_uploads_reports_rejects_and_resumes_without_doubles(
    requester: Session, tmp_path
):
    pool = _pool(requester)
    lines = _items(pool, 2500)
    for broken in (7, 1500, 2499):
        lines[broken] = {"pool_id": pool, "input_values": {"animal": "no image"}, "overlap": 1}
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = _cli_argv(requester, path, "--chunk", "1000")
    assert cli.main(argv) == 2  # some tasks were rejected
    rejected = [json.loads(line) for line in (tmp_path / "tasks.rejected.jsonl").read_text().splitlines()]
    assert [r["index"] for r in rejected] == [7, 1500, 2499]
    assert rejected[0]["errors"]["input_values.image"]["code"] == "VALUE_REQUIRED"
    assert rejected[0]["task"] == lines[7]
    assert _count_tasks(requester) == 2497
    assert cli.main(argv) == 2  # the same file again: the same operations, nothing created twice
    assert _count_tasks(requester) == 2497


def test_a_csv_file_fills_input_values_from_its_columns(requester: Session, tmp_path):
    pool = _pool(requester)
    path = tmp_path / "cats.csv"
    path.write_text("animal,image,overlap\ntom,https://x/tom.png,2\nfelix,https://x/felix.png,1\n")
    assert cli.main(_cli_argv(requester, path, "--pool", pool)) == 0
    names = {t["name"] for t in requester.call("GET", "/tasks?limit=10").json()["tasks"]}
    assert names == {"Is tom a cat?", "Is felix a cat?"}


def test_the_bulk_apis_paths_work_with_an_oauth_header(requester: Session):
    pool = _pool(requester)
    oauth = {"Authorization": f"OAuth {requester.token}"}
    body = {"pool_id": pool, "input_values": {"animal": "a", "image": "https://x/a.png"}, "overlap": 2}
    created = requester.api.request("POST", "/api/v1/tasks", json=body, headers=oauth)
    assert created.status_code == 201, created.text
    task = requester.api.request("GET", f"/api/v1/tasks/{created.json()['id']}", headers=oauth).json()
    assert {k: task[k] for k in ("pool_id", "input_values", "overlap")} == {
        "pool_id": pool,
        "input_values": {"animal": "a", "image": "https://x/a.png"},
        "overlap": 2,
    }
    operation_id = str(uuid.uuid4())
    queued = requester.api.request(
        "POST", f"/api/v1/tasks?async_mode=true&operation_id={operation_id}", json=[body, body], headers=oauth
    )
    assert queued.status_code == 202 and queued.json()["id"] == operation_id
    _finished(requester, operation_id)
    log = requester.api.request("GET", f"/api/v1/operations/{operation_id}/log", headers=oauth).json()
    assert [(e["type"], e["success"]) for e in log] == [("TASK_CREATE", True)] * 2


def test_the_readme_bulk_session_works_when_pasted(api: RunningStack, tmp_path):
    done = run_readme_session(api, tmp_path, "auth/token/request", "async_mode=true&operation_id")
    assert done.returncode == 0, done.stderr
    assert '"validation_errors":{"1":{"input_values.image":{"code":"VALUE_REQUIRED"' in done.stdout
    assert '"type":"TASK.BATCH_CREATE","status":"SUCCESS"' in done.stdout
    assert '"type":"TASK_CREATE","success":true' in done.stdout


def test_racing_uploads_take_the_days_quota_exactly(api: RunningStack):
    """Eight uploads of 3 tasks at once against 10 a day: three fit, all of them whole; the rest
    are refused whole, and the quota's one item counts exactly what was created."""
    owner = new_account(api, taskQuotaPerDay=10)

    def upload(n: int) -> Any:
        return owner.call("POST", "/tasks", json=[{"name": f"race {n}.{i}"} for i in range(3)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(upload, range(8)))
    assert sorted(r.status_code for r in replies) == [201] * 3 + [429] * 5
    created = [r for r in replies if r.status_code == 201]
    assert sorted(r.headers["X-Task-Quota-Day-Remaining"] for r in created) == ["1", "4", "7"]
    assert all(len(r.json()["items"]) == 3 for r in created)
    listed = owner.call("GET", "/tasks", params={"limit": 100}).json()["tasks"]
    assert len(listed) == 9
    assert owner.call("POST", "/tasks", json={"name": "the last one"}).status_code == 201
    refused = owner.call("POST", "/tasks", json={"name": "one too many"})
    assert refused.status_code == 429 and refused.headers["X-Task-Quota-Day-Remaining"] == "0"
