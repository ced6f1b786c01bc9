"""Datasets to label and their per-stage tasks (the Dataset Tasks seed).

Task kinds: a **file task** is about one file (frame) of a single-frame dataset: one object,
or one frame attribute, on that frame. A **label task** is about the dataset as a whole: a
dataset attribute, and in a sequence dataset also an object or a frame attribute across all
frames. `GET /clients/{clientId}/tasks` lists a user's tasks split this way.
"""

import json
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError, WithJsonSchema, field_validator

from crowdtask.models.accounts import Email
from crowdtask.models.base import ApiModel, OutModel, Whole

DatasetType = Literal["single_frame", "sequence"]
TaskKind = Literal["file", "label"]
TaskStatus = Literal["pending", "blocked", "in_progress", "submitted", "accepted", "rejected", "retired"]
# What POST /dataset-tasks/{taskId} may set; the others have their own routes or follow from them.
SettableStatus = Literal["pending", "in_progress", "submitted"]
MAX_TASKS = 10_000
MAX_ANSWER_BYTES = 64 * 1024

Label = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f]+$")]


# The lists below are of distinct items: the document says so (uniqueItems), the models hold to it.
UNIQUE: dict[str, Any] = {"uniqueItems": True}


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} must be unique; {value!r} appears twice")
        seen.add(value)
    return values


def parse_due(value: Any) -> Any:
    """An ISO 8601 date-time (UTC when no offset), or a date meaning the end of that UTC day."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date or date-time string")
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(23, 59, 59), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError("must be an ISO 8601 date or date-time, e.g. 2026-03-20T17:00:00Z") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


DueDate = Annotated[datetime, BeforeValidator(parse_due)]


def iso_due(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LabelsIn(ApiModel):
    objects: list[Label] | None = Field(
        default=None,
        max_length=500,
        json_schema_extra=UNIQUE,
        description="object classes to label, e.g. `car`: one task per frame (single frame) or per dataset",
    )
    frame_attributes: list[Label] | None = Field(
        default=None,
        max_length=200,
        json_schema_extra=UNIQUE,
        description="attributes of each frame, e.g. `weather`: one task per frame, or across all frames",
    )
    dataset_attributes: list[Label] | None = Field(
        default=None,
        max_length=200,
        json_schema_extra=UNIQUE,
        description="attributes of the dataset as a whole: one task each",
    )

    @field_validator("objects", "frame_attributes", "dataset_attributes")
    @classmethod
    def _distinct_labels(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique(value, "labels")


class DatasetFileIn(ApiModel):
    """A file as the dataset seed's clients send it: its URL and a name for people."""

    url: Label = Field(description="where the file is; it is the file's identity in the dataset")
    name: Label | None = Field(default=None, description="a name for people (not stored)")


def _file_identity(value: Any) -> Any:
    """A file given as `{url, name}` is its URL, as if the URL alone had been sent."""
    if not isinstance(value, dict):
        return value
    try:
        return DatasetFileIn.model_validate(value).url
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "file"
        raise ValueError(f"a file object {{url, name}}: {where}: {problem['msg']}") from None


FileIn = Annotated[
    Label,
    BeforeValidator(_file_identity),
    WithJsonSchema(
        {
            "anyOf": [
                {**TypeAdapter(Label).json_schema(), "description": "a name or URL"},
                DatasetFileIn.model_json_schema(),
            ]
        }
    ),
]


class FilesIn(ApiModel):
    files: list[FileIn] | None = Field(
        default=None,
        max_length=10_000,
        json_schema_extra=UNIQUE,
        description=(
            "the files (frames) of the dataset, in order: each a name or URL, or an object `{url, name}` "
            "(stored as its url); unique by file: a name/URL and an object with that url, or two objects "
            "with one url, are the same file; at most 80,000 bytes as a JSON list of urls"
        ),
    )

    @field_validator("files")
    @classmethod
    def _distinct_files(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique(value, "files")


class DatasetIn(LabelsIn, FilesIn):
    """POST /datasets: the dataset, its stages and labels; its tasks are generated, at most 10,000:
    per stage, one per object and frame attribute (times the files for `single_frame`) and one per
    dataset attribute. Each of files (their urls), objects, frame_attributes and dataset_attributes
    is at most 80,000 bytes written as a JSON list."""

    name: str = Field(min_length=1, max_length=500, description="name of the dataset")
    type: DatasetType = Field(
        description=(
            "`single_frame`: every frame is labelled on its own (tasks per frame); `sequence`: the "
            "frames form one sequence (an object or frame attribute is one task across all frames)"
        )
    )
    stages: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1,
        max_length=10,
        json_schema_extra=UNIQUE,
        description=(
            'the stages every task goes through, in order, e.g. `["Labelling", "QA"]`: one task per '
            "stage; a task of a later stage is `blocked` until the same task of the stage before is accepted"
        ),
    )
    due_date: DueDate | None = Field(
        default=None, description="due date of every generated task (ISO 8601; a date means its end, UTC)"
    )

    @field_validator("stages")
    @classmethod
    def _distinct_stages(cls, value: list[str]) -> list[str]:
        return _unique(value, "stages")


