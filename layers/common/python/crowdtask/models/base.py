"""Base classes shared by every model of the API."""

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """A request body: unknown fields are refused (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class OutModel(BaseModel):
    """A response body or stored record: extra keys are kept as they are."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)
