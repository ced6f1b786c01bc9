"""local.iam: recorded AWS calls against the functions' policies in the template, made up and live."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from local import aws_calls
from local.iam import RecordedCall, allows, iam_request, recorded_calls, refused_calls
from local.template import Statement, load_stack
from tests.support.stack import FIXTURE_TEMPLATE, REPO, wait_for

REAL = load_stack(REPO / "template.yaml")
MAIN_TABLE = REAL.tables["MainTable"].name
QUEUE_URL = f"http://127.0.0.1:5000/123456789012/{REAL.queues['BulkTaskQueue'].name}"
DLQ_URL = f"http://127.0.0.1:5000/123456789012/{REAL.queues['BulkTaskDeadLetterQueue'].name}"
MEDIA_OBJECT = f"arn:aws:s3:::{REAL.buckets['MediaBucket'].name}/media/a/t/0/x.aac"


def call(function: str, service: str, operation: str, resource: str, part: str = "") -> RecordedCall:
    """A made-up call of the real template's `function` (a logical id)."""
    return RecordedCall(f"crowdtask-local-{function}", service, operation, part, resource, 1)


def call_id(value: RecordedCall) -> str:
    """A test id naming the function, the action and the resource."""
    action, arn = iam_request(value)
    return f"{value.function.removeprefix('crowdtask-local-')}-{action}-{arn.rsplit(':', 1)[-1]}"


def refusal(made_up: RecordedCall, expected: str) -> object:
    return pytest.param(made_up, expected, id=call_id(made_up))


@pytest.mark.parametrize(
    "allowed",
    [
        call("TasksFunction", "dynamodb", "Query", f"{MAIN_TABLE}/index/by_name"),
        call("TasksFunction", "dynamodb", "TransactWriteItems", MAIN_TABLE, part="Update"),
        call("TasksFunction", "dynamodb", "TransactWriteItems", MAIN_TABLE, part="ConditionCheck"),
        call("TasksFunction", "sqs", "SendMessageBatch", QUEUE_URL),
        call("MaintenanceFunction", "dynamodb", "Query", f"{MAIN_TABLE}/index/by_due"),
        call("EventsForwarderFunction", "events", "PutEvents", REAL.buses["EventBus"].name),
        call("AuthFunction", "dynamodb", "PutItem", REAL.tables["IdempotencyTable"].name),
        # the admin key, by the name the template's AdminKeyParameterName gives it
        call("AuthFunction", "ssm", "GetParameter", REAL.parameters["AdminKeyParameterName"]),
        # a submission keeps the version it checked; a rejection marks it
        call("MarketFunction", "s3", "PutObjectTagging", MEDIA_OBJECT, part=aws_calls.VERSION_PART),
        call("ResultsFunction", "s3", "PutObjectTagging", MEDIA_OBJECT, part=aws_calls.VERSION_PART),
        call("MarketSchedulerFunction", "s3", "PutObjectTagging", MEDIA_OBJECT, part=aws_calls.VERSION_PART),
    ],
    ids=call_id,
)
def test_a_call_the_policy_allows_passes(allowed: RecordedCall) -> None:
    assert refused_calls(REAL, [allowed]) == []


