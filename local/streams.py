"""DynamoDB stream event sources: a table's stream polled into its function as Lambda's mapping does.

Every shard is read (those that appear later too, a child after its parent), the template's
FilterCriteria are applied to each record as Lambda applies them (records that match no filter are
dropped), and the function gets the event AWS sends. Delivery is at least once: a batch is retried
from its first failed record (batchItemFailures), a failing batch is halved when
BisectBatchOnFunctionError says so, and after MaximumRetryAttempts the batch is described to the
OnFailure queue and the shard moves on. Checkpoints live in memory: a restarted runner reads each
stream again from its StartingPosition (consumers see the same event ids again).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.lambdas import FunctionPool, Invocation, error_text
from local.template import REGION, Function, StreamSource

log = logging.getLogger("local.streams")

IDLE_WAIT_S = 0.2  # between reads of a stream with nothing new: latency of an event, locally
RETRY_WAIT_S = 0.5  # grows with each retry of a failing batch, up to RETRY_WAIT_CAP_S
RETRY_WAIT_CAP_S = 5.0


# ---------------------------------------------------------------- filters


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Does the record match the filter pattern (Lambda event filtering, the subset template.py admits)?"""
    for key, expected in pattern.items():
        present = isinstance(record, Mapping) and key in record
        value = record.get(key) if isinstance(record, Mapping) else None
        if isinstance(expected, Mapping):
            if not present or not matches(expected, value):
                return False
        elif not any(_leaf_matches(rule, present, value) for rule in expected):
            return False
    return True


def _leaf_matches(rule: Any, present: bool, value: Any) -> bool:
    if isinstance(rule, Mapping):
        if "exists" in rule:
            return present is bool(rule["exists"])
        if "prefix" in rule:
            return present and isinstance(value, str) and value.startswith(rule["prefix"])
        return False
    if not present:
        return False
    values = value if isinstance(value, list) else [value]
    return any(_same(rule, item) for item in values)


def _same(rule: Any, value: Any) -> bool:
    if rule is None or value is None:
        return rule is value
    if isinstance(rule, str) or isinstance(value, str):
        return isinstance(rule, str) and isinstance(value, str) and rule == value
    return bool(float(rule) == float(value))


def passes(filters: tuple[dict[str, Any], ...], record: Mapping[str, Any]) -> bool:
    """No filters: every record; else a record that matches any of them."""
    return not filters or any(matches(pattern, record) for pattern in filters)


# ---------------------------------------------------------------- records


def lambda_record(raw: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """One record of the event Lambda sends, from a GetRecords record (boto3's shape)."""
    source = raw.get("dynamodb") or {}
    created = source.get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):
        created = int(created.timestamp())
    stream: dict[str, Any] = {"ApproximateCreationDateTime": created, "Keys": source.get("Keys", {})}
    for name in ("NewImage", "OldImage"):
        if name in source:
            stream[name] = source[name]
    stream.update(
        {
            "SequenceNumber": source.get("SequenceNumber"),
            "SizeBytes": source.get("SizeBytes"),
            "StreamViewType": source.get("StreamViewType"),
        }
    )
    return {
        "eventID": raw.get("eventID"),
        "eventName": raw.get("eventName"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }


def failed_from(invocation: Invocation, batch: list[dict[str, Any]], report_failures: bool) -> int | None:
    """Index in `batch` from which it must be delivered again; None when all of it succeeded.

    Lambda checkpoints before the lowest failed sequence number; a malformed partial answer fails
    the whole batch, as does a function error."""
    if not invocation.ok:
        return 0
    if not report_failures:
        return None
    result = invocation.result
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return None
    positions = {record["dynamodb"]["SequenceNumber"]: n for n, record in enumerate(batch)}
    first = len(batch)
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in positions:
            log.warning("batchItemFailures names %r, not a record of the batch: batch failed", identifier)
            return 0
        first = min(first, positions[identifier])
    return first


def failure_description(
    source: StreamSource,
    function: Function,
    stream_arn: str,
    shard_id: str,
    batch: list[dict[str, Any]],
    invocation: Invocation,
    attempts: int,
) -> dict[str, Any]:
    """What Lambda sends the OnFailure destination for a stream batch it gave up on."""
    first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]

    def moment(seconds: Any) -> str:
        value = dt.datetime.fromtimestamp(float(seconds or 0), dt.UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": function.arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "" if invocation.ok else "Unhandled",
        },
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": moment(first.get("ApproximateCreationDateTime")),
            "approximateArrivalOfLastRecord": moment(last.get("ApproximateCreationDateTime")),
            "batchSize": len(batch),
            "streamArn": stream_arn,
        },
    }


