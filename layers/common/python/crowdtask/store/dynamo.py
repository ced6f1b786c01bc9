"""DynamoDB access: one client per container (made with its first call), item (de)serialisation, errors."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.client import BaseClient
from botocore.config import Config

from crowdtask import parallel
from crowdtask.config import settings
from crowdtask.numbers import refuse_unstorable
from crowdtask.store import Refused, aws


class ConditionFailed(Refused):
    """A conditional write found the item in another state than the condition required."""


T = TypeVar("T")
_CONTENDED = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


class TransactionConflict(Exception):
    """A transaction was cancelled; `reasons` holds one cancellation code per operation."""

    def __init__(self, reasons: list[str]):
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        """Did the operation at `index` fail its condition?"""
        return len(self.reasons) > index and self.reasons[index] == "ConditionalCheckFailed"


@lru_cache(maxsize=1)
def client() -> BaseClient:
    return aws.client(
        "dynamodb",
        config=Config(retries={"max_attempts": 8, "mode": "adaptive"}, tcp_keepalive=True),
    )


@lru_cache(maxsize=1)
def _codecs() -> tuple[Any, Any]:
    return TypeSerializer(), TypeDeserializer()


def table() -> str:
    return settings().table_name


def _clean(value: Any) -> Any:
    """Floats become Decimals (DynamoDB numbers are exact); empty sets are dropped by callers."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


