"""local.template: CloudFormation tags, intrinsic functions, parameters, and the real template.yaml."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.lambdas import lambda_environment
from local.template import (
    AWS_SQS_URL_BASE,
    TemplateError,
    load_stack,
    load_yaml,
)
from tests.support.stack import FIXTURE_DIR, REPO

REAL_TEMPLATE = REPO / "template.yaml"
ADMIN_KEY = "template-test-admin-key-0123456789"


def write_template(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_short_tags_load_as_their_long_form(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
        Resources:
          Thing:
            Type: Custom::Thing
            Properties:
              A: !Ref Other
              B: !GetAtt Other.Arn
              C: !Sub "${AWS::Region}-x"
              D: !Join ["-", [a, !Ref Other]]
              E: !If [Cond, 1, 2]
              F: !Select [0, !Split [",", "a,b"]]
        """,
    )
    props = load_yaml(path)["Resources"]["Thing"]["Properties"]
    assert props == {
        "A": {"Ref": "Other"},
        "B": {"Fn::GetAtt": ["Other", "Arn"]},
        "C": {"Fn::Sub": "${AWS::Region}-x"},
        "D": {"Fn::Join": ["-", ["a", {"Ref": "Other"}]]},
        "E": {"Fn::If": ["Cond", 1, 2]},
        "F": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
    }


def test_a_plain_yaml_loader_cannot_read_the_template() -> None:
    # Why the runner carries its own loader: SafeLoader rejects the CloudFormation tags.
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(REAL_TEMPLATE.read_text())


def test_intrinsics_resolve_against_local_names(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
        Parameters:
          Stage: { Type: String, Default: dev, AllowedValues: [dev, prod] }
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
        Mappings:
          Sizes: { dev: { Memory: 128 } }
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              AttributeDefinitions: [{ AttributeName: pk, AttributeType: S }]
              KeySchema: [{ AttributeName: pk, KeyType: HASH }]
          Named:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: !Sub "${AWS::StackName}-named-${Stage}"
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              FifoQueue: true
          ProdOnly:
            Type: AWS::SQS::Queue
            Condition: IsProd
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: fn/
              Handler: app.handler
              Runtime: python3.11
              MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
              Environment:
                Variables:
                  TABLE: !Ref Table
                  NAMED: !Ref Named
                  QUEUE: !Ref Queue
                  QUEUE_NAME: !GetAtt Queue.QueueName
                  ARN: !GetAtt [Table, Arn]
                  LITERAL: !Sub "${!NotAVariable}"
                  VARS: !Sub ["${X}/${Table}", { X: !Ref AWS::AccountId }]
                  JOINED: !Join [":", [!Ref Stage, !If [IsProd, p, d]]]
                  GONE: !If [IsProd, x, !Ref AWS::NoValue]
                  FLAG: true
                  NUMBER: 5
        """,
    )
    stack = load_stack(path, {}, queue_url_base="http://127.0.0.1:5000")
    assert set(stack.queues) == {"Queue"}  # ProdOnly's condition is false
    fn = stack.functions["Fn"]
    assert fn.memory_mb == 128
    assert fn.timeout_s == 3  # SAM's default
    assert fn.environment == {
        "TABLE": "crowdtask-local-Table",
        "NAMED": "crowdtask-local-named-dev",
        "QUEUE": "http://127.0.0.1:5000/123456789012/crowdtask-local-Queue.fifo",
        "QUEUE_NAME": "crowdtask-local-Queue.fifo",
        "ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/crowdtask-local-Table",
        "LITERAL": "${NotAVariable}",
        "VARS": "123456789012/crowdtask-local-Table",
        "JOINED": "dev:d",
        "FLAG": "true",
        "NUMBER": "5",
    }


def test_parameters_are_validated_like_cloudformation(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
        Parameters:
          Key: { Type: String, MinLength: 24, NoEcho: true }
          Level: { Type: String, Default: INFO, AllowedValues: [INFO, DEBUG] }
          Seconds: { Type: Number, Default: 600, MinValue: 300 }
        Resources: {}
        """,
    )
    with pytest.raises(TemplateError, match="Key"):
        load_stack(path, {})
    with pytest.raises(TemplateError, match="shorter than 24"):
        load_stack(path, {"Key": "short"})
    with pytest.raises(TemplateError, match="not one of"):
        load_stack(path, {"Key": ADMIN_KEY, "Level": "TRACE"})
    with pytest.raises(TemplateError, match="below 300"):
        load_stack(path, {"Key": ADMIN_KEY, "Seconds": "10"})
    assert load_stack(path, {"Key": ADMIN_KEY}).parameters == {
        "Key": ADMIN_KEY,
        "Level": "INFO",
        "Seconds": "600",
    }


