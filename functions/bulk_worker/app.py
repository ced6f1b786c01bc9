"""Bulk worker: consumes the bulk queue, one message at a time by its `kind`, reporting partial failures.

`lambda_handler` takes the bulk queue; `dead_letter_handler` takes its dead-letter queue, where a
message lands after failing maxReceiveCount times, and records what it carried as failed (the
operation then says FAIL and its log lists the items), so nothing fails silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from crowdtask.config import settings
from crowdtask.observability import logger, metrics
from crowdtask.services import throughput_uploads
from crowdtask.services.flows import uploading

Service = Callable[[dict[str, Any]], None]
# Message kind -> the service doing the work (a lambda: the service loads with its first message).
# Each must be safe to run again on redelivery.
HANDLERS: dict[str, Service] = {
    "tasks.create": lambda message: uploading.store_task_chunk(message),  # noqa: PLW0108
    "throughput.rows": lambda message: throughput_uploads.store_rows(message),  # noqa: PLW0108
}
# What to do with a message of that kind that could not be processed.
DEAD_HANDLERS: dict[str, Service] = {
    "tasks.create": lambda message: uploading.dead_task_chunk(message),  # noqa: PLW0108
}

settings()  # validated at cold start: a function whose environment lacks a variable fails its init

processor = BatchProcessor(event_type=EventType.SQS)
dead_processor = BatchProcessor(event_type=EventType.SQS)


class UnknownMessage(Exception):
    """A message this worker cannot handle: it fails, is retried, and ends in the dead-letter queue."""


def _message(record: SQSRecord) -> tuple[dict[str, Any], str | None]:
    try:
        message = json.loads(record.body)
    except ValueError as exc:
        raise UnknownMessage(f"message {record.message_id} is not JSON") from exc
    kind = message.get("kind") if isinstance(message, dict) else None
    return (message if isinstance(message, dict) else {}), (kind if isinstance(kind, str) else None)


def handle_message(record: SQSRecord) -> None:
    message, kind = _message(record)
    handler = HANDLERS.get(kind) if kind else None
    if handler is None:
        raise UnknownMessage(f"message {record.message_id} has no known kind: {kind!r}")
    handler(message)


def handle_dead_letter(record: SQSRecord) -> None:
    try:
        message, kind = _message(record)
    except UnknownMessage:
        logger.error("dead letter is not JSON; dropped", extra={"message_id": record.message_id})
        return
    handler = DEAD_HANDLERS.get(kind) if kind else None
    if handler is None:
        logger.error(
            "dead letter of an unknown kind; dropped", extra={"message_id": record.message_id, "kind": kind}
        )
        return
    handler(message)


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=handle_message, processor=processor, context=context
    )
    failed = len(response.get("batchItemFailures", []))
    metrics.add_metric(name="BulkMessages", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    metrics.add_metric(name="BulkMessageFailures", unit=MetricUnit.Count, value=failed)
    return dict(response)


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def dead_letter_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=handle_dead_letter, processor=dead_processor, context=context
    )
    metrics.add_metric(name="BulkDeadLetters", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    return dict(response)
