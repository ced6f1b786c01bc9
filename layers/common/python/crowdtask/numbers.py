"""Numbers the table holds: DynamoDB's rule (38 significant digits, 1E-130..1E+125), and numbers
coming back from it as Decimal turned into the int or float that free-form JSON wants."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

from crowdtask import errors

# DynamoDB's number type, as boto3 checks it (boto3.dynamodb.types.DYNAMODB_CONTEXT, not imported
# here so that validating a bulk upload does not load boto3).
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])
_SMALLEST, _TOO_LARGE = Decimal("1E-130"), Decimal("1E+126")
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
    # boto3's context lets through subnormal numbers and 1E+126 itself, which DynamoDB refuses
    return not number or _SMALLEST <= abs(number) < _TOO_LARGE


# A number in free-form JSON (`properties`, task templates): what the table holds, said so that a JSON
# Schema can state it too. A whole number is below 1E+38 in size (the double nearest it: documents
# carry bounds as doubles), so of at most 38 digits; any other number is a double (below 2**53 in
# size, 17 significant digits at most), held when it is not too close to 0.
FREE_INTEGER_LIMIT = 1e38
FREE_FRACTION_FLOOR = 1e-130
FREE_NUMBER_RULE = "a whole number below 1E+38 in size, or another number at least 1E-130 in size"
FREE_NUMBER_SCHEMA: dict[str, Any] = {
    "type": "number",
    "if": {"type": "integer"},
    "then": {"exclusiveMinimum": -FREE_INTEGER_LIMIT, "exclusiveMaximum": FREE_INTEGER_LIMIT},
    "else": {"anyOf": [{"minimum": FREE_FRACTION_FLOOR}, {"maximum": -FREE_FRACTION_FLOOR}]},
    "description": FREE_NUMBER_RULE,
}


def free_number(value: float) -> bool:
    """Whether free-form JSON may hold `value` (FREE_NUMBER_RULE)."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, int) or value.is_integer():
        return abs(value) < FREE_INTEGER_LIMIT
    return abs(value) >= FREE_FRACTION_FLOOR


def refused_free_number_at(value: Any, path: str = "") -> str | None:
    """The path (`a.b[2].c`) of the first number in JSON `value` that free-form JSON may not hold."""
    return _first_number_at(value, path, free_number)


def unstorable_number_at(value: Any, path: str = "") -> str | None:
    """The path (`a.b[2].c`) of the first number in JSON `value` that the table cannot hold, or None."""
    return _first_number_at(value, path, storable_number)


def _first_number_at(value: Any, path: str, allowed: Callable[[Any], bool]) -> str | None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _first_number_at(item, f"{path}.{key}" if path else str(key), allowed)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_number_at(item, f"{path}[{index}]", allowed)
            if found is not None:
                return found
    elif isinstance(value, int | float) and not isinstance(value, bool) and not allowed(value):
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