@pytest.mark.parametrize(
    ("refused", "expected"),
    [
        refusal(
            call("ProfileFunction", "dynamodb", "Scan", MAIN_TABLE),
            f"ProfileFunction: dynamodb:Scan on arn:aws:dynamodb:us-east-1:123456789012:table/{MAIN_TABLE}",
        ),
        refusal(
            # The profile never deletes: a transaction with a Delete needs dynamodb:DeleteItem.
            call("ProfileFunction", "dynamodb", "TransactWriteItems", MAIN_TABLE, part="Delete"),
            "ProfileFunction: dynamodb:DeleteItem on arn:aws:dynamodb:us-east-1:123456789012:table/"
            f"{MAIN_TABLE}: TransactWriteItems (Delete) x1",
        ),
        refusal(
            call("MaintenanceFunction", "dynamodb", "Query", f"{MAIN_TABLE}/index/gsi1"),
            "MaintenanceFunction: dynamodb:Query on arn:aws:dynamodb:us-east-1:123456789012:table/"
            f"{MAIN_TABLE}/index/gsi1",
        ),
        refusal(
            call("TasksFunction", "sqs", "SendMessage", DLQ_URL),
            "TasksFunction: sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:"
            + REAL.queues["BulkTaskDeadLetterQueue"].name,
        ),
        refusal(
            call("ProfileFunction", "events", "PutEvents", REAL.buses["EventBus"].name),
            "ProfileFunction: events:PutEvents on arn:aws:events:",
        ),
        refusal(  # services write events to the outbox; only the forwarder puts them on the bus
            call("AuthFunction", "events", "PutEvents", REAL.buses["EventBus"].name),
            "AuthFunction: events:PutEvents on arn:aws:events:",
        ),
        refusal(
            call("EventsForwarderFunction", "events", "PutEvents", "default"),
            "EventsForwarderFunction: events:PutEvents on arn:aws:events:us-east-1:123456789012:event-bus/",
        ),
        refusal(
            call("PreviewFunction", "dynamodb", "PutItem", REAL.tables["IdempotencyTable"].name),
            "PreviewFunction: dynamodb:PutItem on",
        ),
        refusal(call("DocsFunction", "s3", "GetObject", ""), "DocsFunction: s3:GetObject on *: GetObject x1"),
        refusal(
            # naming a version is another action: the upload form's signer tags no stored version
            call("MediaFunction", "s3", "PutObjectTagging", MEDIA_OBJECT, part=aws_calls.VERSION_PART),
            f"MediaFunction: s3:PutObjectVersionTagging on {MEDIA_OBJECT}: PutObjectTagging (version) x1",
        ),
        refusal(
            call("MarketFunction", "s3", "GetObject", MEDIA_OBJECT, part=aws_calls.VERSION_PART),
            f"MarketFunction: s3:GetObjectVersion on {MEDIA_OBJECT}",
        ),
        refusal(
            # one parameter, not the path it is under
            call("AuthFunction", "ssm", "GetParameter", "/crowdtask/other"),
            "AuthFunction: ssm:GetParameter on arn:aws:ssm:us-east-1:123456789012:parameter/crowdtask/other",
        ),
        refusal(
            call("ProfileFunction", "ssm", "GetParameter", REAL.parameters["AdminKeyParameterName"]),
            "ProfileFunction: ssm:GetParameter on arn:aws:ssm:us-east-1:123456789012:parameter/crowdtask/",
        ),
        refusal(
            RecordedCall("someone-else", "dynamodb", "GetItem", "", MAIN_TABLE, 1),
            "someone-else (not a function of crowdtask-local): dynamodb:GetItem",
        ),
    ],
)
def test_a_call_the_policy_does_not_allow_is_reported(refused: RecordedCall, expected: str) -> None:
    (line,) = refused_calls(REAL, [refused])
    assert line.startswith(expected)


def test_the_runner_s_own_calls_are_lambda_s_event_source_mapping_and_left_out() -> None:
    poll = RecordedCall(aws_calls.RUNNER_LABEL, "sqs", "ReceiveMessage", "", QUEUE_URL, 7)
    assert refused_calls(REAL, [poll]) == []


