"""Webhook tests' parts: a receiver on the loopback, the delivery queue (moto, or a recorder of what is
enqueued), stream records of outbox events, and signature checks with the `standardwebhooks` package."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import standardwebhooks
import standardwebhooks.webhooks

from tests.support.context import FakeLambdaContext
from tests.support.handlers import function_module
from tests.support.infra import queue_setting, template

QUEUE_NAME = "crowdtask-test-webhook-deliveries"


# ---------------------------------------------------------------- a receiver on 127.0.0.1


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    at: float


@dataclass
class Receiver:
    """An endpoint on the loopback: answers `answers` in turn (then 200), keeps every request."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    # what to answer a request, in place of `answers` (called under the lock)
    responder: Callable[[Received], tuple[int, dict[str, str]]] | None = None

    def answer(self, request: Received) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.received.append(request)
            if self.responder is not None:
                return self.responder(request)
            return self.answers.pop(0) if self.answers else (200, {})


@contextmanager
def receiver(*answers: int | tuple[int, dict[str, str]], delay: float = 0.0) -> Iterator[Receiver]:
    """A receiver answering the given statuses (with headers) first, then 200; `delay` before each."""
    got = Receiver(answers=[a if isinstance(a, tuple) else (a, {}) for a in answers], delay=delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode()
            if got.delay:
                time.sleep(got.delay)
            request = Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
            status, headers = got.answer(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- signatures


def verify(secret: str, request: Received, now: datetime | None = None) -> Any:
    """The payload, if `standardwebhooks` verifies the request with `secret` (at `now`, if given: the
    library checks the timestamp against its own clock)."""
    webhook = standardwebhooks.Webhook(secret)
    if now is None:
        return webhook.verify(request.body, request.headers)
    moment = now

    class At(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return moment.astimezone(tz or UTC)

    with mock.patch.object(standardwebhooks.webhooks, "datetime", At):
        return webhook.verify(request.body, request.headers)


VerificationError = standardwebhooks.webhooks.WebhookVerificationError


# ---------------------------------------------------------------- the delivery queue


@contextmanager
def webhook_queue() -> Iterator[str]:
    """The webhook delivery queue of template.yaml (moto), wired into the settings."""
    import boto3

    from crowdtask.store import queues

    props = template()["Resources"]["WebhookDeliveryQueue"]["Properties"]
    url = boto3.client("sqs").create_queue(
        QueueName=QUEUE_NAME, Attributes={"VisibilityTimeout": str(props["VisibilityTimeout"])}
    )["QueueUrl"]
    queues._client.cache_clear()
    with queue_setting("WEBHOOK_QUEUE_URL", url):
        yield url
    queues._client.cache_clear()


@dataclass
class Enqueued:
    """What the services put on the delivery queue: (message, delay seconds), in order."""

    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def take(self) -> list[tuple[dict[str, Any], int]]:
        taken, self.sent[:] = list(self.sent), []
        return taken


def record_enqueued(monkeypatch: Any) -> Enqueued:
    from crowdtask.store import webhooks as webhook_store

    enqueued = Enqueued()
    monkeypatch.setattr(
        webhook_store,
        "enqueue",
        lambda message, delay_seconds=0: enqueued.sent.append((dict(message), delay_seconds)),
    )
    return enqueued


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The SQS event Lambda would hand the delivery worker for these messages."""
    return {
        "Records": [
            {
                "messageId": f"m-{n}-{time.monotonic_ns()}",
                "receiptHandle": f"r-{n}",
                "body": json.dumps(message),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{QUEUE_NAME}",
                "awsRegion": "us-east-1",
            }
            for n, message in enumerate(messages)
        ]
    }


def run_delivery(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """functions/webhook_delivery on these messages: its partial-batch answer."""
    return function_module("webhook_delivery").lambda_handler(
        sqs_event(messages), FakeLambdaContext("webhook_delivery")
    )


def run_sweep() -> dict[str, Any]:
    return function_module("webhook_delivery").sweep_handler({}, FakeLambdaContext("webhook_sweep"))


# ---------------------------------------------------------------- stream records of outbox events


def stream_event(*items: dict[str, Any], event_name: str = "INSERT") -> dict[str, Any]:
    """The DynamoDB stream event Lambda would hand the fan-out for these new items."""
    from crowdtask.store import dynamo

    return {
        "Records": [
            {
                "eventID": f"e{n}",
                "eventName": event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": dynamo.to_item({"pk": item["pk"], "sk": item["sk"]}),
                    "NewImage": dynamo.to_item(item),
                    "SequenceNumber": str(100 + n),
                    "SizeBytes": 200,
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/main/stream/2026",
            }
            for n, item in enumerate(items)
        ]
    }


def run_fan_out(event: dict[str, Any]) -> dict[str, Any]:
    return function_module("webhook_fanout").lambda_handler(
        copy.deepcopy(event), FakeLambdaContext("webhook_fanout")
    )


def outbox_item(event: dict[str, Any]) -> dict[str, Any]:
    """An event (crowdtask.services.webhooks.new_event) as its outbox item: the same record."""
    assert event["pk"] == f"EVENT#{event['id']}" and event["record_type"] == "event"
    return event


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
