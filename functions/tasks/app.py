"""Tasks: the units of work a requester defines."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import task_links
from crowdtask.http.params import DEFAULT_LIMIT, After, ArchivedFilter, Before, Limit, Order, Search, TaskId
from crowdtask.http.routes import copy_and_archive_routes
from crowdtask.http.schemas import TOKEN_AUTH, responses
from crowdtask.http.task_uploads import upload_routes

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask.models.tasks import TaskIn, TaskOut, TaskPage
from crowdtask.services import tasks

app = ApiApp()
TAGS = ["Task"]


@app.get(
    "/tasks",
    summary="List all Tasks",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        TaskPage,
        "one page of tasks; the `Link` header and HAL links page on",
        401,
        403,
    ),
)
def list_tasks(
    limit: Limit = DEFAULT_LIMIT,
    order: Order = None,
    search: Search = None,
    after: After = None,
    before: Before = None,
    archived: ArchivedFilter = None,
) -> Reply:
    query = app.list_query(limit, archived)
    return app.collection_reply(
        "tasks", "/tasks", query, tasks.list_tasks(app.requester().account_id, query), task_links
    )


def _task_reply(api: ApiApp, task: TaskOut, headers: dict[str, str]) -> Reply:
    return api.created(task, f"/tasks/{task.id}", links=task_links(task), headers=headers)


upload_routes(
    app,
    "/tasks",
    operation_id="tasks_create",
    tags=TAGS,
    task_reply=_task_reply,
    operations_path="/operations",
)


@app.get(
    "/tasks/<id>",
    summary="Get a Task",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(TaskOut, "the task", 401, 403, 404),
)
def get_task(id: TaskId) -> Reply:
    found = tasks.get_task(app.requester().account_id, id)
    return app.reply(found, links=task_links(found))


@app.put(
    "/tasks/<id>",
    summary="Update a Task",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(TaskOut, "the updated task", 401, 403, 404, 409),
)
def replace_task(id: TaskId, task: Annotated[TaskIn, Body()]) -> Reply:
    updated = tasks.replace_task(app.requester().account_id, id, task)
    return app.reply(updated, links=task_links(updated))


copy_and_archive_routes(
    app,
    collection="tasks",
    noun="task",
    model=TaskOut,
    tags=TAGS,
    links=task_links,
    copy=lambda account, id, _deep: tasks.copy_task(account, id),
    archive=lambda account, id, _deep: tasks.set_archived(account, id, True),
    unarchive=lambda account, id, _deep: tasks.set_archived(account, id, False),
)

lambda_handler = entrypoint(app, needs=("bulk_queue_url",))
