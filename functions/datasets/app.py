"""Datasets: labelling tasks per stage, their review, per-user and delayed lists, and re-syncs."""

from __future__ import annotations

from typing import Annotated, Any

from crowdtask.http.app import ApiApp, Reply, dump_every_field, entrypoint
from crowdtask.http.params import ClientId, DatasetId, DatasetTaskId
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from crowdtask.models.datasets import (
    DatasetIn,
    DatasetOut,
    DatasetRejectIn,
    DelayedTasks,
    FilesIn,
    LabelsIn,
    TaskList,
    TaskResource,
    TaskUpdateIn,
    UserTasks,
)
from crowdtask.services import datasets

app = ApiApp()
TAGS = ["Dataset"]
PAGE_LIMIT = 1000


def _task_links(task: TaskResource) -> dict[str, Any]:
    base = f"/dataset-tasks/{task.id}"
    links: dict[str, Any] = {"self": {"href": base}, "dataset": {"href": f"/datasets/{task.dataset_id}"}}
    if task.status != "retired":
        links["update"] = {"href": base, "method": "POST"}
    if task.status == "submitted":
        links["accept"] = {"href": f"{base}/accept", "method": "POST"}
        links["reject"] = {"href": f"{base}/reject", "method": "POST"}
    return links


def _task_reply(task: TaskResource) -> Reply:
    # The dataset seed's TaskResource shows every field, null included, whatever the task's state.
    return app.reply(dump_every_field(task), links=_task_links(task))


def _dataset_links(dataset_id: str) -> dict[str, Any]:
    base = f"/datasets/{dataset_id}"
    return {
        "self": {"href": base},
        "tasks": {"href": f"{base}/tasks"},
        "file-tasks": {"href": f"{base}/file-tasks", "method": "POST"},
        "label-tasks": {"href": f"{base}/label-tasks", "method": "POST"},
    }


@app.post(
    "/datasets",
    summary="Create a Dataset",
    description=(
        "Generates its tasks per stage. Single frame: one task per (frame, object), per (frame, frame "
        "attribute) and per dataset attribute. Sequence: one task per object and per frame attribute "
        "across all frames, and per dataset attribute. At most 10,000 tasks."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(DatasetOut, "the new dataset", 401, 403, status=201),
)
def create_dataset(dataset: Annotated[DatasetIn, Body()]) -> Reply:
    created = datasets.create_dataset(app.requester().account_id, dataset)
    return app.created(created, f"/datasets/{created.id}", links=_dataset_links(created.id))


@app.get(
    "/datasets/<datasetId>",
    summary="Get a Dataset",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(DatasetOut, "the dataset", 401, 403, 404),
)
def get_dataset(datasetId: DatasetId) -> Reply:  # noqa: N803 - the seed's parameter name
    found = datasets.get_dataset(app.requester().account_id, datasetId)
    return app.reply(found, links=_dataset_links(found.id))


@app.get(
    "/datasets/<datasetId>/tasks",
    summary="Get all tasks of a dataset",
    description=(
        "Returns a json with field `tasks` that represents an array of TaskResource objects: by stage, "
        "file and label. Up to 1,000 a page; the `Link` header (or `_links.next`) continues."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(TaskList, "the dataset's tasks", 401, 403, 404),
)
def list_tasks(
    datasetId: DatasetId,  # noqa: N803
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT, description="tasks per page, 1..1000")] = PAGE_LIMIT,
    after: Annotated[str | None, Query(max_length=100, description="continue after this task id")] = None,
) -> Reply:
    found, last = datasets.list_dataset_tasks(app.requester().account_id, datasetId, limit=limit, after=after)
    base = f"/datasets/{datasetId}/tasks"
    links: dict[str, Any] = {"self": {"href": base}}
    headers: dict[str, str] = {}
    if last is not None:
        links["next"] = {"href": f"{base}?limit={limit}&after={last}"}
        headers["Link"] = f'<{links["next"]["href"]}>; rel="next"'
    body = {"tasks": [dump_every_field(t) for t in found]}  # TaskResource: every field, as above
    return app.reply(body, links=links, headers=headers)