def test_unsupported_intrinsic_is_an_error(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: fn/
              Handler: app.handler
              Environment:
                Variables:
                  OTHER_STACK: !ImportValue shared-output
        """,
    )
    with pytest.raises(TemplateError, match="ImportValue"):
        load_stack(path, {})


def test_fixture_template_events(tmp_path: Path) -> None:
    stack = load_stack(FIXTURE_DIR / "template.yaml", {"AdminKey": ADMIN_KEY})
    consumer = stack.functions["ConsumerFunction"]
    (source,) = consumer.sqs
    assert (source.queue, source.batch_size, source.report_failures, source.max_concurrency) == (
        "WorkQueue",
        10,
        True,
        2,
    )
    daily, nightly = stack.functions["ScheduledFunction"].schedules
    assert (daily.kind, daily.expression, daily.input) == ("Schedule", "rate(1 day)", None)
    assert (nightly.kind, nightly.expression, nightly.input) == (
        "ScheduleV2",
        "cron(0 3 * * ? *)",
        '{"marker": "nightly"}',
    )
    slow = stack.functions["SlowFunction"]
    assert (slow.timeout_s, slow.reserved_concurrency, slow.memory_mb) == (2, 3, 256)
    assert [(r.method, r.path) for r in slow.routes] == [("GET", "/slow")]
    assert stack.api.stage == "v1"
    assert stack.api.gateway_responses["MISSING_AUTHENTICATION_TOKEN"].status == 404
    assert stack.api.cors == {"AllowOrigin": "*", "AllowMethods": "GET,OPTIONS"}


# ---------------------------------------------------------------- the real template.yaml


def _real_template() -> dict[str, Any]:
    return load_yaml(REAL_TEMPLATE)


def _expected_routes(properties: dict[str, Any]) -> set[tuple[str, str]]:
    events = (properties.get("Events") or {}).values()
    return {
        (str(event["Properties"].get("Method", "ANY")).upper(), event["Properties"]["Path"])
        for event in events
        if event["Type"] == "Api"
    }


def test_real_template_functions_and_routes() -> None:
    raw = _real_template()
    declared = {
        name: resource["Properties"]
        for name, resource in raw["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    stack = load_stack(REAL_TEMPLATE, {"AdminKey": ADMIN_KEY})
    assert set(stack.functions) == set(declared)
    for name, function in stack.functions.items():
        assert {(r.method, r.path) for r in function.routes} == _expected_routes(declared[name]), name
        assert function.code_dir == (REPO / declared[name]["CodeUri"]).resolve()
        assert function.handler == declared[name]["Handler"]
        assert function.layer_dirs == [REPO / "layers" / "common" / "python"]
    # Every route is served by exactly one function.
    routes = [(r.method, r.path) for r in stack.routes]
    assert len(routes) == len(set(routes))
    assert stack.api.stage == "v1"
    for response_type in ("MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE", "DEFAULT_5XX"):
        assert response_type in stack.api.gateway_responses


def test_real_template_environment_is_fully_resolved() -> None:
    raw = _real_template()
    stack = load_stack(REAL_TEMPLATE, {"AdminKey": ADMIN_KEY})
    global_names = set(raw["Globals"]["Function"]["Environment"]["Variables"])
    tables = {logical: table.name for logical, table in stack.tables.items()}
    assert tables["MainTable"] == "crowdtask-local-MainTable"
    for name, function in stack.functions.items():
        env = function.environment
        own = (raw["Resources"][name]["Properties"].get("Environment") or {}).get("Variables") or {}
        assert set(env) == global_names | set(own), name
        for key, value in env.items():
            assert isinstance(value, str) and "${" not in value, (name, key, value)
        assert env["TABLE_NAME"] == "crowdtask-local-MainTable"
        if "IDEMPOTENCY_TABLE_NAME" in env:
            assert env["IDEMPOTENCY_TABLE_NAME"] == tables["IdempotencyTable"]
        assert env["EVENT_BUS_NAME"] == stack.buses["EventBus"].name == "crowdtask-local-events"
        if "ADMIN_KEY" in env:
            assert env["ADMIN_KEY"] == ADMIN_KEY
        if "TOKEN_LIFETIME_SECONDS" in env:
            assert env["TOKEN_LIFETIME_SECONDS"] == str(raw["Parameters"]["TokenLifetimeSeconds"]["Default"])
        if "BULK_QUEUE_URL" in env:
            assert env["BULK_QUEUE_URL"] == f"{AWS_SQS_URL_BASE}/123456789012/crowdtask-local-BulkTaskQueue"

        local_env = lambda_environment(function, "http://127.0.0.1:1", "http://127.0.0.1:2")
        assert local_env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
        assert local_env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:2"
        assert local_env["AWS_LAMBDA_FUNCTION_NAME"] == f"crowdtask-local-{name}"
        assert local_env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(function.memory_mb)
        assert local_env["CROWDTASK_LOCAL"] == "1"
        assert local_env["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_real_template_resources_and_schedules() -> None:
    stack = load_stack(REAL_TEMPLATE, {"AdminKey": ADMIN_KEY})
    raw = _real_template()["Resources"]
    for logical, queue in stack.queues.items():
        assert queue.name == f"crowdtask-local-{logical}"
        redrive = queue.properties.get("RedrivePolicy")
        if redrive:
            assert stack.queue_by_arn(redrive["deadLetterTargetArn"]) is not None, logical
    for logical, table in stack.tables.items():
        assert table.properties["KeySchema"] == raw[logical]["Properties"]["KeySchema"]
        assert len(table.properties.get("GlobalSecondaryIndexes", [])) == len(
            raw[logical]["Properties"].get("GlobalSecondaryIndexes", [])
        )
    for function in stack.functions.values():
        for schedule in function.schedules:
            assert schedule.expression.startswith(("rate(", "cron(", "at(")), schedule
    assert not stack.warnings


def test_properties_the_runner_does_not_use_are_not_resolved(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
        Resources:
          Api:
            Type: AWS::Serverless::Api
            Properties:
              StageName: prod
              DefinitionBody: !Transform { Name: AWS::Include, Parameters: { Location: s3://x/y } }
          Role:
            Type: AWS::IAM::Role
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: fn/
              Handler: app.handler
              Role: !ImportValue shared-role
              Tags: { Owner: !ImportValue owner }
              Events:
                Tick:
                  Type: ScheduleV2
                  Properties:
                    ScheduleExpression: rate(5 minutes)
                    RoleArn: !GetAtt Role.Arn
                    FlexibleTimeWindow: { Mode: "OFF" }
                Get: { Type: Api, Properties: { RestApiId: !Ref Api, Path: /x, Method: get } }
        """,
    )
    stack = load_stack(path, {})
    assert stack.api.stage == "prod"
    assert [s.expression for s in stack.functions["Fn"].schedules] == ["rate(5 minutes)"]


def test_queue_visibility_below_the_consumer_timeout_is_flagged(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties: { VisibilityTimeout: 10 }
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: fn/
              Handler: app.handler
              Timeout: 30
              Events:
                Work: { Type: SQS, Properties: { Queue: !GetAtt Queue.Arn } }
        """,
    )
    (warning,) = load_stack(path, {}).warnings
    assert "VisibilityTimeout 10 s is less than the function's Timeout 30 s" in warning
