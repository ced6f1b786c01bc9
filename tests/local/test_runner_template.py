"""local.template: CloudFormation tags, what it resolves, what it refuses, parameters, template.yaml."""

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
          Bus:
            Type: AWS::Events::EventBus
            Properties:
              Name: !Sub "${AWS::StackName}-bus"
          FnLogs:
            Type: AWS::Logs::LogGroup
            Properties:
              LogGroupName: !Sub "/aws/lambda/${Fn}"
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: fn/
              Handler: app.handler
              Runtime: python3.11
              Environment:
                Variables:
                  TABLE: !Ref Table
                  NAMED: !Ref Named
                  QUEUE: !Ref Queue
                  BUS: !Ref Bus
                  ARN: !GetAtt [Table, Arn]
                  QUEUE_ARN: !GetAtt Queue.Arn
                  BUS_ARN: { "Fn::GetAtt": Bus.Arn }
                  LABEL: !Sub "${AWS::AccountId}/${AWS::Region}/${Stage}/${Table.Arn}"
                  LITERAL: !Sub "${!NotAVariable}"
                  STAGE: !Ref Stage
                  FLAG: true
                  NUMBER: 5
        Outputs:
          Function:
            Value: !Ref Fn
        """,
    )
    stack = load_stack(path, {}, queue_url_base="http://127.0.0.1:5000")
    fn = stack.functions["Fn"]
    assert fn.timeout_s == 3  # SAM's default
    table_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/crowdtask-local-Table"
    assert fn.environment == {
        "TABLE": "crowdtask-local-Table",
        "NAMED": "crowdtask-local-named-dev",
        "QUEUE": "http://127.0.0.1:5000/123456789012/crowdtask-local-Queue.fifo",
        "BUS": "crowdtask-local-bus",
        "ARN": table_arn,
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:crowdtask-local-Queue.fifo",
        "BUS_ARN": "arn:aws:events:us-east-1:123456789012:event-bus/crowdtask-local-bus",
        "LABEL": f"123456789012/us-east-1/dev/{table_arn}",
        "LITERAL": "${NotAVariable}",
        "STAGE": "dev",
        "FLAG": "true",
        "NUMBER": "5",
    }
    assert fn.arn == "arn:aws:lambda:us-east-1:123456789012:function:crowdtask-local-Fn"


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


# ---------------------------------------------------------------- what the runner refuses

ENV_VALUE = "Resources.Fn.Properties.Environment.Variables.VALUE"


def _template_with(value: str, extra_resources: str = "", events: str = "", top: str = "") -> str:
    """A small template whose function's VALUE variable is `value`; `extra_resources` etc. add to it."""
    return "\n".join(
        [
            top,
            "Parameters:",
            "  Stage: { Type: String, Default: dev }",
            "Resources:",
            "  Table:",
            "    Type: AWS::DynamoDB::Table",
            "    Properties:",
            "      AttributeDefinitions: [{ AttributeName: pk, AttributeType: S }]",
            "      KeySchema: [{ AttributeName: pk, KeyType: HASH }]",
            "  Queue: { Type: AWS::SQS::Queue }",
            "  Bus: { Type: AWS::Events::EventBus }",
            "  Logs: { Type: AWS::Logs::LogGroup }",
            "  Grant: { Type: AWS::IAM::ManagedPolicy }",
            extra_resources,
            "  Fn:",
            "    Type: AWS::Serverless::Function",
            "    Properties:",
            "      CodeUri: fn/",
            "      Handler: app.handler",
            "      Environment:",
            "        Variables:",
            f"          VALUE: {value}",
            events,
        ]
    )


def _refused(tmp_path: Path, body: str) -> str:
    path = tmp_path / "template.yaml"
    path.write_text(body)
    with pytest.raises(TemplateError) as refused:
        load_stack(path, {})
    return str(refused.value)


def test_the_refusal_template_itself_loads(tmp_path: Path) -> None:
    # Every refusal below is this template with one thing added: that thing is what fails.
    path = tmp_path / "template.yaml"
    path.write_text(_template_with("plain"))
    assert load_stack(path, {}).functions["Fn"].environment == {"VALUE": "plain"}


