"""The throughput function, invoked with the events in events/ against moto tables."""

from __future__ import annotations

import json

import pytest

from crowdtask.models.throughput import RECEIVED
from tests.support.accounts import make_account
from tests.support.handlers import invoke
from tests.support.throughput import make_workstream, record_body


@pytest.fixture
def stream(requester, queue):
    return make_workstream(requester.id)


def _submit(stream, key=None, **overrides):
    return invoke(
        "throughput",
        "throughput_submit",
        body=record_body(stream, **overrides),
        headers={"x-api-key": stream.api_key if key is None else key},
        path_params={"workstream_id": stream.id},
    )


def _upload(stream, text, content_type="text/csv", key=None):
    return invoke(
        "throughput",
        "throughput_upload_csv",
        raw_body=text,
        headers={"x-api-key": key or stream.api_key, "Content-Type": content_type},
        path_params={"workstream_id": stream.id},
    )


def test_create_shows_the_key_once(requester):
    created = invoke("throughput", "throughput_create_workstream", token=requester.token)
    assert created.status == 201 and created.body["api_key"]
    assert created.header("Location") == f"/workstreams/{created.body['id']}"
    shown = invoke(
        "throughput",
        "throughput_get_workstream",
        token=requester.token,
        path_params={"workstream_id": created.body["id"]},
    )
    assert shown.status == 200 and "api_key" not in shown.body
    assert [d["name"] for d in shown.body["use_cases"][0]["task_definitions"]] == ["Transcribe", "Review"]


def test_the_seed_answer(stream):
    reply = _submit(stream, unique_id="u", replace=True)
    assert (reply.status, reply.body) == (200, {"message": RECEIVED})
    assert RECEIVED == "Data successfully received."
    again = _submit(stream, unique_id="u")
    assert (again.status, again.body) == (200, {"message": RECEIVED})


@pytest.mark.parametrize("key", ["", "wrong-key"])
def test_wrong_or_missing_key_is_401(stream, key):
    reply = _submit(stream, key=key)
    assert reply.status == 401 and reply.body["code"] == 1002


def test_no_key_header_at_all_is_401(stream):
    reply = invoke(
        "throughput", "throughput_submit", body=record_body(stream), path_params={"workstream_id": stream.id}
    )
    assert reply.status == 401


def test_another_workstreams_key_is_401(requester, stream):
    other = make_workstream(requester.id, "Other")
    assert _submit(stream, key=other.api_key).status == 401
    assert _upload(stream, "worker_id\n", key=other.api_key).status == 401


def test_a_token_is_no_key(requester, stream):
    reply = invoke(
        "throughput",
        "throughput_submit",
        body=record_body(stream),
        token=requester.token,
        path_params={"workstream_id": stream.id},
    )
    assert reply.status == 401


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"task_started_at": "22/12/2020"}, "task_started_at"),
        ({"task_completed_at": "2020-12-22T09:00:00Z"}, "task_completed_at"),
        ({"use_case_id": "01FOREIGN"}, "use_case_id"),
        ({"task_definition_id": "01FOREIGN"}, "task_definition_id"),
        ({"data_source": "fax"}, "data_source"),
        ({"measures": {"a": 1, "b": 1, "c": 1, "d": 1}}, "measures"),
        ({"task_count": 0}, "task_count"),
        ({"measures": {"km": "0.12345678901234567890123456789012345678901"}}, "measures.km"),
        ({"duration": 1e300}, "duration"),
        ({"worker_id": "\U0001f600" * 200}, "worker_id"),
        ({"task_parameters": {"": "x"}}, "task_parameters"),
        ({"task_parameters": {"nested": {"a": 1}}}, "task_parameters"),
    ],
)
def test_bad_records_are_422_naming_the_field(stream, overrides, field):
    reply = _submit(stream, **overrides)
    assert reply.status == 422, reply.body
    assert [e["field"] for e in reply.body["errors"]] == [field]


def test_malformed_json_is_400(stream):
    reply = invoke(
        "throughput",
        "throughput_submit",
        raw_body="{nope",
        headers={"x-api-key": stream.api_key},
        path_params={"workstream_id": stream.id},
    )
    assert reply.status == 400


def test_wrong_method_is_405(requester, stream):
    reply = invoke(
        "throughput",
        "throughput_totals",
        token=requester.token,
        method="DELETE",
        path_params={"workstream_id": stream.id},
    )
    assert reply.status == 405 and "GET" in reply.header("Allow")


