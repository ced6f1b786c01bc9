"""Bulk worker: consumes the bulk queue, one message at a time by its `kind`, reporting partial failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from crowdtask.observability import logger, metrics
from crowdtask.services import throughput_uploads

# Message kind -> the service that does the work. Each must be safe to run again on redelivery.
HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {
    throughput_uploads.MESSAGE_KIND: throughput_uploads.store_rows,
}

processor = BatchProcessor(event_type=EventType.SQS)


class UnknownMessage(Exception):
    """A message this worker cannot handle: it fails, is retried, and ends in the dead-letter queue."""


def handle_message(record: SQSRecord) -> None:
    try:
        message = json.loads(record.body)
    except ValueError as exc:
        raise UnknownMessage(f"message {record.message_id} is not JSON") from exc
    kind = message.get("kind") if isinstance(message, dict) else None
    handler = HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise UnknownMessage(f"message {record.message_id} has no known kind: {kind!r}")
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
