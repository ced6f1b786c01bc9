"""Workstreams and their throughput records (the Throughput seed), totals and CSV uploads."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crowdtask.models.base import ApiModel, Flag, OutModel, Whole, decimal_field, decimal_text

DataSource = Literal["api", "csv_manual", "csv_automated"]
GroupBy = Literal["worker", "use_case", "task_definition", "day"]
MAX_MEASURES = 3
RECEIVED = "Data successfully received."
_MEASURE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _text_id(value: Any) -> Any:
    """Clients of the seed API send ids as JSON numbers; ids are strings here."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def parse_timestamp(value: Any) -> Any:
    """ISO 8601 text to an aware UTC datetime; a time without an offset is taken as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError("must be an ISO 8601 date-time, e.g. 2020-12-22T09:13:24.127Z") from exc
    else:
        raise ValueError("must be an ISO 8601 date-time string, e.g. 2020-12-22T09:13:24.127Z")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_millis(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds, the form records are stored and shown in."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _key_sized(value: str) -> str:
    """Worker ids become part of a sort key (at most 1,024 bytes)."""
    if len(value.encode()) > 512:
        raise ValueError("at most 512 bytes of UTF-8")
    return value


Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]
TextId = Annotated[str, BeforeValidator(_text_id), Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


# ---------------------------------------------------------------- workstreams
class TaskDefinitionIn(ApiModel):
    name: Name = Field(description="name of the task definition, unique within its use case")


class UseCaseIn(ApiModel):
    name: Name = Field(description="name of the use case, unique within the workstream")
    task_definitions: list[TaskDefinitionIn] = Field(
        min_length=1, max_length=100, description="the kinds of task of this use case (ids are generated)"
    )

    @field_validator("task_definitions")
    @classmethod
    def _unique_definitions(cls, value: list[TaskDefinitionIn]) -> list[TaskDefinitionIn]:
        _require_unique([d.name for d in value], "task definition")
        return value


class WorkstreamIn(ApiModel):
    """POST /workstreams: a workstream with its use cases and their task definitions."""

    name: Name = Field(description="name of the workstream")
    use_cases: list[UseCaseIn] = Field(
        min_length=1, max_length=50, description="use cases of the workstream (ids are generated)"
    )

    @field_validator("use_cases")
    @classmethod
    def _unique_use_cases(cls, value: list[UseCaseIn]) -> list[UseCaseIn]:
        _require_unique([u.name for u in value], "use case")
        return value


def _require_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise ValueError(f"{what} names must be unique; {name!r} appears twice")
        seen.add(name.casefold())


class TaskDefinitionOut(OutModel):
    id: str = Field(description="id of the task definition: send it as `task_definition_id`")
    name: str = Field(description="name of the task definition")


class UseCaseOut(OutModel):
    id: str = Field(description="id of the use case: send it as `use_case_id`")
    name: str = Field(description="name of the use case")
    task_definitions: list[TaskDefinitionOut] = Field(description="task definitions of the use case")


class WorkstreamOut(OutModel):
    id: str = Field(description="id of the workstream: the `workstream_id` of the throughput routes")
    name: str = Field(description="name of the workstream")
    use_cases: list[UseCaseOut] = Field(description="use cases with their task definitions")
    api_key: str | None = Field(
        default=None,
        description=(
            "the workstream's `x-api-key`; shown only when the workstream is created and when the key "
            "is rotated (it is stored as a hash and cannot be shown again)"
        ),
    )
    api_key_created_at: str = Field(description="when the current key was issued (UTC ISO 8601)")
    created_at: str = Field(description="when the workstream was created (UTC ISO 8601)")
    updated_at: str = Field(description="when the workstream last changed (UTC ISO 8601)")


# ---------------------------------------------------------------- throughput records
def _parameter_rules(schema: dict[str, Any]) -> None:
    """The document states what _small_scalars checks (20 is stricter by the two known keys)."""
    schema["maxProperties"] = 20
    schema["propertyNames"] = {"minLength": 1, "maxLength": 64}
    schema["additionalProperties"] = {
        "anyOf": [{"type": "string", "maxLength": 500}, {"type": "number"}, {"type": "boolean"}]
    }


class TaskParameters(ApiModel):
    """Key-value pairs that define the task; `dataset_id` and `parent_asset_id` are known keys. Others:
    at most 20, named in 1 to 64 characters, each a text of at most 500 characters, a number or a
    boolean."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_parameter_rules)

    dataset_id: TextId | None = Field(default=None, description="ID of the dataset which the task belongs to")
    parent_asset_id: TextId | None = Field(
        default=None, description="ID of the parent asset which the task belongs to"
    )

    @model_validator(mode="after")
    def _small_scalars(self) -> Self:
        extra = self.model_extra or {}
        if len(extra) > 20:
            raise ValueError("at most 20 task parameters")
        for key, value in extra.items():
            if (
                not 0 < len(key) <= 64
                or not isinstance(value, str | int | float | bool)
                or len(str(value)) > 500
            ):
                raise ValueError(f"task parameter {key!r} must be a short text, number or boolean")
        return self


