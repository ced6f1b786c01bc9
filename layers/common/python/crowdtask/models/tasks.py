"""Tasks: the Swarms task object and the task-JSON `{"task": {...}, "meta_data": [...]}` in one model."""

import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from crowdtask.errors import ValidationFailed
from crowdtask.models.base import ApiModel, Flag, JsonObject, OutModel, Real, Whole
from crowdtask.models.components import SwarmsComponent, TaskJsonComponent, by_its_tag, validate_result
from crowdtask.models.quality import KnownSolution

Repeat = Literal["after_completion", "daily", "weekly", "monthly", "yearly"]


class MetaData(ApiModel):
    label: str = Field(max_length=500, description="any label you want to give")
    value: str | int | float | bool | None = Field(default=None, description="any value")


_WEEKDAY = (
    "(?:[Mm][Oo][Nn]|[Tt][Uu][Ee]|[Ww][Ee][Dd]|[Tt][Hh][Uu]|[Ff][Rr][Ii]|[Ss][Aa][Tt]|[Ss][Uu][Nn]|[1-7])"
)
_MONTH_DAY = "0*(?:[1-9]|[12][0-9]|3[01])"
# mm-dd of a day that exists (02-29 does, in leap years; 02-30 never would)
_YEAR_DAY_TEXT = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|[12][0-9]))"
)


def _listing(kind: str, item: str) -> str:
    """kind:item1;item2..; empty items (`;;`, a final `;`) are nothing."""
    return f"^{kind}:;*{item}(?:;+{item})*;*$"


# What repeat_schedule takes, by repeat kind: the document states these patterns, the model holds to them.
SCHEDULE_PATTERNS: dict[str, tuple[str, str]] = {
    "after_completion": (
        "after_completion:<seconds> expects whole seconds",
        "^after_completion(?::;*(?:[0-9]{1,9};*)?)?$",
    ),
    "daily": ("daily takes no arguments", "^daily(?::;*)?$"),
    "weekly": ("weekly:day1;day2 expects days mon..sun or 1..7", _listing("weekly", _WEEKDAY)),
    "monthly": ("monthly:n1;n2 expects day numbers 1..31", _listing("monthly", _MONTH_DAY)),
    "yearly": (
        "yearly:mm-dd1;mm-dd2 expects month-day pairs of days that exist (02-29 included)",
        _listing("yearly", _YEAR_DAY_TEXT),
    ),
}


def _check_schedule(repeat: str | None, schedule: str | None) -> None:
    """repeat_schedule must be of the form the repeat kind takes (see the field's description)."""
    if schedule is None:
        return
    if repeat is None:
        raise ValueError("repeat_schedule needs repeat")
    kind, _, _spec = schedule.partition(":")
    if kind != repeat:
        raise ValueError(f"repeat_schedule must start with the repeat kind {repeat!r}")
    message, pattern = SCHEDULE_PATTERNS[kind]
    if not re.fullmatch(pattern, schedule):
        raise ValueError(message)


def _schedule_rules(schema: dict[str, Any]) -> None:
    """In the document: repeat_schedule only with repeat, and of the form of that repeat kind."""
    no_repeat = {"not": {"properties": {"repeat": {"type": "string"}}, "required": ["repeat"]}}
    rules: list[dict[str, Any]] = [
        {"if": no_repeat, "then": {"properties": {"repeat_schedule": {"type": "null"}}}}
    ]
    for kind, (_, pattern) in SCHEDULE_PATTERNS.items():
        rules.append(
            {
                "if": {"properties": {"repeat": {"const": kind}}, "required": ["repeat"]},
                "then": {
                    "properties": {
                        "repeat_schedule": {
                            "anyOf": [{"type": "null"}, {"type": "string", "pattern": pattern}]
                        }
                    }
                },
            }
        )
    schema["allOf"] = [*schema.get("allOf", []), *rules]


# Degrees kept to 9 decimal places (well under a millimetre): a value such as 1e-168 is a place the
# document allows, and a number DynamoDB holds only once rounded.
Coordinate = Annotated[Real, AfterValidator(lambda degrees: round(degrees, 9))]


