"""AWS call accounting: botocore hooks count calls, what they touch, partitions written and write units."""

from __future__ import annotations

import json
import os

import boto3
import botocore.session
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


def test_every_client_made_after_start_names_what_its_calls_touch(tmp_path, monkeypatch):
    monkeypatch.setenv(aws_calls.ENV, str(tmp_path))
    # start() hooks the creation of every client in the process: undone after this test.
    monkeypatch.setattr(botocore.session.Session, "create_client", botocore.session.Session.create_client)
    with mock_aws():
        log = aws_calls.start("probe-function")
        assert log is not None
        # A client from a session of its own, as Powertools' idempotency layer makes one.
        dynamodb = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="probe-table",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "kind", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_kind",
                    "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.query(
            TableName="probe-table",
            IndexName="by_kind",
            KeyConditionExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": "x"}},
        )
        update = {
            "TableName": "probe-table",
            "Key": {"pk": {"S": "A"}},
            "UpdateExpression": "SET x = :x",
            "ExpressionAttributeValues": {":x": {"N": "1"}},
        }
        put = {"TableName": "probe-table", "Item": {"pk": {"S": "B"}}}
        dynamodb.transact_write_items(TransactItems=[{"Put": put}, {"Update": update}])
        sqs = boto3.client("sqs", region_name="us-east-1")  # boto3's default session: hooked too
        url = sqs.create_queue(QueueName="probe-queue")["QueueUrl"]
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "a"}])
        events = boto3.client("events", region_name="us-east-1")
        events.create_event_bus(Name="probe-bus")
        entry = {"Source": "probe", "DetailType": "probe", "Detail": "{}"}
        events.put_events(Entries=[{**entry, "EventBusName": "probe-bus"}, entry])
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name="/probe/secret", Value="s", Type="SecureString")
        ssm.get_parameter(Name="/probe/secret", WithDecryption=True)
        log.invoked()
    data = json.loads((tmp_path / f"probe-function-{os.getpid()}.json").read_text())
    assert data["label"] == "probe-function"
    touched = {(t["service"], t["operation"], t["part"], t["resource"]): t["count"] for t in data["touched"]}
    assert touched == {
        ("dynamodb", "CreateTable", "", "probe-table"): 1,
        ("dynamodb", "Query", "", "probe-table/index/by_kind"): 1,
        ("dynamodb", "TransactWriteItems", "Put", "probe-table"): 1,
        ("dynamodb", "TransactWriteItems", "Update", "probe-table"): 1,
        ("sqs", "CreateQueue", "", "probe-queue"): 1,
        ("sqs", "SendMessageBatch", "", url): 1,
        ("events", "CreateEventBus", "", ""): 1,
        ("events", "PutEvents", "", "probe-bus"): 1,
        ("events", "PutEvents", "", "default"): 1,
        ("ssm", "PutParameter", "", "/probe/secret"): 1,
        ("ssm", "GetParameter", "", "/probe/secret"): 1,
    }
    assert data["calls"]["dynamodb.TransactWriteItems"] == 1


def test_an_s3_call_naming_a_version_is_told_apart():
    latest = {"Bucket": "media-bucket", "Key": "media/a.aac"}
    assert aws_calls._touched("s3", "PutObjectTagging", latest) == [
        ("", "arn:aws:s3:::media-bucket/media/a.aac")
    ]
    assert aws_calls._touched("s3", "PutObjectTagging", {**latest, "VersionId": "v1"}) == [
        (aws_calls.VERSION_PART, "arn:aws:s3:::media-bucket/media/a.aac")
    ]
