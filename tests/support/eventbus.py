"""Events as the stack delivers them, in moto: the outbox items' stream records that pass the
forwarder's filter of template.yaml go to the events forwarder, whose EventBridge puts a rule
catches into an SQS queue."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3

from crowdtask.models.events import validate
from local.streams import lambda_record, passes
from local.template import StreamSource, load_stack
from tests.support.context import FakeLambdaContext
from tests.support.handlers import function_module
from tests.support.infra import BUS_NAME, ROOT, TABLE_NAMES


@cache
def forwarder_source() -> StreamSource:
    (source,) = load_stack(ROOT / "template.yaml").functions["EventsForwarderFunction"].streams
    return source


class OutboxStream:
    """The INSERT records the main table's stream carries for its outbox items, each once, in the
    order they were written (event ids sort so). moto's in-process DynamoDB Streams API does not
    answer this botocore's requests, so the records are built from the items, as the stream builds
    them; the local stack (tests/e2e) reads the real stream of DynamoDB Local."""

    def __init__(self) -> None:
        self._dynamodb = boto3.client("dynamodb")
        self.arn = self._dynamodb.describe_table(TableName=TABLE_NAMES["MainTable"])["Table"][
            "LatestStreamArn"
        ]
        self._seen: set[str] = set()

    def _outbox_images(self) -> list[dict[str, Any]]:
        images: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": TABLE_NAMES["MainTable"],
            "FilterExpression": "record_type = :event",
            "ExpressionAttributeValues": {":event": {"S": "event"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamodb.scan(**kwargs)
            images += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return sorted(images, key=lambda image: image["id"]["S"])
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def new_records(self) -> list[dict[str, Any]]:
        """Records of outbox items not read before that pass the forwarder's filters."""
        found = []
        for image in self._outbox_images():
            if image["id"]["S"] in self._seen:
                continue
            self._seen.add(image["id"]["S"])
            sequence = str(len(self._seen)).zfill(21)
            raw = {
                "eventID": f"{sequence}-{image['id']['S']}",
                "eventName": "INSERT",
                "dynamodb": {
                    "ApproximateCreationDateTime": 0,
                    "Keys": {"pk": image["pk"], "sk": image["sk"]},
                    "NewImage": image,
                    "SequenceNumber": sequence,
                    "SizeBytes": len(json.dumps(image)),
                    "StreamViewType": "NEW_IMAGE",
                },
            }
            record = lambda_record(raw, self.arn)
            if passes(forwarder_source().filters, record):
                found.append(record)
        return found

    def skip_existing(self) -> None:
        self.new_records()


def forward(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Invoke the events forwarder with a stream batch, as the event source mapping does."""
    handler = function_module("events").lambda_handler
    return dict(handler({"Records": records}, FakeLambdaContext()))


class EventTap:
    """What reached the bus since the tap was made: drain() forwards the outbox's new events first."""

    def __init__(self) -> None:
        sqs = boto3.client("sqs")
        self._sqs = sqs
        self.url = sqs.create_queue(QueueName="event-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = boto3.client("events")
        events.put_rule(Name="tap", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": ["crowdtask"]}))
        events.put_targets(Rule="tap", EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": arn}])
        self.stream = OutboxStream()
        self.stream.skip_existing()

    def drain(self) -> list[dict[str, Any]]:
        """The events on the bus since the last drain; each one of the catalogue, its payload exactly
        the catalogue's model of it."""
        records = self.stream.new_records()
        if records:
            assert forward(records) == {"batchItemFailures": []}
        found: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                for event in found:
                    validate(event["detail-type"], event["detail"]["data"])
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
