"""Base classes shared by every model of the API."""

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
)
from typing_extensions import TypeAliasType

from crowdtask import errors, numbers

MAX_MEMBERS = 1000  # tasks in a job, jobs in a campaign


class ApiModel(BaseModel):
    """A request body: unknown fields are refused (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class OutModel(BaseModel):
    """A response body or stored record: extra keys are kept as they are."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)


def id_text(value: Any) -> Any:
    """Clients of the seed API send ids as JSON numbers; ids are strings here."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


# A request's numbers and flags are JSON's own types, as the document states them: pydantic would read
# true / false as 1 / 0, "12" as 12, and 0, 1, "yes" or "off" as a flag. Values read from text (the
# cells of a CSV upload) are validated with the context FROM_TEXT, and text is read as pydantic reads it.
FROM_TEXT = {"from_text": True}


def _from_text(value: Any, info: ValidationInfo) -> bool:
    context = info.context or {}
    return isinstance(value, str) and bool(context.get("from_text"))


def a_number(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, bool) or (isinstance(value, str) and not _from_text(value, info)):
        kind = "a boolean" if isinstance(value, bool) else "text"
        raise ValueError(f"Input should be a JSON number, not {kind}")
    return value


def a_flag(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, bool) and not _from_text(value, info):
        raise ValueError("Input should be true or false")
    return value


Whole = Annotated[int, BeforeValidator(a_number)]
Real = Annotated[float, BeforeValidator(a_number)]
Flag = Annotated[bool, BeforeValidator(a_flag)]

ResourceId = Annotated[
    str, BeforeValidator(id_text), Field(min_length=1, max_length=64, description="id of a resource")
]
# The length limit is the service's (MemberList.limit): Powertools mis-reads a Field() on a list body.
IdList = list[ResourceId]


def no_empty_keys(value: Any) -> Any:
    """DynamoDB refuses an empty map key at any depth: refuse it here as a 422, not there as a 500."""
    if isinstance(value, dict):
        if "" in value:
            raise ValueError("keys must not be empty, at any depth")
        for inner in value.values():
            no_empty_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            no_empty_keys(inner)
    return value


def free_numbers(value: Any) -> Any:
    """Numbers in free-form JSON are those the table holds, as FreeNumber states them."""
    path = numbers.refused_free_number_at(value)
    if path is not None:
        raise errors.RefusedWithin(path, f"Expected {numbers.FREE_NUMBER_RULE}")
    return value


# Any JSON value whose objects have no empty key, at any depth (DynamoDB refuses one): the
# document states it with a recursive schema (FreeValue), and validation follows the same type.
FreeKey = Annotated[str, Field(min_length=1)]
# The number rule is checked over the whole value (free_numbers), so that a refusal names its path.
FreeNumber = Annotated[int | float, WithJsonSchema(numbers.FREE_NUMBER_SCHEMA)]
FreeValue = TypeAliasType(
    "FreeValue",
    "bool | FreeNumber | str | list[FreeValue] | dict[FreeKey, FreeValue] | None",
)

# A free-form JSON object a client stores with a resource (`properties`, a campaign's task template).
JsonObject = Annotated[dict[FreeKey, FreeValue], AfterValidator(no_empty_keys), AfterValidator(free_numbers)]


def decimal_pattern(power: int, *, positive: bool) -> str:
    """Decimal text from 0 (or above 0 when `positive`) to 10**power, to six places, as a regex."""
    top = f"1{'0' * power}(?:\\.0{{1,6}})?"
    if positive:
        return f"^(?:{top}|[1-9][0-9]{{0,{power - 1}}}(?:\\.[0-9]{{1,6}})?|0?\\.[0-9]{{0,5}}[1-9])$"
    return f"^(?:{top}|[0-9]{{1,{power}}}(?:\\.[0-9]{{1,6}})?)$"


def decimal_text(power: int, *, positive: bool = False) -> BeforeValidator:
    """Decimal text is held to the pattern the document states (pydantic's own pattern for decimal
    text lets through text it then refuses, such as "0x"); JSON numbers pass on to the field."""
    pattern = decimal_pattern(power, positive=positive)

    def check_text(value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(pattern, value):
            raise ValueError(f"a decimal text from 0 to {10**power}, to six places, such as '12.5'")
        return value

    return BeforeValidator(check_text)


def decimal_field(power: int, *, positive: bool = False, **field: Any) -> Any:
    """A decimal to the millionth up to 10**power, sent as a JSON number or as text: the document
    states both forms exactly (the number's bounds and `multipleOf`, the text's pattern)."""
    pattern = decimal_pattern(power, positive=positive)

    def document(schema: dict[str, Any]) -> None:
        if schema.get("type") == "string":
            schema["pattern"] = pattern
        for branch in schema.get("anyOf", []):
            document(branch)

    # the step is exact (a Decimal): pydantic's annotation says float, which would not be
    constraints: dict[str, Any] = {
        ("gt" if positive else "ge"): 0,
        "le": Decimal(10) ** power,
        "max_digits": power + 7,
        "decimal_places": 6,
        "multiple_of": Decimal("0.000001"),
        "allow_inf_nan": False,
    }
    return Field(json_schema_extra=document, **constraints, **field)
