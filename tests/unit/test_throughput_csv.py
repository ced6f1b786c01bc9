"""CSV uploads of throughput records: validation per row, chunks on the bulk queue, the bulk worker."""

from __future__ import annotations

import copy
import json

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from crowdtask import errors
from crowdtask.models.throughput import ThroughputIn
from crowdtask.services import throughput, throughput_uploads, workstreams
from crowdtask.store import queues
from tests.support.bulk import receive_sqs_event, run_bulk_worker, work_off
from tests.support.handlers import function_module
from tests.support.throughput import make_workstream, record_body

HEADER = ",".join(
    [
        "worker_id",
        "use_case_id",
        "task_definition_id",
        "task_started_at",
        "task_completed_at",
        "task_count",
        "measures.boxes",
        "unique_id",
    ]
)


@pytest.fixture
def stream(requester):
    return make_workstream(requester.id)


def _workstream(stream):
    return workstreams.authenticate_key(stream.id, stream.api_key)


def _csv(stream, *rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *(r.format(uc=stream.use_case_id, td=stream.task_definition_id) for r in rows)])


def _totals(requester, stream):
    return throughput.totals(workstreams.owned_workstream(requester.id, stream.id), None, None, None).totals


GOOD = "ann,{uc},{td},2020-12-22T09:00:00Z,2020-12-22T10:00:00Z,2,5,u-1"
GOOD_2 = "bob,{uc},{td},2020-12-22T09:00:00Z,2020-12-22T09:30:00Z,,1.5,"


def test_valid_and_invalid_rows_are_told_apart_by_row_and_field(requester, stream, queue):
    text = _csv(
        stream,
        GOOD,
        "carl,{uc},{td},yesterday,2020-12-22T10:00:00Z,1,,",
        "dana,{uc},NOT-A-DEFINITION,2020-12-22T09:00:00Z,2020-12-22T10:00:00Z,1,,",
        "",
        "erin,{uc},{td},2020-12-22T11:00:00Z,2020-12-22T10:00:00Z,0,,",
        GOOD_2,
    )
    upload = throughput_uploads.upload_csv(_workstream(stream), text)
    assert (upload.total_count, upload.valid_count, upload.not_valid_count) == (5, 2, 3)
    assert (upload.status, upload.success_count, upload.failed_count) == ("processing", 0, 0)
    assert upload.errors_url == f"/workstreams/{stream.id}/throughput/uploads/{upload.id}"
    listed = throughput_uploads.get_upload(_workstream(stream), upload.id).errors
    assert {(e.row, e.field) for e in listed} == {
        (3, "task_started_at"),
        (4, "task_definition_id"),
        (6, "task_completed_at"),
        (6, "task_count"),
    }


def test_the_bulk_worker_stores_the_rows_and_a_redelivery_changes_nothing(requester, stream, queue):
    upload = throughput_uploads.upload_csv(_workstream(stream), _csv(stream, GOOD, GOOD_2))
    event = receive_sqs_event(queue)
    assert len(event["Records"]) == 1
    assert json.loads(event["Records"][0]["body"])["kind"] == "throughput.rows"
    # When the worker runs, and the same message is delivered again
    assert run_bulk_worker(event) == {"batchItemFailures": []}
    assert run_bulk_worker(event) == {"batchItemFailures": []}
    # Then the rows are stored once, and the upload counted once
    totals = _totals(requester, stream)
    assert (totals.record_count, totals.task_count, totals.duration, totals.measures) == (
        2,
        3,
        5400,
        {"boxes": 6.5},
    )
    done = throughput_uploads.get_upload(_workstream(stream), upload.id)
    assert (done.status, done.success_count, done.failed_count, done.errors) == ("completed", 2, 0, [])


def test_a_redelivery_after_a_crash_midway_stores_nothing_twice(requester, stream, queue, monkeypatch):
    throughput_uploads.upload_csv(_workstream(stream), _csv(stream, GOOD, GOOD_2))
    event = receive_sqs_event(queue)
    from crowdtask.store import throughput as store

    real_finish = store.finish_chunk

    def crash(*args, **kwargs):
        raise RuntimeError("the function timed out after storing the rows")

    monkeypatch.setattr(store, "finish_chunk", crash)
    with pytest.raises(BatchProcessingError):  # the whole batch failed: SQS delivers it again
        run_bulk_worker(event)
    monkeypatch.setattr(store, "finish_chunk", real_finish)
    assert run_bulk_worker(event) == {"batchItemFailures": []}
    assert _totals(requester, stream).record_count == 2


