"""Webhook delivery: one attempt per message of the webhook delivery queue, sent concurrently so that
a slow endpoint never holds up another's; `sweep_handler` (on a schedule) enqueues the attempts that
wait longer than SQS can delay a message, and any whose message was lost.

A message whose attempt another sender holds fails alone (partial batch failure) and comes back after
the visibility timeout; one that keeps failing goes to the dead-letter queue, and the sweep sends its
delivery again from the table.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from crowdtask.config import settings
from crowdtask.observability import logger, metrics
from crowdtask.services import webhooks

settings().require("webhook_queue_url")  # validated at cold start

# Every message failing is answered like some failing (each reported), not raised: the same retries follow.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _message(record: SQSRecord) -> dict[str, Any]:
    message = json.loads(record.body)
    if not isinstance(message, dict) or not {"account", "webhook", "delivery", "attempt"} <= set(message):
        raise ValueError(f"message {record.message_id} is no webhook delivery")
    return message


async def deliver_record(record: SQSRecord) -> str:
    outcome = await asyncio.to_thread(webhooks.deliver, _message(record))
    logger.info("webhook attempt", extra={"message_id": record.message_id, "outcome": outcome})
    return outcome


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        async_process_partial_response(
            event=event, record_handler=deliver_record, processor=processor, context=context
        )
    )


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def sweep_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    done = webhooks.sweep_due()
    logger.info("webhook sweep run", extra=done)
    return done
