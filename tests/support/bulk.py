"""The bulk queue for tests (inside moto, as template.yaml declares it) and the bulk worker fed from it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.context import FakeLambdaContext
from tests.support.handlers import function_module
from tests.support.infra import queue_setting, template

BULK_QUEUE_NAME = "crowdtask-test-bulk"


@contextmanager
def bulk_queue() -> Iterator[str]:
    """The bulk queue as template.yaml declares it (inside moto), wired into the settings."""
    import boto3

    props = template()["Resources"]["BulkTaskQueue"]["Properties"]
    url = boto3.client("sqs").create_queue(
        QueueName=BULK_QUEUE_NAME, Attributes={"VisibilityTimeout": str(props["VisibilityTimeout"])}
    )["QueueUrl"]
    with queue_setting("BULK_QUEUE_URL", url):
        yield url


def receive_sqs_event(url: str) -> dict[str, Any]:
    """Everything on the queue, as the SQS event Lambda would hand the bulk worker."""
    import boto3

    sqs = boto3.client("sqs")
    records: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{BULK_QUEUE_NAME}",
                    "awsRegion": "us-east-1",
                }
            )
    return {"Records": records}


def run_bulk_worker(event: dict[str, Any]) -> dict[str, Any]:
    """functions/bulk_worker's queue handler on an SQS event (a copy: redelivering it is the same event)."""
    return function_module("bulk_worker").lambda_handler(
        copy.deepcopy(event), FakeLambdaContext("bulk_worker")
    )


def run_dead_letters(event: dict[str, Any]) -> dict[str, Any]:
    """functions/bulk_worker's dead-letter handler on an SQS event of its dead-letter queue."""
    return function_module("bulk_worker").dead_letter_handler(
        copy.deepcopy(event), FakeLambdaContext("bulk_dead_letters")
    )


def work_off(url: str) -> dict[str, Any]:
    """What is on the queue, handed to the bulk worker once: its answer (the batch item failures)."""
    return run_bulk_worker(receive_sqs_event(url))
