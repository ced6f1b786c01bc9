"""Sends work to the SQS queues: the bulk queue (the bulk worker) and the aggregation queue."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from crowdtask.config import settings
from crowdtask.store import aws

# SQS refuses messages above 256 KiB; the margin covers the attributes SQS counts in.
MAX_MESSAGE_BYTES = 256 * 1024 - 2048


@lru_cache(maxsize=1)
def _client() -> Any:
    return aws.client("sqs")


def message_size(message: dict[str, Any]) -> int:
    return len(encode(message))


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def send_bulk(messages: list[dict[str, Any]]) -> None:
    """One SQS message per JSON message, in order (each may be close to the size limit)."""
    if not messages:
        return
    url = settings().require("bulk_queue_url").bulk_queue_url
    for message in messages:
        _client().send_message(QueueUrl=url, MessageBody=encode(message).decode())


def send_aggregation(message: dict[str, Any]) -> None:
    """One aggregation run for the aggregation worker."""
    url = settings().require("aggregation_queue_url").aggregation_queue_url
    _client().send_message(QueueUrl=url, MessageBody=encode(message).decode())


def send_webhook_delivery(message: dict[str, Any], delay_seconds: int = 0) -> None:
    """One delivery attempt for the delivery worker, after `delay_seconds` (SQS delays up to 900 s)."""
    url = settings().require("webhook_queue_url").webhook_queue_url
    _client().send_message(
        QueueUrl=url, MessageBody=encode(message).decode(), DelaySeconds=max(0, min(900, int(delay_seconds)))
    )