@pytest.mark.parametrize(
    "intrinsic",
    [
        "!If [IsProd, a, b]",
        "!Equals [a, b]",
        "!Not [!Equals [a, b]]",
        "!And [!Equals [a, b], !Equals [c, d]]",
        "!Or [!Equals [a, b], !Equals [c, d]]",
        "!Select [0, [a, b]]",
        "!Split [',', 'a,b']",
        "!FindInMap [Sizes, dev, Memory]",
        "!GetAZs ''",
        "!Base64 text",
        "!ToJsonString { a: 1 }",
        "!Join ['-', [a, b]]",
        "!ImportValue shared-output",
        "!Cidr [10.0.0.0/16, 2, 8]",
        "!Length [a, b]",
        "!Transform { Name: AWS::Include, Parameters: { Location: s3://x/y } }",
    ],
)
def test_an_intrinsic_the_runner_does_not_implement_is_refused(tmp_path: Path, intrinsic: str) -> None:
    name = intrinsic.split(maxsplit=1)[0].lstrip("!")
    expected = f"{ENV_VALUE}: Fn::{name} is not supported locally"
    assert _refused(tmp_path, _template_with(intrinsic)) == expected


@pytest.mark.parametrize(
    "pseudo", ["AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs", "AWS::StackId"]
)
def test_a_pseudo_parameter_the_runner_does_not_implement_is_refused(tmp_path: Path, pseudo: str) -> None:
    expected = f"{ENV_VALUE}: pseudo parameter {pseudo} is not supported locally"
    assert _refused(tmp_path, _template_with(f"!Ref {pseudo}")) == expected
    assert _refused(tmp_path, _template_with(f'!Sub "arn:${{{pseudo}}}:x"')) == expected


@pytest.mark.parametrize(
    "attribute", ["Table.StreamLabel", "Queue.QueueUrl", "Queue.QueueName", "Bus.Name", "Fn.Arn", "Grant.Arn"]
)
def test_an_attribute_the_runner_does_not_implement_is_refused(tmp_path: Path, attribute: str) -> None:
    expected = f"{ENV_VALUE}: Fn::GetAtt {attribute} is not supported locally"
    assert _refused(tmp_path, _template_with(f"!GetAtt {attribute}")) == expected
    assert _refused(tmp_path, _template_with(f'!Sub "${{{attribute}}}/x"')) == expected


def test_a_ref_to_a_type_left_alone_or_to_nothing_is_refused(tmp_path: Path) -> None:
    assert _refused(tmp_path, _template_with("!Ref Grant")) == (
        f"{ENV_VALUE}: Ref Grant (AWS::IAM::ManagedPolicy) is not supported locally"
    )
    assert _refused(tmp_path, _template_with('!Sub "${Nothing}"')) == (
        f"{ENV_VALUE}: 'Nothing' is neither a parameter nor a resource"
    )


def test_sub_with_a_variable_map_is_refused(tmp_path: Path) -> None:
    assert _refused(tmp_path, _template_with('!Sub ["${X}", { X: a }]')) == (
        f"{ENV_VALUE}: Fn::Sub with a variable map is not supported locally"
    )


@pytest.mark.parametrize(
    "kind",
    [
        "AWS::WAFv2::IPSet",
        "AWS::SSM::Parameter",
        "AWS::ApiGateway::ApiKey",
        "AWS::S3::AccessPoint",
        "AWS::SNS::Topic",
        "AWS::Lambda::Function",
        "Custom::Thing",
    ],
)
def test_a_resource_type_the_runner_does_not_handle_is_refused(tmp_path: Path, kind: str) -> None:
    body = _template_with("plain", extra_resources=f"  Thing: {{ Type: '{kind}' }}")
    assert _refused(tmp_path, body) == f"Resources.Thing: resource type {kind} is not supported locally"


@pytest.mark.parametrize("kind", ["Kinesis", "SNS", "S3", "HttpApi", "EventBridgeRule", "CloudWatchEvent"])
def test_an_event_type_the_runner_does_not_deliver_is_refused(tmp_path: Path, kind: str) -> None:
    events = f"      Events:\n        Feed: {{ Type: {kind}, Properties: {{}} }}"
    assert _refused(tmp_path, _template_with("plain", events=events)) == (
        f"Resources.Fn.Properties.Events.Feed: event type {kind} is not supported locally"
    )


