"""Aggregation worker: runs the aggregations requested with POST /campaigns/{id}/aggregations.

`lambda_handler` takes the aggregation queue (one run per message, safe to run again on
redelivery); `dead_letter_handler` its dead-letter queue, where a run lands after failing
maxReceiveCount times: its operation then says FAIL.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from crowdtask.config import settings
from crowdtask.observability import logger, metrics
from crowdtask.services import aggregations

settings()  # validated at cold start: a function whose environment lacks a variable fails its init

processor = BatchProcessor(event_type=EventType.SQS)
dead_processor = BatchProcessor(event_type=EventType.SQS)


def _message(record: SQSRecord) -> dict[str, Any]:
    message = json.loads(record.body)
    if not isinstance(message, dict) or message.get("kind") != aggregations.MESSAGE_KIND:
        raise ValueError(f"message {record.message_id} is no aggregation run")
    return message


def run_record(record: SQSRecord) -> None:
    aggregations.run(_message(record))


def fail_record(record: SQSRecord) -> None:
    try:
        message = _message(record)
    except ValueError:
        logger.error("dead letter is no aggregation run; dropped", extra={"message_id": record.message_id})
        return
    aggregations.fail(message)


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=run_record, processor=processor, context=context)
    )


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def dead_letter_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=fail_record, processor=dead_processor, context=context
        )
    )
