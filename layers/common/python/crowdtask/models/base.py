"""Base classes shared by every model of the API."""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

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


# A free-form JSON object a client stores with a resource (`properties`, a campaign's task template).
JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(no_empty_keys),
    Field(json_schema_extra={"propertyNames": {"minLength": 1}}),
]