def test_conditions_transforms_globals_and_parameter_types_it_does_not_implement_are_refused(
    tmp_path: Path,
) -> None:
    conditions = "Conditions:\n  IsProd: !Not [!Equals [!Ref Stage, prod]]"
    assert _refused(tmp_path, _template_with("plain", top=conditions)) == (
        "Conditions.IsProd: Fn::Not is not supported locally"
    )
    guarded = "  Extra:\n    Type: AWS::SQS::Queue\n    Condition: IsProd"
    assert _refused(tmp_path, _template_with("plain", extra_resources=guarded)) == (
        "Resources.Extra.Condition: condition 'IsProd' is not declared in Conditions"
    )
    on_a_resource = "Conditions:\n  Odd: !Equals [!Ref Table, x]"
    assert _refused(tmp_path, _template_with("plain", top=on_a_resource)) == (
        "Conditions.Odd[0]: 'Table' is neither a parameter nor a resource"
    )
    transform = "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]"
    assert _refused(tmp_path, _template_with("plain", top=transform)) == (
        "Transform: AWS::LanguageExtensions is not supported locally"
    )
    api_globals = "Globals:\n  Api:\n    TracingEnabled: true"
    assert _refused(tmp_path, _template_with("plain", top=api_globals)) == (
        "Globals.Api: not supported locally"
    )
    ssm = "Parameters:\n  Key: { Type: 'AWS::SSM::Parameter::Value<String>', Default: /a }\nResources: {}"
    assert _refused(tmp_path, ssm) == (
        "Parameters.Key: parameter type AWS::SSM::Parameter::Value<String> is not supported locally"
    )


# ---------------------------------------------------------------- conditions and what the template names

CONDITIONAL = """
Parameters:
  Extra: { Type: String, Default: "false", AllowedValues: ["true", "false"] }
  Level: { Type: Number, Default: 3 }
Conditions:
  WithExtra: !Equals [!Ref Extra, "true"]
  StillWithExtra: !Condition WithExtra
  LevelThree: !Equals [3, !Ref Level]
Resources:
  Always: { Type: AWS::SQS::Queue }
  ExtraQueue:
    Type: AWS::SQS::Queue
    Condition: StillWithExtra
    Properties: { QueueName: !Sub "${AWS::StackName}-extra" }
  ExtraLogs:
    Type: AWS::Logs::LogGroup
    Condition: WithExtra
    # left out: nothing of it is evaluated, not even what the runner could never resolve
    Properties: { LogGroupName: !ImportValue elsewhere }
  Fn:
    Type: AWS::Serverless::Function
    Condition: LevelThree
    Properties: { CodeUri: fn/, Handler: app.handler }
Outputs:
  ExtraUrl:
    Condition: WithExtra
    Value: !Ref ExtraQueue
  AlwaysUrl:
    Value: !Ref Always
"""


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        (
            "{ ObjectLockEnabled: true }",
            "Resources.Media.Properties.ObjectLockEnabled: not supported locally",
        ),
        (
            "{ VersioningConfiguration: { Status: Enable } }",
            "Properties.VersioningConfiguration.Status: Enable is neither Enabled nor Suspended",
        ),
    ],
)
def test_a_bucket_property_the_runner_does_not_apply_is_refused(
    tmp_path: Path, properties: str, expected: str
) -> None:
    bucket = f"  Media: {{ Type: AWS::S3::Bucket, Properties: {properties} }}"
    assert expected in _refused(tmp_path, _template_with("x", bucket))