class DatasetOut(OutModel):
    id: str = Field(description="id of the dataset")
    client_id: str = Field(description="the client (the account's customerId) the dataset belongs to")
    name: str = Field(description="name of the dataset")
    type: DatasetType = Field(description="single_frame or sequence")
    stages: list[str] = Field(description="stages, in order")
    files: list[str] = Field(description="files (frames), in order")
    objects: list[str] = Field(description="object classes")
    frame_attributes: list[str] = Field(description="frame attributes")
    dataset_attributes: list[str] = Field(description="dataset attributes")
    due_date: str | None = Field(default=None, description="due date of new tasks (UTC ISO 8601)")
    task_count: Whole = Field(description="tasks of the dataset that are not retired")
    created_at: str = Field(description="when the dataset was created (UTC ISO 8601)")
    updated_at: str = Field(description="when its files or labels last changed (UTC ISO 8601)")


class TaskResource(OutModel):
    """One labelling task: a stage of work on one object or attribute, of one file or of the dataset."""

    id: str = Field(description="id of the task")
    dataset_id: str = Field(description="the dataset it belongs to")
    client_id: str = Field(description="the client (customerId) the dataset belongs to")
    stage: str = Field(description="its stage, e.g. `Labelling` or `QA`")
    kind: TaskKind = Field(
        description="`file`: about one file (frame); `label`: about the dataset as a whole or all its frames"
    )
    file: str | None = Field(description="the file (frame) it is about; null for a dataset-level task")
    object: str | None = Field(description="the object class to label, or null")
    frame_attribute: str | None = Field(description="the frame attribute to set, or null")
    dataset_attribute: str | None = Field(description="the dataset attribute to set, or null")
    status: TaskStatus = Field(
        description=(
            "`pending` (workable), `blocked` (waits for the task of the stage before to be accepted), "
            "`in_progress`, `submitted` (waits for review), `accepted`, `rejected` (back with its assignee), "
            "`retired` (its file or label was removed)"
        )
    )
    assignee: str | None = Field(description="e-mail of the user working on it, or null")
    answer: Any = Field(description="the work: any JSON value, or null")
    due_date: str | None = Field(description="when it is due (UTC ISO 8601), or null")
    rejection_reason: str | None = Field(default=None, description="why it was last rejected, or null")
    created_at: str = Field(description="when it was created (UTC ISO 8601)")
    updated_at: str = Field(description="when it last changed (UTC ISO 8601)")


class DelayedTaskResource(TaskResource):
    delayed_by_seconds: Whole = Field(description="how long past its due date it is")


class TaskList(OutModel):
    tasks: list[TaskResource] = Field(description="the tasks, by stage, file and label")


class UserTasks(OutModel):
    file_tasks: list[TaskResource] = Field(description="the user's tasks about one file (frame)")
    label_tasks: list[TaskResource] = Field(
        description="the user's tasks about the dataset or all its frames"
    )


class DelayedTasks(OutModel):
    delayed_tasks: list[DelayedTaskResource] = Field(
        description="tasks past their due date and not accepted, most delayed first"
    )


class TaskUpdateIn(ApiModel):
    """POST /dataset-tasks/{taskId}: only the fields sent change; null clears assignee and due_date."""

    assignee: Email | None = Field(
        default=None, description="e-mail of the user to work on it; null unassigns"
    )
    status: SettableStatus | None = Field(
        default=None,
        description=(
            "`in_progress`, `submitted` (for review) or `pending` (hand it back); accept and reject have "
            "their own routes"
        ),
    )
    answer: Any = Field(default=None, description="the work, any JSON value (at most 64 KB)")
    due_date: DueDate | None = Field(default=None, description="ISO 8601; null clears it")

    @field_validator("answer")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if value is not None and len(json.dumps(value)) > MAX_ANSWER_BYTES:
            raise ValueError(f"at most {MAX_ANSWER_BYTES // 1024} KB of JSON")
        return value


class DatasetRejectIn(ApiModel):
    """A dataset task sent back (its own name: the document holds one schema per name, and the
    results' RejectIn has a longer bound)."""

    reason: str | None = Field(default=None, max_length=2000, description="why the work is sent back")