def test_csv_rows_dedup_against_api_records_and_replace_in_file_order(requester, stream, queue):
    throughput.receive(_workstream(stream), ThroughputIn.model_validate(record_body(stream, unique_id="u-1")))
    header = HEADER + ",replace"
    text = _csv(
        stream,
        "ann,{uc},{td},2020-12-22T09:00:00Z,2020-12-22T10:00:00Z,2,5,u-1,false",
        "ann,{uc},{td},2020-12-22T09:00:00Z,2020-12-22T10:00:00Z,7,5,u-2,true",
        "ann,{uc},{td},2020-12-22T09:00:00Z,2020-12-22T10:00:00Z,9,5,u-2,true",
        header=header,
    )
    throughput_uploads.upload_csv(_workstream(stream), text)
    work_off(queue)
    totals = _totals(requester, stream)
    assert (totals.record_count, totals.task_count) == (2, 1 + 9)


def test_csv_data_source_must_be_a_csv_one(requester, stream, queue):
    text = _csv(
        stream,
        "ann,{uc},{td},2020-12-22T09:00:00Z,2020-12-22T10:00:00Z,1,,,api",
        "ann,{uc},{td},2020-12-22T09:00:00Z,2020-12-22T10:00:00Z,1,,,csv_automated",
        header=HEADER + ",data_source",
    )
    upload = throughput_uploads.upload_csv(_workstream(stream), text)
    listed = throughput_uploads.get_upload(_workstream(stream), upload.id).errors
    assert [(e.row, e.field, e.code) for e in listed] == [(2, "data_source", "NOT_AN_OPTION")]
    assert upload.valid_count == 1


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("worker_id,use_case_id,task_definition_id,task_started_at,task_completed_at,colour", "colour"),
        ("worker_id,use_case_id,task_definition_id,task_started_at", "task_completed_at"),
        ("worker_id,worker_id,use_case_id,task_definition_id,task_started_at,task_completed_at", "worker_id"),
        ("", "body"),
    ],
)
def test_a_bad_header_refuses_the_file(stream, queue, header, field):
    with pytest.raises(errors.ValidationFailed) as caught:
        throughput_uploads.upload_csv(_workstream(stream), header + "\nann\n")
    assert field in [e["field"] for e in caught.value.errors]


def test_rows_with_more_cells_than_columns_are_refused(stream, queue):
    upload = throughput_uploads.upload_csv(_workstream(stream), _csv(stream, GOOD + ",extra"))
    listed = throughput_uploads.get_upload(_workstream(stream), upload.id).errors
    assert [(e.row, e.field) for e in listed] == [(2, "row")]


def test_a_file_without_valid_rows_is_completed_at_once(stream, queue):
    upload = throughput_uploads.upload_csv(_workstream(stream), _csv(stream, "ann,x,y,z,w,1,,"))
    assert (upload.status, upload.valid_count, upload.not_valid_count) == ("completed", 0, 1)
    assert receive_sqs_event(queue) == {"Records": []}


def test_chunks_stay_under_the_sqs_limit_and_keep_a_records_rows_together(stream):
    rows = []
    for n in range(1500):
        data = ThroughputIn.model_validate(
            record_body(stream, worker_id=f"worker-{n}-" + "x" * 200, unique_id=f"u-{n % 700}", replace=True)
        )
        rows.append((n + 2, data))
    messages = throughput_uploads.chunk_messages(stream.id, "01UPLOAD", rows)
    assert len(messages) > 1
    assert all(queues.message_size(m) <= queues.MAX_MESSAGE_BYTES for m in messages)
    assert sum(len(m["rows"]) for m in messages) == 1500
    where = {}
    for message in messages:
        for row in message["rows"]:
            where.setdefault(row["record"]["unique_id"], set()).add(message["chunk"])
    assert all(len(chunks) == 1 for chunks in where.values())


def test_an_unknown_message_fails_alone(stream, queue):
    throughput_uploads.upload_csv(_workstream(stream), _csv(stream, GOOD))
    event = receive_sqs_event(queue)
    poison = copy.deepcopy(event["Records"][0])
    poison["messageId"], poison["body"] = "poison", json.dumps({"kind": "nobody.knows"})
    event["Records"].append(poison)
    assert run_bulk_worker(event) == {"batchItemFailures": [{"itemIdentifier": "poison"}]}


def test_the_sample_sqs_event_names_a_known_kind():
    from tests.support.handlers import sample_event

    body = json.loads(sample_event("bulk_worker_throughput_rows")["Records"][0]["body"])
    assert body["kind"] in function_module("bulk_worker").HANDLERS