def test_a_bucket_keeps_versions_as_its_template_says(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    versioned = (
        "  Media: { Type: AWS::S3::Bucket, Properties: { VersioningConfiguration: { Status: Enabled } } }"
    )
    plain = "  Plain: { Type: AWS::S3::Bucket }"
    path.write_text(_template_with("x", versioned + "\n" + plain))
    buckets = load_stack(path, {}).buckets
    assert (buckets["Media"].versioned, buckets["Plain"].versioned) == (True, False)


def test_conditions_are_evaluated_on_the_parameters_like_cloudformation(tmp_path: Path) -> None:
    path = write_template(tmp_path, CONDITIONAL.replace("!ImportValue elsewhere", "extra-logs"))
    # Given the defaults: the extra resources and the output naming one are left out
    default = load_stack(path, {})
    assert set(default.queues) == {"Always"}
    assert set(default.functions) == {"Fn"}  # 3 equals "3": values compare as strings
    # When a parameter turns the condition on, they exist (the second condition names the first)
    extra = load_stack(path, {"Extra": "true", "Level": "4"})
    assert set(extra.queues) == {"Always", "ExtraQueue"}
    assert extra.queues["ExtraQueue"].name == "crowdtask-local-extra"
    assert extra.functions == {}


def test_a_resource_left_out_is_not_evaluated_and_cannot_be_referred_to(tmp_path: Path) -> None:
    path = write_template(tmp_path, CONDITIONAL)
    assert set(load_stack(path, {}).queues) == {"Always"}  # its !ImportValue is never looked at
    with pytest.raises(TemplateError, match="Fn::ImportValue is not supported locally"):
        load_stack(path, {"Extra": "true"})
    referring = CONDITIONAL.replace("Condition: WithExtra\n    Value", "Value")
    with pytest.raises(TemplateError) as refused:
        load_stack(write_template(tmp_path, referring), {})
    assert str(refused.value) == (
        "Outputs.ExtraUrl.Value: ExtraQueue is not created: its Condition StillWithExtra is false"
    )


def test_sam_stage_references_partition_and_the_types_named_but_not_emulated(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        """
        Resources:
          Api:
            Type: AWS::Serverless::Api
            Properties:
              StageName: v2
              AccessLogSetting: { DestinationArn: !GetAtt AccessLogs.Arn, Format: $context.requestId }
          AccessLogs: { Type: AWS::Logs::LogGroup, Properties: { LogGroupName: /access } }
          Role: { Type: AWS::IAM::Role }
          Plan:
            Type: AWS::ApiGateway::UsagePlan
            Properties: { ApiStages: [{ ApiId: !Ref Api, Stage: !Ref Api.Stage }] }
          Acl: { Type: AWS::WAFv2::WebACL, Properties: { Name: acl } }
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: fn/
              Handler: app.handler
              Environment:
                Variables:
                  STAGE: !Ref Api.Stage
                  STAGE_ARN: !Sub "arn:${AWS::Partition}:apigateway:::/restapis/${Api}/stages/${Api.Stage}"
                  LOGS: !Ref AccessLogs
                  LOGS_ARN: !GetAtt AccessLogs.Arn
                  ROLE_ARN: !GetAtt Role.Arn
                  PLAN: !Ref Plan
                  ACL_ARN: !GetAtt Acl.Arn
        """,
    )
    stack = load_stack(path, {})
    assert stack.functions["Fn"].environment == {
        "STAGE": "v2",
        "STAGE_ARN": "arn:aws:apigateway:::/restapis/local0api0/stages/v2",
        "LOGS": "/access",
        "LOGS_ARN": "arn:aws:logs:us-east-1:123456789012:log-group:/access:*",
        "ROLE_ARN": "arn:aws:iam::123456789012:role/crowdtask-local-Role",
        "PLAN": "crowdtask-local-Plan",
        "ACL_ARN": "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/acl/local",
    }
    # nothing locally blocks what a web ACL would: the runner says so
    assert stack.warnings == [
        "Acl (AWS::WAFv2::WebACL): its rules are not applied locally (nothing is blocked)"
    ]


def test_an_intrinsic_is_refused_even_where_the_runner_reads_nothing(tmp_path: Path) -> None:
    # Properties the runner never reads are resolved all the same: nothing unsupported slips through.
    api = (
        "  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: v1\n"
        "      DefinitionBody: !Transform { Name: AWS::Include, Parameters: { Location: s3://x/y } }"
    )
    assert _refused(tmp_path, _template_with("plain", extra_resources=api)) == (
        "Resources.Api.Properties.DefinitionBody: Fn::Transform is not supported locally"
    )
    logs = "  FnLogs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      LogGroupName: !Join ['', [a, b]]"
    assert _refused(tmp_path, _template_with("plain", extra_resources=logs)) == (
        "Resources.FnLogs.Properties.LogGroupName: Fn::Join is not supported locally"
    )
    tags = "      Tags: { Owner: !ImportValue owner }"
    assert _refused(tmp_path, _template_with("plain", events=tags)) == (
        "Resources.Fn.Properties.Tags.Owner: Fn::ImportValue is not supported locally"
    )
    outputs = "Outputs:\n  Url:\n    Value: !Join ['', [a, !Ref Table]]"
    assert _refused(tmp_path, _template_with("plain") + "\n" + outputs) == (
        "Outputs.Url.Value: Fn::Join is not supported locally"
    )


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        (
            "[DynamoDBReadPolicy: { TableName: !Ref Table }]",
            "Policies[0]: SAM policy template DynamoDBReadPolicy is not supported locally",
        ),
        ("[AWSLambdaBasicExecutionRole]", "Policies[0]: policy 'AWSLambdaBasicExecutionRole' is not"),
        (
            "[Statement: [{ Effect: Deny, Action: 'sqs:*', Resource: '*' }]]",
            "Policies[0].Statement[0]: Effect 'Deny' is not supported locally",
        ),
        (
            "[Statement: [{ Effect: Allow, NotAction: 'sqs:*', Resource: '*' }]]",
            "Policies[0].Statement[0]: NotAction in a statement is not supported locally",
        ),
        (
            "[Statement: [{ Effect: Allow, Action: 'sqs:*', Resource: '*', Condition: {} }]]",
            "Policies[0].Statement[0]: Condition in a statement is not supported locally",
        ),
    ],
)
def test_a_policy_the_runner_cannot_read_is_refused(tmp_path: Path, policies: str, expected: str) -> None:
    # A function's policy is known exactly or refused: nothing is read as allowing more, or less.
    message = _refused(tmp_path, _template_with("plain", events=f"      Policies: {policies}"))
    assert message.startswith(f"Resources.Fn.Properties.{expected}")


