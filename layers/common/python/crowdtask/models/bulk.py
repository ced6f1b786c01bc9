"""Bulk task creation: the pool-task item of the bulk API, its two replies, operations and their log."""

from typing import Any, Literal

from pydantic import Field

from crowdtask.models.base import ApiModel, Flag, JsonObject, OutModel, ResourceId, Whole
from crowdtask.models.quality import Rounded

OperationStatus = Literal["PENDING", "RUNNING", "SUCCESS", "FAIL"]
OPERATION_TYPE = "TASK.BATCH_CREATE"
AGGREGATION_TYPE = "AGGREGATION"


class Solution(ApiModel):
    output_values: JsonObject = Field(description="output data values of the solution")
    correctness_weight: Rounded | None = Field(
        default=None,
        ge=0,
        le=1,
        description="known solutions: weight of a correct response, 0..1 (6 decimal places)",
    )
    confidence_weight: Rounded | None = Field(
        default=None,
        ge=0,
        le=1,
        description="baseline solutions: confidence in the response, 0..1 (6 decimal places)",
    )


class PoolTaskIn(ApiModel):
    """A task of the bulk API: input values for a campaign (`pool_id`) whose `taskTemplate` they fill."""

    pool_id: ResourceId = Field(description="id of the campaign the task is for")
    input_values: JsonObject = Field(description="input data of the task, by placeholder name")
    overlap: Whole | None = Field(
        default=None,
        ge=1,
        le=100000,
        description=(
            "how many results the task needs; required unless `allow_defaults=true`, which takes the "
            "campaign's `results` for tasks without one"
        ),
    )
    infinite_overlap: Flag = Field(default=False, description="accepted for compatibility; not used")
    known_solutions: list[Solution] | None = Field(
        default=None, max_length=100, description="correct responses, for control tasks"
    )
    baseline_solutions: list[Solution] | None = Field(
        default=None, max_length=100, description="preliminary responses"
    )
    message_on_unknown_solution: str | None = Field(
        default=None, max_length=10000, description="hint for the task (training tasks)"
    )
    origin_task_id: str | None = Field(default=None, max_length=64, description="id of the task copied")
    reserved_for: list[str] | None = Field(
        default=None, max_length=1000, description="ids of the workers who may take the task"
    )
    unavailable_for: list[str] | None = Field(
        default=None, max_length=1000, description="ids of the workers who may not take the task"
    )


class BulkTaskOut(OutModel):
    """One created task in the synchronous reply (the bulk API's fields)."""

    id: str = Field(description="task id")
    pool_id: str | None = Field(default=None, description="the campaign the task is for (pool tasks)")
    input_values: dict[str, Any] | None = Field(default=None, description="input data of the task")
    overlap: Whole | None = Field(default=None, description="results the task needs (pool tasks)")
    name: str | None = Field(default=None, description="name of the task")
    created: str = Field(description="UTC date and time the task was created, ISO 8601")


class FieldProblem(OutModel):
    code: str = Field(description="VALUE_REQUIRED, INVALID_VALUE, NOT_AN_OPTION, ...")
    message: str = Field(description="what is wrong and how to fix it")


class BulkCreateOut(OutModel):
    """The synchronous reply: created tasks and refused items, both by index in the request array."""

    items: dict[str, BulkTaskOut] = Field(description="created tasks by their index in the request")
    validation_errors: dict[str, dict[str, FieldProblem]] | None = Field(
        default=None, description="refused items by index: field -> {code, message}"
    )


class OperationParameters(OutModel):
    allow_defaults: bool
    skip_invalid_items: bool
    open_pool: bool
    async_mode: bool = True


class OperationDetails(OutModel):
    total_count: Whole = Field(description="the number of tasks in the request")
    valid_count: Whole = Field(description="the number of tasks that passed validation")
    not_valid_count: Whole = Field(description="the number of tasks that failed validation")
    success_count: Whole = Field(description="the number of tasks stored")
    failed_count: Whole = Field(description="the number of tasks that were not stored")


class AggregationParameters(OutModel):
    campaign: str = Field(description="the campaign whose results are aggregated")
    method: str = Field(description="dawid-skene")


class AggregationDetails(OutModel):
    results_count: Whole = Field(description="results read (those in review and approved)")
    tasks_count: Whole = Field(description="tasks aggregated")


class OperationOut(OutModel):
    """An asynchronous operation (the bulk API's shape): a bulk upload, or an aggregation run."""

    id: str = Field(description="operation id (the `operation_id` sent, or one made for it)")
    type: str = Field(default=OPERATION_TYPE, description="TASK.BATCH_CREATE or AGGREGATION")
    status: OperationStatus = Field(description="PENDING, RUNNING, SUCCESS or FAIL")
    submitted: str = Field(description="UTC time the request was received")
    started: str | None = Field(default=None, description="UTC time the first tasks were stored")
    finished: str | None = Field(default=None, description="UTC time the operation ended")
    progress: Whole = Field(description="percentage of the valid tasks handled so far")
    parameters: OperationParameters | AggregationParameters
    details: OperationDetails | AggregationDetails
    pools: list[str] = Field(default_factory=list, description="the campaigns the tasks are for")
    openPoolErrors: list[str] | None = Field(
        default=None, description="why a campaign could not be opened at the end (open_pool=true)"
    )
    unfundedCount: Whole | None = Field(
        default=None,
        description=(
            "tasks stored for an active or paused campaign that stay off the market: the balance could not "
            "pay for them when they arrived"
        ),
    )


class OperationPage(OutModel):
    operations: list[OperationOut] = Field(description="one page of operations, newest first")


class LogEntry(OutModel):
    """One item of the operation log: what became of the item at `index` of the request."""

    index: Whole = Field(description="position of the item in the request array, from 0")
    type: Literal["TASK_CREATE", "TASK_VALIDATE"] = Field(
        description="TASK_CREATE (stored or failed to store) or TASK_VALIDATE (refused by validation)"
    )
    success: Flag = Field(description="true when the task was created")
    input: Any = Field(default=None, description="the item as sent (as stored, if created)")
    output: dict[str, Any] = Field(description="{task_id} on success; {field: {code, message}} otherwise")


class BulkLogEntry(OutModel):
    """An entry of the bulk API's operation log (GET /api/v1/operations/{id}/log): these four fields."""

    type: Literal["TASK_CREATE", "TASK_VALIDATE"] = Field(description="TASK_CREATE or TASK_VALIDATE")
    success: Flag = Field(description="true when the task was created")
    input: Any = Field(description="the item as sent (as stored, if created); may be null")
    output: dict[str, Any] | None = Field(
        description="{task_id} on success; {field: {code, message}} otherwise; may be null"
    )


class OperationLog(OutModel):
    log: list[LogEntry] = Field(description="outcomes in index order")
    next: Whole | None = Field(
        default=None, description="pass as `after` for the next page; absent at the end"
    )


class TolokaTask(OutModel):
    """A task in the bulk API's shape (GET /api/v1/tasks/{id})."""

    id: str = Field(description="task id")
    pool_id: str | None = Field(default=None, description="the campaign the task is for")
    input_values: dict[str, Any] | None = Field(default=None, description="input data of the task")
    overlap: Whole | None = Field(default=None, description="results the task needs")
    infinite_overlap: bool | None = None
    known_solutions: list[dict[str, Any]] | None = None
    baseline_solutions: list[dict[str, Any]] | None = None
    message_on_unknown_solution: str | None = None
    origin_task_id: str | None = None
    reserved_for: list[str] | None = None
    unavailable_for: list[str] | None = None
    created: str = Field(description="UTC date and time the task was created, ISO 8601")
