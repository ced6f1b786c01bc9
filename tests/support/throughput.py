"""Workstreams, throughput bodies and the bulk queue for tests, made through the real services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.infra import template

BULK_QUEUE_NAME = "crowdtask-test-bulk"


@dataclass(frozen=True)
class TestWorkstream:
    id: str
    api_key: str
    use_case_id: str
    task_definition_id: str
    other_use_case_id: str
    other_task_definition_id: str


def make_workstream(account_id: str, name: str = "Invoice capture") -> TestWorkstream:
    """Two use cases with one task definition each."""
    from crowdtask.models.throughput import WorkstreamIn
    from crowdtask.services import workstreams

    created = workstreams.create_workstream(
        account_id,
        WorkstreamIn.model_validate(
            {
                "name": name,
                "use_cases": [
                    {"name": "Invoices", "task_definitions": [{"name": "Transcribe"}]},
                    {"name": "Receipts", "task_definitions": [{"name": "Classify"}]},
                ],
            }
        ),
    )
    first, second = created.use_cases
    assert created.api_key
    return TestWorkstream(
        id=created.id,
        api_key=created.api_key,
        use_case_id=first.id,
        task_definition_id=first.task_definitions[0].id,
        other_use_case_id=second.id,
        other_task_definition_id=second.task_definitions[0].id,
    )


def record_body(workstream: TestWorkstream, **overrides: Any) -> dict[str, Any]:
    """A valid throughput body for the workstream's first use case; overrides replace fields."""
    body: dict[str, Any] = {
        "worker_id": "john.doe@example.com",
        "use_case_id": workstream.use_case_id,
        "task_definition_id": workstream.task_definition_id,
        "task_started_at": "2020-12-22T09:13:24.127Z",
        "task_completed_at": "2020-12-22T10:13:24.127Z",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def one_call_at_a_time(monkeypatch: Any) -> None:
    """moto is not thread-safe for writes: the services' parallel calls run one after the other."""
    from crowdtask import parallel

    monkeypatch.setattr(parallel, "WORKERS", 1)


@contextmanager
def bulk_queue() -> Iterator[str]:
    """The bulk queue as template.yaml declares it (inside moto), wired into the settings."""
    import boto3

    from crowdtask.config import settings
    from crowdtask.store import queues

    props = template()["Resources"]["BulkTaskQueue"]["Properties"]
    url = boto3.client("sqs").create_queue(
        QueueName=BULK_QUEUE_NAME, Attributes={"VisibilityTimeout": str(props["VisibilityTimeout"])}
    )["QueueUrl"]
    previous = os.environ.get("BULK_QUEUE_URL")
    os.environ["BULK_QUEUE_URL"] = url
    settings.cache_clear()
    queues._client.cache_clear()
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop("BULK_QUEUE_URL", None)
        else:
            os.environ["BULK_QUEUE_URL"] = previous
        settings.cache_clear()
        queues._client.cache_clear()


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
