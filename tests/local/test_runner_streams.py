"""DynamoDB stream event sources without processes: the template's events, filters, records, retries."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from local.lambdas import Invocation
from local.streams import StreamPoller, failed_from, lambda_record, matches, passes
from local.template import StreamSource, TemplateError, load_stack
from tests.local.test_runner_template import write_template
from tests.support.stack import FIXTURE_DIR

OUTBOX = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"record_type": {"S": ["event"]}}}}


def record(sequence: str, name: str = "INSERT", **image: str) -> dict[str, Any]:
    return {
        "eventName": name,
        "dynamodb": {
            "SequenceNumber": sequence,
            "NewImage": {key: {"S": value} for key, value in image.items()},
        },
    }


def test_the_fixture_stream_event_is_loaded_with_its_settings() -> None:
    stack = load_stack(FIXTURE_DIR / "template.yaml")
    (source,) = stack.functions["StreamFunction"].streams
    assert source == StreamSource(
        event="Outbox",
        table="FixtureTable",
        starting_position="TRIM_HORIZON",
        batch_size=10,
        filters=(OUTBOX,),
        report_failures=True,
        bisect_on_error=True,
        max_retries=2,
        on_failure="StreamFailureQueue",
        enabled=True,
    )


def test_the_real_template_streams_the_outbox_to_the_forwarder() -> None:
    stack = load_stack(FIXTURE_DIR.parents[2] / "template.yaml")
    (source,) = stack.functions["EventsForwarderFunction"].streams
    assert (source.table, source.filters, source.on_failure) == (
        "MainTable",
        (OUTBOX,),
        "EventsDeadLetterQueue",
    )
    assert stack.tables["MainTable"].properties["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


def _stream_template(pattern: str, extra: str = "") -> str:
    return f"""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              AttributeDefinitions: [{{ AttributeName: pk, AttributeType: S }}]
              KeySchema: [{{ AttributeName: pk, KeyType: HASH }}]
              StreamSpecification: {{ StreamViewType: NEW_IMAGE }}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: fn/
              Handler: app.handler
              Runtime: python3.11
              Events:
                Changes:
                  Type: DynamoDB
                  Properties:
                    Stream: !GetAtt Table.StreamArn
                    StartingPosition: TRIM_HORIZON
                    FilterCriteria:
                      Filters:
                        - Pattern: '{pattern}'{extra}
        """


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        ('{"eventName": [{"anything-but": ["REMOVE"]}]}', "anything-but"),
        ('{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 1]}]}}}}', "numeric"),
        ('{"eventName": "INSERT"}', "non-empty list"),
        ('{"eventName": [true]}', "True"),
        ("not json", "not JSON"),
    ],
)
def test_filter_syntax_the_runner_does_not_know_is_refused_by_name(
    tmp_path: Path, pattern: str, named: str
) -> None:
    path = write_template(tmp_path, _stream_template(pattern))
    with pytest.raises(TemplateError) as refused:
        load_stack(path)
    assert named in str(refused.value)
    assert "Fn.Properties.Events.Changes" in str(refused.value)


def test_a_stream_property_the_runner_does_not_know_is_refused(tmp_path: Path) -> None:
    extra = "\n                    TumblingWindowInSeconds: 30"
    path = write_template(tmp_path, _stream_template('{"eventName": ["INSERT"]}', extra))
    with pytest.raises(TemplateError, match="TumblingWindowInSeconds"):
        load_stack(path)


def test_filters_match_as_lambda_event_filtering_does() -> None:
    assert matches(OUTBOX, record("1", record_type="event"))
    assert not matches(OUTBOX, record("1", record_type="task"))
    assert not matches(OUTBOX, record("1", "MODIFY", record_type="event"))
    assert not matches(OUTBOX, record("1"))  # the attribute is absent
    assert matches(
        {"dynamodb": {"NewImage": {"type": {"S": [{"prefix": "result."}]}}}}, record("1", type="result.x")
    )
    assert matches({"dynamodb": {"NewImage": {"gone": [{"exists": False}]}}}, record("1"))
    assert not matches({"dynamodb": {"NewImage": {"gone": [{"exists": True}]}}}, record("1"))
    assert matches({"n": [1]}, {"n": 1.0}) and not matches({"n": ["1"]}, {"n": 1})
    assert passes((), record("1")) and passes(
        ({"eventName": ["X"]}, OUTBOX), record("1", record_type="event")
    )


def test_a_stream_record_has_the_shape_lambda_sends() -> None:
    created = dt.datetime(2026, 3, 14, 1, 59, 26, tzinfo=dt.UTC)
    raw = {
        "eventID": "e1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ddblocal",
        "dynamodb": {
            "ApproximateCreationDateTime": created,
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}},
            "SequenceNumber": "100",
            "SizeBytes": 7,
            "StreamViewType": "NEW_IMAGE",
        },
    }
    assert lambda_record(raw, "arn:stream") == {
        "eventID": "e1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": int(created.timestamp()),
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}},
            "SequenceNumber": "100",
            "SizeBytes": 7,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:stream",
    }


def _invocation(ok: bool, result: Any) -> Invocation:
    return Invocation(ok, result, "request", 1, 1.0)


def test_a_batch_is_delivered_again_from_its_first_failed_record() -> None:
    batch = [record(str(n)) for n in (10, 11, 12)]
    assert failed_from(_invocation(True, {"batchItemFailures": []}), batch, True) is None
    failures = {"batchItemFailures": [{"itemIdentifier": "12"}, {"itemIdentifier": "11"}]}
    assert failed_from(_invocation(True, failures), batch, True) == 1
    assert failed_from(_invocation(True, failures), batch, False) is None  # not asked to report
    assert failed_from(_invocation(True, {"batchItemFailures": [{"itemIdentifier": "99"}]}), batch, True) == 0
    assert failed_from(_invocation(False, {"errorType": "Boom"}), batch, True) == 0


class FakePool:
    """Answers each invocation with what `decide` says, and remembers the batches."""

    def __init__(self, decide: Any) -> None:
        self.decide = decide
        self.batches: list[list[str]] = []

    def invoke(self, event: dict[str, Any]) -> Invocation:
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.batches.append(sequences)
        return self.decide(sequences)


class FakeStreams:
    """One shard of records, then its end."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "it-0"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803 - boto3's name
        start = int(ShardIterator.split("-")[1])
        chunk = self.records[start : start + Limit]
        following = start + len(chunk)
        return {
            "Records": chunk,
            "NextShardIterator": f"it-{following}" if following < len(self.records) else None,
        }


