"""The running local stack on the fixture template: routing, events, workers, SQS and schedules."""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import uuid
from typing import Any

import pytest

from local.services import boto_client
from local.template import load_yaml
from tests.support.stack import FIXTURE_DIR, RUNNER_ADMIN_KEY, RunningStack, wait_for

pytestmark = pytest.mark.e2e

GATEWAY_RESPONSES = load_yaml(FIXTURE_DIR / "template.yaml")["Resources"]["Api"]["Properties"][
    "GatewayResponses"
]


def gateway_body(response_type: str) -> Any:
    return json.loads(GATEWAY_RESPONSES[response_type]["ResponseTemplates"]["application/json"])


def echo(stack: RunningStack, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = stack.request(method, path, **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json()


# ---------------------------------------------------------------- start-up


def test_stack_file_lists_the_endpoints(stack: RunningStack) -> None:
    info = stack.info
    assert info["api_url"] == stack.url
    assert info["dynamodb"] == "dynamodb-local"
    assert info["dynamodb_url"] != info["moto_url"]
    assert info["tables"] == {"FixtureTable": "crowdtask-local-FixtureTable"}
    assert info["queues"]["WorkQueue"] == f"{info['moto_url']}/123456789012/crowdtask-local-WorkQueue"
    assert info["buses"] == {"Bus": "crowdtask-local-bus"}
    assert info["admin_key"] == RUNNER_ADMIN_KEY
    assert any(line.startswith("DynamoDB: http://") and "already running" in line for line in stack.lines)
    assert any("EchoFunction: 10 routes" in line for line in stack.lines)


def test_table_is_created_as_declared(stack: RunningStack) -> None:
    table = stack.client("dynamodb").describe_table(TableName="crowdtask-local-FixtureTable")["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_kind"
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["body"]}


def test_queues_have_their_attributes_and_redrive_policy(stack: RunningStack) -> None:
    sqs = stack.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=stack.info["queues"]["WorkQueue"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "2"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:crowdtask-local-WorkDeadLetterQueue",
        "maxReceiveCount": 2,
    }
    assert "crowdtask-local-bus" in [
        bus["Name"] for bus in stack.client("events").list_event_buses()["EventBuses"]
    ]


# ---------------------------------------------------------------- routing


def test_path_parameters_reach_the_function_undecoded(stack: RunningStack) -> None:
    event = echo(stack, "GET", "/items/42")["event"]
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["pathParameters"] == {"id": "42"}
    # API Gateway (REST) hands path parameters over as they were sent.
    assert echo(stack, "GET", "/items/a%20b")["event"]["pathParameters"] == {"id": "a%20b"}


def test_static_path_wins_over_parameter(stack: RunningStack) -> None:
    event = echo(stack, "GET", "/items/special")["event"]
    assert event["resource"] == "/items/special"
    assert event["pathParameters"] is None


def test_nested_and_in_segment_parameters(stack: RunningStack) -> None:
    event = echo(stack, "DELETE", "/items/7/parts/wheel")["event"]
    assert (event["resource"], event["pathParameters"]) == (
        "/items/{id}/parts/{part}",
        {"id": "7", "part": "wheel"},
    )
    event = echo(stack, "GET", "/swagger.ui.css")["event"]
    assert (event["resource"], event["pathParameters"]) == ("/swagger.{asset}", {"asset": "ui.css"})


def test_greedy_proxy_parameter(stack: RunningStack) -> None:
    event = echo(stack, "GET", "/proxy/a/b/c.txt")["event"]
    assert event["resource"] == "/proxy/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert stack.request("GET", "/proxy").status_code == 404


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_any_route_takes_every_method(stack: RunningStack, method: str) -> None:
    response = stack.request(method, "/echo")
    assert response.status_code == (201 if method == "POST" else 200)
    assert response.json()["event"]["httpMethod"] == method


def test_method_not_declared_answers_like_a_missing_route(stack: RunningStack) -> None:
    response = stack.request("POST", "/items/42")
    assert response.status_code == 404
    assert response.json() == gateway_body("MISSING_AUTHENTICATION_TOKEN")


def test_cors_preflight_where_the_route_has_no_options(stack: RunningStack) -> None:
    response = stack.request("OPTIONS", "/items/42")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"


def test_unknown_path_answers_the_templates_gateway_response(stack: RunningStack) -> None:
    for path in ("/nowhere", "/items/1/2/3/4", "/_local/nothing"):
        response = stack.request("GET", path)
        assert response.status_code == 404
        assert response.json() == gateway_body("MISSING_AUTHENTICATION_TOKEN")
        assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        # The template's header mappings: a literal and a context variable.
        assert response.headers["X-Fixture"] == "gateway"
        assert response.headers["X-Request-ID"] == response.headers["x-amzn-RequestId"]


# ---------------------------------------------------------------- the proxy event


def test_query_string_is_decoded_into_single_and_multi_value_maps(stack: RunningStack) -> None:
    event = echo(stack, "GET", "/echo?x=1&x=2&name=a%20b&plus=c+d&amp=%26&empty=")["event"]
    assert event["queryStringParameters"] == {"x": "2", "name": "a b", "plus": "c d", "amp": "&", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "x": ["1", "2"],
        "name": ["a b"],
        "plus": ["c d"],
        "amp": ["&"],
        "empty": [""],
    }
    event = echo(stack, "GET", "/echo")["event"]
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_headers_body_and_request_context(stack: RunningStack) -> None:
    event = echo(stack, "POST", "/echo", data='{"a": 1}', headers={"Content-Type": "application/json"})[
        "event"
    ]
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["resourcePath"] == "/echo"
    assert context["httpMethod"] == "POST"
    assert context["path"] == "/v1/echo"
    assert context["stage"] == "v1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["accountId"] == "123456789012"
    assert context["apiId"]
    assert isinstance(context["requestTimeEpoch"], int)
    uuid.UUID(context["requestId"])


def test_repeated_headers_and_multi_value_response_headers(stack: RunningStack) -> None:
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("GET", "/echo")
        connection.putheader("X-Repeat", "one")
        connection.putheader("X-Repeat", "two")
        connection.endheaders()
        response = connection.getresponse()
        event = json.loads(response.read())["event"]
        headers = response.getheaders()
    finally:
        connection.close()
    assert event["headers"]["X-Repeat"] == "two"
    assert event["multiValueHeaders"]["X-Repeat"] == ["one", "two"]
    assert ("X-Echo", "single") in headers
    assert [value for name, value in headers if name == "X-Multi"] == ["first", "second"]


def test_binary_request_body_is_base64_encoded(stack: RunningStack) -> None:
    payload = b"\xff\xfe\x00binary"
    event = echo(stack, "POST", "/echo", data=payload, headers={"Content-Type": "application/octet-stream"})[
        "event"
    ]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_base64_response_body_is_decoded(stack: RunningStack) -> None:
    response = stack.request("GET", "/binary")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content == b"\x00\xffbinary"


def test_body_over_10_mb_answers_413_from_the_template(stack: RunningStack) -> None:
    response = stack.request("POST", "/echo", data=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json() == gateway_body("REQUEST_TOO_LARGE")


# ---------------------------------------------------------------- failures


def test_handler_error_answers_502_with_the_default_5xx_body(stack: RunningStack) -> None:
    response = stack.request("GET", "/boom")
    assert response.status_code == 502
    body = response.json()
    # The template's body, with $context.requestId filled in.
    assert body == {**gateway_body("DEFAULT_5XX"), "request": response.headers["x-amzn-RequestId"]}
    assert stack.request("GET", "/echo").status_code == 200
    wait_for(lambda: "RuntimeError: boom requested" in stack.stderr(), 10, "the error in the runner's log")


def test_worker_crash_and_malformed_response_answer_502_and_the_worker_is_replaced(
    stack: RunningStack,
) -> None:
    assert stack.request("GET", "/crash").status_code == 502
    assert stack.request("GET", "/malformed").status_code == 502
    assert stack.request("GET", "/echo").status_code == 200


def test_timeout_kills_the_worker_and_the_next_request_gets_a_fresh_one(stack: RunningStack) -> None:
    response = stack.request("GET", "/slow?seconds=10")  # the function's Timeout is 2 s
    assert response.status_code == 502
    assert response.json()["code"] == gateway_body("DEFAULT_5XX")["code"]
    assert stack.request("GET", "/slow?seconds=0").status_code == 200


# ---------------------------------------------------------------- the execution environment


def test_environment_is_resolved_from_the_template(stack: RunningStack) -> None:
    answer = echo(stack, "GET", "/echo")
    env = answer["environ"]
    info = stack.info
    assert env["TABLE_NAME"] == "crowdtask-local-FixtureTable"
    assert env["QUEUE_URL"] == info["queues"]["WorkQueue"]
    assert env["DLQ_URL"] == info["queues"]["WorkDeadLetterQueue"]
    assert env["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:crowdtask-local-WorkQueue"
    assert env["BUS_NAME"] == "crowdtask-local-bus"
    assert env["GREETING"] == "hello"  # a parameter's default
    assert env["ADMIN_KEY_PARAMETER"] == "/fixture/admin-key"  # a parameter's default
    # the SecureString it names holds CROWDTASK_ADMIN_KEY, as the operator would have stored it
    ssm = boto_client("ssm", info["moto_url"])
    stored = ssm.get_parameter(Name="/fixture/admin-key", WithDecryption=True)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", RUNNER_ADMIN_KEY)
    assert env["STACK_LABEL"] == "crowdtask-local/us-east-1/123456789012/crowdtask-local-bus"
    assert env["API_VERSION"] == "2.0"  # the function's own value beats Globals
    assert env["OWN_VAR"] == "own"
    assert env["AWS_ENDPOINT_URL"] == info["moto_url"]
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == info["dynamodb_url"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "crowdtask-local-EchoFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["CROWDTASK_LOCAL"] == "1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert "RUNNER_ONLY_MARKER" not in env  # the runner's own environment does not leak in


def test_code_and_layer_are_on_sys_path_and_context_is_lambda_like(stack: RunningStack) -> None:
    answer = echo(stack, "GET", "/echo")
    code_dir = str(FIXTURE_DIR / "functions" / "echo")
    assert answer["sys_path"][:2] == [code_dir, str(FIXTURE_DIR / "layers" / "shared" / "python")]
    assert answer["cwd"] == code_dir
    assert answer["layer"] == "fixture-shared"
    assert not any(entry.rstrip("/").endswith("/local") for entry in answer["sys_path"])
    context = answer["context"]
    assert context["function_name"] == "crowdtask-local-EchoFunction"
    assert context["function_version"] == "$LATEST"
    assert (
        context["invoked_function_arn"]
        == "arn:aws:lambda:us-east-1:123456789012:function:crowdtask-local-EchoFunction"
    )
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == "/aws/lambda/crowdtask-local-EchoFunction"
    assert context["log_stream_name"]
    assert 0 < context["remaining_ms"] <= 5000
    uuid.UUID(context["aws_request_id"])


def test_function_output_goes_to_the_runner_stderr(stack: RunningStack) -> None:
    answer = echo(stack, "PUT", "/echo")
    wait_for(
        lambda: f"EchoFunction[{answer['pid']}] echo PUT /echo" in stack.stderr(), 10, "the function's print"
    )


def test_concurrent_requests_run_in_different_workers_at_the_same_time(stack: RunningStack) -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        # each takes 1.5 s (within the function's 2 s Timeout), so the two overlap even when a
        # loaded machine is slow to start the second
        answers = list(pool.map(lambda _: echo(stack, "GET", "/slow?seconds=1.5"), range(2)))
    first, second = answers
    assert first["pid"] != second["pid"]
    assert first["started"] < second["finished"] and second["started"] < first["finished"]


# ---------------------------------------------------------------- SQS and schedules


def test_sqs_partial_batch_failures(stack: RunningStack) -> None:
    sqs, dynamodb = stack.client("sqs"), stack.client("dynamodb")
    run = uuid.uuid4().hex[:8]
    bodies = [f"ok-{run}-1", f"ok-{run}-2", f"fail-{run}"]
    for body in bodies:
        sqs.send_message(QueueUrl=stack.info["queues"]["WorkQueue"], MessageBody=body)

    def stored() -> list[dict[str, Any]]:
        items = dynamodb.query(
            TableName="crowdtask-local-FixtureTable",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
            ExpressionAttributeValues={":pk": {"S": "message"}, ":run": {"S": f"ok-{run}"}},
            ConsistentRead=True,
        )["Items"]
        return items if len(items) == 2 else []

    items = wait_for(stored, 30, "the successful records in the table")
    assert {item["sk"]["S"] for item in items} == set(bodies[:2])
    assert {item["source_arn"]["S"] for item in items} == {
        "arn:aws:sqs:us-east-1:123456789012:crowdtask-local-WorkQueue"
    }

    dead_letters: list[str] = []
    dlq_url = stack.info["queues"]["WorkDeadLetterQueue"]

    def drain_dlq() -> list[str]:
        received = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in received.get("Messages", []):
            dead_letters.append(message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return dead_letters

    # Visibility timeout 2 s, maxReceiveCount 2: the failing record is delivered twice, then redriven.
    wait_for(lambda: f"fail-{run}" in drain_dlq(), 30, "the failing record in the dead-letter queue")

    def queue_empty() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.info["queues"]["WorkQueue"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return set(attributes.values()) == {"0"}

    # The successes were deleted: nothing is left to come back, and none of them was redriven.
    wait_for(queue_empty, 30, "the work queue to be empty")
    drain_dlq()
    assert not set(bodies[:2]) & set(dead_letters)


def test_schedules_run_route_fires_every_scheduled_function(stack: RunningStack) -> None:
    response = stack.request("POST", "/_local/schedules/run")
    assert response.status_code == 200
    ran = response.json()["ran"]
    assert [(entry["function"], entry["ok"]) for entry in ran] == [
        ("ScheduledFunction", True),
        ("ScheduledFunction", True),
    ]
    daily, nightly = ran
    assert daily["result"]["detail_type"] == "Scheduled Event"
    assert nightly["result"]["marker"].startswith("nightly-")  # the ScheduleV2 Input replaces the event
    item = stack.client("dynamodb").get_item(
        TableName="crowdtask-local-FixtureTable",
        Key={"pk": {"S": "marker"}, "sk": {"S": daily["result"]["marker"]}},
        ConsistentRead=True,
    )
    assert item["Item"]["detail_type"] == {"S": "Scheduled Event"}


def test_schedules_run_route_is_post_only(stack: RunningStack) -> None:
    assert stack.request("GET", "/_local/schedules/run").status_code == 404


# ---------------------------------------------------------------- DynamoDB streams


def test_stream_records_reach_the_function_filtered_redelivered_and_given_up(stack: RunningStack) -> None:
    dynamodb, sqs = stack.client("dynamodb"), stack.client("sqs")
    table = "crowdtask-local-FixtureTable"
    run = uuid.uuid4().hex[:8]

    def put(sk: str, record_type: str, body: str) -> None:
        item = {
            "pk": {"S": "outbox"},
            "sk": {"S": sk},
            "record_type": {"S": record_type},
            "body": {"S": body},
        }
        dynamodb.put_item(TableName=table, Item=item)

    def deliveries(prefix: str, count: int) -> list[dict[str, Any]]:
        items = dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
            ExpressionAttributeValues={":pk": {"S": "delivery"}, ":sk": {"S": f"{prefix}-{run}"}},
            ConsistentRead=True,
        )["Items"]
        return items if len(items) >= count else []

    # Given an event, a flaky event (fails its first delivery) and an item that is no event
    put(f"ok-{run}", "event", "fine")
    put(f"flaky-{run}", "event", "flaky")
    put(f"other-{run}", "task", "fine")
    # Then the event arrives as Lambda sends it, the flaky one twice with the same eventID
    (ok,) = wait_for(lambda: deliveries("ok", 1), 30, "the event's delivery")
    assert (ok["event_name"]["S"], ok["event_source"]["S"], ok["event_version"]["S"]) == (
        "INSERT",
        "aws:dynamodb",
        "1.1",
    )
    assert ok["source_arn"]["S"].startswith("arn:aws:dynamodb:") and "/stream/" in ok["source_arn"]["S"]
    assert (ok["view"]["S"], ok["keys"]["S"]) == ("NEW_IMAGE", "pk,sk")
    flaky = wait_for(lambda: deliveries("flaky", 2), 30, "the flaky event delivered again")
    assert len({item["event_id"]["S"] for item in flaky}) == 1
    assert len({item["sequence"]["S"] for item in flaky}) == 1

    # When an event fails every time
    put(f"fail-{run}", "event", "fail")
    # Then it is delivered 1 + MaximumRetryAttempts (2) times and described to the OnFailure queue
    failure_queue = stack.info["queues"]["StreamFailureQueue"]

    def described() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=failure_queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    (description,) = wait_for(described, 60, "the failed batch's description")
    assert description["DDBStreamBatchInfo"]["batchSize"] == 1
    assert len(deliveries("fail", 3)) == 3
    # and the item that is no event never reached the function
    assert deliveries("other", 1) == []
