"""Durable events over the local stack: DynamoDB Local's stream carries each outbox item to the
events forwarder, which puts it on the bus (moto) where a rule hands it to a queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from crowdtask.models.accounts import AccountCreateIn
from tests.e2e.conftest import new_account
from tests.support.stack import RunningStack, wait_for

pytestmark = pytest.mark.e2e


class Crash(Exception):
    """The process dies right after its transaction committed."""


class BusTap:
    """A rule on the stack's bus sending every crowdtask event to a queue of its own."""

    def __init__(self, api: RunningStack) -> None:
        self.sqs = api.client("sqs")
        name = f"e2e-events-{uuid.uuid4().hex[:8]}"
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events, bus = api.client("events"), api.info["buses"]["EventBus"]
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["crowdtask"]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def receive(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in messages.get("Messages", []):
            self.seen.append(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return self.seen

    def wait_for(self, event_id: str, timeout: float = 60) -> list[dict[str, Any]]:
        def arrived() -> list[dict[str, Any]]:
            return [e for e in self.receive() if e["detail"]["id"] == event_id]

        return wait_for(arrived, timeout, f"event {event_id} on the bus")


def _outbox_item(api: RunningStack, event_id: str) -> dict[str, Any] | None:
    item = api.client("dynamodb").get_item(
        TableName=api.info["tables"]["MainTable"],
        Key={"pk": {"S": f"EVENT#{event_id}"}, "sk": {"S": "EVENT"}},
        ConsistentRead=True,
    )
    return item.get("Item")


@pytest.fixture
def services_on_the_stack(api: RunningStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The services, in this process, writing to the stack's DynamoDB Local as its functions do."""
    from crowdtask.config import settings
    from crowdtask.store import dynamo

    monkeypatch.setenv("TABLE_NAME", api.info["tables"]["MainTable"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", api.info["dynamodb_url"])
    settings.cache_clear()
    dynamo.client.cache_clear()
    yield
    monkeypatch.undo()
    settings.cache_clear()
    dynamo.client.cache_clear()


def test_an_event_reaches_the_bus_from_the_outbox_with_its_id(api: RunningStack) -> None:
    tap = BusTap(api)
    # When an admin creates an account over HTTP
    account = new_account(api)

    # Then account.created reaches the bus, its id the one of the outbox item
    def created() -> list[dict[str, Any]]:
        return [e for e in tap.receive() if e["detail"]["data"].get("accountId") == account.id]

    [event] = wait_for(created, 60, "account.created on the bus")
    detail = event["detail"]
    assert (event["source"], event["detail-type"], detail["type"]) == (
        "crowdtask",
        "account.created",
        "account.created",
    )
    assert detail["account"] == account.id and detail["timestamp"].endswith("Z")
    stored = _outbox_item(api, detail["id"])
    assert stored is not None and stored["record_type"] == {"S": "event"}


def test_a_crash_right_after_the_commit_still_delivers_the_event(
    api: RunningStack, services_on_the_stack: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crowdtask.services import accounts
    from crowdtask.store import dynamo

    tap = BusTap(api)
    # Given a process that dies right after its transaction commits
    real = dynamo.transact
    committed: list[list[dict[str, Any]]] = []

    def commit_then_crash(operations: list[dict[str, Any]], **kwargs: Any) -> None:
        real(operations, **kwargs)
        committed.append(operations)
        raise Crash

    monkeypatch.setattr(dynamo, "transact", commit_then_crash)
    # When it creates an account (and never answers)
    email = f"crash-{uuid.uuid4().hex[:10]}@example.com"
    with pytest.raises(Crash):
        accounts.create_account(AccountCreateIn(email=email, password="long enough", role="requester"))
    [operations] = committed
    [event_id] = [op["Put"]["Item"]["id"]["S"] for op in operations if "record_type" in op["Put"]["Item"]]
    # Then the event still reaches the bus, with the id it was committed with
    [delivered] = tap.wait_for(event_id)
    assert delivered["detail-type"] == "account.created"
    assert _outbox_item(api, event_id) is not None
    # and the account it reports was committed with it: it can sign in
    token = api.request("POST", "/auth/token/request", json={"email": email, "password": "long enough"})
    assert token.status_code == 200, token.text
