"""Numbers the table holds: DynamoDB's rule (38 significant digits, 1E-130..1E+125), and numbers
coming back from it as Decimal turned into the int or float that free-form JSON wants."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

from crowdtask import errors

# DynamoDB's number type, as boto3 checks it (boto3.dynamodb.types.DYNAMODB_CONTEXT, not imported
# here so that validating a bulk upload does not load boto3).
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])
NUMBER_RULE = "a number of at most 38 significant digits, between 1E-130 and 1E+125 in size"


def storable_number(value: float | Decimal) -> bool:
    """Whether the table holds `value` exactly (floats are stored by their shortest repr)."""
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        return False
    try:
        _NUMBERS.create_decimal(number)
    except ArithmeticError:
        return False
    return True


def unstorable_number_at(value: Any, path: str = "") -> str | None:
    """The path (`a.b[2].c`) of the first number in JSON `value` that the table cannot hold, or None."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = unstorable_number_at(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_number_at(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif isinstance(value, int | float) and not isinstance(value, bool) and not storable_number(value):
        return path or "body"
    return None


def refuse_unstorable(data: Mapping[str, Any]) -> None:
    """ValidationFailed (422) naming the first number of `data` the table cannot hold, if any."""
    field = unstorable_number_at(data)
    if field is not None:
        raise errors.ValidationFailed.one(field, f"Expected {NUMBER_RULE} (not NaN or Infinity)")


def plain_numbers(value: Any) -> Any:
    """Stored numbers come back as Decimal; free-form JSON (components, properties) wants int/float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_numbers(v) for v in value]
    return value