def test_iam_matching_wildcards_and_case() -> None:
    policy = (Statement(("sqs:SendMessage*",), ("arn:aws:sqs:*:123456789012:work-?",)),)
    assert allows(policy, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:work-1")
    # Actions match in any case, ARNs exactly.
    assert allows(policy, "SQS:sendmessagebatch", "arn:aws:sqs:us-east-1:123456789012:work-2")
    assert not allows(policy, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:WORK-1")
    assert not allows(policy, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:work-10")
    assert not allows(policy, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:123456789012:work-1")
    assert not allows(policy, "sqs:SendMessage", "*")  # a call naming no resource needs Resource "*"


def test_operations_map_to_the_actions_iam_authorizes() -> None:
    def request(service: str, operation: str, resource: str, part: str = "") -> tuple[str, str]:
        return iam_request(RecordedCall("f", service, operation, part, resource, 1))

    assert request("dynamodb", "TransactGetItems", "t", "Get") == (
        "dynamodb:GetItem",
        "arn:aws:dynamodb:us-east-1:123456789012:table/t",
    )
    assert request("dynamodb", "BatchWriteItem", "t") == (
        "dynamodb:BatchWriteItem",
        "arn:aws:dynamodb:us-east-1:123456789012:table/t",
    )
    assert request("sqs", "DeleteMessageBatch", "http://h:1/123456789012/q") == (
        "sqs:DeleteMessage",
        "arn:aws:sqs:us-east-1:123456789012:q",
    )
    bus_arn = "arn:aws:events:eu-west-1:999999999999:event-bus/b"
    assert request("events", "PutEvents", bus_arn) == ("events:PutEvents", bus_arn)
    assert request("dynamodb", "ListTables", "") == ("dynamodb:ListTables", "*")
    # a hierarchical parameter's ARN does not double its leading slash; a flat one gains one
    assert request("ssm", "GetParameter", "/a/b") == (
        "ssm:GetParameter",
        "arn:aws:ssm:us-east-1:123456789012:parameter/a/b",
    )
    assert request("ssm", "GetParameter", "flat") == (
        "ssm:GetParameter",
        "arn:aws:ssm:us-east-1:123456789012:parameter/flat",
    )


def test_the_fixture_s_policy_template_allows_its_table_only() -> None:
    fixture = load_stack(FIXTURE_TEMPLATE)
    table = fixture.tables["FixtureTable"].name
    consumer = "crowdtask-local-ConsumerFunction"
    writes = RecordedCall(consumer, "dynamodb", "PutItem", "", table, 1)
    elsewhere = RecordedCall(consumer, "dynamodb", "PutItem", "", MAIN_TABLE, 1)
    by_index = RecordedCall(consumer, "dynamodb", "Query", "", f"{table}/index/by_kind", 1)
    assert refused_calls(fixture, [writes, by_index]) == []
    (line,) = refused_calls(fixture, [elsewhere])
    assert line.startswith("ConsumerFunction: dynamodb:PutItem on")


def test_a_live_stack_records_each_function_s_calls_and_its_policies_allow_them(
    tmp_path: Path, stacks, dynamodb_local: str
) -> None:
    """Given the fixture stack recording its AWS calls, when its consumer and schedules write,
    then each write is recorded under its function with the table it touched, and allowed."""
    calls_dir = tmp_path / "calls"
    calls_dir.mkdir()
    stack_name = "crowdtask-calls"
    running = stacks(
        "calls",
        "--dynamodb-url",
        dynamodb_local,
        "--stack-name",
        stack_name,
        env={aws_calls.ENV: str(calls_dir)},
    )
    body = f"ok-{uuid.uuid4().hex[:8]}"
    running.client("sqs").send_message(QueueUrl=running.info["queues"]["WorkQueue"], MessageBody=body)
    assert running.request("POST", "/_local/schedules/run").status_code == 200

    def consumer_wrote() -> bool:
        table = running.info["tables"]["FixtureTable"]
        key = {"pk": {"S": "message"}, "sk": {"S": body}}
        return "Item" in running.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)

    wait_for(consumer_wrote, 30, "the consumer's write")
    running.stop()

    calls = recorded_calls(calls_dir)
    table = f"{stack_name}-FixtureTable"
    by_function = {(c.function, c.service, c.operation, c.resource) for c in calls}
    assert (f"{stack_name}-ConsumerFunction", "dynamodb", "PutItem", table) in by_function
    assert (f"{stack_name}-ScheduledFunction", "dynamodb", "PutItem", table) in by_function
    assert any(c.function == aws_calls.RUNNER_LABEL and c.operation == "ReceiveMessage" for c in calls)
    fixture = load_stack(FIXTURE_TEMPLATE, stack_name=stack_name)
    assert refused_calls(fixture, calls) == []
