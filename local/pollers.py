"""Event sources: SQS pollers like Lambda's event source mappings, and the schedules of EventBridge."""

from __future__ import annotations

import base64
import datetime as dt
import heapq
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from local.lambdas import FunctionPool, Invocation, error_text
from local.template import ACCOUNT_ID, REGION, Function, Queue, ScheduleSource, SqsSource

log = logging.getLogger("local.pollers")

# Lambda's pollers long-poll too; 1 s keeps shutdown quick and the idle load low.
WAIT_TIME_SECONDS = 1
DEFAULT_POLLERS = 2
# cron() and at() are not evaluated locally: cron schedules fire this often instead.
CRON_INTERVAL_S = 3600.0
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


# ---------------------------------------------------------------- SQS


def sqs_record(message: Mapping[str, Any], queue: Queue) -> dict[str, Any]:
    """One record of the SQS event Lambda sends, from a ReceiveMessage result."""
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        binary = value.get("BinaryValue")
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
            "stringListValues": list(value.get("StringListValues") or []),
            "binaryListValues": [base64.b64encode(b).decode() for b in value.get("BinaryListValues") or []],
            "dataType": value.get("DataType"),
        }
        attributes[name] = {key: item for key, item in attributes[name].items() if item is not None}
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": REGION,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def records_to_delete(
    invocation: Invocation, records: list[dict[str, Any]], report_failures: bool
) -> list[str]:
    """Receipt handles to delete after an invocation, as Lambda's event source mapping decides."""
    if not invocation.ok:
        return []  # the whole batch becomes visible again after the visibility timeout
    handles = [record["receiptHandle"] for record in records]
    if not report_failures:
        return handles
    result = invocation.result
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return handles
    known = {record["messageId"]: record["receiptHandle"] for record in records}
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in known:
            # Lambda treats a malformed partial response as a failure of the whole batch.
            log.warning("batchItemFailures names %r, not a record of the batch: batch failed", identifier)
            return []
        failed.add(identifier)
    return [handle for message_id, handle in known.items() if message_id not in failed]


class SqsPoller:
    """Receive batches from a queue and invoke the function with them, on `concurrency` threads."""

    def __init__(
        self,
        function: Function,
        source: SqsSource,
        queue: Queue,
        queue_url: str,
        pool: FunctionPool,
        client_factory: Callable[[], Any],
        stop: threading.Event,
    ):
        self.function = function
        self.source = source
        self.queue = queue
        self.queue_url = queue_url
        self.pool = pool
        self.stop = stop
        self._client_factory = client_factory
        limits = [source.max_concurrency, function.reserved_concurrency, pool.max_workers]
        self.concurrency = max(1, min([DEFAULT_POLLERS, *(limit for limit in limits if limit is not None)]))
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.concurrency):
            thread = threading.Thread(
                target=self._run, name=f"sqs-{self.function.logical_id}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.01))

    def _run(self) -> None:
        client = self._client_factory()  # one client per thread: botocore clients are not shared freely
        while not self.stop.is_set():
            try:
                messages = self._receive_batch(client)
                if messages:
                    self._process(client, messages)
            except Exception:
                if self.stop.is_set():
                    return
                log.exception("%s: polling %s failed; retrying", self.function.logical_id, self.queue.name)
                self.stop.wait(1.0)

    def _receive_batch(self, client: Any) -> list[dict[str, Any]]:
        """Up to BatchSize messages: more receives while the batching window is open."""
        batch: list[dict[str, Any]] = []
        window_ends = None
        while len(batch) < self.source.batch_size and not self.stop.is_set():
            waiting = 0 if batch else WAIT_TIME_SECONDS
            response = client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(batch)),
                WaitTimeSeconds=waiting,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            batch += received
            if not batch:
                return batch
            if window_ends is None:
                window_ends = time.monotonic() + self.source.window_seconds
            if time.monotonic() >= window_ends:
                break
            if not received:
                self.stop.wait(min(0.2, max(window_ends - time.monotonic(), 0)))
        return batch

    def _process(self, client: Any, messages: list[dict[str, Any]]) -> None:
        records = [sqs_record(message, self.queue) for message in messages]
        invocation = self.pool.invoke({"Records": records})
        if not invocation.ok and not self.stop.is_set():
            log.warning(
                "%s: SQS batch of %d failed (%s); the messages return after the visibility timeout",
                self.function.logical_id,
                len(records),
                error_text(invocation),
            )
        handles = records_to_delete(invocation, records, self.source.report_failures)
        for start in range(0, len(handles), 10):
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles[start : start + 10])]
            result = client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in result.get("Failed", []):
                log.warning("%s: could not delete a message: %s", self.function.logical_id, failure)


