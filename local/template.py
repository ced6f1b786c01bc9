"""Load the SAM template and resolve the resources, functions and events the local runner serves.

The runner implements what the template uses and refuses the rest: an intrinsic function, a pseudo
parameter, a Fn::GetAtt attribute, a resource type, an event type, a condition function or a SAM
policy template it does not know fails loading with a TemplateError that names it and where it is.
Each is one entry to add: an intrinsic is one `_fn_<name>` method of `_Resolver`, a condition
function one branch of `_Resolver._holds`, a pseudo parameter one line of `_pseudo_parameters`, a
resource type (its name, ARN, Ref and attributes) one row of RESOURCE_TYPES or of LEFT_ALONE, an
event type one row of _EVENT_SOURCES, a policy template one row of SAM_POLICY_TEMPLATES.

Conditions are evaluated as CloudFormation evaluates them, on the parameters' values (defaults or
overrides): a resource or output whose Condition is false is left out, and a reference to such a
resource is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STACK_NAME = "crowdtask-local"
REGION = "us-east-1"
# moto's default account: ARNs the runner computes then match the ones moto hands out.
ACCOUNT_ID = "123456789012"
# requestContext.apiId and ${Api} refs; shaped like a real REST API id.
API_ID = "local0api0"
# What `sam deploy` would call the API when events name no RestApiId.
IMPLICIT_API = "ServerlessRestApi"
AWS_SQS_URL_BASE = f"https://sqs.{REGION}.amazonaws.com"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

# The label of a table's stream ARN as the template resolves it (AWS's is a timestamp).
STREAM_LABEL = "local"

# SAM's own defaults, used when neither Globals nor the function say otherwise.
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3


class TemplateError(Exception):
    """The template uses something the runner cannot resolve, or a parameter is invalid."""


# ---------------------------------------------------------------- YAML with CloudFormation tags


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (!Ref, !Sub, ...) as their long JSON form."""


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # The short form takes "Resource.Attribute"; the long form a two-item list.
        logical, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical, attribute]}
    # Every tag loads, known or not: the resolver then refuses an unknown one by name and place.
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - CfnLoader derives from SafeLoader
    except OSError as exc:
        raise TemplateError(f"{path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data


# ---------------------------------------------------------------- what the runner needs


@dataclass(frozen=True)
class Route:
    path: str
    method: str  # upper case, "ANY" for any method
    function: str  # logical id
    event: str
    api: str  # logical id of the API the event attaches to


@dataclass(frozen=True)
class SqsSource:
    event: str
    queue: str  # logical id
    queue_arn: str
    batch_size: int
    window_seconds: float
    report_failures: bool
    max_concurrency: int | None
    enabled: bool


@dataclass(frozen=True)
class StreamSource:
    """A `Type: DynamoDB` event: the table's stream polled into the function like Lambda's mapping."""

    event: str
    table: str  # logical id of the table whose stream it reads
    starting_position: str  # TRIM_HORIZON or LATEST
    batch_size: int
    # Each a pattern (the JSON of FilterCriteria.Filters[].Pattern, parsed); a record passes if any matches.
    filters: tuple[dict[str, Any], ...]
    report_failures: bool
    bisect_on_error: bool
    max_retries: int  # -1: until the record expires
    on_failure: str | None  # logical id of the OnFailure destination queue
    enabled: bool


@dataclass(frozen=True)
class ScheduleSource:
    event: str
    kind: str  # "Schedule" or "ScheduleV2"
    expression: str
    input: str | None  # JSON text; replaces the scheduled event like an EventBridge target Input
    enabled: bool
    rule_arn: str


@dataclass(frozen=True)
class Statement:
    """One Allow statement of a function's IAM policy, resolved: action and resource patterns (* and ?)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass
class Function:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    layer_dirs: list[Path]
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None
    routes: list[Route] = field(default_factory=list)
    sqs: list[SqsSource] = field(default_factory=list)
    streams: list[StreamSource] = field(default_factory=list)
    schedules: list[ScheduleSource] = field(default_factory=list)
    # What its execution role may do on AWS: nothing enforces it locally, local/iam.py checks calls.
    policy: tuple[Statement, ...] = ()

    @property
    def arn(self) -> str:
        return resource_arn("AWS::Serverless::Function", self.name)


@dataclass(frozen=True)
class Resource:
    """A resource of the template by its name and ARN, with the Properties the runner reads."""

    logical_id: str
    name: str
    arn: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Table(Resource):
    """A DynamoDB table (AWS::DynamoDB::Table)."""


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Bucket(Resource):
    """An S3 bucket (AWS::S3::Bucket)."""

    @property
    def cors_rules(self) -> list[dict[str, Any]]:
        return list((self.properties.get("CorsConfiguration") or {}).get("CorsRules") or [])

    @property
    def versioned(self) -> bool:
        return (self.properties.get("VersioningConfiguration") or {}).get("Status") == "Enabled"


@dataclass(frozen=True)
class EventBus:
    logical_id: str
    name: str
    arn: str


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    templates: dict[str, str]
    headers: dict[str, str]


@dataclass
class Api:
    logical_id: str
    stage: str
    gateway_responses: dict[str, GatewayResponse]
    cors: dict[str, str] | None
    binary_media_types: list[str]


@dataclass
class Stack:
    template_path: Path
    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, str]
    tables: dict[str, Table]
    queues: dict[str, Queue]
    buses: dict[str, EventBus]
    functions: dict[str, Function]
    buckets: dict[str, Bucket]
    api: Api
    warnings: list[str]

    @property
    def routes(self) -> list[Route]:
        return [route for function in self.functions.values() for route in function.routes]

    def queue_by_arn(self, arn: str) -> Queue | None:
        return next((queue for queue in self.queues.values() if queue.arn == arn), None)


# ---------------------------------------------------------------- intrinsic functions

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# The properties the runner reads (every property is still resolved once, by _check_supported).
_TABLE_KEYS = frozenset(
    {
        "TableName",
        "AttributeDefinitions",
        "KeySchema",
        "BillingMode",
        "ProvisionedThroughput",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "StreamSpecification",
        "TimeToLiveSpecification",
    }
)
_QUEUE_KEYS = frozenset(
    {
        "QueueName",
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "FifoQueue",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "SqsManagedSseEnabled",
        "RedrivePolicy",
        "RedriveAllowPolicy",
    }
)
# A bucket's properties: CORS rules (the S3 gateway answers with them) and versioning are applied
# locally; encryption, public access, ownership and lifecycle rules are AWS's alone (nothing local
# reads them, and nothing expires locally: the code never relies on a lifecycle rule). Any other
# property is refused by name, so what the template asks of a bucket cannot be left out unnoticed.
_BUCKET_KEYS = frozenset(
    {
        "BucketName",
        "CorsConfiguration",
        "VersioningConfiguration",
        "BucketEncryption",
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
        "Tags",
    }
)
_SQS_EVENT_KEYS = frozenset(
    {
        "Queue",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FunctionResponseTypes",
        "ScalingConfig",
        "Enabled",
    }
)
_STREAM_EVENT_KEYS = frozenset(
    {
        "Stream",
        "StartingPosition",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FilterCriteria",
        "FunctionResponseTypes",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "DestinationConfig",
        "ParallelizationFactor",
        "Enabled",
    }
)
_SCHEDULE_EVENT_KEYS = frozenset({"Schedule", "ScheduleExpression", "Input", "Enabled", "State", "Name"})
_SAM_API = "AWS::Serverless::Api"
_API_KEYS = frozenset({"StageName", "GatewayResponses", "Cors", "BinaryMediaTypes"})
_PARAMETER_TYPES = frozenset({"String", "Number"})
_GLOBALS = frozenset({"Function"})


def _pseudo_parameters(stack_name: str) -> dict[str, str]:
    return {
        "AWS::StackName": stack_name,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
    }


class _Resolver:
    """Evaluates the intrinsic functions the template uses against parameters and the local physical names.

    `Ref` and each supported `Fn::<Name>` (one `_fn_<name>` method each) are evaluated; `resolve`
    refuses any other intrinsic, naming it and the place (`where`) it was found.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        queue_url_base: str,
        stack_name: str = STACK_NAME,
    ):
        self.stack_name = stack_name
        self.pseudo_parameters = _pseudo_parameters(stack_name)
        self.parameters = dict(parameters)
        self.queue_url_base = queue_url_base.rstrip("/")
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()
        self._conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self._holding: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        declared: dict[str, Any] = template.get("Resources") or {}
        # Resources left out by a false Condition, with that condition's name. Conditions see only
        # parameters (CloudFormation's rule): no resource is referable while they are evaluated.
        self.excluded: dict[str, str] = {}
        self.resources: dict[str, Any] = {}
        for name in self._conditions:
            self.condition(str(name), f"Conditions.{name}")
        for logical, resource in declared.items():
            if isinstance(resource, Mapping) and "Condition" in resource:
                name = str(resource["Condition"])
                if not self.condition(name, f"Resources.{logical}.Condition"):
                    self.excluded[logical] = name
        self.declared = declared
        self.resources = {k: v for k, v in declared.items() if k not in self.excluded}

    # -- conditions

    def condition(self, name: str, where: str) -> bool:
        """The value of the named condition of the Conditions section (each evaluated once)."""
        if name in self._holding:
            return self._holding[name]
        if name not in self._conditions:
            raise TemplateError(f"{where}: condition {name!r} is not declared in Conditions")
        if name in self._evaluating:
            raise TemplateError(f"Conditions.{name}: circular reference between conditions")
        self._evaluating.add(name)
        value = self._holds(self._conditions[name], f"Conditions.{name}")
        self._evaluating.discard(name)
        self._holding[name] = value
        return value

    def _holds(self, expression: Any, where: str) -> bool:
        if isinstance(expression, Mapping) and len(expression) == 1:
            ((key, arg),) = expression.items()
            if key == "Condition":
                return self.condition(str(arg), where)
            if key == "Fn::Equals":
                if not (isinstance(arg, list) and len(arg) == 2):
                    raise TemplateError(f"{where}: Fn::Equals takes two values, got {arg!r}")
                # CloudFormation compares the values as strings ("true" equals true).
                left, right = (
                    _text(self.resolve(item, f"{where}[{index}]"), where) for index, item in enumerate(arg)
                )
                return left == right
            if key.startswith("Fn::"):
                raise TemplateError(f"{where}: {key} is not supported locally")
        raise TemplateError(f"{where}: a condition is a condition function, got {expression!r}")

    # -- physical ids

    def type_of(self, logical_id: str, where: str = "") -> str:
        resource = self.resources.get(logical_id)
        if logical_id in self.excluded:
            raise TemplateError(
                f"{where}: {logical_id} is not created: its Condition {self.excluded[logical_id]} is false"
            )
        if not isinstance(resource, Mapping):
            raise TemplateError(f"{where}: {logical_id!r} is neither a parameter nor a resource")
        return str(resource.get("Type", ""))

    def props(self, logical_id: str) -> Mapping[str, Any]:
        return self.resources[logical_id].get("Properties") or {}

    def name(self, logical_id: str) -> str:
        """The physical name; deterministic (stack-Logical) where CloudFormation would add a suffix."""
        if logical_id in self._names:
            return self._names[logical_id]
        if logical_id in self._naming:
            raise TemplateError(f"Resources.{logical_id}: circular reference while naming it")
        self._naming.add(logical_id)
        kind, props = self.type_of(logical_id), self.props(logical_id)
        known = RESOURCE_TYPES.get(kind)
        explicit = known.name_property if known else None
        if explicit and explicit in props:
            value = str(self.resolve(props[explicit], f"Resources.{logical_id}.Properties.{explicit}"))
        else:
            value = f"{self.stack_name}-{logical_id}"
            fifo = self.resolve(props.get("FifoQueue", False), f"Resources.{logical_id}.Properties.FifoQueue")
            if kind == "AWS::SQS::Queue" and _truthy(fifo):
                value += ".fifo"
            if kind == "AWS::S3::Bucket":  # bucket names are lower case
                value = value.lower()
        self._naming.discard(logical_id)
        self._names[logical_id] = value
        return value

    def arn(self, logical_id: str) -> str:
        return resource_arn(self.type_of(logical_id), self.name(logical_id))

    def queue_url(self, logical_id: str) -> str:
        return f"{self.queue_url_base}/{ACCOUNT_ID}/{self.name(logical_id)}"

    # -- Ref / GetAtt

    def ref(self, name: str, where: str) -> str:
        if name.startswith("AWS::"):
            if name not in self.pseudo_parameters:
                raise TemplateError(f"{where}: pseudo parameter {name} is not supported locally")
            return self.pseudo_parameters[name]
        if name in self.parameters:
            return self.parameters[name]
        stage = self.sam_reference(name, where)
        if stage is not None:
            return stage
        kind = self.type_of(name, where)
        known = RESOURCE_TYPES.get(kind)
        if known is None or known.ref is None:
            raise TemplateError(f"{where}: Ref {name} ({kind}) is not supported locally")
        return known.ref(self, name)

    def sam_reference(self, name: str, where: str) -> str | None:
        """SAM's `Api.Stage` (the stage name, in Ref and Fn::Sub), or None when `name` is not one."""
        logical, dot, prop = name.partition(".")
        resource = self.resources.get(logical)
        if dot and prop == "Stage" and isinstance(resource, Mapping) and resource.get("Type") == _SAM_API:
            stage = self.props(logical).get("StageName")
            return str(self.resolve(stage, f"Resources.{logical}.Properties.StageName"))
        return None

    def get_att(self, logical_id: str, attribute: str, where: str) -> str:
        known = RESOURCE_TYPES.get(self.type_of(logical_id, where))
        evaluate = known.attributes.get(attribute) if known else None
        if evaluate is None:
            raise TemplateError(f"{where}: Fn::GetAtt {logical_id}.{attribute} is not supported locally")
        return evaluate(self, logical_id)

    # -- evaluation

    def pick(self, props: Mapping[str, Any], keys: frozenset[str], where: str) -> dict[str, Any]:
        """The properties the runner reads, resolved."""
        return {key: self.resolve(value, f"{where}.{key}") for key, value in props.items() if key in keys}

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(str(arg), where)
            if key.startswith("Fn::"):
                evaluate = getattr(self, f"_fn_{key[4:].lower()}", None)
                if evaluate is None:
                    raise TemplateError(f"{where}: {key} is not supported locally")
                return evaluate(arg, where)
        return {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}

    def _fn_getatt(self, arg: Any, where: str) -> str:
        parts = arg.split(".", 1) if isinstance(arg, str) else arg
        if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts)):
            raise TemplateError(f"{where}: Fn::GetAtt takes [Resource, Attribute], got {arg!r}")
        return self.get_att(parts[0], parts[1], where)

    def _fn_sub(self, arg: Any, where: str) -> str:
        if not isinstance(arg, str):
            raise TemplateError(f"{where}: Fn::Sub with a variable map is not supported locally")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):  # ${!Literal} stays a literal ${Literal}
                return "${" + name[1:] + "}"
            if "." in name and not name.startswith("AWS::"):
                stage = self.sam_reference(name, where)
                if stage is not None:
                    return stage
                logical, _, attribute = name.partition(".")
                return self.get_att(logical, attribute, where)
            return self.ref(name, where)

        return _SUB_VARIABLE.sub(replace, arg)


