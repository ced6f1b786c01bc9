"""The bulk API under its own paths (/api/v1/...), answering in its shapes, so its clients work unchanged."""

from __future__ import annotations

from typing import Annotated, Any

from crowdtask.http.app import ApiApp, Reply, dump, entrypoint
from crowdtask.http.pagination import link_header
from crowdtask.http.params import OperationId, TaskId
from crowdtask.http.schemas import TOKEN_AUTH, responses
from crowdtask.http.task_uploads import upload_routes

from aws_lambda_powertools.event_handler.openapi.params import Query

from crowdtask.models.bulk import BulkLogEntry, OperationOut, TolokaTask
from crowdtask.models.tasks import TaskOut
from crowdtask.services import operations, tasks

app = ApiApp()
TAGS = ["Bulk API compatibility"]


def _task_shape(task: TaskOut) -> TolokaTask:
    return TolokaTask.model_validate({**dump(task), "created": task.createdAt})


def _task_reply(api: ApiApp, task: TaskOut, headers: dict[str, str]) -> Reply:
    return api.created(_task_shape(task), f"/api/v1/tasks/{task.id}", headers=headers)


upload_routes(
    app,
    "/api/v1/tasks",
    operation_id="compat_tasks_create",
    tags=TAGS,
    task_reply=_task_reply,
    operations_path="/api/v1/operations",
    task_model=TolokaTask,
)


@app.get(
    "/api/v1/tasks/<id>",
    summary="Get a task (bulk API shape)",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(TolokaTask, "the task", 401, 403, 404),
)
def get_task(id: TaskId) -> Reply:
    return app.reply(_task_shape(tasks.get_task(app.requester().account_id, id)))


@app.get(
    "/api/v1/operations/<id>",
    summary="Get an operation (bulk API shape)",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(OperationOut, "the operation", 401, 403, 404),
)
def get_operation(id: OperationId) -> Reply:
    return app.reply(operations.get_operation(app.requester().account_id, id))


@app.get(
    "/api/v1/operations/<id>/log",
    summary="The operation log (bulk API shape): a JSON array, one entry per item",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        list[BulkLogEntry], "[{type, success, input, output}, ...] in the order of the request", 401, 403, 404
    ),
)
def operation_log(
    id: OperationId,
    after: Annotated[int | None, Query(ge=-1, description="index of the last entry already read")] = None,
) -> Reply:
    log = operations.operation_log(app.requester().account_id, id, after, operations.LOG_LIMIT)
    # The bulk API's log entries: exactly these four fields, a null `input` or `output` included.
    entries: list[dict[str, Any]] = [
        entry.model_dump(mode="json", include={"type", "success", "input", "output"}) for entry in log.log
    ]
    links = {} if log.next is None else {"next": {"href": f"/api/v1/operations/{id}/log?after={log.next}"}}
    return app.reply_list(entries, headers=link_header(links))


lambda_handler = entrypoint(app, needs=("bulk_queue_url",))
