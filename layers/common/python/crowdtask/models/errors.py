"""The error body of every failed request, as documented (crowdtask.errors writes it)."""

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str = Field(description="path of the offending field, e.g. `components[0].option1`")
    message: str = Field(description="what is wrong with it")
    code: str = Field(description="machine-readable reason, e.g. `VALUE_REQUIRED`, `INVALID_VALUE`")


class ErrorBody(BaseModel):
    code: int = Field(description="stable numeric error code")
    message: str = Field(description="short error message")
    description: str = Field(description="a user-friendly description of what went wrong")
    errors: list[FieldError] | None = Field(
        default=None, description="per-field problems (422; 404 names the field whose ids name nothing)"
    )
    balance: dict[str, str] | None = Field(
        default=None,
        description="a 409 of a payment the balance does not cover: the account's balance, "
        "`{available, frozen}`, when it was refused",
    )