UNSTORABLE = (ArithmeticError, TypeError)  # what boto3's serializer raises for such a number


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    """The item in DynamoDB's wire format. A number the table cannot hold is the caller's input
    (stored fields carry the names clients sent): 422 naming it, not a failed write."""
    serializer, _ = _codecs()
    try:
        return {k: serializer.serialize(_clean(v)) for k, v in data.items() if v is not None}
    except UNSTORABLE:
        refuse_unstorable(data)
        raise


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    _, deserializer = _codecs()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def as_read(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` as a read answers it once written: numbers as Decimals, None left out."""
    return from_item(to_item(data))


def values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Expression attribute values in wire format."""
    serializer, _ = _codecs()
    return {k: serializer.serialize(_clean(v)) for k, v in data.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def get(pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
    response = client().get_item(TableName=table(), Key=key(pk, sk), ConsistentRead=consistent)
    item = response.get("Item")
    return from_item(item) if item else None


def put(
    data: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    vals: Mapping[str, Any] | None = None,
    also: Sequence[dict[str, Any]] = (),
) -> None:
    """Put an item; with `also` (transaction items, such as outbox events) in one transaction with them."""
    if also:
        _transact_first(put_op(data, condition, names=names, vals=vals), also)
        return
    kwargs: dict[str, Any] = {"TableName": table(), "Item": to_item(data)}
    _add_expression(kwargs, condition, names, vals)
    try:
        client().put_item(**kwargs)
    except Exception as exc:
        if _error_code(exc) == "ConditionalCheckFailedException":
            raise ConditionFailed(str(exc)) from exc
        raise


def update(
    pk: str,
    sk: str,
    expression: str,
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    vals: Mapping[str, Any] | None = None,
    also: Sequence[dict[str, Any]] = (),
    read_back: bool = True,
) -> dict[str, Any]:
    """Apply an update expression; returns the item as it is after the update.

    With `also` (transaction items, such as outbox events) the update commits in one transaction
    with them, and the item is then read back (a transaction returns no values) unless the caller
    has no use for it (`read_back=False`: {} is returned)."""
    if also:
        _transact_first(update_op(pk, sk, expression, condition, names=names, vals=vals), also)
        return (get(pk, sk, consistent=True) or {}) if read_back else {}
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "Key": key(pk, sk),
        "UpdateExpression": expression,
        "ReturnValues": "ALL_NEW",
    }
    _add_expression(kwargs, condition, names, vals)
    try:
        response = client().update_item(**kwargs)
    except Exception as exc:
        if _error_code(exc) == "ConditionalCheckFailedException":
            raise ConditionFailed(str(exc)) from exc
        raise
    return from_item(response.get("Attributes", {}))


def delete(
    pk: str,
    sk: str,
    *,
    condition: str | None = None,
    vals: Mapping[str, Any] | None = None,
    also: Sequence[dict[str, Any]] = (),
) -> None:
    if also:
        _transact_first(delete_op(pk, sk, condition, vals=vals), also)
        return
    kwargs: dict[str, Any] = {"TableName": table(), "Key": key(pk, sk)}
    _add_expression(kwargs, condition, None, vals)
    try:
        client().delete_item(**kwargs)
    except Exception as exc:
        if _error_code(exc) == "ConditionalCheckFailedException":
            raise ConditionFailed(str(exc)) from exc
        raise


def _add_expression(
    kwargs: dict[str, Any],
    condition: str | None,
    names: Mapping[str, str] | None,
    vals: Mapping[str, Any] | None,
) -> None:
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    if vals:
        kwargs["ExpressionAttributeValues"] = values(vals)


def put_op(data: Mapping[str, Any], condition: str | None = None, **expr: Any) -> dict[str, Any]:
    """A Put for `transact`."""
    op: dict[str, Any] = {"TableName": table(), "Item": to_item(data)}
    _add_expression(op, condition, expr.get("names"), expr.get("vals"))
    return {"Put": op}


def update_op(pk: str, sk: str, expression: str, condition: str | None = None, **expr: Any) -> dict[str, Any]:
    """An Update for `transact`."""
    op: dict[str, Any] = {"TableName": table(), "Key": key(pk, sk), "UpdateExpression": expression}
    _add_expression(op, condition, expr.get("names"), expr.get("vals"))
    return {"Update": op}


def delete_op(pk: str, sk: str, condition: str | None = None, **expr: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": table(), "Key": key(pk, sk)}
    _add_expression(op, condition, expr.get("names"), expr.get("vals"))
    return {"Delete": op}


def condition_op(pk: str, sk: str, condition: str, **expr: Any) -> dict[str, Any]:
    """A ConditionCheck for `transact`: the transaction fails unless the item meets the condition."""
    op: dict[str, Any] = {"TableName": table(), "Key": key(pk, sk)}
    _add_expression(op, condition, expr.get("names"), expr.get("vals"))
    return {"ConditionCheck": op}


_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}


def batch_put(items: Iterable[Mapping[str, Any]]) -> None:
    """Unconditional puts in batches of 25, for bulk loads.

    Unprocessed items and throttled calls are retried with exponential backoff (the SDK's own
    retries stop early under a long throttle); RuntimeError if a batch is still not through.
    """
    pending_items = [{"PutRequest": {"Item": to_item(item)}} for item in items]
    for start in range(0, len(pending_items), 25):
        _write_batch(pending_items[start : start + 25])


def batch_put_parallel(items: Sequence[Mapping[str, Any]]) -> None:
    """batch_put for many items: their batches of 25 go in side by side (crowdtask.parallel)."""
    parallel.each(batch_put, [items[start : start + 25] for start in range(0, len(items), 25)])


def batch_delete(keys_: Iterable[tuple[str, str]]) -> None:
    """Delete items by key in batches of 25 (absent ones are fine), with the same retries as batch_put."""
    requests = [{"DeleteRequest": {"Key": key(pk, sk)}} for pk, sk in keys_]
    for start in range(0, len(requests), 25):
        _write_batch(requests[start : start + 25])


def _write_batch(pending: list[dict[str, Any]]) -> None:
    for _attempt in _backoff(attempts=10):
        try:
            response = client().batch_write_item(RequestItems={table(): pending})
        except Exception as exc:
            if _error_code(exc) in _THROTTLED:
                continue
            raise
        pending = response.get("UnprocessedItems", {}).get(table(), [])
        if not pending:
            return
    raise RuntimeError(f"{len(pending)} items still unprocessed after retries")


def transact(operations: list[dict[str, Any]], *, token: str | None = None) -> None:
    """All or nothing. A failed condition raises TransactionConflict with per-operation reasons."""
    kwargs: dict[str, Any] = {"TransactItems": operations}
    if token:
        kwargs["ClientRequestToken"] = token
    try:
        client().transact_write_items(**kwargs)
    except Exception as exc:
        if _error_code(exc) == "TransactionCanceledException":
            reasons = [
                r.get("Code", "None") for r in getattr(exc, "response", {}).get("CancellationReasons", [])
            ]
            raise TransactionConflict(reasons) from exc
        raise


def _transact_first(operation: dict[str, Any], also: Sequence[dict[str, Any]]) -> None:
    """`operation` and `also` in one transaction (retried while a concurrent one cancels it); the
    operation's failed condition is ConditionFailed, as for the single write it stands for."""

    def attempt() -> None:
        transact([operation, *also])

    try:
        retry_contended(attempt)
    except TransactionConflict as exc:
        if exc.failed(0):
            raise ConditionFailed(str(exc)) from exc
        raise


def contended(exc: TransactionConflict) -> bool:
    """Was the transaction cancelled by a concurrent one (or throttled), rather than by a condition?"""
    return any(reason in _CONTENDED for reason in exc.reasons)


def retry_contended(attempt: Callable[[], T], attempts: int = 30) -> T:
    """Run `attempt` until it is not cancelled by a concurrent transaction on the same items.

    A cancellation whose reasons include `TransactionConflict` (or throttling) says nothing about
    the outcome: wait a jittered, growing moment and run it again. Any other outcome returns or
    raises as it is.
    """
    for n in range(attempts):
        try:
            return attempt()
        except TransactionConflict as exc:
            if not contended(exc) or n == attempts - 1:
                raise
            ceiling = min(0.5, 0.01 * 2**n)
            time.sleep(ceiling * (0.5 + secrets.randbelow(1000) / 2000))
    raise AssertionError("unreachable")


def query(
    *,
    key_condition: str,
    vals: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    index: str | None = None,
    forward: bool = True,
    limit: int | None = None,
    filter_expression: str | None = None,
    start_key: dict[str, Any] | None = None,
    consistent: bool = False,
    projection: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a query: (items, LastEvaluatedKey in wire format or None). `projection`: the
    attributes to read (a ProjectionExpression; `names` may name them)."""
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": values(vals),
        "ScanIndexForward": forward,
    }
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    if index:
        kwargs["IndexName"] = index
    elif consistent:
        kwargs["ConsistentRead"] = True
    if limit:
        kwargs["Limit"] = limit
    if filter_expression:
        kwargs["FilterExpression"] = filter_expression
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    if projection:
        kwargs["ProjectionExpression"] = projection
    response = client().query(**kwargs)
    return [from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")


def batch_get(
    keys: Iterable[tuple[str, str]], *, attributes: Iterable[str] | None = None, consistent: bool = False
) -> dict[tuple[str, str], dict[str, Any]]:
    """Fetch many items by key (any number; unprocessed keys are retried with backoff).

    `attributes` limits what is read (pk and sk always come back) to keep big reads cheap.
    """
    wanted = list(dict.fromkeys(keys))
    found: dict[tuple[str, str], dict[str, Any]] = {}
    request: dict[str, Any] = {"ConsistentRead": consistent}
    if attributes is not None:
        names = ["pk", "sk", *attributes]
        request["ProjectionExpression"] = ", ".join(f"#a{n}" for n in range(len(names)))
        request["ExpressionAttributeNames"] = {f"#a{n}": name for n, name in enumerate(names)}
    for start in range(0, len(wanted), 100):
        pending: list[dict[str, Any]] = [key(pk, sk) for pk, sk in wanted[start : start + 100]]
        for _attempt in _backoff():
            response = client().batch_get_item(RequestItems={table(): {"Keys": pending, **request}})
            for raw in response.get("Responses", {}).get(table(), []):
                item = from_item(raw)
                found[(item["pk"], item["sk"])] = item
            pending = response.get("UnprocessedKeys", {}).get(table(), {}).get("Keys", [])
            if not pending:
                break
        if pending:
            raise RuntimeError(f"{len(pending)} keys still unprocessed after retries")
    return found


def _backoff(attempts: int = 8, base: float = 0.05, cap: float = 2.0) -> Iterator[int]:
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(cap, base * 2**attempt))
        yield attempt
