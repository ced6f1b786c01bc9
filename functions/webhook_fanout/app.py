"""Webhook fan-out: reads the table's stream (outbox events only, by the event source's filter) and
makes one delivery per event and matching subscription, on the webhook delivery queue.

A failed record is reported alone (partial batch failure) and retried; after the event source's retries
it goes to its on-failure destination. Redelivered records find their deliveries made already.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from crowdtask.config import settings
from crowdtask.observability import logger, metrics
from crowdtask.services import webhooks

settings().require("webhook_queue_url")  # validated at cold start

# Every record failing is answered like some failing (each reported), not raised: the same retries follow.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def fan_out_record(record: DynamoDBRecord) -> None:
    # a record of no outbox event is skipped: the filter lets none through on AWS; the local runner may
    webhooks.fan_out_stream_record(record.raw_event)


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=fan_out_record, processor=processor, context=context
        )
    )