# ---------------------------------------------------------------- schedules


def schedule_interval(expression: str) -> float | None:
    """Seconds between firings locally; None for one-time at() schedules and unknown expressions."""
    match = _RATE.match(expression.strip())
    if match:
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]
    if expression.strip().startswith("cron("):
        return CRON_INTERVAL_S
    return None


def scheduled_event(source: ScheduleSource, now: dt.datetime | None = None) -> Any:
    """What EventBridge delivers: the scheduled event, or the target's constant Input in its place."""
    if source.input is not None:
        return json.loads(source.input)
    now = now or dt.datetime.now(dt.UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [source.rule_arn],
        "detail": {},
    }


class Scheduler:
    """Fires scheduled functions at their rate, and all of them at once on request."""

    def __init__(
        self, functions: Mapping[str, Function], pools: Mapping[str, FunctionPool], stop: threading.Event
    ):
        self.pools = pools
        self.stop = stop
        self.entries = [
            (function, source)
            for function in functions.values()
            for source in function.schedules
            if source.enabled and function.logical_id in pools
        ]
        self._thread: threading.Thread | None = None

    def describe(self) -> list[str]:
        lines = []
        for function, source in self.entries:
            interval = schedule_interval(source.expression)
            if source.expression.strip().startswith("cron("):
                note = "cron is not evaluated locally: fired hourly"
            elif interval is None:
                note = "not fired by the clock locally (use POST /_local/schedules/run)"
            else:
                note = f"every {interval:g} s"
            lines.append(f"{function.logical_id}.{source.event} {source.expression}: {note}")
        return lines

    def start(self) -> None:
        if any(schedule_interval(source.expression) for _, source in self.entries):
            self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
            self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        # As with EventBridge, the first firing comes one interval after the rule is created.
        now = time.monotonic()
        heap = []
        for index, (_, source) in enumerate(self.entries):
            interval = schedule_interval(source.expression)
            if interval:
                heap.append((now + interval, index, interval))
        heapq.heapify(heap)
        while heap and not self.stop.is_set():
            due, index, interval = heap[0]
            if self.stop.wait(max(due - time.monotonic(), 0)):
                return
            heapq.heapreplace(heap, (due + interval, index, interval))
            function, source = self.entries[index]
            # Asynchronous, like EventBridge's invocation: a slow function does not delay the others.
            threading.Thread(
                target=self.fire, args=(function, source), name="schedule-fire", daemon=True
            ).start()

    def fire(self, function: Function, source: ScheduleSource) -> dict[str, Any]:
        invocation = self.pools[function.logical_id].invoke(scheduled_event(source))
        if invocation.ok:
            log.info("%s.%s ran", function.logical_id, source.event)
        else:
            log.warning("%s.%s failed: %s", function.logical_id, source.event, error_text(invocation))
        return {
            "function": function.logical_id,
            "schedule": source.event,
            "ok": invocation.ok,
            "result": invocation.result,
        }

    def run_all(self) -> list[dict[str, Any]]:
        """Fire every schedule now and wait for all of them (POST /_local/schedules/run)."""
        results: list[dict[str, Any]] = [{} for _ in self.entries]

        def run(index: int) -> None:
            results[index] = self.fire(*self.entries[index])

        threads = [
            threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(self.entries))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results