def test_management_routes_are_for_the_owning_requester(requester, worker, stream):
    stranger = make_account()
    for name in ("throughput_get_workstream", "throughput_rotate_api_key", "throughput_totals"):
        path = {"workstream_id": stream.id}
        assert invoke("throughput", name, token=stranger.token, path_params=path).status == 404
        assert invoke("throughput", name, token=worker.token, path_params=path).status == 403


def test_rotation_over_the_api(requester, stream):
    rotated = invoke(
        "throughput",
        "throughput_rotate_api_key",
        token=requester.token,
        path_params={"workstream_id": stream.id},
    )
    assert rotated.status == 200 and rotated.body["api_key"] != stream.api_key
    assert _submit(stream).status == 401
    assert _submit(stream, key=rotated.body["api_key"]).status == 200


def test_totals_over_the_api(requester, stream):
    _submit(stream, worker_id="ann", task_count=2)
    _submit(stream, worker_id="bob", task_count=3, measures={"boxes": 1.25})
    reply = invoke(
        "throughput",
        "throughput_totals",
        token=requester.token,
        path_params={"workstream_id": stream.id},
        query={"from": ["2020-12-22"], "to": ["2020-12-22"], "group_by": ["worker"]},
    )
    assert reply.status == 200
    assert reply.body["from"] == "2020-12-22" and reply.body["group_by"] == "worker"
    assert reply.body["totals"] == {
        "record_count": 2,
        "task_count": 5,
        "subtask_count": 0,
        "duration": 7200,
        "measures": {"boxes": 1.25},
    }
    assert [(g["key"], g["task_count"]) for g in reply.body["groups"]] == [("bob", 3), ("ann", 2)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"group_by": ["month"]}, "group_by"),
        ({"from": ["yesterday"]}, "from"),
        ({"to": ["2020-02-30"]}, "to"),
        ({"to": ["0"]}, "to"),
        ({"from": ["20201222"]}, "from"),
        ({"from": ["2020-12-22T00:00:00"]}, "from"),
    ],
)
def test_bad_totals_queries_are_422(requester, stream, query, field):
    reply = invoke(
        "throughput",
        "throughput_totals",
        token=requester.token,
        path_params={"workstream_id": stream.id},
        query=query,
    )
    assert reply.status == 422 and reply.body["errors"][0]["field"] == field


def test_csv_upload_answers_202_and_the_upload_is_readable_by_key_and_token(requester, stream):
    text = "\n".join(
        [
            "worker_id,use_case_id,task_definition_id,task_started_at,task_completed_at",
            f"ann,{stream.use_case_id},{stream.task_definition_id},2020-12-22T09:00:00Z,2020-12-22T10:00:00Z",
            f"bob,{stream.use_case_id},{stream.task_definition_id},not-a-time,2020-12-22T10:00:00Z",
        ]
    )
    reply = _upload(stream, text, content_type="text/csv; charset=utf-8")
    assert reply.status == 202, reply.body
    assert set(reply.body) == {
        "id",
        "status",
        "total_count",
        "valid_count",
        "not_valid_count",
        "success_count",
        "failed_count",
        "errors_url",
        "created_at",
    }
    assert reply.header("Location") == reply.body["errors_url"]
    path = {"workstream_id": stream.id, "upload_id": reply.body["id"]}
    by_key = invoke(
        "throughput", "throughput_get_upload", headers={"x-api-key": stream.api_key}, path_params=path
    )
    by_token = invoke("throughput", "throughput_get_upload", token=requester.token, path_params=path)
    assert by_key.status == by_token.status == 200
    assert by_key.body["errors"] == [
        {
            "row": 3,
            "field": "task_started_at",
            "message": by_key.body["errors"][0]["message"],
            "code": "INVALID_VALUE",
        }
    ]
    stranger = make_account()
    assert invoke("throughput", "throughput_get_upload", token=stranger.token, path_params=path).status == 404


def test_csv_needs_a_csv_body(stream):
    reply = _upload(stream, json.dumps(record_body(stream)), content_type="application/json")
    assert reply.status == 415


def test_csv_with_a_bad_header_is_422(stream):
    reply = _upload(stream, "worker,when\nann,now\n")
    assert reply.status == 422
    assert {"worker", "when", "worker_id"} <= {e["field"] for e in reply.body["errors"]}


def test_unknown_upload_is_404(stream):
    path = {"workstream_id": stream.id, "upload_id": "01NOSUCHUPLOAD000000000000"}
    reply = invoke(
        "throughput", "throughput_get_upload", headers={"x-api-key": stream.api_key}, path_params=path
    )
    assert reply.status == 404