@app.post(
    "/datasets/<datasetId>/file-tasks",
    summary="Update file tasks",
    description=(
        "Re-syncs the dataset's tasks after its files changed: send the new `files` (or no body to "
        "re-sync as it is). Missing tasks are added, tasks of removed files retired, accepted tasks kept. "
        "Returns an empty response if file tasks are updated."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(None, "tasks updated", 401, 403, 404, status=204),
)
def update_file_tasks(
    datasetId: DatasetId,  # noqa: N803
    files: Annotated[FilesIn | None, Body()] = None,
) -> Reply:
    datasets.update_files(app.requester().account_id, datasetId, files.files if files else None)
    return app.empty()


@app.post(
    "/datasets/<datasetId>/label-tasks",
    summary="Update label tasks",
    description=(
        "Re-syncs the dataset's tasks after its labels changed: send the new `objects`, "
        "`frame_attributes` and / or `dataset_attributes` (or no body to re-sync as it is). Missing tasks "
        "are added, tasks of removed labels retired, accepted tasks kept. Returns an empty response if "
        "label tasks are updated."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(None, "tasks updated", 401, 403, 404, status=204),
)
def update_label_tasks(
    datasetId: DatasetId,  # noqa: N803
    labels: Annotated[LabelsIn | None, Body()] = None,
) -> Reply:
    datasets.update_labels(app.requester().account_id, datasetId, labels)
    return app.empty()


@app.post(
    "/dataset-tasks/<taskId>",
    summary="Update a task",
    description=(
        "Assignee, status (`in_progress`, `submitted`, `pending`), answer and due date; only the fields "
        "sent change. Returns a json with an Updated TaskResource object."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(TaskResource, "the updated task", 401, 403, 404, 409),
)
def update_task(taskId: DatasetTaskId, changes: Annotated[TaskUpdateIn, Body()]) -> Reply:  # noqa: N803
    return _task_reply(datasets.update_task(app.requester().account_id, taskId, changes))


@app.post(
    "/dataset-tasks/<taskId>/accept",
    summary="Accept task",
    description=(
        "A submitted task becomes accepted; the same task of the next stage (e.g. QA) becomes workable. "
        "Returns a json with an Updated TaskResource object."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(TaskResource, "the accepted task", 401, 403, 404, 409),
)
def accept_task(taskId: DatasetTaskId) -> Reply:  # noqa: N803
    return _task_reply(datasets.accept_task(app.requester().account_id, taskId))


@app.post(
    "/dataset-tasks/<taskId>/reject",
    summary="Reject task",
    description=(
        "A submitted task goes back to its assignee (status `rejected`), with an optional `reason`. "
        "Returns a json with an Updated TaskResource object."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(TaskResource, "the rejected task", 401, 403, 404, 409),
)
def reject_task(taskId: DatasetTaskId, rejection: Annotated[DatasetRejectIn | None, Body()] = None) -> Reply:  # noqa: N803
    reason = rejection.reason if rejection else None
    return _task_reply(datasets.reject_task(app.requester().account_id, taskId, reason))


@app.get(
    "/clients/<clientId>/tasks",
    summary="Tasks of a user",
    description=(
        "Returns a json with fields `file_tasks`, `label_tasks` that represents an array of TaskResource "
        "objects: the tasks assigned to the user (retired ones left out)."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(UserTasks, "the user's tasks", 401, 403, 404),
)
def user_tasks(
    clientId: ClientId,  # noqa: N803
    email: Annotated[str, Query(min_length=3, max_length=254, description="Email of user")],
) -> Reply:
    found = datasets.user_tasks(app.requester().account_id, clientId, email)
    return app.reply(dump_every_field(found))  # TaskResource lists: every field, as above


@app.get(
    "/clients/<clientId>/delayed-tasks",
    summary="Delayed tasks",
    description=(
        "Returns a json with field `delayed_tasks`: the tasks past their due date that are not accepted, "
        "most delayed first, each with `delayed_by_seconds`."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(DelayedTasks, "the delayed tasks", 401, 403, 404),
)
def delayed_tasks(clientId: ClientId) -> Reply:  # noqa: N803
    found = datasets.delayed_tasks(app.requester().account_id, clientId)
    return app.reply(dump_every_field(found))  # TaskResource lists: every field, as above


lambda_handler = entrypoint(app)