# ---------------------------------------------------------------- the poller


@dataclass
class _Shard:
    shard_id: str
    parent: str | None
    iterator: str | None = None
    last_sequence: str | None = None  # of the last record read: where to resume if the iterator expires
    closed: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)  # filtered records not yet delivered


class StreamPoller:
    """Reads one table's stream and delivers its records to one function, shard after shard."""

    def __init__(
        self,
        function: Function,
        source: StreamSource,
        table_name: str,
        pool: FunctionPool,
        dynamodb_factory: Callable[[], Any],
        streams_factory: Callable[[], Any],
        send_to_destination: Callable[[dict[str, Any]], None] | None,
        stop: threading.Event,
    ):
        self.function = function
        self.source = source
        self.table_name = table_name
        self.pool = pool
        self.stop = stop
        self._dynamodb_factory = dynamodb_factory
        self._streams_factory = streams_factory
        self._send_to_destination = send_to_destination
        self.stream_arn: str | None = None
        self.shards: dict[str, _Shard] = {}
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.given_up = 0

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"stream-{self.function.logical_id}", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        dynamodb = self._dynamodb_factory()
        streams = self._streams_factory()
        first = True
        while not self.stop.is_set():
            try:
                if self.stream_arn is None:
                    self.stream_arn = dynamodb.describe_table(TableName=self.table_name)["Table"].get(
                        "LatestStreamArn"
                    )
                    if self.stream_arn is None:
                        log.warning("%s: table %s has no stream", self.function.logical_id, self.table_name)
                        self.stop.wait(5.0)
                        continue
                self.discover(streams, first)
                first = False
                if not self.poll_once(streams):
                    self.stop.wait(IDLE_WAIT_S)
            except Exception:
                if self.stop.is_set():
                    return
                log.exception(
                    "%s: reading the stream of %s failed; retrying", self.function.logical_id, self.table_name
                )
                self.stop.wait(1.0)

    def discover(self, streams: Any, at_start: bool) -> None:
        """Track the stream's shards; those there at start begin at StartingPosition, later ones at
        their first record (TRIM_HORIZON), as Lambda reads a new shard whole."""
        assert self.stream_arn is not None
        start_id: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
            if start_id:
                kwargs["ExclusiveStartShardId"] = start_id
            description = streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in description.get("Shards", []):
                shard_id = shard["ShardId"]
                if shard_id in self.shards:
                    continue
                position = self.source.starting_position if at_start else "TRIM_HORIZON"
                iterator = streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=position
                )["ShardIterator"]
                self.shards[shard_id] = _Shard(shard_id, shard.get("ParentShardId"), iterator)
            start_id = description.get("LastEvaluatedShardId")
            if not start_id:
                return

    def _ready(self, shard: _Shard) -> bool:
        """A child shard is read once its parent (if this poller knows it) is read to its end."""
        parent = self.shards.get(shard.parent) if shard.parent else None
        return not shard.closed and (parent is None or (parent.closed and not parent.pending))

    def poll_once(self, streams: Any) -> bool:
        """One read of every ready shard and the delivery of what passed the filters; True if any."""
        assert self.stream_arn is not None
        busy = False
        for shard in list(self.shards.values()):
            if self.stop.is_set() or not self._ready(shard):
                continue
            if not shard.pending and shard.iterator is not None:
                response = self._read(streams, shard)
                shard.iterator = response.get("NextShardIterator")
                records = [lambda_record(raw, self.stream_arn) for raw in response.get("Records", [])]
                if records:
                    shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
                shard.pending = [record for record in records if passes(self.source.filters, record)]
                busy = busy or bool(records)
            if shard.pending:
                self.deliver(shard)
                busy = True
            if shard.iterator is None and not shard.pending:
                shard.closed = True
        return busy

    def _read(self, streams: Any, shard: _Shard) -> dict[str, Any]:
        """GetRecords; an iterator that expired (15 minutes unused) is made again after the last
        record read, so nothing is skipped or read twice."""
        assert shard.iterator is not None
        try:
            return dict(streams.get_records(ShardIterator=shard.iterator, Limit=self.source.batch_size))
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code != "ExpiredIteratorException":
                raise
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard.last_sequence is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_sequence}
        shard.iterator = streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard.shard_id, **position
        )["ShardIterator"]
        return dict(streams.get_records(ShardIterator=shard.iterator, Limit=self.source.batch_size))

    def deliver(self, shard: _Shard) -> None:
        """Deliver the shard's pending records until all succeeded or were given up on."""
        assert self.stream_arn is not None
        attempts = 0
        while shard.pending and not self.stop.is_set():
            batch = shard.pending[: self.source.batch_size]
            invocation = self.pool.invoke({"Records": batch})
            first_failed = failed_from(invocation, batch, self.source.report_failures)
            if first_failed is None:
                shard.pending = shard.pending[len(batch) :]
                self.delivered += len(batch)
                attempts = 0
                continue
            self.delivered += first_failed
            shard.pending = shard.pending[first_failed:]
            attempts += 1
            failed_batch = batch[first_failed:]
            if not invocation.ok:
                log.warning(
                    "%s: stream batch of %d failed: %s",
                    self.function.logical_id,
                    len(batch),
                    error_text(invocation),
                )
            if 0 <= self.source.max_retries < attempts:
                self._give_up(shard, failed_batch, invocation, attempts)
                attempts = 0
                continue
            if not invocation.ok and self.source.bisect_on_error and len(failed_batch) > 1:
                # Halve the batch: the half holding the bad record fails alone (the next pass takes it).
                half = len(failed_batch) // 2
                self._deliver_half(shard, half)
            self.stop.wait(min(RETRY_WAIT_CAP_S, RETRY_WAIT_S * attempts))

    def _deliver_half(self, shard: _Shard, half: int) -> None:
        """Invoke with the first `half` pending records only; on success they are done."""
        batch = shard.pending[:half]
        invocation = self.pool.invoke({"Records": batch})
        first_failed = failed_from(invocation, batch, self.source.report_failures)
        done = len(batch) if first_failed is None else first_failed
        self.delivered += done
        shard.pending = shard.pending[done:]

    def _give_up(
        self, shard: _Shard, batch: list[dict[str, Any]], invocation: Invocation, attempts: int
    ) -> None:
        """Past MaximumRetryAttempts: describe the batch to the OnFailure queue and move past it."""
        assert self.stream_arn is not None
        description = failure_description(
            self.source, self.function, self.stream_arn, shard.shard_id, batch, invocation, attempts
        )
        self.given_up += len(batch)
        log.warning(
            "%s: gave up on %d stream records after %d attempts%s",
            self.function.logical_id,
            len(batch),
            attempts,
            f"; described to {self.source.on_failure}" if self.source.on_failure else "",
        )
        if self._send_to_destination is not None:
            self._send_to_destination(description)
        shard.pending = shard.pending[len(batch) :]


def queue_sender(client_factory: Callable[[], Any], queue_url: str) -> Callable[[dict[str, Any]], None]:
    """Sends an OnFailure description to a queue, as Lambda's destination does."""

    def send(description: dict[str, Any]) -> None:
        client_factory().send_message(QueueUrl=queue_url, MessageBody=json.dumps(description))

    return send
