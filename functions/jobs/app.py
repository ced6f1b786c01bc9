"""Jobs: sequences of tasks a worker is paid for, and the tasks of each job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from crowdtask import lazy
from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import job_links, task_links
from crowdtask.http.pagination import (
    DEFAULT_LIMIT,
    After,
    ArchivedFilter,
    Before,
    Limit,
    Order,
    Search,
)
from crowdtask.http.routes import copy_and_archive_routes, member_routes
from crowdtask.http.schemas import TOKEN_AUTH, responses

if TYPE_CHECKING:
    from crowdtask.models import jobs as job_models
    from crowdtask.services import jobs
else:  # services and models load with the first route that uses them (cold start)
    job_models = lazy.load("crowdtask.models.jobs")
    jobs = lazy.load("crowdtask.services.jobs")

app = ApiApp()
JobId = Annotated[str, Path(max_length=64, description="id of the job")]
Deep = Annotated[bool, Query(description="also apply to the job's tasks")]
TAGS = ["Job"]


def _reply_job(job: job_models.JobOut, status: int = 200) -> Reply:
    headers = {"Location": f"/jobs/{job.id}"} if status == 201 else None
    return app.reply(job, status=status, links=job_links(job), headers=headers)


@app.get(
    "/jobs",
    summary="List all Jobs",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        "jobs:JobPage", "one page of jobs; the `Link` header and HAL links page on", 401, 403
    ),
)
def list_jobs(
    limit: Limit = DEFAULT_LIMIT,
    order: Order = None,
    search: Search = None,
    after: After = None,
    before: Before = None,
    archived: ArchivedFilter = None,
) -> Reply:
    query = app.list_query(limit, archived)
    return app.collection_reply(
        "jobs", "/jobs", query, jobs.list_jobs(app.requester().account_id, query), job_links
    )


@app.post(
    "/jobs",
    summary="Create a Job",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("jobs:JobOut", "the new job", 401, 403, status=201),
)
def create_job(job: Annotated[job_models.JobIn, Body()]) -> Reply:
    return _reply_job(jobs.create_job(app.requester().account_id, job), status=201)


@app.get(
    "/jobs/<id>",
    summary="Get a Job",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("jobs:JobOut", "the job", 401, 403, 404),
)
def get_job(id: JobId) -> Reply:
    return _reply_job(jobs.get_job(app.requester().account_id, id))


@app.put(
    "/jobs/<id>",
    summary="Update a Job",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("jobs:JobOut", "the updated job", 401, 403, 404, 409),
)
def replace_job(id: JobId, job: Annotated[job_models.JobIn, Body()]) -> Reply:
    return _reply_job(jobs.replace_job(app.requester().account_id, id, job))


copy_and_archive_routes(
    app,
    collection="jobs",
    noun="job",
    model="jobs:JobOut",
    tags=TAGS,
    links=job_links,
    copy=lambda account, id, deep: jobs.copy_job(account, id, deep),  # noqa: PLW0108 - loads the service on first use
    archive=lambda account, id, deep: jobs.set_archived(account, id, True, deep),
    unarchive=lambda account, id, deep: jobs.set_archived(account, id, False, deep),
    deep="also apply to the job's tasks (copy: the copy gets copies of them; false: it shares them)",
)


member_routes(
    app,
    collection="jobs",
    noun="job",
    members="tasks",
    page_model="tasks:TaskPage",
    ids_model="jobs:JobTaskIds",
    links=task_links,
    page=lambda account, id, limit, after: jobs.tasks_page(account, id, limit, after),  # noqa: PLW0108
    change=lambda account, id, ids, append: jobs.change_tasks(account, id, ids, append=append),
)

lambda_handler = entrypoint(app)
