"""Bulk uploads, operations and the bulk API's own paths, through the handlers with the events in events/."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from crowdtask.services import bulk_chunks
from tests.support import builders
from tests.support.accounts import make_account
from tests.support.bulk import receive_sqs_event, run_bulk_worker, run_dead_letters, work_off
from tests.support.handlers import invoke, sample_event
from tests.support.infra import ROOT

TEMPLATE = {"name": "Is it a cat?", "components": [{"type": "Image", "url": "{{image}}"}]}


@pytest.fixture
def pool(requester):
    return builders.pool(requester.id, TEMPLATE, payment="0.01")


def _oauth(token: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}"}


def _work(queue: str) -> None:
    assert work_off(queue) == {"batchItemFailures": []}


def test_an_array_is_created_synchronously_with_quota_headers(requester):
    reply = invoke("tasks", "tasks_create_bulk", token=requester.token)
    assert reply.status == 201, reply.body
    assert set(reply.body["items"]) == {"0", "1"}
    assert "validation_errors" not in reply.body
    assert reply.header("X-Task-Quota-Minute-Remaining") == str(100_000 - 2)
    assert reply.header("X-Task-Quota-Day-Limit") == "2000000"
    task = invoke(
        "tasks", "tasks_get", token=requester.token, path_params={"id": reply.body["items"]["1"]["id"]}
    )
    assert (task.body["name"], task.body["task_ttl"]) == ("Rate image 2", 60)


def test_a_refused_array_names_each_item_and_field(requester, pool):
    body = [{"pool_id": pool, "input_values": {"image": "https://x/1.png"}, "overlap": 1}, {"pool_id": pool}]
    reply = invoke("tasks", "tasks_create_bulk", token=requester.token, body=body, query={})
    assert reply.status == 422
    assert reply.body["validation_errors"]["1"]["input_values"]["code"] == "VALUE_REQUIRED"
    assert {e["field"] for e in reply.body["errors"]} == {"[1].input_values"}


def test_one_pool_task_is_answered_as_the_task(requester, pool):
    body = {"pool_id": pool, "input_values": {"image": "https://x/1.png"}, "overlap": 2}
    reply = invoke("tasks", "tasks_create", token=requester.token, body=body)
    assert reply.status == 201, reply.body
    assert (reply.body["pool_id"], reply.body["overlap"], reply.body["name"]) == (pool, 2, "Is it a cat?")
    assert reply.header("Location") == f"/tasks/{reply.body['id']}"
    bad = invoke("tasks", "tasks_create", token=requester.token, body={"pool_id": pool, "input_values": {}})
    assert bad.status == 422
    assert {e["field"] for e in bad.body["errors"]} == {"overlap"}


def test_async_upload_then_operation_and_log_over_the_handlers(requester, pool, queue):
    body = [
        {"pool_id": pool, "input_values": {"image": f"https://x/{n}.png"}, "overlap": 1} for n in range(3)
    ]
    reply = invoke("tasks", "tasks_create_bulk_async", token=requester.token, body=body)
    assert reply.status == 202, reply.body
    operation_id = reply.body["id"]
    assert operation_id == sample_event("tasks_create_bulk_async")["queryStringParameters"]["operation_id"]
    assert reply.header("Location") == f"/operations/{operation_id}"
    assert reply.body["status"] == "PENDING"
    _work(queue)
    params = {"id": operation_id}
    got = invoke("operations", "operations_get", token=requester.token, path_params=params)
    assert (got.status, got.body["status"], got.body["details"]["success_count"]) == (200, "SUCCESS", 3)
    log = invoke(
        "operations", "operations_log", token=requester.token, path_params=params, query={"limit": ["2"]}
    )
    assert [e["index"] for e in log.body["log"]] == [0, 1] and log.body["next"] == 1
    assert log.header("Link") == f'</operations/{operation_id}/log?limit=2&after=1>; rel="next"'
    listed = invoke("operations", "operations_list", token=requester.token)
    assert [op["id"] for op in listed.body["operations"]] == [operation_id]
    stranger = make_account()
    assert invoke("operations", "operations_get", token=stranger.token, path_params=params).status == 404


def test_the_bulk_apis_own_paths_answer_in_its_shapes(requester, pool, queue, monkeypatch):
    body = [
        {"pool_id": pool, "input_values": {"image": "https://x/1.png"}, "overlap": 3},
        {"pool_id": pool, "input_values": {"image": None}, "overlap": 3},
    ]
    query = {"async_mode": ["true"], "skip_invalid_items": ["true"]}
    created = invoke("compat", "compat_tasks_create", headers=_oauth(requester.token), body=body, query=query)
    assert created.status == 202, created.body
    assert set(created.body) >= {"id", "type", "status", "submitted", "parameters", "details"}
    assert created.body["parameters"] == {
        "allow_defaults": False,
        "skip_invalid_items": True,
        "open_pool": False,
        "async_mode": True,
    }
    _work(queue)
    params = {"id": created.body["id"]}
    operation = invoke("compat", "compat_operation_get", headers=_oauth(requester.token), path_params=params)
    assert operation.body["status"] == "SUCCESS"
    assert operation.body["details"] == {
        "total_count": 2,
        "valid_count": 1,
        "not_valid_count": 1,
        "success_count": 1,
        "failed_count": 1,
    }
    log = invoke("compat", "compat_operation_log", headers=_oauth(requester.token), path_params=params)
    assert isinstance(log.body, list) and len(log.body) == 2
    assert [set(entry) for entry in log.body] == [{"type", "success", "input", "output"}] * 2
    assert (log.body[0]["type"], log.body[0]["success"]) == ("TASK_CREATE", True)
    assert (log.body[1]["type"], log.body[1]["success"]) == ("TASK_VALIDATE", False)
    assert log.body[1]["output"]["input_values.image"]["code"] == "VALUE_REQUIRED"
    assert log.header("Link") is None  # one page held it all
    from crowdtask.services import operations

    monkeypatch.setattr(operations, "LOG_LIMIT", 1)
    first = invoke("compat", "compat_operation_log", headers=_oauth(requester.token), path_params=params)
    assert first.body == log.body[:1]
    assert first.header("Link") == f'</api/v1/operations/{params["id"]}/log?after=0>; rel="next"'
    task_id = log.body[0]["output"]["task_id"]
    task = invoke("compat", "compat_task_get", headers=_oauth(requester.token), path_params={"id": task_id})
    assert task.status == 200
    assert task.body["id"] == task_id and task.body["pool_id"] == pool
    assert (task.body["input_values"], task.body["overlap"]) == ({"image": "https://x/1.png"}, 3)
    assert task.body["created"] == "2026-03-14T03:14:15"


def test_a_synchronous_bulk_api_call_answers_items_and_validation_errors(requester, pool):
    body = [
        {"pool_id": pool, "input_values": {"image": "https://x/1.png"}, "overlap": 3},
        {"pool_id": pool, "input_values": {}, "overlap": 3},
    ]
    query = {"skip_invalid_items": ["true"]}
    reply = invoke("compat", "compat_tasks_create", headers=_oauth(requester.token), body=body, query=query)
    assert reply.status == 201, reply.body
    item = reply.body["items"]["0"]
    assert set(item) >= {"id", "pool_id", "input_values", "overlap", "created"}
    assert reply.body["validation_errors"]["1"]["input_values.image"] == {
        "code": "VALUE_REQUIRED",
        "message": "Value must be present and not equal to null",
    }


def test_over_quota_is_a_429_with_retry_after(requester):
    from crowdtask.store import dynamo, keys

    dynamo.update(*keys.account(requester.id), "SET taskQuotaPerMinute = :m", vals={":m": 1})
    reply = invoke("tasks", "tasks_create_bulk", token=requester.token)
    assert reply.status == 429
    assert reply.header("Retry-After") and int(reply.header("Retry-After") or 0) >= 1
    assert reply.body["code"] == 1029 and "per minute" in reply.body["description"]
    one = invoke("tasks", "tasks_create", token=requester.token)
    assert one.status == 201 and one.header("X-Task-Quota-Minute-Remaining") == "0"
    assert invoke("tasks", "tasks_create", token=requester.token).status == 429


def test_a_task_that_could_not_be_stored_gives_its_quota_back(requester, monkeypatch):
    from crowdtask.services import tasks
    from crowdtask.store import dynamo, keys

    dynamo.update(*keys.account(requester.id), "SET taskQuotaPerMinute = :m", vals={":m": 1})

    def table_down(*_args: object) -> None:
        raise RuntimeError("the table is unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(tasks, "create_task", table_down)
        assert invoke("tasks", "tasks_create", token=requester.token).status == 500
    one = invoke("tasks", "tasks_create", token=requester.token)  # the failed one took nothing
    assert one.status == 201 and one.header("X-Task-Quota-Minute-Remaining") == "0"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"async_mode": ["maybe"]}, "async_mode"),
        ({"operation_id": ["x" * 65]}, "operation_id"),
        ({"async_mode": ["true"], "operation_id": ["12345"]}, "operation_id"),
    ],
)
def test_bad_upload_parameters_are_422_naming_them(requester, query, field):
    reply = invoke("tasks", "tasks_create_bulk", token=requester.token, query=query)
    assert reply.status == 422
    assert {e["field"] for e in reply.body["errors"]} == {field}


@pytest.mark.parametrize("operation_id", ["", "12345"])
def test_one_task_with_an_operation_id_that_is_no_uuid_is_422(requester, operation_id):
    query = {"operation_id": [operation_id]}
    reply = invoke("tasks", "tasks_create", token=requester.token, body={"name": "one"}, query=query)
    assert reply.status == 422, reply.body
    assert {e["field"] for e in reply.body["errors"]} == {"operation_id"}


def test_one_task_sent_twice_with_its_operation_id_is_created_once(requester):
    query = {"operation_id": [str(uuid.uuid4())]}
    first = invoke("tasks", "tasks_create", token=requester.token, body={"name": "one"}, query=query)
    again = invoke("tasks", "tasks_create", token=requester.token, body={"name": "one"}, query=query)
    assert (first.status, again.status) == (201, 201), (first.body, again.body)
    assert first.body["id"] == again.body["id"] and first.body["name"] == "one"
    listed = invoke("tasks", "tasks_list", token=requester.token).body
    assert [task["id"] for task in listed["tasks"]] == [first.body["id"]]


def test_the_worker_sample_event_of_an_unknown_operation_fails_and_its_dead_letter_is_dropped(requester):
    # the sample chunk as it stands names no operation of this table (test_sample_events makes it real)
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from crowdtask.store.operations import OperationGone
    from tests.support.handlers import function_module

    with pytest.raises(BatchProcessingError) as failed:
        run_bulk_worker(sample_event("bulk_worker_tasks_chunk"))
    [(kind, _, _)] = failed.value.child_exceptions  # failed because its operation is not there, not otherwise
    assert kind is OperationGone
    assert run_dead_letters(sample_event("bulk_worker_dead_letter")) == {"batchItemFailures": []}
    assert (
        json.loads(sample_event("bulk_worker_tasks_chunk")["Records"][0]["body"])["kind"]
        in function_module("bulk_worker").HANDLERS
    )


def test_one_skipped_pool_task_is_a_422_not_a_crash(requester, pool):
    body = {"pool_id": pool, "input_values": {}}
    reply = invoke(
        "tasks", "tasks_create", token=requester.token, body=body, query={"skip_invalid_items": ["true"]}
    )
    assert reply.status == 422
    assert {e["field"] for e in reply.body["errors"]} == {"overlap"}


def test_one_pool_task_that_cannot_be_stored_now_is_handed_to_the_bulk_worker(
    requester, pool, queue, monkeypatch
):
    def slow_store(*_args, **_kwargs):
        raise ConnectionError("slow")

    monkeypatch.setattr(bulk_chunks, "store_chunk", slow_store)
    body = {"pool_id": pool, "input_values": {"image": "https://x/1.png"}, "overlap": 1}
    reply = invoke("tasks", "tasks_create", token=requester.token, body=body)
    assert reply.status == 202, reply.body
    assert reply.header("Location") == f"/operations/{reply.body['id']}"
    assert len(receive_sqs_event(queue)["Records"]) == 1


@pytest.mark.parametrize("as_array", [False, True], ids=["one task", "an array"])
def test_a_synchronous_upload_with_open_pool_publishes_its_campaign_before_answering(
    requester, pool, as_array
):
    """The route stores the tasks without the publishing services, then loads them for this end."""
    task = {"pool_id": pool, "input_values": {"image": "https://x/1.png"}, "overlap": 1}
    operation_id = str(uuid.uuid4())
    query = {"open_pool": ["true"], "operation_id": [operation_id]}
    body = [task] if as_array else task
    reply = invoke("compat", "compat_tasks_create", headers=_oauth(requester.token), body=body, query=query)
    assert reply.status == 201, reply.body
    campaign = invoke("campaigns", "campaigns_get", token=requester.token, path_params={"id": pool})
    assert campaign.body["state"] == "active"
    operation = invoke(
        "compat", "compat_operation_get", headers=_oauth(requester.token), path_params={"id": operation_id}
    )
    assert operation.body["status"] == "SUCCESS"
    again = invoke("compat", "compat_tasks_create", headers=_oauth(requester.token), body=body, query=query)
    assert again.status == 201 and again.body == reply.body  # sent again: the same, nothing more


def test_the_upload_flow_without_open_pool_loads_no_publishing():
    """What a cold start of an upload loads: flows/storing, never the campaign or market services."""
    script = (
        "import sys, json\n"
        f"sys.path[:0] = [{str(ROOT / 'layers' / 'common' / 'python')!r}]\n"
        "import crowdtask.services.flows.storing\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    services = "crowdtask.services."
    assert {f"{services}bulk", f"{services}pools"} <= loaded
    heavy = {f"{services}flows.publishing", f"{services}flows.uploading", f"{services}campaigns"}
    assert heavy & loaded == set()
    assert f"{services}market" not in loaded


def test_one_pool_task_skipped_with_open_pool_is_refused_after_its_operation_ends(requester, pool):
    """skip_invalid_items=true lets the operation end (nothing to store) before the task is refused."""
    from crowdtask.store import operations as operation_store

    operation_id = str(uuid.uuid4())
    query = {"open_pool": ["true"], "skip_invalid_items": ["true"], "operation_id": [operation_id]}
    body = {"pool_id": pool, "input_values": {}, "overlap": 1}
    reply = invoke("compat", "compat_tasks_create", headers=_oauth(requester.token), body=body, query=query)
    assert reply.status == 422, reply.body
    assert {e["field"] for e in reply.body["errors"]} == {"input_values.image"}
    ended = operation_store.get(requester.id, operation_id, consistent=True)
    assert ended is not None and (ended["final_status"], ended.get("ended")) == ("SUCCESS", True)
    again = invoke("compat", "compat_tasks_create", headers=_oauth(requester.token), body=body, query=query)
    assert again.status == 422 and again.body["errors"] == reply.body["errors"]
