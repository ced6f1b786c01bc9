"""The aggregation queue and its dead-letter queue for tests (inside moto, as template.yaml declares
them, redrive included), and the aggregation worker fed from them as Lambda's event source would."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from tests.support.context import FakeLambdaContext
from tests.support.handlers import function_module
from tests.support.infra import queue_setting, template

QUEUE_NAME = "crowdtask-test-aggregations"
DEAD_LETTER_QUEUE_NAME = "crowdtask-test-aggregations-dead"


class AggregationQueues(NamedTuple):
    url: str
    dead_letter_url: str


@contextmanager
def aggregation_queues() -> Iterator[AggregationQueues]:
    """The aggregation queue and its dead-letter queue, wired into the settings."""
    import boto3

    resources = template()["Resources"]
    props = resources["AggregationQueue"]["Properties"]
    dead_props = resources["AggregationDeadLetterQueue"]["Properties"]
    sqs = boto3.client("sqs")
    dead_url = sqs.create_queue(
        QueueName=DEAD_LETTER_QUEUE_NAME,
        Attributes={"VisibilityTimeout": str(dead_props["VisibilityTimeout"])},
    )["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"]
    redrive = {
        "deadLetterTargetArn": dead_arn["QueueArn"],
        "maxReceiveCount": props["RedrivePolicy"]["maxReceiveCount"],
    }
    attributes = {"VisibilityTimeout": str(props["VisibilityTimeout"]), "RedrivePolicy": json.dumps(redrive)}
    url = sqs.create_queue(QueueName=QUEUE_NAME, Attributes=attributes)["QueueUrl"]
    with queue_setting("AGGREGATION_QUEUE_URL", url):
        yield AggregationQueues(url, dead_url)


def run_aggregation_worker(event: dict[str, Any]) -> dict[str, Any]:
    """functions/aggregation_worker's queue handler on an SQS event (a copy: redelivering it is the same)."""
    return function_module("aggregation_worker").lambda_handler(
        copy.deepcopy(event), FakeLambdaContext("aggregation_worker")
    )


def run_aggregation_dead_letters(event: dict[str, Any]) -> dict[str, Any]:
    return function_module("aggregation_worker").dead_letter_handler(
        copy.deepcopy(event), FakeLambdaContext("aggregation_dead_letters")
    )


def deliver(url: str, queue_name: str, handler: Any) -> tuple[int, dict[str, Any]]:
    """One poll of the queue as Lambda's event source does it: what is visible handed to `handler`,
    the messages it did not report as failed deleted, the failed ones visible again at once (the
    queue's visibility timeout elapsed). The records handed over, and the handler's answer."""
    import boto3

    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
    ).get("Messages", [])
    if not messages:
        return 0, {"batchItemFailures": []}
    event = {"Records": [_record(message, queue_name) for message in messages]}
    try:
        answer = handler(event)
    except Exception:  # a failed invocation (powertools raises when every record failed): all come back
        answer = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
    failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
    for record in event["Records"]:
        if record["messageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
    return len(event["Records"]), answer


def _record(message: dict[str, Any], queue_name: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue_name}",
        "awsRegion": "us-east-1",
    }