class TaskFields(ApiModel):
    model_config = ConfigDict(**ApiModel.model_config, json_schema_extra=_schedule_rules)
    """What a requester sets on a task: Swarms fields plus the task-JSON processing rules."""

    name: str = Field(min_length=1, max_length=500, description="name of the task")
    components: list[SwarmsComponent] = Field(
        default_factory=list, max_length=200, description="components of the task, displayed below each other"
    )
    properties: JsonObject | None = Field(
        default=None, description="a json object containing a set of custom key/value pairs (optional)"
    )
    # task-JSON processing rules (they narrow the campaign's settings)
    show_name: Flag = Field(default=True, description="show or hide the task name")
    details: str | None = Field(
        default=None, max_length=20000, description="additional details: images, videos, audio, limited HTML"
    )
    send_to_timeline: Flag = Field(
        default=True, description="update the project timeline with completed tasks"
    )
    region_based: Flag = Field(default=False, description="allocate the task to workers in a geo-location")
    lat: Coordinate = Field(
        default=0, ge=-90, le=90, description="latitude of the task's region (kept to 9 decimal places)"
    )
    lng: Coordinate = Field(
        default=0, ge=-180, le=180, description="longitude of the task's region (kept to 9 decimal places)"
    )
    radius: Real = Field(default=300, gt=0, le=20_000_000, description="radius of the region in metres")
    task_ttl: Whole = Field(default=0, ge=0, description="minutes before the task expires; 0 means never")
    user_ttl: Whole = Field(
        default=0, ge=0, description="seconds an assigned worker has before the task times out; 0 means never"
    )
    process_count: Whole = Field(
        default=0, ge=0, description="how many times the task can be processed; 0 unlimited"
    )
    user_multi_process: Flag = Field(
        default=True, description="if true a single worker can complete the same task multiple times"
    )
    points: Whole = Field(default=1, ge=0, le=1_000_000, description="points for a successful completion")
    repeat: Repeat | None = Field(
        default=None, description="after_completion, daily, weekly, monthly or yearly"
    )
    repeat_schedule: str | None = Field(
        default=None,
        max_length=500,
        description=(
            "after_completion:seconds, daily, weekly:day1;day2.., monthly:n1;n2.., yearly:mm-dd1;mm-dd2.."
        ),
    )

    @field_validator("repeat_schedule", mode="before")
    @classmethod
    def _one_final_line_break(cls, value: Any) -> Any:
        """The document's pattern ends in `$`, which JSON Schema reads as matching before one final
        line break: that text is taken, without the line break."""
        return value[:-1] if isinstance(value, str) and value.endswith("\n") else value

    components_attributes: list[TaskJsonComponent] = Field(
        default_factory=list,
        max_length=200,
        description="task-JSON components (media, tags_collection, text_area)",
    )
    meta_data: list[MetaData] = Field(default_factory=list, max_length=100, description="label/value pairs")
    knownSolutions: list[KnownSolution] | None = Field(
        default=None,
        max_length=100,
        description=(
            "control task: the accepted answers, each shaped like this task's entry in a submission "
            "(one result per component, in order, null where not checked) with a weight 0..1; "
            "never shown to workers"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _unwrap_task_json(cls, data: Any) -> Any:
        """Accept the task-JSON envelope `{"task": {...}, "meta_data": [...]}` as the same task."""
        if isinstance(data, dict) and isinstance(data.get("task"), dict):
            unknown = set(data) - {"task", "meta_data"}
            if unknown:
                return data  # let extra="forbid" name them
            return {**data["task"], **({"meta_data": data["meta_data"]} if "meta_data" in data else {})}
        return data

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        _check_schedule(self.repeat, self.repeat_schedule)
        self._check_solutions()
        names = [c.name for c in self.components_attributes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"components_attributes names must be unique: {', '.join(duplicates)}")
        return self

    def _check_solutions(self) -> None:
        if self.knownSolutions:
            problems = _solution_errors([*self.components, *self.components_attributes], self.knownSolutions)
            if problems:
                raise ValidationFailed(problems)


def _solution_errors(components: list[Any], solutions: list[KnownSolution]) -> list[dict[str, str]]:
    """Each solution has one entry per component; each result given is one the component takes."""
    problems: list[dict[str, str]] = []
    for n, solution in enumerate(solutions):
        where = f"knownSolutions[{n}].components"
        if len(solution.components) != len(components):
            given = len(solution.components)
            message = f"expected {len(components)} entries (one per component of the task), got {given}"
            problems.append({"field": where, "message": message, "code": "INVALID_VALUE"})
            continue
        for i, (component, entry) in enumerate(zip(components, solution.components, strict=True)):
            if entry.result is None:
                continue
            try:
                validate_result(component, entry.result, f"{where}[{i}].result")
            except ValidationFailed as refused:
                problems.extend(refused.errors)
    return problems


class TaskIn(TaskFields):
    """POST /tasks and PUT /tasks/{id} body: a Swarms task or a task-JSON envelope."""


def _by_its_tag(task_json: bool) -> PlainValidator:
    def parse(component: Any) -> Any:
        found = by_its_tag(component, task_json=task_json)
        if found is None:
            raise ValueError("not a component its tag's model takes")  # TaskIn then says why (parse_task)
        return found

    return PlainValidator(parse)


class _TaskByTag(TaskIn):
    """TaskIn whose components are each parsed by the model their tag names (parse_task)."""

    components: list[Annotated[Any, _by_its_tag(False)]] = Field(default_factory=list, max_length=200)
    components_attributes: list[Annotated[Any, _by_its_tag(True)]] = Field(
        default_factory=list, max_length=200
    )


def parse_task(data: Any) -> TaskIn:
    """TaskIn.model_validate(data), with each component parsed by the model its tag names: building
    TaskIn's validator builds every model of the component catalogue (the first POST /tasks paid
    about 12 ms for it), one model costs under 1 ms. What that finds wrong, TaskIn refuses in its
    own words; what it takes, TaskIn takes alike (the union picks the model by the same tag)."""
    try:
        return _TaskByTag.model_validate(data)
    except ValidationError:
        return TaskIn.model_validate(data)


class TaskOut(OutModel):
    """The task object."""

    id: str = Field(description="id of the resource")
    name: str = Field(description="name of the task")
    components: list[dict[str, Any]] = Field(description="components of the task")
    properties: dict[str, Any] | None = Field(default=None, description="custom key/value pairs")
    resourcesSize: str = Field(description="size of the task including media files")
    estimatedUploadSize: str = Field(description="estimated upload size of the results for this task")
    readOnly: Flag = Field(description="indicates whether the resource can be modified")
    lastModifiedAt: str = Field(description="the datetime of the last modification of the resource")
    createdAt: str = Field(description="the datetime of the creation of the resource")
    archived: Flag = Field(description="if the resource is archived")
    show_name: bool = True
    details: str | None = None
    send_to_timeline: bool = True
    region_based: bool = False
    lat: float = 0
    lng: float = 0
    radius: float = 300
    task_ttl: int = 0
    user_ttl: int = 0
    process_count: int = 0
    user_multi_process: bool = True
    points: int = 1
    repeat: str | None = None
    repeat_schedule: str | None = None
    components_attributes: list[dict[str, Any]] = Field(default_factory=list)
    meta_data: list[dict[str, Any]] = Field(default_factory=list)
    # tasks made for a campaign through the bulk API (`pool_id` + `input_values`)
    pool_id: str | None = Field(default=None, description="the campaign the task was made for")
    input_values: dict[str, Any] | None = Field(default=None, description="the input values it was made from")
    overlap: Whole | None = Field(default=None, description="results the task needs")
    knownSolutions: list[dict[str, Any]] | None = Field(
        default=None, description="control task: accepted answers"
    )
    known_solutions: list[dict[str, Any]] | None = None
    baseline_solutions: list[dict[str, Any]] | None = None
    message_on_unknown_solution: str | None = None
    infinite_overlap: bool | None = None
    origin_task_id: str | None = None
    reserved_for: list[str] | None = None
    unavailable_for: list[str] | None = None
    operation_id: str | None = Field(default=None, description="the bulk operation that created the task")


class WorkerTaskOut(OutModel):
    """A task as the worker doing it sees it: what to do and where, nothing of the requester's.

    No solutions (control answers), no reservation lists, no properties, input values or
    operation: only what the work needs.
    """

    id: str = Field(description="id of the task")
    name: str = Field(description="name of the task")
    show_name: Flag = Field(default=True, description="whether the name is shown to the worker")
    details: str | None = Field(default=None, description="additional details (sanitised HTML)")
    components: list[dict[str, Any]] = Field(description="what the worker sees and answers, in order")
    components_attributes: list[dict[str, Any]] = Field(
        default_factory=list, description="task-JSON components (media, tags_collection, text_area)"
    )
    points: Whole = Field(default=1, description="points for an approved result")
    region_based: Flag = Field(default=False, description="the work is done within a region")
    lat: Real | None = Field(default=None, description="latitude of the region's centre (region-based)")
    lng: Real | None = Field(default=None, description="longitude of the region's centre (region-based)")
    radius: Real | None = Field(default=None, description="radius of the region in metres (region-based)")


class TaskPage(OutModel):
    tasks: list[TaskOut] = Field(description="one page of tasks")
