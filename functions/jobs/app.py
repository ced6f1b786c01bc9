"""Jobs: sequences of tasks a worker is paid for, and the tasks of each job."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import job_links, task_links
from crowdtask.http.params import DEFAULT_LIMIT, After, ArchivedFilter, Before, JobId, Limit, Order, Search
from crowdtask.http.routes import copy_and_archive_routes, member_routes
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask.models.jobs import JobIn, JobOut, JobPage, JobTaskIds
from crowdtask.models.tasks import TaskPage
from crowdtask.services import jobs

app = ApiApp()
TAGS = ["Job"]


def _reply_job(job: JobOut) -> Reply:
    return app.reply(job, links=job_links(job))


@app.get(
    "/jobs",
    summary="List all Jobs",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(JobPage, "one page of jobs; the `Link` header and HAL links page on", 401, 403),
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
    responses=responses(JobOut, "the new job", 401, 403, status=201),
)
def create_job(job: Annotated[JobIn, Body()]) -> Reply:
    created = jobs.create_job(app.requester().account_id, job)
    return app.created(created, f"/jobs/{created.id}", links=job_links(created))


@app.get(
    "/jobs/<id>",
    summary="Get a Job",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(JobOut, "the job", 401, 403, 404),
)
def get_job(id: JobId) -> Reply:
    return _reply_job(jobs.get_job(app.requester().account_id, id))


@app.put(
    "/jobs/<id>",
    summary="Update a Job",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(JobOut, "the updated job", 401, 403, 404, 409),
)
def replace_job(id: JobId, job: Annotated[JobIn, Body()]) -> Reply:
    return _reply_job(jobs.replace_job(app.requester().account_id, id, job))


copy_and_archive_routes(
    app,
    collection="jobs",
    noun="job",
    model=JobOut,
    tags=TAGS,
    links=job_links,
    copy=jobs.copy_job,
    archive=lambda account, id, deep: jobs.set_archived(account, id, True, deep),
    unarchive=lambda account, id, deep: jobs.set_archived(account, id, False, deep),
    deep="also apply to the job's tasks (copy: the copy gets copies of them; false: it shares them)",
)


member_routes(
    app,
    collection="jobs",
    noun="job",
    members="tasks",
    page_model=TaskPage,
    ids_model=JobTaskIds,
    links=task_links,
    page=jobs.tasks_page,
    change=lambda account, id, ids, append: jobs.change_tasks(account, id, ids, append=append),
)

lambda_handler = entrypoint(app)