# Exact decimals that DynamoDB holds (38 digits) even when summed over many records.
Measure = Annotated[Decimal, decimal_field(12), decimal_text(12)]
# The document states the rules _at_most_three checks: three names at most, each of that form.
Measures = Annotated[
    dict[str, Measure],
    Field(
        json_schema_extra={"maxProperties": MAX_MEASURES, "propertyNames": {"pattern": _MEASURE_NAME.pattern}}
    ),
]


class ThroughputIn(ApiModel):
    """One completed unit of work, as POST /workstreams/{workstream_id}/throughput receives it."""

    worker_id: Annotated[str, AfterValidator(_key_sized)] = Field(
        min_length=1,
        max_length=254,
        description="Email address or any other identifier of the worker who completed the task",
        examples=["john.doe@es.cloudfactory.com"],
    )
    task_id: Annotated[str, BeforeValidator(_text_id)] | None = Field(
        default=None, min_length=1, max_length=256, description="ID of task that was completed"
    )
    task_url: str | None = Field(
        default=None, min_length=1, max_length=2048, description="URL of the completed task"
    )
    task_count: Whole = Field(
        default=1,
        ge=1,
        le=1_000_000,
        description=(
            "The total number of tasks that were completed. The default is one, to signify that each "
            "API call represents a single task."
        ),
    )
    subtask_count: Whole | None = Field(
        default=None,
        ge=1,
        le=1_000_000_000,
        description="The total number of subtasks that were completed. The default is null.",
    )
    use_case_id: TextId = Field(
        description=(
            "The ID of the Use Case to which the task belongs. It is validated against the WorkStream "
            "configuration"
        )
    )
    task_definition_id: TextId = Field(
        description=(
            "The ID of the Task Definition to which the task belongs. It is validated against the "
            "WorkStream configuration."
        )
    )
    task_started_at: Timestamp = Field(
        description="Timestamp (in ISO 8601 datetime format) for when the task was started.",
        examples=["2020-12-22T09:13:24.127Z"],
    )
    task_completed_at: Timestamp = Field(
        description=(
            "Timestamp (in ISO 8601 datetime format) for when the task was completed; not before "
            "task_started_at."
        ),
        examples=["2020-12-22T10:13:24.127Z"],
    )
    duration: Annotated[
        Decimal | None,
        decimal_field(
            10,
            description=(
                "The time taken to complete the task (in seconds). If this is not provided, then it is "
                "calculated automatically as 'task_completed_at' minus 'task_started_at'."
            ),
        ),
        decimal_text(10),
    ] = None
    task_created_at: Timestamp | None = Field(
        default=None, description="The task created timestamp in ISO 8601 datetime format"
    )
    measures: Measures | None = Field(
        default=None,
        description=(
            "This can be used to provide up to three different measures for the amount of work "
            "completed: names (letters, digits, `_.-`) to non-negative numbers, e.g. "
            '`{"boxes_drawn": 42}`. Totals add them up per name.'
        ),
    )
    data_source: DataSource | None = Field(
        default=None,
        description=(
            "This can be used to specify how the data was sourced. If it is provided, then the "
            "'data_source' must be one of 'api', 'csv_manual' or 'csv_automated'. Default `api` here, "
            "`csv_manual` on the CSV upload."
        ),
    )
    task_parameters: TaskParameters | None = Field(
        default=None, description="These are key-value pairs used to define the task."
    )
    unique_id: Annotated[str, BeforeValidator(_text_id)] | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description=(
            "Any unique identifier that if sent will be checked for uniqueness in the system for any "
            "given WorkStream, use case and task definition"
        ),
    )
    replace: Flag = Field(
        default=False,
        description=(
            "When true, it replaces the old values with the new ones. If false, it will simply ignore the "
            "duplicate API call"
        ),
    )

    @field_validator("task_completed_at")
    @classmethod
    def _completed_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        started = info.data.get("task_started_at")
        if isinstance(started, datetime) and value < started:
            raise ValueError("must not be before task_started_at")
        return value

    @field_validator("measures")
    @classmethod
    def _at_most_three(cls, value: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
        if value is None:
            return value
        if len(value) > MAX_MEASURES:
            raise ValueError(f"at most {MAX_MEASURES} measures")
        for name in value:
            if not _MEASURE_NAME.match(name):
                raise ValueError(f"measure name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
        return value


class ReceivedOut(OutModel):
    message: str = Field(description=f"always `{RECEIVED}` (a duplicate without `replace` is ignored)")


# ---------------------------------------------------------------- totals
class Totals(OutModel):
    record_count: Whole = Field(description="throughput records counted")
    task_count: Whole = Field(description="sum of `task_count`")
    subtask_count: Whole = Field(description="sum of `subtask_count` (records without one add nothing)")
    duration: int | float = Field(description="sum of `duration`, in seconds")
    measures: dict[str, int | float] = Field(description="sum of each measure, by measure name")


class GroupTotals(Totals):
    key: str = Field(
        description="the worker id, use case id, task definition id or UTC day (YYYY-MM-DD) of the group"
    )
    name: str | None = Field(default=None, description="name of the use case or task definition")
    use_case_id: str | None = Field(default=None, description="use case of the task definition")


class ThroughputTotalsOut(OutModel):
    workstream_id: str = Field(description="the workstream")
    from_: str | None = Field(default=None, alias="from", description="first UTC day counted (inclusive)")
    to: str | None = Field(default=None, description="last UTC day counted (inclusive)")
    group_by: GroupBy | None = Field(default=None, description="how `groups` is split")
    totals: Totals = Field(description="totals over the whole range")
    groups: list[GroupTotals] | None = Field(
        default=None,
        description=(
            "totals per group (only with group_by): days in order, other groups largest task_count first"
        ),
    )


# ---------------------------------------------------------------- CSV uploads
class RowError(OutModel):
    row: Whole = Field(description="line of the CSV the problem is on (the header is row 1)")
    field: str = Field(description="the column at fault (`row` for the row as a whole)")
    message: str = Field(description="what is wrong with it")
    code: str = Field(description="machine-readable reason, e.g. `VALUE_REQUIRED`, `INVALID_VALUE`")


UploadStatus = Literal["processing", "completed"]


class UploadOut(OutModel):
    id: str = Field(description="id of the upload")
    status: UploadStatus = Field(
        description="`processing` while valid rows are being stored, then `completed`"
    )
    total_count: Whole = Field(description="data rows in the file")
    valid_count: Whole = Field(description="rows that passed validation and were queued to be stored")
    not_valid_count: Whole = Field(description="rows refused by validation (see `errors`)")
    success_count: Whole = Field(description="valid rows stored (a duplicate without `replace` counts too)")
    failed_count: Whole = Field(description="valid rows that could not be stored (see `errors`)")
    errors_url: str = Field(description="where this upload and its per-row errors can be read")
    created_at: str = Field(description="when the file was received (UTC ISO 8601)")
    errors: list[RowError] | None = Field(
        default=None,
        description=(
            "per-row problems by row and column (on GET; the first 1,000 problems of validation are listed)"
        ),
    )


class QueuedRow(OutModel):
    row: Whole = Field(description="the row of the CSV")
    record: dict[str, Any] = Field(description="the row as a ThroughputIn body, already validated")


class ThroughputRowsMessage(OutModel):
    """A chunk of valid CSV rows on the bulk queue (as many as fit in one SQS message)."""

    kind: Literal["throughput.rows"] = Field(default="throughput.rows", description="what the message holds")
    workstream_id: str = Field(description="the workstream the rows are for")
    upload_id: str = Field(description="the upload the rows come from")
    chunk: Whole = Field(description="position of this chunk in the upload, from 0")
    rows: list[QueuedRow] = Field(description="the rows, in file order")
