"""POST of tasks, one or many, shared by /tasks and the bulk API's /api/v1/tasks (only the shapes differ)."""

# No postponed annotations: Powertools reads the parameter types of the routes made here.
from collections.abc import Callable
from typing import Annotated, Any

from crowdtask.http.app import ApiApp, Reply
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel

from crowdtask.models.bulk import BulkCreateOut, OperationOut
from crowdtask.models.tasks import TaskOut
from crowdtask.services import tasks
from crowdtask.services.bulk_items import BulkParams, is_one_task

UPLOAD_DESCRIPTION = (
    "One task (a JSON object) or many (a JSON array). A task is a task in either task form, or a task of "
    "the bulk API: `pool_id` (a campaign), `input_values` (they fill the campaign's `taskTemplate`) and "
    "`overlap`. Synchronously at most 5,000 tasks a request; asynchronously (async_mode=true) up to "
    "100,000 (and the body limit), answered with an operation at once. The account's quota is 100,000 "
    "tasks a minute and 2,000,000 a day: a request over it is refused whole (429, Retry-After), and the "
    "X-Task-Quota-* headers say what is left."
)
_CREATED = "one task sent: the task; an array: created tasks and refused items by index"
TaskBody = Annotated[dict[str, Any] | list[Any], Body(description=UPLOAD_DESCRIPTION)]
AsyncMode = Annotated[
    bool, Query(description="true: answer at once with an operation that stores the tasks in the background")
]
AllowDefaults = Annotated[
    bool, Query(description="true: tasks without `overlap` take the campaign's `results`")
]
SkipInvalid = Annotated[
    bool,
    Query(
        description="true: create the valid tasks and report the others; false: any invalid task stops all"
    ),
]
OpenPool = Annotated[
    bool, Query(description="true: publish (or continue) the tasks' campaigns once the tasks are stored")
]
OperationId = Annotated[
    str | None,
    Query(
        max_length=64,
        description="a UUID (RFC 4122) for the operation: sending it again creates nothing more",
        json_schema_extra={"format": "uuid"},
    ),
]
TaskReply = Callable[[ApiApp, TaskOut, dict[str, str]], Reply]


def upload_routes(
    app: ApiApp,
    path: str,
    *,
    operation_id: str,
    tags: list[str],
    task_reply: TaskReply,
    operations_path: str,
    task_model: type[BaseModel] = TaskOut,
) -> None:
    """POST `path`: one task or an array of tasks, in the bulk API's modes; `task_reply` shows one task,
    as `task_model` documents it."""

    def upload(
        body: TaskBody,
        async_mode: AsyncMode = False,
        allow_defaults: AllowDefaults = False,
        skip_invalid_items: SkipInvalid = False,
        open_pool: OpenPool = False,
        operation_id: OperationId = None,
    ) -> Reply:
        params = BulkParams(
            async_mode=async_mode,
            allow_defaults=allow_defaults,
            skip_invalid_items=skip_invalid_items,
            open_pool=open_pool,
            operation_id=operation_id,
        )
        account_id = app.requester().account_id
        if is_one_task(body, params):
            created, reservation = tasks.create_one(account_id, body)
            return task_reply(app, created, reservation.headers())
        # The bulk path (the bulk and pools services) loads with the first upload that takes it: one
        # task of its own never does. Measured on the cold start of POST /tasks with one task: 27
        # modules, 167 M instructions (~25 ms) fewer; the first upload of an array or a pool task pays
        # them instead, as it did at import.
        from crowdtask.services.flows import storing

        upload = storing.upload_tasks(account_id, body, params)
        if upload.opening is not None:
            # Its end opens campaigns (open_pool): the campaign, market and publishing services load
            # only now. Measured on the cold start of POST /api/v1/tasks with a pool task: ~13 ms.
            from crowdtask.services.flows import uploading

            uploading.end_operation(upload.opening)
        if upload.refusal is not None:
            raise upload.refusal
        headers = upload.quota_headers or {}
        if upload.task is not None:
            return task_reply(app, upload.task, headers)
        if upload.operation is not None:
            location = f"{operations_path}/{upload.operation.id}"
            return app.created(upload.operation, location, headers=headers, status=202)
        return app.reply(upload.items, status=201, headers=headers)

    app.post(
        path,
        summary="Create one Task or many",
        description=UPLOAD_DESCRIPTION,
        tags=tags,
        security=TOKEN_AUTH,
        operation_id=operation_id,
        responses=_upload_responses(task_model),
    )(upload)


def _upload_responses(task_model: type[BaseModel]) -> dict[int, Any]:
    """201 the task or the created items, 202 an operation."""
    documented: dict[int, Any] = responses(
        task_model | BulkCreateOut, _CREATED, 401, 403, 409, 429, status=201
    )
    documented[202] = {
        "description": (
            "async_mode=true (or a synchronous upload that could not finish in the request): the "
            "operation that stores the tasks"
        ),
        "content": {"application/json": {"model": OperationOut}},
    }
    return documented
