"""Would AWS allow it: each function's recorded AWS calls checked against its policy in the template.

Nothing enforces IAM locally, so a function can pass every local test with a call its role would
be refused on AWS. With LOCAL_AWS_CALL_LOG set, every function worker records the calls it makes
and what they touch (local/aws_calls.py); `refused_calls` says which of them the function's
Policies (local/template.py reads them) do not allow. The e2e suite runs it on all its calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from local import aws_calls
from local.template import ACCOUNT_ID, REGION, Stack, Statement, resource_arn


@dataclass(frozen=True)
class RecordedCall:
    """Calls of one function to one operation that named one resource (see aws_calls._touched)."""

    function: str  # the function's physical name (the worker's label)
    service: str
    operation: str
    part: str  # a transaction item's kind (Put, Update, ...), "version" (an S3 version), or ""
    resource: str  # table or "table/index/name", queue URL or name, bus name or ARN, parameter; "" for none
    count: int


# Operations IAM authorizes as other actions: a transaction's items as the single-item actions
# ("Using IAM with DynamoDB transactions"), SQS batches as their single-message actions.
_ACTIONS = {
    ("dynamodb", "TransactWriteItems", "Put"): "dynamodb:PutItem",
    ("dynamodb", "TransactWriteItems", "Update"): "dynamodb:UpdateItem",
    ("dynamodb", "TransactWriteItems", "Delete"): "dynamodb:DeleteItem",
    ("dynamodb", "TransactWriteItems", "ConditionCheck"): "dynamodb:ConditionCheckItem",
    ("dynamodb", "TransactGetItems", "Get"): "dynamodb:GetItem",
    ("sqs", "SendMessageBatch", ""): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch", ""): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch", ""): "sqs:ChangeMessageVisibility",
    # "HeadObject ... you must have the s3:GetObject permission" (S3 API reference)
    ("s3", "HeadObject", ""): "s3:GetObject",
    # a call naming a version (VersionId) is authorized as the action's version one
    ("s3", "HeadObject", aws_calls.VERSION_PART): "s3:GetObjectVersion",
    ("s3", "GetObject", aws_calls.VERSION_PART): "s3:GetObjectVersion",
    ("s3", "GetObjectTagging", aws_calls.VERSION_PART): "s3:GetObjectVersionTagging",
    ("s3", "PutObjectTagging", aws_calls.VERSION_PART): "s3:PutObjectVersionTagging",
    ("s3", "DeleteObject", aws_calls.VERSION_PART): "s3:DeleteObjectVersion",
}
# The resource type whose ARN a service's calls name.
_RESOURCE_TYPES = {
    "dynamodb": "AWS::DynamoDB::Table",
    "sqs": "AWS::SQS::Queue",
    "events": "AWS::Events::EventBus",
    "s3": "AWS::S3::Bucket",
}


def recorded_calls(directory: Path) -> list[RecordedCall]:
    """Every call the call log files in `directory` hold, the runner's own included."""
    calls: list[RecordedCall] = []
    for path in sorted(directory.glob("*.json")):
        log = json.loads(path.read_text())
        calls.extend(RecordedCall(function=log["label"], **entry) for entry in log.get("touched", []))
    return calls


def iam_request(call: RecordedCall) -> tuple[str, str]:
    """The action and resource ARN IAM authorizes the call as ("*" when it names no resource)."""
    action = _ACTIONS.get((call.service, call.operation, call.part), f"{call.service}:{call.operation}")
    kind = _RESOURCE_TYPES.get(call.service)
    if not call.resource:
        return action, "*"
    if call.service == "ssm":
        # A parameter's ARN holds its name without the leading slash of a hierarchical one.
        return action, f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{call.resource.lstrip('/')}"
    if kind is None:
        return action, "*"
    if call.resource.startswith("arn:"):
        return action, call.resource
    # A queue URL ends with the queue's name.
    name = call.resource.rstrip("/").rsplit("/", 1)[-1] if call.service == "sqs" else call.resource
    return action, resource_arn(kind, name)


def allows(policy: Sequence[Statement], action: str, arn: str) -> bool:
    """IAM's match: action patterns ignore case, resource patterns do not; * and ? are wildcards."""
    return any(
        any(_matches(pattern, action, ignore_case=True) for pattern in statement.actions)
        and any(_matches(pattern, arn, ignore_case=False) for pattern in statement.resources)
        for statement in policy
    )


def _matches(pattern: str, value: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def refused_calls(stack: Stack, calls: Iterable[RecordedCall]) -> list[str]:
    """One line per call the caller's policy does not allow, naming function, action and resource.

    The runner's own calls (its SQS pollers) are left out: on AWS they are Lambda's event source
    mapping, which SAM grants itself. A label that is no function of the stack is reported.
    """
    functions = {function.name: function for function in stack.functions.values()}
    refused = []
    for call in calls:
        if call.function == aws_calls.RUNNER_LABEL:
            continue
        action, arn = iam_request(call)
        part = f" ({call.part})" if call.part else ""
        what = f"{action} on {arn}: {call.operation}{part} x{call.count}"
        function = functions.get(call.function)
        if function is None:
            refused.append(f"{call.function} (not a function of {stack.stack_name}): {what}")
        elif not allows(function.policy, action, arn):
            refused.append(f"{function.logical_id}: {what}")
    return sorted(refused)