# ---------------------------------------------------------------- what the runner knows of each type


@dataclass(frozen=True)
class ResourceType:
    """What the runner knows of a resource type: the property naming it, its ARN, its Ref, its attributes."""

    arn: str | None  # shape with {region}, {account} and {name}
    ref: Callable[[_Resolver, str], str] | None
    attributes: Mapping[str, Callable[[_Resolver, str], str]] = field(default_factory=dict)
    name_property: str | None = None


RESOURCE_TYPES: dict[str, ResourceType] = {
    "AWS::DynamoDB::Table": ResourceType(
        arn="arn:aws:dynamodb:{region}:{account}:table/{name}",
        ref=_Resolver.name,
        # A stream's label is the time it was enabled: the runner reads the real ARN from the table.
        attributes={
            "Arn": _Resolver.arn,
            "StreamArn": lambda r, logical: f"{r.arn(logical)}/stream/{STREAM_LABEL}",
        },
        name_property="TableName",
    ),
    "AWS::SQS::Queue": ResourceType(
        arn="arn:aws:sqs:{region}:{account}:{name}",
        ref=_Resolver.queue_url,
        attributes={"Arn": _Resolver.arn},
        name_property="QueueName",
    ),
    "AWS::S3::Bucket": ResourceType(
        arn="arn:aws:s3:::{name}",
        ref=_Resolver.name,
        attributes={"Arn": _Resolver.arn},
        name_property="BucketName",
    ),
    "AWS::Events::EventBus": ResourceType(
        arn="arn:aws:events:{region}:{account}:event-bus/{name}",
        ref=_Resolver.name,
        attributes={"Arn": _Resolver.arn},
        name_property="Name",
    ),
    "AWS::Serverless::Function": ResourceType(
        arn="arn:aws:lambda:{region}:{account}:function:{name}",
        ref=_Resolver.name,
        name_property="FunctionName",
    ),
    # A layer's Ref is its version ARN; locally only its folder matters.
    "AWS::Serverless::LayerVersion": ResourceType(
        arn="arn:aws:lambda:{region}:{account}:layer:{name}:1", ref=_Resolver.arn
    ),
    "AWS::Serverless::Api": ResourceType(arn=None, ref=lambda resolver, logical: API_ID),
    # Named and referable, never created nor enforced locally: logs go to stderr, nothing local
    # enforces IAM (local/iam.py checks the functions' calls against their Policies), throttling,
    # usage plans and WAF rules are API Gateway's and WAF's own (load_stack warns of a web ACL).
    "AWS::Logs::LogGroup": ResourceType(
        arn="arn:aws:logs:{region}:{account}:log-group:{name}:*",
        ref=_Resolver.name,
        attributes={"Arn": _Resolver.arn},
        name_property="LogGroupName",
    ),
    "AWS::IAM::Role": ResourceType(
        arn="arn:aws:iam::{account}:role/{name}",
        ref=_Resolver.name,
        attributes={"Arn": _Resolver.arn},
        name_property="RoleName",
    ),
    "AWS::ApiGateway::UsagePlan": ResourceType(arn=None, ref=_Resolver.name),
    # A web ACL's ARN ends with an id WAF makes up; locally it is "local".
    "AWS::WAFv2::WebACL": ResourceType(
        arn="arn:aws:wafv2:{region}:{account}:regional/webacl/{name}/local",
        ref=None,
        attributes={"Arn": _Resolver.arn},
        name_property="Name",
    ),
}
# Types the runner knowingly leaves alone: nothing to emulate and nothing refers to them. They are
# neither created nor referable: a Ref or Fn::GetAtt to one is refused.
LEFT_ALONE = frozenset(
    {
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::ApiGateway::Account",
        "AWS::WAFv2::WebACLAssociation",
        # The local S3 gateway (local/s3_gateway.py) serves plain HTTP on loopback: a TLS-only policy
        # has nothing to refuse there.
        "AWS::S3::BucketPolicy",
    }
)
# Types whose effect the local stack does not have: a warning says so when the template creates one.
NOT_APPLIED_LOCALLY = {"AWS::WAFv2::WebACL": "its rules are not applied locally (nothing is blocked)"}


