"""Tasks: the units of work a requester defines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from crowdtask import lazy
from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import task_links
from crowdtask.http.pagination import DEFAULT_LIMIT, After, ArchivedFilter, Before, Limit, Order, Search
from crowdtask.http.routes import copy_and_archive_routes
from crowdtask.http.schemas import TOKEN_AUTH, responses
from crowdtask.http.task_uploads import upload_routes

if TYPE_CHECKING:
    from crowdtask.models import tasks as task_models
    from crowdtask.models.tasks import TaskOut
    from crowdtask.services import tasks
else:  # services load with the first route that uses them (cold start), and so does the task body:
    # its component catalogue is the costliest import here, and only PUT needs it. Powertools reads
    # the route's annotations on the route's first request, which is when `task_models` imports.
    tasks = lazy.load("crowdtask.services.tasks")
    task_models = lazy.load("crowdtask.models.tasks")

app = ApiApp()
TaskId = Annotated[str, Path(max_length=64, description="id of the task")]
TAGS = ["Task"]


@app.get(
    "/tasks",
    summary="List all Tasks",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        "tasks:TaskPage",
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
    return api.reply(
        task, status=201, links=task_links(task), headers={"Location": f"/tasks/{task.id}", **headers}
    )


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
    responses=responses("tasks:TaskOut", "the task", 401, 403, 404),
)
def get_task(id: TaskId) -> Reply:
    found = tasks.get_task(app.requester().account_id, id)
    return app.reply(found, links=task_links(found))


@app.put(
    "/tasks/<id>",
    summary="Update a Task",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("tasks:TaskOut", "the updated task", 401, 403, 404, 409),
)
def replace_task(id: TaskId, task: Annotated[task_models.TaskIn, Body()]) -> Reply:
    updated = tasks.replace_task(app.requester().account_id, id, task)
    return app.reply(updated, links=task_links(updated))


copy_and_archive_routes(
    app,
    collection="tasks",
    noun="task",
    model="tasks:TaskOut",
    tags=TAGS,
    links=task_links,
    copy=lambda account, id, _deep: tasks.copy_task(account, id),
    archive=lambda account, id, _deep: tasks.set_archived(account, id, True),
    unarchive=lambda account, id, _deep: tasks.set_archived(account, id, False),
)

lambda_handler = entrypoint(app, needs=("bulk_queue_url",))
