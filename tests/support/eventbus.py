"""Catches what the services publish on the EventBridge bus, through a rule into an SQS queue."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.support.infra import BUS_NAME


class EventTap:
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

    def drain(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