def test_a_sam_policy_template_expands_to_its_statements(tmp_path: Path) -> None:
    body = _template_with("plain", events="      Policies: [DynamoDBCrudPolicy: { TableName: !Ref Table }]")
    path = tmp_path / "template.yaml"
    path.write_text(body)
    (statement,) = load_stack(path, {}).functions["Fn"].policy
    assert statement.resources == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/crowdtask-local-Table",
        "arn:aws:dynamodb:us-east-1:123456789012:table/crowdtask-local-Table/index/*",
    )
    # SAM's list (samtranslator/policy_templates_data/policy_templates.json), ConditionCheckItem included.
    assert set(statement.actions) == {
        f"dynamodb:{action}"
        for action in (
            "GetItem",
            "DeleteItem",
            "PutItem",
            "Scan",
            "Query",
            "UpdateItem",
            "BatchWriteItem",
            "BatchGetItem",
            "DescribeTable",
            "ConditionCheckItem",
        )
    }


def test_fixture_template_events(tmp_path: Path) -> None:
    stack = load_stack(FIXTURE_DIR / "template.yaml")
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
    stack = load_stack(REAL_TEMPLATE)
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
    stack = load_stack(REAL_TEMPLATE)
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
        if "ADMIN_KEY_PARAMETER" in env:  # the key's name, never the key
            assert env["ADMIN_KEY_PARAMETER"] == raw["Parameters"]["AdminKeyParameterName"]["Default"]
        assert env["ALLOWED_ORIGIN"] == "*"
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
        assert env["MEDIA_BUCKET_NAME"] == stack.buckets["MediaBucket"].name == "crowdtask-local-mediabucket"
        with_s3 = lambda_environment(
            function, "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"
        )
        assert with_s3["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:3"
        # each function signs with its own key (letters and digits: DynamoDB Local takes nothing else)
        assert with_s3["AWS_ACCESS_KEY_ID"].isalnum() and name in with_s3["AWS_ACCESS_KEY_ID"]


def test_real_template_resources_and_schedules() -> None:
    stack = load_stack(REAL_TEMPLATE)
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
    (bucket,) = stack.buckets.values()
    assert bucket.arn == "arn:aws:s3:::crowdtask-local-mediabucket"
    assert bucket.versioned
    assert bucket.cors_rules[0]["AllowedOrigins"] == ["*"]  # AllowedOrigin, resolved
    assert {"POST", "GET"} <= set(bucket.cors_rules[0]["AllowedMethods"])
    for function in stack.functions.values():
        for schedule in function.schedules:
            assert schedule.expression.startswith(("rate(", "cron(", "at(")), schedule
    assert not stack.warnings


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


@pytest.mark.parametrize("waf", ["false", "true"])
def test_real_template_waf_switch(waf: str) -> None:
    stack = load_stack(REAL_TEMPLATE, {"EnableWaf": waf})
    if waf == "true":
        assert stack.warnings == [
            "WebAcl (AWS::WAFv2::WebACL): its rules are not applied locally (nothing is blocked)"
        ]
    else:
        assert stack.warnings == []
    # the admin key's name and its one parameter's ARN, whatever the switch
    auth = stack.functions["AuthFunction"]
    assert auth.environment["ADMIN_KEY_PARAMETER"] == "/crowdtask/admin-key"
    assert auth.reserved_concurrency == 20
    assert any(
        statement.actions == ("ssm:GetParameter",)
        and statement.resources == ("arn:aws:ssm:us-east-1:123456789012:parameter/crowdtask/admin-key",)
        for statement in auth.policy
    )
