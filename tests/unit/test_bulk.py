"""Bulk task creation: the bulk API's semantics item by item, operations, redelivery, faults, quotas."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from crowdtask import errors
from crowdtask.models.campaigns import CampaignIn
from crowdtask.services import bulk, bulk_chunks, bulk_items, campaigns, operations, quotas, tasks
from crowdtask.services.bulk import BulkParams
from crowdtask.services.flows import publishing, uploading
from crowdtask.store import dynamo, queues
from crowdtask.store import tasks as task_store
from tests.support import builders
from tests.support.accounts import make_account
from tests.support.builders import job
from tests.support.bulk import receive_sqs_event, run_bulk_worker, run_dead_letters, work_off
from tests.support.infra import dynamodb_calls, one_call_at_a_time

TEMPLATE = {
    "name": "Rate {{image}}",
    "components": [{"type": "Image", "url": "{{image}}"}, {"type": "Rating", "steps": "{{steps}}"}],
}


@pytest.fixture
def pool(requester):
    return builders.pool(requester.id, TEMPLATE, payment="0.05", results=3)


def _item(pool: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"pool_id": pool, "input_values": {"image": f"https://example.com/{n}.png", "steps": 5}, **extra}


def _all_tasks(account_id: str) -> list[dict[str, Any]]:
    found = []
    for pk in task_store.TASKS.shard_pks(account_id):
        start = None
        while True:
            page, start = dynamo.query(key_condition="pk = :pk", vals={":pk": pk}, start_key=start)
            found.extend(page)
            if start is None:
                break
    return found


# ---------------------------------------------------------------- synchronous
def test_a_synchronous_array_answers_each_created_task_by_its_index(requester, pool):
    items = [_item(pool, n, overlap=2) for n in range(3)] + [{"name": "plain", "components": []}]
    reply, reservation = uploading.create_tasks_now(requester.id, items, BulkParams())
    assert set(reply.items) == {"0", "1", "2", "3"}
    assert reply.validation_errors is None
    first = reply.items["0"]
    assert (first.pool_id, first.overlap, first.input_values) == (pool, 2, items[0]["input_values"])
    assert first.created == "2026-03-14T03:14:15"
    stored = tasks.get_task(requester.id, first.id)
    # the campaign's template, filled: a whole placeholder keeps the input's type, inside text it is text
    assert stored.name == "Rate https://example.com/0.png"
    image, rating = stored.components
    assert (image["type"], image["url"]) == ("Image", "https://example.com/0.png")
    assert (rating["type"], rating["steps"]) == ("Rating", 5)
    assert tasks.get_task(requester.id, reply.items["3"].id).name == "plain"
    # ids follow the order of the request
    assert [reply.items[str(n)].id for n in range(4)] == sorted(reply.items[str(n)].id for n in range(4))
    assert reservation.left["minute"] == quotas.DEFAULT_PER_MINUTE - 4


def test_one_invalid_item_creates_nothing_unless_invalid_items_are_skipped(requester, pool):
    items = [_item(pool, 0, overlap=1), {"pool_id": pool, "input_values": {"steps": 5}, "overlap": 1}]
    with pytest.raises(bulk.BulkRefused) as refused:
        uploading.create_tasks_now(requester.id, items, BulkParams())
    assert refused.value.validation_errors == {
        "1": {
            "input_values.image": {
                "code": "VALUE_REQUIRED",
                "message": "Value must be present and not equal to null",
            }
        }
    }
    assert refused.value.errors[0]["field"] == "[1].input_values.image"
    assert _all_tasks(requester.id) == []

    reply, _ = uploading.create_tasks_now(requester.id, items, BulkParams(skip_invalid_items=True))
    assert set(reply.items) == {"0"}
    assert set(reply.validation_errors or {}) == {"1"}
    assert len(_all_tasks(requester.id)) == 1


def test_overlap_is_required_unless_defaults_are_allowed(requester, pool):
    params = BulkParams(skip_invalid_items=True)
    reply, _ = uploading.create_tasks_now(requester.id, [_item(pool, 0)], params)
    assert reply.validation_errors is not None
    assert reply.validation_errors["0"]["overlap"].code == "VALUE_REQUIRED"
    reply, _ = uploading.create_tasks_now(
        requester.id, [_item(pool, 0), _item(pool, 1, overlap=7)], BulkParams(allow_defaults=True)
    )
    assert (reply.items["0"].overlap, reply.items["1"].overlap) == (3, 7)  # the campaign's `results`


def test_items_are_checked_field_by_field(requester, pool):
    other = make_account()
    foreign = campaigns.create_campaign(other.id, CampaignIn(name="theirs")).id
    items: list[Any] = [
        "not an object",
        {"pool_id": foreign, "input_values": {}, "overlap": 1},
        {"pool_id": pool, "input_values": {"image": "x", "steps": "many"}, "overlap": 1},
        {"pool_id": pool, "input_values": {"image": "x", "steps": 5}, "overlap": 0},
        {"pool_id": pool, "input_values": {"image": "x", "steps": 5}, "overlap": 1, "colour": "red"},
        {"name": "", "components": [{"type": "Nope"}]},
    ]
    reply, _ = uploading.create_tasks_now(requester.id, items, BulkParams(skip_invalid_items=True))
    problems = reply.validation_errors or {}
    assert reply.items == {}
    assert problems["0"]["task"].code == "INVALID_VALUE"
    assert problems["1"]["pool_id"].code == "DOES_NOT_EXIST"  # another account's campaign is not there
    assert any(field.startswith("taskTemplate.components[1].steps") for field in problems["2"])
    assert problems["3"]["overlap"].code == "OUT_OF_RANGE"
    assert problems["4"]["colour"].code == "UNKNOWN_FIELD"
    assert {"name", "components[0].type"} <= set(problems["5"])


def test_a_synchronous_request_has_a_size_limit(requester, pool):
    with pytest.raises(errors.ValidationFailed) as refused:
        uploading.create_tasks_now(requester.id, [{"name": "t"}] * (bulk_items.SYNC_LIMIT + 1), BulkParams())
    assert "async_mode=true" in refused.value.errors[0]["message"]
    with pytest.raises(errors.ValidationFailed):
        uploading.create_tasks_now(requester.id, [], BulkParams())


def test_ended_campaigns_take_no_tasks(requester):
    campaign_id = campaigns.create_campaign(
        requester.id, CampaignIn(name="c", results=1), [job(requester.id)]
    ).id
    publishing.publish(requester.id, campaign_id)
    publishing.cancel(requester.id, campaign_id)
    reply, _ = uploading.create_tasks_now(
        requester.id,
        [{"pool_id": campaign_id, "input_values": {}, "overlap": 1}],
        BulkParams(skip_invalid_items=True),
    )
    assert (reply.validation_errors or {})["0"]["pool_id"].code == "INVALID_STATE"


# ---------------------------------------------------------------- asynchronous
def _submit(requester, items, **params: Any):
    operation, _ = uploading.submit_tasks(requester.id, items, BulkParams(async_mode=True, **params))
    return operation


def test_an_asynchronous_upload_travels_many_tasks_per_message_and_ends_in_success(requester, pool, queue):
    items = [_item(pool, n, overlap=1) for n in range(1200)]
    operation = _submit(requester, items)
    assert (operation.type, operation.status, operation.progress) == ("TASK.BATCH_CREATE", "PENDING", 0)
    assert operation.details.model_dump() == {
        "total_count": 1200,
        "valid_count": 1200,
        "not_valid_count": 0,
        "success_count": 0,
        "failed_count": 0,
    }
    assert operation.parameters.skip_invalid_items is False
    event = receive_sqs_event(queue)
    assert 1 <= len(event["Records"]) <= 3  # hundreds of tasks per message, every message under the limit
    assert all(len(r["body"].encode()) <= queues.MAX_MESSAGE_BYTES for r in event["Records"])
    assert run_bulk_worker(event) == {"batchItemFailures": []}
    done = operations.get_operation(requester.id, operation.id)
    assert (done.status, done.progress, done.details.success_count, done.details.failed_count) == (
        "SUCCESS",
        100,
        1200,
        0,
    )
    assert done.started and done.finished
    stored = _all_tasks(requester.id)
    assert len(stored) == 1200
    log = operations.operation_log(requester.id, operation.id, None, 2000)
    assert [entry.index for entry in log.log] == list(range(1200))
    assert all(entry.success and entry.type == "TASK_CREATE" for entry in log.log)
    assert log.log[5].input == {"pool_id": pool, "input_values": items[5]["input_values"], "overlap": 1}
    assert {entry.output["task_id"] for entry in log.log} == {item["sk"] for item in stored}
    page = operations.operation_log(requester.id, operation.id, 99, 100)
    assert (page.log[0].index, page.log[-1].index, page.next) == (100, 199, 199)


def test_a_redelivered_chunk_writes_the_same_tasks_and_counts_once(requester, pool, queue):
    operation = _submit(requester, [_item(pool, n, overlap=1) for n in range(300)])
    event = receive_sqs_event(queue)
    run_bulk_worker(event)
    before = {item["sk"]: item for item in _all_tasks(requester.id)}
    run_bulk_worker(event)  # SQS delivers at least once
    after = {item["sk"]: item for item in _all_tasks(requester.id)}
    assert after == before
    details = operations.get_operation(requester.id, operation.id).details
    assert (details.success_count, details.failed_count) == (300, 0)


def test_a_worker_killed_after_writing_is_redelivered_without_loss_or_duplicates(
    requester, pool, queue, monkeypatch
):
    operation = _submit(requester, [_item(pool, n, overlap=1) for n in range(250)])
    event = receive_sqs_event(queue)
    real = bulk.store.count_chunk
    calls = {"n": 0}

    def dies_once(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("the container died after the tasks were written")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk.store, "count_chunk", dies_once)
    assert len(event["Records"]) == 1
    with pytest.raises(BatchProcessingError):  # the whole batch failed: SQS delivers it again
        run_bulk_worker(event)
    assert operations.get_operation(requester.id, operation.id).status == "PENDING"
    assert len(_all_tasks(requester.id)) == 250  # written, not counted
    assert run_bulk_worker(event) == {"batchItemFailures": []}
    done = operations.get_operation(requester.id, operation.id)
    assert (done.status, done.details.success_count) == ("SUCCESS", 250)
    assert len(_all_tasks(requester.id)) == 250


def test_the_same_operation_id_returns_the_same_operation_and_creates_nothing_more(requester, pool, queue):
    operation_id = str(uuid.uuid4())
    items = [_item(pool, n, overlap=1) for n in range(10)]
    first = _submit(requester, items, operation_id=operation_id)
    assert first.id == operation_id
    again = _submit(requester, items, operation_id=operation_id.upper())
    assert again.id == operation_id
    assert len(receive_sqs_event(queue)["Records"]) == 1  # queued once
    with pytest.raises(errors.Conflict):
        _submit(requester, items[:5], operation_id=operation_id)
    with pytest.raises(errors.ValidationFailed) as refused:
        _submit(requester, items, operation_id="not-a-uuid")
    assert refused.value.errors[0]["field"] == "operation_id"


def test_a_request_that_died_before_queueing_is_resumed_by_sending_it_again(
    requester, pool, queue, monkeypatch, frozen_clock
):
    operation_id = str(uuid.uuid4())
    items = [_item(pool, n, overlap=1) for n in range(20)]
    monkeypatch.setattr(
        bulk.queues, "send_bulk", lambda messages: (_ for _ in ()).throw(ConnectionError("down"))
    )
    with pytest.raises(ConnectionError):
        _submit(requester, items, operation_id=operation_id)
    frozen_clock.advance(seconds=600)
    assert operations.get_operation(requester.id, operation_id).status == "FAIL"  # says so instead of hanging
    monkeypatch.undo()
    one_call_at_a_time(monkeypatch)
    resumed = _submit(requester, items, operation_id=operation_id)
    assert resumed.status == "PENDING"
    work_off(queue)
    done = operations.get_operation(requester.id, operation_id)
    assert (done.status, done.details.success_count) == ("SUCCESS", 20)


def test_invalid_items_fail_the_whole_operation_unless_skipped(requester, pool, queue):
    items = [_item(pool, 0, overlap=1), {"pool_id": pool, "input_values": {}, "overlap": 1}]
    refused = _submit(requester, items)
    assert refused.status == "FAIL" and refused.finished
    assert refused.details.model_dump() == {
        "total_count": 2,
        "valid_count": 1,
        "not_valid_count": 1,
        "success_count": 0,
        "failed_count": 2,
    }
    assert receive_sqs_event(queue)["Records"] == []
    log = operations.operation_log(requester.id, refused.id, None, 10).log
    assert [(e.index, e.type, e.success) for e in log] == [
        (0, "TASK_VALIDATE", False),
        (1, "TASK_VALIDATE", False),
    ]
    assert log[1].output["input_values.image"]["code"] == "VALUE_REQUIRED"
    assert log[1].input == items[1]

    skipped = _submit(requester, items, skip_invalid_items=True)
    work_off(queue)
    done = operations.get_operation(requester.id, skipped.id)
    assert (done.status, done.details.success_count, done.details.not_valid_count) == ("SUCCESS", 1, 1)
    log = operations.operation_log(requester.id, skipped.id, None, 10).log
    assert [(e.index, e.success) for e in log] == [(0, True), (1, False)]


def test_a_poison_chunk_ends_in_the_dead_letter_queue_and_the_operation_says_fail(
    requester, pool, queue, monkeypatch
):
    operation = _submit(requester, [_item(pool, n, overlap=1) for n in range(40)], skip_invalid_items=True)
    event = receive_sqs_event(queue)
    monkeypatch.setattr(dynamo, "batch_put", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("poison")))
    for _ in range(5):  # maxReceiveCount: the worker fails it every time
        with pytest.raises(BatchProcessingError):
            run_bulk_worker(event)
    assert operations.get_operation(requester.id, operation.id).status == "PENDING"
    assert run_dead_letters(event) == {"batchItemFailures": []}  # SQS moved it to the dead-letter queue
    run_dead_letters(event)  # and a dead letter seen twice counts once
    failed = operations.get_operation(requester.id, operation.id)
    assert (failed.status, failed.details.success_count, failed.details.failed_count) == ("FAIL", 0, 40)
    log = operations.operation_log(requester.id, operation.id, None, 100).log
    assert len(log) == 40 and not any(e.success for e in log)
    assert log[3].output["code"] == "NOT_STORED"
    assert log[3].input["input_values"] == {"image": "https://example.com/3.png", "steps": 5}


def test_a_dead_letter_of_no_known_kind_is_dropped_without_failing(requester):
    event = {
        "Records": [
            {
                "messageId": "m1",
                "receiptHandle": "r",
                "body": "{oops",
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:dlq",
                "awsRegion": "us-east-1",
            }
        ]
    }
    assert run_dead_letters(event) == {"batchItemFailures": []}


def test_open_pool_publishes_the_campaign_once_the_tasks_are_stored(requester, queue):
    campaign_id = campaigns.create_campaign(
        requester.id, CampaignIn(name="c", results=1, taskTemplate={"name": "{{t}}"}), [job(requester.id)]
    ).id
    operation = _submit(
        requester, [{"pool_id": campaign_id, "input_values": {"t": "x"}, "overlap": 1}], open_pool=True
    )
    assert campaigns.get_campaign(requester.id, campaign_id).state == "unpublished"
    work_off(queue)
    assert campaigns.get_campaign(requester.id, campaign_id).state == "active"
    assert operations.get_operation(requester.id, operation.id).openPoolErrors is None


def test_operations_are_listed_newest_first_and_only_to_their_owner(requester, pool, queue, frozen_clock):
    made = []
    for n in range(3):
        made.append(_submit(requester, [_item(pool, n, overlap=1)]).id)
        frozen_clock.advance(seconds=1)
    page, cursor = operations.list_operations(requester.id, 2, None)
    assert [op.id for op in page] == made[::-1][:2] and cursor
    rest, cursor = operations.list_operations(requester.id, 2, cursor)
    assert [op.id for op in rest] == [made[0]] and cursor is None
    stranger = make_account()
    assert operations.list_operations(stranger.id, 10, None)[0] == []
    with pytest.raises(errors.NotFound):
        operations.get_operation(stranger.id, made[0])


# ---------------------------------------------------------------- faults and quotas
def test_throttling_and_unprocessed_items_are_retried_with_backoff(requester, monkeypatch):
    monkeypatch.setattr(dynamo.time, "sleep", lambda _s: None)
    items = [{"pk": f"X#{n}", "sk": "S"} for n in range(3)]
    wire = [{"PutRequest": {"Item": dynamo.to_item(item)}} for item in items]
    client = dynamo.client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "batch_write_item", "ProvisionedThroughputExceededException", http_status_code=400
        )
        stub.add_client_error("batch_write_item", "ThrottlingException", http_status_code=400)
        stub.add_response("batch_write_item", {"UnprocessedItems": {dynamo.table(): wire[1:]}})
        stub.add_response(
            "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {dynamo.table(): wire[1:]}}
        )
        dynamo.batch_put(items)
        stub.assert_no_pending_responses()
    with Stubber(client) as stub:
        for _ in range(10):
            stub.add_client_error(
                "batch_write_item", "ProvisionedThroughputExceededException", http_status_code=400
            )
        with pytest.raises(RuntimeError):
            dynamo.batch_put(items)
    with Stubber(client) as stub:
        stub.add_client_error("batch_write_item", "ValidationException", http_status_code=400)
        with pytest.raises(ClientError) as refused:
            dynamo.batch_put(items)  # not a throttle: no retry
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        stub.assert_no_pending_responses()


def _quota(account_id: str, per_minute: int, per_day: int) -> None:
    from crowdtask.store import keys

    dynamo.update(
        *keys.account(account_id),
        "SET taskQuotaPerMinute = :m, taskQuotaPerDay = :d",
        vals={":m": per_minute, ":d": per_day},
    )


def test_the_minute_quota_refuses_a_whole_request_with_retry_after(requester, pool, frozen_clock):
    _quota(requester.id, 10, 15)
    items = [{"name": f"t{n}"} for n in range(6)]
    _, reservation = uploading.create_tasks_now(requester.id, items, BulkParams())
    assert reservation.headers()["X-Task-Quota-Minute-Remaining"] == "4"
    assert reservation.headers()["X-Task-Quota-Day-Remaining"] == "9"
    with pytest.raises(errors.TooManyRequests) as refused:
        uploading.create_tasks_now(requester.id, items, BulkParams())
    assert refused.value.headers["Retry-After"] == "45"  # the clock stands at 03:14:15
    assert refused.value.headers["X-Task-Quota-Minute-Remaining"] == "4"
    assert len(_all_tasks(requester.id)) == 6  # refused whole: nothing of it was created
    frozen_clock.advance(seconds=60)
    uploading.create_tasks_now(requester.id, items, BulkParams())
    frozen_clock.advance(seconds=60)
    with pytest.raises(errors.TooManyRequests) as refused:
        uploading.create_tasks_now(
            requester.id, items, BulkParams()
        )  # 12 of 15 today: 6 more do not fit the day
    assert "per day" in refused.value.description
    assert int(refused.value.headers["Retry-After"]) > 3600


def test_an_asynchronous_upload_over_quota_is_refused_and_creates_no_operation(requester, pool, queue):
    _quota(requester.id, 5, 100)
    with pytest.raises(errors.TooManyRequests):
        _submit(requester, [_item(pool, n, overlap=1) for n in range(6)])
    assert operations.list_operations(requester.id, 10, None)[0] == []
    assert receive_sqs_event(queue)["Records"] == []


def test_a_single_request_larger_than_the_window_is_told_to_split(requester):
    _quota(requester.id, 3, 100)
    with pytest.raises(errors.TooManyRequests) as refused:
        uploading.create_tasks_now(requester.id, [{"name": "t"}] * 4, BulkParams())
    assert "split it" in refused.value.description


def test_messages_fit_the_queue_and_keep_the_index_order():
    content = {"name": "x" * 2000, "pool_id": "P", "input_values": {"v": "y" * 1000}, "overlap": 1}
    messages = bulk_chunks.chunk_messages(
        "A",
        "op",
        "01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "2026-01-01T00:00:00.000000",
        [(n, content) for n in range(400)],
    )
    assert len(messages) >= 4
    assert all(queues.message_size(m) <= queues.MAX_MESSAGE_BYTES for m in messages)
    assert [entry[0] for m in messages for entry in m["items"]] == list(range(400))
    assert [m["chunk"] for m in messages] == list(range(len(messages)))
    # defaults travel as nothing
    assert set(messages[0]["items"][0][1]) == {"name", "pool_id", "input_values", "overlap"}
    assert json.loads(json.dumps(messages[0]))["items"][0][1]["overlap"] == 1


def test_an_admin_sets_an_accounts_task_quotas_when_creating_it(aws, frozen_clock):
    from crowdtask.models.accounts import AccountCreateIn
    from crowdtask.services import accounts

    body = {"email": "q@example.com", "password": "long enough", "role": "requester", "taskQuotaPerMinute": 2}
    account = accounts.create_account(AccountCreateIn.model_validate(body))
    assert quotas.limits(account.id) == (2, quotas.DEFAULT_PER_DAY)
    with pytest.raises(errors.TooManyRequests):
        uploading.create_tasks_now(account.id, [{"name": "t"}] * 3, BulkParams())


def test_a_redelivery_after_the_count_still_ends_the_operation(requester, pool, queue, monkeypatch):
    operation = _submit(requester, [_item(pool, n, overlap=1) for n in range(5)])
    event = receive_sqs_event(queue)
    real = bulk.store.finish
    monkeypatch.setattr(bulk.store, "finish", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("died")))
    with pytest.raises(BatchProcessingError):
        run_bulk_worker(event)
    assert operations.get_operation(requester.id, operation.id).status == "RUNNING"  # counted, not ended
    monkeypatch.setattr(bulk.store, "finish", real)
    run_bulk_worker(event)
    assert operations.get_operation(requester.id, operation.id).status == "SUCCESS"


def test_contended_counting_is_retried_not_dead_lettered(requester, pool, queue, monkeypatch):
    operation = _submit(requester, [_item(pool, n, overlap=1) for n in range(5)])
    real = dynamo.transact
    calls = {"n": 0}

    def contended_once(operations_: list[Any], **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise dynamo.TransactionConflict(["None", "TransactionConflict", "None"])
        real(operations_, **kwargs)

    monkeypatch.setattr(dynamo.time, "sleep", lambda _s: None)
    monkeypatch.setattr(dynamo, "transact", contended_once)
    assert work_off(queue) == {"batchItemFailures": []}
    assert operations.get_operation(requester.id, operation.id).details.success_count == 5


def test_a_chunk_names_at_most_forty_campaigns():
    items = [(n, {"name": "t", "pool_id": f"P{n}", "overlap": 1}) for n in range(45)]
    messages = bulk_chunks.chunk_messages(
        "A", "op", "01HZZZZZZZZZZZZZZZZZZZZZZZ", "2026-01-01T00:00:00.000000", items
    )
    assert [len(m["items"]) for m in messages] == [40, 5]


def test_resuming_refuses_when_the_tasks_validate_differently_now(requester, pool, queue, monkeypatch):
    operation_id = str(uuid.uuid4())
    items = [_item(pool, n, overlap=1) for n in range(3)]
    monkeypatch.setattr(
        bulk.queues, "send_bulk", lambda messages: (_ for _ in ()).throw(ConnectionError("down"))
    )
    with pytest.raises(ConnectionError):
        _submit(requester, items, operation_id=operation_id, skip_invalid_items=True)
    monkeypatch.undo()
    one_call_at_a_time(monkeypatch)
    campaigns.set_archived(requester.id, pool, True)  # its tasks are now refused
    with pytest.raises(errors.Conflict, match="new operation_id"):
        _submit(requester, items, operation_id=operation_id, skip_invalid_items=True)


@pytest.mark.parametrize(
    "odd",
    [
        {"name": "bad \ud800 text"},
        {"name": "t", "properties": {"x": float("nan")}},
        {"name": "t", "properties": {"blob": "x" * 210_000}},
    ],
)
def test_json_that_cannot_be_stored_is_refused_item_by_item(requester, odd):
    left = quotas.reserve(requester.id, 0).left["minute"]
    reply, reservation = uploading.create_tasks_now(
        requester.id, [odd, {"name": "fine"}], BulkParams(skip_invalid_items=True)
    )
    assert set(reply.items) == {"1"}
    assert set((reply.validation_errors or {})["0"]) == {"task"}
    assert reservation.left["minute"] == left - 1  # only the stored task took quota


@pytest.mark.parametrize("number", [10**39, -(10**40), 1e200, 1e-200])
def test_a_number_the_table_cannot_hold_is_refused_by_its_field(requester, number):
    odd = {"name": "t", "properties": {"deep": [{"n": number}]}}
    reply, _ = uploading.create_tasks_now(
        requester.id, [odd, {"name": "fine"}], BulkParams(skip_invalid_items=True)
    )
    assert set(reply.items) == {"1"}
    assert (reply.validation_errors or {})["0"]["properties.deep[0].n"].code == "INVALID_VALUE"


def test_numbers_at_the_edge_the_table_can_hold_are_stored(requester):
    edge = {"n": int("9" * 37), "small": 1e-130, "large": 9.9e37, "text": "1234567890" * 5 + "e-123"}
    reply, _ = uploading.create_tasks_now(requester.id, [{"name": "t", "properties": edge}], BulkParams())
    assert set(reply.items) == {"0"} and not reply.validation_errors


def test_a_pool_task_too_large_once_its_template_is_filled_is_refused(requester):
    template = {"name": "t", "components": [{"type": "Text", "text": "{{v}}"}], "properties": {"v": "{{v}}"}}
    body = CampaignIn.model_validate(
        {"name": "Big", "workerPayment": Decimal("0.05"), "taskTemplate": template}
    )
    big = campaigns.create_campaign(requester.id, body).id
    item = {"pool_id": big, "input_values": {"v": "y" * 120_000}, "overlap": 1}  # fits as sent, not as stored
    reply, _ = uploading.create_tasks_now(requester.id, [item], BulkParams(skip_invalid_items=True))
    assert reply.items == {}
    assert (reply.validation_errors or {})["0"]["task"].code == "TOO_LONG"


def test_the_log_shows_items_that_were_not_objects(requester, queue):
    operation = _submit(requester, [{"name": "ok"}, 5, "x"], skip_invalid_items=True)
    work_off(queue)
    log = operations.operation_log(requester.id, operation.id, None, 10).log
    assert [(e.index, e.success, e.input) for e in log][1:] == [(1, False, 5), (2, False, "x")]


def test_a_synchronous_upload_with_an_operation_id_is_idempotent(requester, pool):
    operation_id = str(uuid.uuid4())
    items = [_item(pool, n, overlap=1) for n in range(3)]
    first, _ = uploading.create_tasks_now(requester.id, items, BulkParams(operation_id=operation_id))
    again, _ = uploading.create_tasks_now(requester.id, items, BulkParams(operation_id=operation_id))
    assert again.items == first.items
    assert len(_all_tasks(requester.id)) == 3
    assert operations.get_operation(requester.id, operation_id).status == "SUCCESS"


def test_a_synchronous_upload_that_finished_counts_as_queued_so_sending_it_again_queues_nothing(
    requester, pool, queue
):
    operation_id = str(uuid.uuid4())
    items = [_item(pool, n, overlap=1) for n in range(3)]
    uploading.create_tasks_now(requester.id, items, BulkParams(operation_id=operation_id))
    stored = bulk.store.get(requester.id, operation_id, consistent=True)
    assert stored is not None and stored["queued_at"] == stored["finished"]
    uploading.create_tasks_now(requester.id, items, BulkParams(operation_id=operation_id))
    assert receive_sqs_event(queue)["Records"] == []
    assert len(_all_tasks(requester.id)) == 3


def test_a_synchronous_upload_that_cannot_finish_is_handed_to_the_bulk_worker(
    requester, pool, queue, monkeypatch
):
    real = bulk_chunks.store_chunk
    monkeypatch.setattr(
        bulk_chunks, "store_chunk", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("slow"))
    )
    with pytest.raises(bulk.Deferred) as deferred:
        uploading.create_tasks_now(requester.id, [_item(pool, n, overlap=1) for n in range(3)], BulkParams())
    monkeypatch.setattr(bulk_chunks, "store_chunk", real)
    work_off(queue)
    done = operations.get_operation(requester.id, deferred.value.operation.id)
    assert (done.status, done.details.success_count) == ("SUCCESS", 3)


def test_a_synchronous_upload_ends_its_operation_without_reading_it_first(requester, pool):
    params = BulkParams(operation_id=str(uuid.uuid4()))
    with dynamodb_calls() as made:
        uploading.create_tasks_now(requester.id, [_item(pool, n, overlap=1) for n in range(2)], params)
    counted = made.index("TransactWriteItems")  # the chunk counted, then: the end, and its event
    assert made[counted + 1 :] == ["UpdateItem", "TransactWriteItems"]
    operation = operations.get_operation(requester.id, params.operation_id)
    assert (operation.status, operation.details.success_count) == ("SUCCESS", 2)


def test_an_expected_end_with_a_lost_task_is_decided_on_the_operation_as_read(requester):
    from crowdtask.store import operations as operation_store

    operation_id = str(uuid.uuid4())
    data = {"chunk_count": 1, "chunks_done": 1, "failed_count": 3, "not_valid_count": 1, "success_count": 4}
    item = operation_store.operation_item(requester.id, operation_id, "2026-03-14T03:14:15.000000", data)
    assert operation_store.put_new({**item, "account_id": requester.id, "operation_id": operation_id})
    ended = bulk_chunks.finish_if_done(requester.id, operation_id, expected=True)
    assert ended is not None and ended["final_status"] == "FAIL"  # 2 valid tasks were not stored
    assert bulk_chunks.finish_if_done(requester.id, operation_id, expected=True) == ended  # still to end
    waiting = {**data, "chunks_done": 0}
    other = str(uuid.uuid4())
    item = operation_store.operation_item(requester.id, other, "2026-03-14T03:14:15.000000", waiting)
    assert operation_store.put_new(item)
    assert bulk_chunks.finish_if_done(requester.id, other, expected=True) is None  # a chunk is still out
