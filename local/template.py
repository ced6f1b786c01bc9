"""Load the SAM template and resolve the resources, functions and events the local runner serves."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
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
class ScheduleSource:
    event: str
    kind: str  # "Schedule" or "ScheduleV2"
    expression: str
    input: str | None  # JSON text; replaces the scheduled event like an EventBridge target Input
    enabled: bool
    rule_arn: str


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
    schedules: list[ScheduleSource] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.name}"


@dataclass(frozen=True)
class Table:
    logical_id: str
    name: str
    arn: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str
    properties: dict[str, Any]


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
    api: Api
    warnings: list[str]

    @property
    def routes(self) -> list[Route]:
        return [route for function in self.functions.values() for route in function.routes]

    def queue_by_arn(self, arn: str) -> Queue | None:
        return next((queue for queue in self.queues.values() if queue.arn == arn), None)


# ---------------------------------------------------------------- intrinsic functions

_NO_VALUE = object()  # AWS::NoValue: the key or item disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_ARN_SHAPES = {
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{name}",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Serverless::LayerVersion": "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    "AWS::Lambda::LayerVersion": "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
}
# The properties the runner reads; nothing else is resolved (see _Resolver.pick).
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
_SCHEDULE_EVENT_KEYS = frozenset({"Schedule", "ScheduleExpression", "Input", "Enabled", "State", "Name"})
_API_KEYS = frozenset({"StageName", "GatewayResponses", "Cors", "BinaryMediaTypes"})


def _pseudo_parameters(stack_name: str) -> dict[str, Any]:
    return {
        "AWS::StackName": stack_name,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": _NO_VALUE,
    }


_LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


class _Resolver:
    """Evaluates intrinsic functions against parameters and the local physical ids."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        queue_url_base: str,
        stack_name: str = STACK_NAME,
    ):
        self.template = template
        self.stack_name = stack_name
        self.pseudo_parameters = _pseudo_parameters(stack_name)
        self.resources: dict[str, Any] = template.get("Resources") or {}
        self.parameters = dict(parameters)
        self.queue_url_base = queue_url_base.rstrip("/")
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()
        self._conditions: dict[str, bool] = {}

    # -- physical ids

    def type_of(self, logical_id: str) -> str:
        resource = self.resources.get(logical_id)
        if not isinstance(resource, Mapping):
            raise TemplateError(f"unknown resource or parameter {logical_id!r}")
        return str(resource.get("Type", ""))

    def props(self, logical_id: str) -> Mapping[str, Any]:
        return self.resources[logical_id].get("Properties") or {}

    def name(self, logical_id: str) -> str:
        """The physical name; deterministic (stack-Logical) where CloudFormation would add a suffix."""
        if logical_id in self._names:
            return self._names[logical_id]
        if logical_id in self._naming:
            raise TemplateError(f"circular reference while naming {logical_id}")
        self._naming.add(logical_id)
        kind, props = self.type_of(logical_id), self.props(logical_id)
        explicit = {
            "AWS::DynamoDB::Table": "TableName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::Events::EventBus": "Name",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::S3::Bucket": "BucketName",
        }.get(kind)
        if explicit and explicit in props:
            value = str(self.resolve(props[explicit]))
        else:
            value = f"{self.stack_name}-{logical_id}"
            if kind == "AWS::SQS::Queue" and _truthy(self.resolve(props.get("FifoQueue", False))):
                value += ".fifo"
        self._naming.discard(logical_id)
        self._names[logical_id] = value
        return value

    def arn(self, logical_id: str) -> str:
        kind, name = self.type_of(logical_id), self.name(logical_id)
        # Unknown types get an ARN of the usual shape: it only has to be a stable, unique string locally.
        service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
        shape = _ARN_SHAPES.get(
            kind, f"arn:aws:{service}:{{region}}:{{account}}:{kind.rsplit('::', 1)[-1].lower()}/{{name}}"
        )
        return shape.format(region=REGION, account=ACCOUNT_ID, name=name)

    def queue_url(self, logical_id: str) -> str:
        return f"{self.queue_url_base}/{ACCOUNT_ID}/{self.name(logical_id)}"

    # -- Ref / GetAtt

    def ref(self, name: str) -> Any:
        if name in self.pseudo_parameters:
            return self.pseudo_parameters[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self.type_of(name)
        if kind == "AWS::SQS::Queue":
            return self.queue_url(name)
        if kind in ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
            return API_ID
        # A layer's Ref is its version ARN (locally only its folder matters); a topic's is its ARN.
        return self.arn(name) if kind in (*_LAYER_TYPES, "AWS::SNS::Topic") else self.name(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        kind = self.type_of(logical_id)
        if attribute == "Arn":
            return self.arn(logical_id)
        attributes = {
            ("AWS::SQS::Queue", "QueueName"): self.name,
            ("AWS::SQS::Queue", "QueueUrl"): self.queue_url,
            ("AWS::Events::EventBus", "Name"): self.name,
            ("AWS::DynamoDB::Table", "StreamArn"): lambda logical: f"{self.arn(logical)}/stream/local",
        }
        if (kind, attribute) not in attributes:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not supported locally")
        return attributes[kind, attribute](logical_id)

    # -- conditions

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def resource_enabled(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return True if condition is None else self.condition(condition)

    # -- evaluation

    def pick(self, props: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
        """Only the properties the runner uses are resolved: the others may use what it cannot emulate."""
        picked = {key: self.resolve(value) for key, value in props.items() if key in keys}
        return {key: value for key, value in picked.items() if value is not _NO_VALUE}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(str(arg))
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        evaluate = getattr(self, f"_fn_{name.lower()}", None)
        if evaluate is None:
            raise TemplateError(f"Fn::{name} is not supported locally")
        return evaluate(arg)

    def _fn_getatt(self, arg: Any) -> Any:
        parts = arg.split(".", 1) if isinstance(arg, str) else [self.resolve(part) for part in arg]
        return self.get_att(str(parts[0]), str(parts[1]))

    def _fn_join(self, arg: Any) -> str:
        separator, items = arg
        return str(separator).join(_text(item) for item in self.resolve(items))

    def _fn_if(self, arg: Any) -> Any:
        condition, when_true, when_false = arg
        return self.resolve(when_true if self.condition(condition) else when_false)

    def _fn_equals(self, arg: Any) -> bool:
        left, right = (self.resolve(item) for item in arg)
        return _text(left) == _text(right)

    def _fn_not(self, arg: Any) -> bool:
        return not self.resolve(arg[0])

    def _fn_and(self, arg: Any) -> bool:
        return all(self.resolve(item) for item in arg)

    def _fn_or(self, arg: Any) -> bool:
        return any(self.resolve(item) for item in arg)

    def _fn_select(self, arg: Any) -> Any:
        index, items = self.resolve(arg)
        return items[int(index)]

    def _fn_split(self, arg: Any) -> list[str]:
        separator, text = self.resolve(arg)
        return str(text).split(str(separator))

    def _fn_findinmap(self, arg: Any) -> Any:
        table, first, second = self.resolve(arg)
        try:
            return self.template["Mappings"][table][first][second]
        except KeyError as exc:
            raise TemplateError(f"Fn::FindInMap {table}/{first}/{second}: no such entry") from exc

    def _fn_getazs(self, arg: Any) -> list[str]:
        return [f"{REGION}{zone}" for zone in "abc"]

    def _fn_base64(self, arg: Any) -> str:
        return base64.b64encode(_text(self.resolve(arg)).encode()).decode()

    def _fn_tojsonstring(self, arg: Any) -> str:
        return json.dumps(self.resolve(arg), separators=(",", ":"))

    def _fn_sub(self, arg: Any) -> str:
        return self._sub(arg)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], arg[1] if len(arg) > 1 else {}
        else:
            text, variables = arg, {}
        variables = {key: self.resolve(item) for key, item in (variables or {}).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):  # ${!Literal} stays a literal ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, _, attribute = name.partition(".")
                return _text(self.get_att(logical, attribute))
            return _text(self.ref(name))

        return _SUB_VARIABLE.sub(replace, str(text))


def _text(value: Any) -> str:
    """A value as CloudFormation renders it into a string (booleans lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError(f"cannot use {value!r} where a string is expected")
    return str(value)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


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


# ---------------------------------------------------------------- parameters


def resolve_parameters(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Parameter values from `given` or the defaults, validated like CloudFormation validates them."""
    values: dict[str, str] = {}
    missing = []
    for name, declared in (template.get("Parameters") or {}).items():
        spec = declared or {}
        if name in given:
            value = str(given[name])
        elif "Default" in spec:
            value = _text(spec["Default"])
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
    warnings: list[str] = []
    by_type: dict[str, list[str]] = {}
    for logical_id, resource in resolver.resources.items():
        if isinstance(resource, Mapping) and resolver.resource_enabled(logical_id):
            by_type.setdefault(str(resource.get("Type")), []).append(logical_id)

    tables = {
        logical: Table(
            logical,
            resolver.name(logical),
            resolver.arn(logical),
            resolver.pick(resolver.props(logical), _TABLE_KEYS),
        )
        for logical in by_type.get("AWS::DynamoDB::Table", [])
    }
    queues = {
        logical: Queue(
            logical,
            resolver.name(logical),
            resolver.queue_url(logical),
            resolver.arn(logical),
            resolver.pick(resolver.props(logical), _QUEUE_KEYS),
        )
        for logical in by_type.get("AWS::SQS::Queue", [])
    }
    buses = {
        logical: EventBus(logical, resolver.name(logical), resolver.arn(logical))
        for logical in by_type.get("AWS::Events::EventBus", [])
    }

    globals_function = (template.get("Globals") or {}).get("Function") or {}
    functions: dict[str, Function] = {}
    for kind in _FUNCTION_TYPES:
        for logical in by_type.get(kind, []):
            props = _merge_globals(globals_function, dict(resolver.props(logical)))
            function = _function(resolver, path.parent, logical, props, queues, warnings)
            if function is not None:
                functions[logical] = function

    api = _api(resolver, template, by_type, functions)
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
        api=api,
        warnings=warnings,
    )


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
    runtime = str(resolver.resolve(props.get("Runtime", "")))
    if runtime and not runtime.startswith("python"):
        warnings.append(f"{logical}: runtime {runtime} is not supported locally; function skipped")
        return None
    code_uri = resolver.resolve(props.get("CodeUri"))
    if not isinstance(code_uri, str):
        raise TemplateError(f"{logical}: CodeUri must be a local folder, got {code_uri!r}")
    handler = str(resolver.resolve(props.get("Handler", "")))
    if "." not in handler:
        raise TemplateError(f"{logical}: Handler must look like module.function, got {handler!r}")

    layer_dirs: list[Path] = []
    for layer in props.get("Layers") or []:
        layer_id = layer.get("Ref") if isinstance(layer, Mapping) else None
        if layer_id in resolver.resources and resolver.type_of(layer_id) in _LAYER_TYPES:
            layer_props = resolver.props(layer_id)
            content = layer_props.get("ContentUri") or layer_props.get("Content")
            if isinstance(content, str):
                # Lambda mounts a layer at /opt and puts /opt/python (+ its site-packages) on sys.path.
                python_dir = (root / content / "python").resolve()
                site = python_dir / "lib" / "python3.11" / "site-packages"
                layer_dirs.extend([site, python_dir] if site.is_dir() else [python_dir])
                continue
        warnings.append(f"{logical}: layer {layer!r} is not a local folder; ignored")

    variables = ((props.get("Environment") or {}).get("Variables")) or {}
    environment = {}
    for key, value in variables.items():
        resolved = resolver.resolve(value)
        if resolved is not _NO_VALUE:
            environment[str(key)] = _text(resolved)

    reserved = props.get("ReservedConcurrentExecutions")
    function = Function(
        logical_id=logical,
        name=resolver.name(logical),
        code_dir=(root / code_uri).resolve(),
        handler=handler,
        layer_dirs=layer_dirs,
        environment=environment,
        memory_mb=int(resolver.resolve(props.get("MemorySize", DEFAULT_MEMORY_MB))),
        timeout_s=int(resolver.resolve(props.get("Timeout", DEFAULT_TIMEOUT_S))),
        reserved_concurrency=None if reserved is None else int(resolver.resolve(reserved)),
    )
    for event_name, event in (props.get("Events") or {}).items():
        _attach_event(resolver, function, event_name, event or {}, queues, warnings)
    return function


def _attach_event(
    resolver: _Resolver,
    function: Function,
    name: str,
    event: Mapping[str, Any],
    queues: Mapping[str, Queue],
    warnings: list[str],
) -> None:
    kind = event.get("Type")
    raw = event.get("Properties") or {}
    where = f"{function.logical_id}.{name}"
    if kind == "Api":
        api_ref = raw.get("RestApiId")
        api = api_ref.get("Ref") if isinstance(api_ref, Mapping) and "Ref" in api_ref else IMPLICIT_API
        # Only Path and Method matter locally; Auth and friends may reference things not emulated.
        path = str(resolver.resolve(raw["Path"]))
        method = str(resolver.resolve(raw.get("Method", "ANY"))).upper()
        function.routes.append(Route(path, method, function.logical_id, name, str(api)))
    elif kind == "SQS":
        props = resolver.pick(raw, _SQS_EVENT_KEYS)
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
                event=name,
                queue=queue.logical_id,
                queue_arn=queue_arn,
                batch_size=int(props.get("BatchSize", 10)),
                window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                max_concurrency=None if concurrency is None else int(concurrency),
                enabled=_truthy(props.get("Enabled", True)),
            )
        )
    elif kind in ("Schedule", "ScheduleV2"):
        props = resolver.pick(raw, _SCHEDULE_EVENT_KEYS)
        expression = str(props.get("Schedule" if kind == "Schedule" else "ScheduleExpression", ""))
        state = str(props.get("State", "ENABLED")).upper()
        rule = str(props.get("Name") or f"{resolver.stack_name}-{function.logical_id}{name}")
        service, resource = ("events", "rule") if kind == "Schedule" else ("scheduler", "schedule/default")
        function.schedules.append(
            ScheduleSource(
                event=name,
                kind=kind,
                expression=expression,
                input=None if props.get("Input") is None else str(props["Input"]),
                enabled=_truthy(props.get("Enabled", True)) and state != "DISABLED",
                rule_arn=f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}/{rule}",
            )
        )
    else:
        warnings.append(f"{where}: event type {kind} is not run locally")


def _api(
    resolver: _Resolver,
    template: Mapping[str, Any],
    by_type: Mapping[str, list[str]],
    functions: Mapping[str, Function],
) -> Api:
    """The API serving the routes: the one most events attach to (the implicit one if none is declared)."""
    counts: dict[str, int] = {}
    for function in functions.values():
        for route in function.routes:
            counts[route.api] = counts.get(route.api, 0) + 1
    declared = by_type.get("AWS::Serverless::Api", [])
    logical = (
        max(counts, key=lambda api: counts[api]) if counts else (declared[0] if declared else IMPLICIT_API)
    )
    globals_api = (template.get("Globals") or {}).get("Api") or {}
    raw = resolver.props(logical) if logical in declared else {}
    props = resolver.pick(_merge_globals(globals_api, dict(raw)), _API_KEYS)

    responses = {}
    for response_type, declared in (props.get("GatewayResponses") or {}).items():
        spec = declared or {}
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