def resource_arn(kind: str, name: str) -> str:
    """The ARN of the resource of type `kind` named `name` (a table's index: name "table/index/index")."""
    known = RESOURCE_TYPES.get(kind)
    if known is None or known.arn is None:
        raise TemplateError(f"no ARN is known locally for {kind}")
    return known.arn.format(region=REGION, account=ACCOUNT_ID, name=name)


# SAM policy templates the templates use, as SAM's policy_templates.json expands them
# (samtranslator/policy_templates_data): each is (actions, resource shapes) per statement;
# the shapes take {region}, {account} and the template's parameters.
SAM_POLICY_TEMPLATES: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    "DynamoDBCrudPolicy": (
        (
            (
                "dynamodb:GetItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
                "dynamodb:ConditionCheckItem",
            ),
            (
                "arn:aws:dynamodb:{region}:{account}:table/{TableName}",
                "arn:aws:dynamodb:{region}:{account}:table/{TableName}/index/*",
            ),
        ),
    ),
}


def _text(value: Any, where: str = "") -> str:
    """A value as CloudFormation renders it into a string (booleans lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError(f"{where}: cannot use {value!r} where a string is expected")
    return str(value)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) for item in items):
        raise TemplateError(f"{where}: expected a string or a list of strings, got {value!r}")
    return tuple(items)


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge key by key, lists concatenate, scalars are overridden."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if any(key == "Ref" or key.startswith("Fn::") for key in local_value):
            return local_value
        merged = dict(global_value)
        for key, item in local_value.items():
            merged[key] = _merge_globals(global_value[key], item) if key in global_value else item
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


# ---------------------------------------------------------------- policies


def _policy(policies: Any, where: str) -> tuple[Statement, ...]:
    """A function's resolved `Policies`: inline policy documents and the SAM policy templates above."""
    statements: list[Statement] = []
    for index, policy in enumerate(policies if isinstance(policies, list) else [policies]):
        at = f"{where}[{index}]"
        if isinstance(policy, Mapping) and "Statement" in policy:
            document = policy["Statement"]
            for number, statement in enumerate(document if isinstance(document, list) else [document]):
                statements.append(_statement(statement, f"{at}.Statement[{number}]"))
        elif isinstance(policy, Mapping) and len(policy) == 1:
            ((name, parameters),) = policy.items()
            if name not in SAM_POLICY_TEMPLATES:
                raise TemplateError(f"{at}: SAM policy template {name} is not supported locally")
            values = {key: _text(value, f"{at}.{name}.{key}") for key, value in (parameters or {}).items()}
            for actions, shapes in SAM_POLICY_TEMPLATES[name]:
                try:
                    resources = tuple(s.format(region=REGION, account=ACCOUNT_ID, **values) for s in shapes)
                except KeyError as exc:
                    raise TemplateError(f"{at}: {name} needs the parameter {exc.args[0]}") from exc
                statements.append(Statement(actions, resources))
        else:
            # A managed policy (a name or an ARN): its statements are not known here.
            raise TemplateError(f"{at}: policy {policy!r} is not supported locally")
    return tuple(statements)


