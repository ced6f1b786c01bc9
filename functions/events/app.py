"""Events forwarder: puts every outbox item the table's stream carries on the EventBridge bus.

The stream's filter passes only INSERTs of outbox items (record_type "event"). A record that cannot
be put on the bus is reported as a batch item failure: Lambda retries from it (the same event id
every time), bisects a failing batch, and after its retries sends the batch's description to the
dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from crowdtask.config import settings
from crowdtask.observability import logger, metrics
from crowdtask.services import forwarding

settings()  # validated at cold start: a function whose environment lacks a variable fails its init

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def forward_record(record: DynamoDBRecord) -> None:
    if forwarding.forward(record.raw_event) is None:
        # The filter lets only outbox items through; anything else is not an event to forward.
        logger.warning("stream record is not an outbox event; skipped", extra={"event_id": record.event_id})


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=forward_record, processor=processor, context=context
    )
    failed = len(response.get("batchItemFailures", []))
    metrics.add_metric(
        name="EventsForwarded", unit=MetricUnit.Count, value=len(event.get("Records", [])) - failed
    )
    metrics.add_metric(name="EventsNotForwarded", unit=MetricUnit.Count, value=failed)
    return dict(response)
