"""The benchmark's AWS call accounting: botocore hooks count calls, partitions written and write units."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from local import aws_calls


def test_calls_partitions_and_units_are_counted(tmp_path):
    with mock_aws():
        log = aws_calls.CallLog(str(tmp_path), "probe")
        client = aws_calls.attach_client(log, boto3.client("dynamodb", region_name="us-east-1"))
        client.create_table(
            TableName="probe-table",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.batch_write_item(
            RequestItems={
                "probe-table": [
                    {"PutRequest": {"Item": {"pk": {"S": "A"}, "gsi2pk": {"S": "POOL#1"}}}},
                    {"PutRequest": {"Item": {"pk": {"S": "A"}, "name_key": {"S": "n"}}}},
                ]
            }
        )
        client.update_item(
            TableName="probe-table",
            Key={"pk": {"S": "B"}},
            UpdateExpression="SET x = :x",
            ExpressionAttributeValues={":x": {"N": "1"}},
        )
        log.invoked()
    data = json.loads(next(tmp_path.glob("probe-*.json")).read_text())
    assert data["calls"] == {
        "dynamodb.CreateTable": 1,
        "dynamodb.BatchWriteItem": 1,
        "dynamodb.UpdateItem": 1,
    }
    assert data["partition_writes"] == {"table:A": 2, "gsi2:POOL#1": 1, "by_name:A": 1, "table:B": 1}
    assert data["write_units"] > 0  # reported only because the hook asked for ReturnConsumedCapacity
    assert data["invocations"] == 1 and data["peak_rss_mb"] > 0


def test_nothing_is_counted_unless_asked(monkeypatch):
    monkeypatch.delenv(aws_calls.ENV, raising=False)
    assert aws_calls.start("probe") is None