def _statement(statement: Any, where: str) -> Statement:
    if not isinstance(statement, Mapping):
        raise TemplateError(f"{where}: a statement is a mapping, got {statement!r}")
    unsupported = sorted(set(statement) - {"Sid", "Effect", "Action", "Resource"})
    if unsupported:
        raise TemplateError(f"{where}: {', '.join(unsupported)} in a statement is not supported locally")
    if statement.get("Effect") != "Allow":
        raise TemplateError(f"{where}: Effect {statement.get('Effect')!r} is not supported locally")
    return Statement(
        _strings(statement.get("Action"), f"{where}.Action"),
        _strings(statement.get("Resource"), f"{where}.Resource"),
    )


# ---------------------------------------------------------------- parameters


def resolve_parameters(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Parameter values from `given` or the defaults, validated like CloudFormation validates them."""
    values: dict[str, str] = {}
    missing = []
    for name, declared in (template.get("Parameters") or {}).items():
        spec = declared or {}
        kind = spec.get("Type", "String")
        if kind not in _PARAMETER_TYPES:
            raise TemplateError(f"Parameters.{name}: parameter type {kind} is not supported locally")
        if name in given:
            value = str(given[name])
        elif "Default" in spec:
            value = _text(spec["Default"], f"Parameters.{name}.Default")
        else:
            missing.append(name)
            continue
        _validate_parameter(name, spec, value)
        values[name] = value
    if missing:
        raise TemplateError(f"parameters without a value or default: {', '.join(missing)}")
    return values


def _validate_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    shown = "****" if spec.get("NoEcho") else repr(value)
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [_text(item) for item in allowed]:
        raise TemplateError(f"parameter {name}={shown} is not one of {allowed}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise TemplateError(f"parameter {name} is shorter than {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise TemplateError(f"parameter {name} is longer than {spec['MaxLength']} characters")
    if "AllowedPattern" in spec and not re.fullmatch(str(spec["AllowedPattern"]), value):
        raise TemplateError(f"parameter {name}={shown} does not match {spec['AllowedPattern']}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError as exc:
            raise TemplateError(f"parameter {name}={shown} is not a number") from exc
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"parameter {name}={shown} is below {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"parameter {name}={shown} is above {spec['MaxValue']}")


# ---------------------------------------------------------------- the stack


def _check_supported(template: Mapping[str, Any], resolver: _Resolver) -> None:
    """Refuse, by name and place, whatever in the template the runner does not implement.

    Every property is resolved once here, also those the runner never reads (Tracing,
    MethodSettings, a log group's retention): an intrinsic it cannot evaluate fails the load
    wherever it is, instead of being skipped silently.
    """
    transform = template.get("Transform")
    for name in transform if isinstance(transform, list) else [transform] if transform else []:
        if name != SAM_TRANSFORM:
            raise TemplateError(f"Transform: {name} is not supported locally")
    for section, value in (template.get("Globals") or {}).items():
        if section not in _GLOBALS:
            raise TemplateError(f"Globals.{section}: not supported locally")
        resolver.resolve(value, f"Globals.{section}")
    for logical, resource in resolver.declared.items():
        where = f"Resources.{logical}"
        if not isinstance(resource, Mapping):
            raise TemplateError(f"{where}: not a resource")
        kind = str(resource.get("Type"))
        if kind not in RESOURCE_TYPES and kind not in LEFT_ALONE:
            raise TemplateError(f"{where}: resource type {kind} is not supported locally")
        if logical not in resolver.excluded:  # CloudFormation evaluates nothing of a resource left out
            resolver.resolve(resource.get("Properties") or {}, f"{where}.Properties")
    for name, output in (template.get("Outputs") or {}).items():
        if _included(resolver, output, f"Outputs.{name}"):
            resolver.resolve({k: v for k, v in output.items() if k != "Condition"}, f"Outputs.{name}")


def _included(resolver: _Resolver, declared: Any, where: str) -> bool:
    """Does an output (or anything with an optional Condition) exist with these parameters?"""
    if not isinstance(declared, Mapping) or "Condition" not in declared:
        return True
    return resolver.condition(str(declared["Condition"]), f"{where}.Condition")


def load_stack(
    template_path: str | Path,
    parameters: Mapping[str, str] | None = None,
    queue_url_base: str = AWS_SQS_URL_BASE,
    stack_name: str = STACK_NAME,
) -> Stack:
    """Everything the runner serves, resolved; queue URLs point at `queue_url_base` (moto locally)."""
    path = Path(template_path).resolve()
    template = load_yaml(path)
    resolver = _Resolver(template, resolve_parameters(template, parameters or {}), queue_url_base, stack_name)
    _check_supported(template, resolver)
    warnings: list[str] = []
    by_type: dict[str, list[str]] = {}
    for logical, resource in resolver.resources.items():
        by_type.setdefault(str(resource.get("Type")), []).append(logical)
    for kind, effect in NOT_APPLIED_LOCALLY.items():
        warnings += [f"{logical} ({kind}): {effect}" for logical in by_type.get(kind, [])]

    tables = {
        logical: Table(
            logical,
            resolver.name(logical),
            resolver.arn(logical),
            resolver.pick(resolver.props(logical), _TABLE_KEYS, f"Resources.{logical}.Properties"),
        )
        for logical in by_type.get("AWS::DynamoDB::Table", [])
    }
    queues = {
        logical: Queue(
            logical,
            resolver.name(logical),
            resolver.queue_url(logical),
            resolver.arn(logical),
            resolver.pick(resolver.props(logical), _QUEUE_KEYS, f"Resources.{logical}.Properties"),
        )
        for logical in by_type.get("AWS::SQS::Queue", [])
    }
    buses = {
        logical: EventBus(logical, resolver.name(logical), resolver.arn(logical))
        for logical in by_type.get("AWS::Events::EventBus", [])
    }

    buckets = {logical: _bucket(resolver, logical) for logical in by_type.get("AWS::S3::Bucket", [])}

    globals_function = (template.get("Globals") or {}).get("Function") or {}
    functions: dict[str, Function] = {}
    for logical in by_type.get("AWS::Serverless::Function", []):
        props = _merge_globals(globals_function, dict(resolver.props(logical)))
        function = _function(resolver, path.parent, logical, props, queues, warnings)
        if function is not None:
            functions[logical] = function

    api = _api(resolver, by_type, functions)
    for route in _routes_on_other_apis(functions, api.logical_id):
        # One local server serves every route; a second API's own settings are not applied.
        warnings.append(f"{route.function} {route.method} {route.path}: served by the local {api.logical_id}")
    return Stack(
        template_path=path,
        stack_name=stack_name,
        region=REGION,
        account_id=ACCOUNT_ID,
        parameters=resolver.parameters,
        tables=tables,
        queues=queues,
        buses=buses,
        functions=functions,
        buckets=buckets,
        api=api,
        warnings=warnings,
    )


def _bucket(resolver: _Resolver, logical: str) -> Bucket:
    where = f"Resources.{logical}.Properties"
    props = resolver.resolve(dict(resolver.props(logical)), where)
    unknown = sorted(set(props) - _BUCKET_KEYS)
    if unknown:
        raise TemplateError(f"{where}.{unknown[0]}: not supported locally (local/template.py: _BUCKET_KEYS)")
    if "VersioningConfiguration" in props:
        status = (props["VersioningConfiguration"] or {}).get("Status")
        if status not in ("Enabled", "Suspended"):
            raise TemplateError(
                f"{where}.VersioningConfiguration.Status: {status} is neither Enabled nor Suspended"
            )
    return Bucket(logical, resolver.name(logical), resolver.arn(logical), props)


def _routes_on_other_apis(functions: Mapping[str, Function], api: str) -> list[Route]:
    return [route for fn in functions.values() for route in fn.routes if route.api not in (api, IMPLICIT_API)]


def _function(
    resolver: _Resolver,
    root: Path,
    logical: str,
    props: Mapping[str, Any],
    queues: Mapping[str, Queue],
    warnings: list[str],
) -> Function | None:
    where = f"Resources.{logical}.Properties"
    runtime = str(resolver.resolve(props.get("Runtime", ""), f"{where}.Runtime"))
    if runtime and not runtime.startswith("python"):
        warnings.append(f"{logical}: runtime {runtime} is not supported locally; function skipped")
        return None
    code_uri = resolver.resolve(props.get("CodeUri"), f"{where}.CodeUri")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{where}.CodeUri: must be a local folder, got {code_uri!r}")
    handler = str(resolver.resolve(props.get("Handler", ""), f"{where}.Handler"))
    if "." not in handler:
        raise TemplateError(f"{where}.Handler: must look like module.function, got {handler!r}")

    layer_dirs: list[Path] = []
    for layer in props.get("Layers") or []:
        layer_id = layer.get("Ref") if isinstance(layer, Mapping) else None
        if layer_id in resolver.resources and resolver.type_of(layer_id) == "AWS::Serverless::LayerVersion":
            content = resolver.props(layer_id).get("ContentUri")
            if isinstance(content, str):
                # Lambda mounts a layer at /opt and puts /opt/python (+ its site-packages) on sys.path.
                python_dir = (root / content / "python").resolve()
                site = python_dir / "lib" / "python3.11" / "site-packages"
                layer_dirs.extend([site, python_dir] if site.is_dir() else [python_dir])
                continue
        warnings.append(f"{logical}: layer {layer!r} is not a local folder; ignored")

    variables = ((props.get("Environment") or {}).get("Variables")) or {}
    environment = {
        str(key): _text(resolver.resolve(value, f"{where}.Environment.Variables.{key}"), f"{where}.{key}")
        for key, value in variables.items()
    }

    reserved = props.get("ReservedConcurrentExecutions")
    function = Function(
        logical_id=logical,
        name=resolver.name(logical),
        code_dir=(root / code_uri).resolve(),
        handler=handler,
        layer_dirs=layer_dirs,
        environment=environment,
        memory_mb=int(resolver.resolve(props.get("MemorySize", DEFAULT_MEMORY_MB), f"{where}.MemorySize")),
        timeout_s=int(resolver.resolve(props.get("Timeout", DEFAULT_TIMEOUT_S), f"{where}.Timeout")),
        reserved_concurrency=None
        if reserved is None
        else int(resolver.resolve(reserved, f"{where}.ReservedConcurrentExecutions")),
        policy=_policy(
            resolver.resolve(props.get("Policies") or [], f"{where}.Policies"), f"{where}.Policies"
        ),
    )
    for event_name, declared in (props.get("Events") or {}).items():
        event = _Event(
            event_name,
            str((declared or {}).get("Type")),
            (declared or {}).get("Properties") or {},
            f"{where}.Events.{event_name}",
        )
        attach = _EVENT_SOURCES.get(event.kind)
        if attach is None:
            raise TemplateError(f"{event.where}: event type {event.kind} is not supported locally")
        attach(resolver, function, event, queues, warnings)
    return function


@dataclass(frozen=True)
class _Event:
    """One entry of a function's Events, as declared."""

    name: str
    kind: str
    properties: Mapping[str, Any]
    where: str  # its place in the template


def _api_event(
    resolver: _Resolver, function: Function, event: _Event, queues: Mapping[str, Queue], warnings: list[str]
) -> None:
    raw = event.properties
    api_ref = raw.get("RestApiId")
    api = api_ref.get("Ref") if isinstance(api_ref, Mapping) and "Ref" in api_ref else IMPLICIT_API
    # Only Path and Method matter locally (the other properties were checked by _check_supported).
    path = str(resolver.resolve(raw["Path"], f"{event.where}.Properties.Path"))
    method = str(resolver.resolve(raw.get("Method", "ANY"), f"{event.where}.Properties.Method")).upper()
    function.routes.append(Route(path, method, function.logical_id, event.name, str(api)))


def _sqs_event(
    resolver: _Resolver, function: Function, event: _Event, queues: Mapping[str, Queue], warnings: list[str]
) -> None:
    props = resolver.pick(event.properties, _SQS_EVENT_KEYS, f"{event.where}.Properties")
    where = f"{function.logical_id}.{event.name}"
    queue_arn = str(props["Queue"])
    queue = next((q for q in queues.values() if q.arn == queue_arn), None)
    if queue is None:
        warnings.append(f"{where}: queue {queue_arn} is not declared in the template; not polled")
        return
    visibility = int(queue.properties.get("VisibilityTimeout", 30))
    if visibility < function.timeout_s:
        # AWS refuses such an event source mapping; locally every slow batch would run twice.
        warnings.append(
            f"{where}: {queue.logical_id} VisibilityTimeout {visibility} s is less than the function's "
            f"Timeout {function.timeout_s} s (AWS rejects this event source mapping)"
        )
    concurrency = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
    function.sqs.append(
        SqsSource(
            event=event.name,
            queue=queue.logical_id,
            queue_arn=queue_arn,
            batch_size=int(props.get("BatchSize", 10)),
            window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            max_concurrency=None if concurrency is None else int(concurrency),
            enabled=_truthy(props.get("Enabled", True)),
        )
    )


def _dynamodb_event(
    resolver: _Resolver, function: Function, event: _Event, queues: Mapping[str, Queue], warnings: list[str]
) -> None:
    where = f"{event.where}.Properties"
    unsupported = sorted(set(event.properties) - _STREAM_EVENT_KEYS)
    if unsupported:
        raise TemplateError(f"{where}: {', '.join(unsupported)} of a DynamoDB event is not supported locally")
    props = resolver.pick(event.properties, _STREAM_EVENT_KEYS, where)
    stream_arn = str(props.get("Stream", ""))
    table = next(
        (
            logical
            for logical in resolver.resources
            if resolver.type_of(logical) == "AWS::DynamoDB::Table"
            and stream_arn.startswith(resolver.arn(logical) + "/stream/")
        ),
        None,
    )
    if table is None:
        raise TemplateError(f"{where}.Stream: {stream_arn!r} is not the stream of a table of the template")
    position = str(props.get("StartingPosition", ""))
    if position not in ("TRIM_HORIZON", "LATEST"):
        raise TemplateError(f"{where}.StartingPosition: {position!r} is not supported locally")
    filters = tuple(
        _filter_pattern(entry, f"{where}.FilterCriteria.Filters[{n}]")
        for n, entry in enumerate((props.get("FilterCriteria") or {}).get("Filters") or [])
    )
    on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure")) or {}
    destination = None
    if on_failure:
        target = str(on_failure.get("Destination", ""))
        destination = next((q.logical_id for q in queues.values() if q.arn == target), None)
        if destination is None:
            raise TemplateError(
                f"{where}.DestinationConfig.OnFailure: only a queue of the template is supported locally"
            )
    function.streams.append(
        StreamSource(
            event=event.name,
            table=table,
            starting_position=position,
            batch_size=int(props.get("BatchSize", 100)),
            filters=filters,
            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            bisect_on_error=_truthy(props.get("BisectBatchOnFunctionError", False)),
            max_retries=int(props.get("MaximumRetryAttempts", -1)),
            on_failure=destination,
            enabled=_truthy(props.get("Enabled", True)),
        )
    )


# What Lambda's event filtering offers beyond lists of exact values; the runner knows these.
_FILTER_OPERATORS = frozenset({"prefix", "exists"})


def _filter_pattern(entry: Any, where: str) -> dict[str, Any]:
    """A filter's Pattern, parsed and checked: nested objects ending in lists of exact values (strings,
    numbers, null) or of {"prefix": text} / {"exists": bool}. Any other syntax is refused by name."""
    text = entry.get("Pattern") if isinstance(entry, Mapping) else None
    if not isinstance(text, str):
        raise TemplateError(f"{where}.Pattern: a JSON text is expected, got {text!r}")
    try:
        pattern = json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"{where}.Pattern: not JSON ({exc})") from exc
    _check_pattern(pattern, f"{where}.Pattern")
    return dict(pattern)


def _check_pattern(node: Any, where: str) -> None:
    if not isinstance(node, Mapping) or not node:
        raise TemplateError(f"{where}: a filter pattern level is a non-empty object, got {node!r}")
    for key, value in node.items():
        at = f"{where}.{key}"
        if isinstance(value, Mapping):
            _check_pattern(value, at)
            continue
        if not isinstance(value, list) or not value:
            raise TemplateError(f"{at}: a filter pattern leaf is a non-empty list, got {value!r}")
        for item in value:
            if isinstance(item, Mapping):
                operator = next(iter(item)) if len(item) == 1 else None
                if operator not in _FILTER_OPERATORS:
                    raise TemplateError(f"{at}: filter operator {sorted(item)} is not supported locally")
                expected = str if operator == "prefix" else bool
                if not isinstance(item[operator], expected):
                    raise TemplateError(
                        f"{at}: {operator} takes a {expected.__name__}, got {item[operator]!r}"
                    )
            elif not (item is None or isinstance(item, str | int | float)) or isinstance(item, bool):
                raise TemplateError(f"{at}: filter value {item!r} is not supported locally")


def _schedule_event(
    resolver: _Resolver, function: Function, event: _Event, queues: Mapping[str, Queue], warnings: list[str]
) -> None:
    props = resolver.pick(event.properties, _SCHEDULE_EVENT_KEYS, f"{event.where}.Properties")
    v1 = event.kind == "Schedule"
    expression = str(props.get("Schedule" if v1 else "ScheduleExpression", ""))
    state = str(props.get("State", "ENABLED")).upper()
    rule = str(props.get("Name") or f"{resolver.stack_name}-{function.logical_id}{event.name}")
    service, resource = ("events", "rule") if v1 else ("scheduler", "schedule/default")
    function.schedules.append(
        ScheduleSource(
            event=event.name,
            kind=event.kind,
            expression=expression,
            input=None if props.get("Input") is None else str(props["Input"]),
            enabled=_truthy(props.get("Enabled", True)) and state != "DISABLED",
            rule_arn=f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}/{rule}",
        )
    )