def _poller(
    pool: FakePool, max_retries: int, sent: list[dict[str, Any]], bisect: bool = False
) -> StreamPoller:
    stack = load_stack(FIXTURE_DIR / "template.yaml")
    function = stack.functions["StreamFunction"]
    source = StreamSource(
        "S", "FixtureTable", "TRIM_HORIZON", 10, (OUTBOX,), True, bisect, max_retries, "Q", True
    )
    poller = StreamPoller(
        function,
        source,
        "table",
        pool,
        lambda: None,
        lambda: None,
        sent.append,
        threading.Event(),  # type: ignore[arg-type]
    )
    poller.stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"
    return poller


def _raw(sequence: int, kind: str = "event") -> dict[str, Any]:
    return {
        "eventID": f"id-{sequence}",
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": 1,
            "Keys": {},
            "NewImage": {"record_type": {"S": kind}},
            "SequenceNumber": str(sequence),
            "SizeBytes": 1,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def test_partial_failures_are_redelivered_then_given_up_to_the_on_failure_destination(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("local.streams.RETRY_WAIT_S", 0.0)
    # Given records 1..4 and a non-event record 5 the filter drops; 3 always fails
    streams = FakeStreams([_raw(1), _raw(2), _raw(3), _raw(4), _raw(5, kind="task")])

    def decide(sequences: list[str]) -> Invocation:
        failed = [{"itemIdentifier": s} for s in sequences if s == "3"]
        return _invocation(True, {"batchItemFailures": failed})

    pool, sent = FakePool(decide), []
    poller = _poller(pool, max_retries=2, sent=sent)
    # When the poller reads and delivers the shard
    poller.discover(streams, at_start=True)
    while poller.poll_once(streams):
        pass
    # Then the batch goes once, is retried from record 3 twice, and is then described to the destination
    assert pool.batches == [["1", "2", "3", "4"], ["3", "4"], ["3", "4"]]
    (description,) = sent
    info = description["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("3", "4", 2)
    assert description["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert json.dumps(description)  # a queue message body
    assert poller.shards["shard-1"].closed


def test_a_function_error_bisects_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("local.streams.RETRY_WAIT_S", 0.0)
    streams = FakeStreams([_raw(n) for n in range(1, 5)])
    # Given a function that crashes on any batch holding record 4, once
    crashed: list[bool] = []

    def decide(sequences: list[str]) -> Invocation:
        if "4" in sequences and not crashed:
            crashed.append(True)
            return _invocation(False, {"errorType": "Crash"})
        return _invocation(True, {})

    pool, sent = FakePool(decide), []
    poller = _poller(pool, max_retries=5, sent=sent, bisect=True)
    poller.discover(streams, at_start=True)
    while poller.poll_once(streams):
        pass
    # Then the first half goes alone, the rest after it: every record delivered, nothing given up
    assert pool.batches == [["1", "2", "3", "4"], ["1", "2"], ["3", "4"]]
    assert sent == [] and poller.delivered == 4


class ExpiringStreams(FakeStreams):
    """Its first iterator after record 2 has expired, as DynamoDB's do after 15 minutes unused."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(records)
        self.expired_once = False
        self.asked: list[dict[str, Any]] = []

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        if kwargs.get("ShardIteratorType") == "AFTER_SEQUENCE_NUMBER":
            return {"ShardIterator": f"it-{int(kwargs['SequenceNumber'])}"}
        return {"ShardIterator": "it-0"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803 - boto3's name
        if ShardIterator == "it-2" and not self.expired_once:
            self.expired_once = True
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ExpiredIteratorException"}}, "GetRecords")
        return super().get_records(ShardIterator, Limit)


def test_an_expired_iterator_resumes_after_the_last_record_read() -> None:
    streams = ExpiringStreams([_raw(1), _raw(2), _raw(3), _raw(4)])
    pool = FakePool(lambda sequences: _invocation(True, {}))
    poller = _poller(pool, max_retries=2, sent=[])
    poller.source = StreamSource(
        "S", "FixtureTable", "TRIM_HORIZON", 2, (OUTBOX,), True, False, 2, None, True
    )
    poller.discover(streams, at_start=True)
    while poller.poll_once(streams):
        pass
    assert pool.batches == [["1", "2"], ["3", "4"]]
    assert streams.asked[-1]["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
    assert streams.asked[-1]["SequenceNumber"] == "2"
