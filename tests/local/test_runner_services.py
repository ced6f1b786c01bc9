"""Resource creation against moto's server (no Java): tables as declared, kept and reconciled; queues."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.services import MotoServer, boto_client, create_queues, create_tables
from local.template import Queue, Table

KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = MotoServer()
    server.start()
    yield server.url
    server.stop()


def index(name: str, attribute: str, projection: dict[str, Any]) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
        "Projection": projection,
    }


def test_tables_are_created_then_kept_and_their_indexes_follow_the_template(moto_url: str) -> None:
    v1 = {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "S"},
        ],
        "KeySchema": KEY,
        "GlobalSecondaryIndexes": [index("by_n", "n", {"ProjectionType": "KEYS_ONLY"})],
        "TimeToLiveSpecification": {"AttributeName": "expire_at", "Enabled": True},
    }
    assert create_tables([Table("T", "reconciled", "arn", v1)], moto_url) == ["table reconciled created"]
    client = boto_client("dynamodb", moto_url)
    client.put_item(TableName="reconciled", Item={"pk": {"S": "a"}, "n": {"S": "x"}})
    ttl = client.describe_time_to_live(TableName="reconciled")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expire_at"}

    v2 = copy.deepcopy(v1)
    v2["AttributeDefinitions"].append({"AttributeName": "m", "AttributeType": "S"})
    v2["GlobalSecondaryIndexes"] = [
        index("by_n", "n", {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["body"]}),
        index("by_m", "m", {"ProjectionType": "ALL"}),
    ]
    lines = create_tables([Table("T", "reconciled", "arn", v2)], moto_url)
    assert lines[0] == "table reconciled kept (1 items)"
    assert lines[1:] == [
        "  index by_n rebuilt to match template.yaml",
        "  index by_m added to match template.yaml",
    ]
    described = client.describe_table(TableName="reconciled")["Table"]
    assert {
        i["IndexName"]: i["Projection"]["ProjectionType"] for i in described["GlobalSecondaryIndexes"]
    } == {
        "by_n": "INCLUDE",
        "by_m": "ALL",
    }
    assert client.get_item(TableName="reconciled", Key={"pk": {"S": "a"}})["Item"]["n"] == {"S": "x"}
    # Unchanged template: nothing to do.
    assert create_tables([Table("T", "reconciled", "arn", v2)], moto_url) == [
        "table reconciled kept (1 items)"
    ]


def test_queues_get_their_attributes_and_a_redrive_policy_to_a_later_declared_dlq(moto_url: str) -> None:
    dlq_arn = "arn:aws:sqs:us-east-1:123456789012:later-dlq"
    queues = [
        Queue(
            "Work",
            "work",
            "unused",
            "arn:aws:sqs:us-east-1:123456789012:work",
            {
                "VisibilityTimeout": 7,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3},
            },
        ),
        Queue("Dlq", "later-dlq", "unused", dlq_arn, {"MessageRetentionPeriod": 1209600}),
    ]
    urls = create_queues(queues, moto_url)
    assert urls == {"Work": f"{moto_url}/123456789012/work", "Dlq": f"{moto_url}/123456789012/later-dlq"}
    sqs = boto_client("sqs", moto_url)
    attributes = sqs.get_queue_attributes(QueueUrl=urls["Work"], AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "7"
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    dlq = sqs.get_queue_attributes(QueueUrl=urls["Dlq"], AttributeNames=["MessageRetentionPeriod"])
    assert dlq["Attributes"]["MessageRetentionPeriod"] == "1209600"