# The event types the runner delivers: Api events become routes, SQS events and DynamoDB streams
# pollers, schedules timers.
_EVENT_SOURCES: dict[str, Callable[[_Resolver, Function, _Event, Mapping[str, Queue], list[str]], None]] = {
    "Api": _api_event,
    "SQS": _sqs_event,
    "DynamoDB": _dynamodb_event,
    "Schedule": _schedule_event,
    "ScheduleV2": _schedule_event,
}


def _api(resolver: _Resolver, by_type: Mapping[str, list[str]], functions: Mapping[str, Function]) -> Api:
    """The API serving the routes: the one most events attach to (the implicit one if none is declared)."""
    counts: dict[str, int] = {}
    for function in functions.values():
        for route in function.routes:
            counts[route.api] = counts.get(route.api, 0) + 1
    declared = by_type.get("AWS::Serverless::Api", [])
    logical = (
        max(counts, key=lambda api: counts[api]) if counts else (declared[0] if declared else IMPLICIT_API)
    )
    raw = resolver.props(logical) if logical in declared else {}
    props = resolver.pick(raw, _API_KEYS, f"Resources.{logical}.Properties")

    responses = {}
    for response_type, spec_or_none in (props.get("GatewayResponses") or {}).items():
        spec = spec_or_none or {}
        headers = ((spec.get("ResponseParameters") or {}).get("Headers")) or {}
        responses[str(response_type)] = GatewayResponse(
            status=None if spec.get("StatusCode") is None else int(spec["StatusCode"]),
            templates={str(k): str(v) for k, v in (spec.get("ResponseTemplates") or {}).items()},
            # Mapping expressions ('literal', context.requestId, ...): evaluated per response.
            headers={str(k): str(v) for k, v in headers.items()},
        )
    cors = props.get("Cors")
    if isinstance(cors, str):
        cors = {"AllowOrigin": cors}
    return Api(
        logical_id=logical,
        stage=str(props.get("StageName", "Prod")),
        gateway_responses=responses,
        cors={str(k): _unquote(str(v)) for k, v in cors.items()} if isinstance(cors, Mapping) else None,
        binary_media_types=[str(item).replace("~1", "/") for item in props.get("BinaryMediaTypes") or []],
    )


def _unquote(value: str) -> str:
    """API Gateway header mappings are quoted literals ("'*'"); the header value is what is inside."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    return value
