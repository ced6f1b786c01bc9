"""The job market for workers: open jobs, claims, assignments, submissions and the worker's own record."""

from __future__ import annotations

from typing import Annotated, Literal

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import assignment_links, market_job_links, result_links
from crowdtask.http.pagination import list_query, page_links
from crowdtask.http.params import DEFAULT_LIMIT, After, AssignmentId, Before, JobId, Limit, id_filter
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from crowdtask.models.market import AssignmentOut, AssignmentPage, MarketJobPage, WorkerMeOut
from crowdtask.models.results import ResultOut
from crowdtask.models.submissions import SubmitIn
from crowdtask.services import assignments, market, workers
from crowdtask.services.flows import reviewing

app = ApiApp()
Latitude = Annotated[
    float | None,
    Query(ge=-90, le=90, description="the worker's latitude (region-based jobs); give lng too, or neither"),
]
Longitude = Annotated[
    float | None,
    Query(
        ge=-180, le=180, description="the worker's longitude (region-based jobs); give lat too, or neither"
    ),
]
TAGS = ["Job Market"]


def _reply_assignment(assignment: AssignmentOut) -> Reply:
    return app.reply(assignment, links=assignment_links(assignment))


@app.get(
    "/market/jobs",
    summary="List the Jobs a Worker may take now",
    description="Jobs of active campaigns with a slot open, not expired, within the worker's per-job limit "
    "and worker groups; region-based jobs only with `lat` and `lng`, and only within their radius.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        MarketJobPage,
        "jobs this worker may take now, longest on the market first",
        401,
        403,
    ),
)
def list_market_jobs(limit: Limit = DEFAULT_LIMIT, lat: Latitude = None, lng: Longitude = None) -> Reply:
    found = market.list_jobs(app.worker().account_id, limit, lat, lng)
    return app.page_reply("jobs", found, {"self": {"href": "/market/jobs"}}, market_job_links)


@app.post(
    "/market/jobs/<jobId>/claim",
    summary="Claim a Job",
    description="Takes one open slot of the job: the assignment's `deadline` is claim time + the smallest "
    "`user_ttl` of the job's tasks, else the campaign's maxWorkTime, else 1 hour; results are accepted "
    "until `submitBy` (the deadline plus maxUploadTime). 409 when the job is full, expired, its campaign "
    "is not active, the worker is too far or has taken it as often as allowed; 403 for another worker group.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        AssignmentOut,
        "the new assignment, with the job's tasks",
        401,
        403,
        404,
        409,
        status=201,
    ),
)
def claim_job(
    jobId: JobId,  # noqa: N803 - the path's name
    campaign: Annotated[str | None, id_filter("the campaign (when the job is published in several)")] = None,
    lat: Latitude = None,
    lng: Longitude = None,
) -> Reply:
    claimed = assignments.claim(app.worker().account_id, jobId, campaign, lat, lng)
    return app.created(claimed, f"/assignments/{claimed.id}", links=assignment_links(claimed))


@app.get(
    "/assignments",
    summary="List the Worker's Assignments",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(AssignmentPage, "one page of assignments, newest first", 401, 403),
)
def list_assignments(
    limit: Limit = DEFAULT_LIMIT,
    state: Annotated[
        Literal["open", "submitted", "released", "expired"] | None,
        Query(description="only assignments in this state"),
    ] = None,
    after: After = None,
    before: Before = None,
) -> Reply:
    caller = app.worker()
    params = {**(app.current_event.multi_value_query_string_parameters or {}), "order": ["-id"]}
    query = list_query(params, limit=limit, equals={} if state is None else {"state": state})
    found, page = assignments.list_assignments(caller.account_id, query)
    shown = {k: v for k, v in params.items() if k != "order"}
    links = page_links("/assignments", shown, query, page)
    return app.page_reply("assignments", found, links, assignment_links)


@app.get(
    "/assignments/<id>",
    summary="Get an Assignment",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(AssignmentOut, "the assignment, with the job's tasks", 401, 403, 404),
)
def get_assignment(id: AssignmentId) -> Reply:
    return _reply_assignment(assignments.get_assignment(app.worker().account_id, id))


@app.post(
    "/assignments/<id>/submit",
    summary="Submit the Result of an Assignment",
    description="Every interactive component's result is checked against the component catalogue; a 422 "
    "names each bad one (`taskResults[0].components[1].result.selectedOption`). A recording, drawing or "
    "media result is `{url}` with the `resultUrl` of this assignment's upload for that component (POST "
    "/assignments/{id}/uploads), uploaded, of the component's type and within its size. Refused with 409 "
    "after `submitBy`. The result is InReview until approved, rejected or auto-approved after maxReviewTime.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ResultOut, "the result, in review", 401, 403, 404, 409, status=201),
)
def submit_assignment(id: AssignmentId, submission: Annotated[SubmitIn, Body()]) -> Reply:
    result = reviewing.submit(app.worker().account_id, id, submission)
    return app.reply(result, status=201, links=result_links(result))


@app.post(
    "/assignments/<id>/release",
    summary="Release an Assignment",
    description="Gives the slot back to the market; the worker may claim the job again later.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(AssignmentOut, "the released assignment", 401, 403, 404, 409),
)
def release_assignment(id: AssignmentId) -> Reply:
    return _reply_assignment(reviewing.release(app.worker().account_id, id))


@app.get(
    "/workers/me",
    summary="Get the Worker's record",
    tags=["Workers"],
    security=TOKEN_AUTH,
    responses=responses(WorkerMeOut, "points, earnings, reputation and experience", 401, 403),
)
def worker_me() -> Reply:
    return app.reply(workers.me(app.worker().account_id), links={"self": {"href": "/workers/me"}})


lambda_handler = entrypoint(app)
