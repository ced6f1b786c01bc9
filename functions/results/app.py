"""Results review for requesters: a campaign's results and workers, approve, (soft-)reject, approve-all."""

from __future__ import annotations

from typing import Annotated, Literal

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import result_links
from crowdtask.http.params import DEFAULT_LIMIT, AfterMember, CampaignId, Limit, ResultId, WorkerId
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from crowdtask import errors
from crowdtask.models.results import (
    ApproveAllOut,
    ApproveIn,
    RejectIn,
    ResultOut,
    ResultPage,
    SoftRejectIn,
    WorkerPage,
    WorkerResultsPage,
    WorkerStatsOut,
)
from crowdtask.models.times import utc_timestamp
from crowdtask.services import results, workers
from crowdtask.services.flows import reviewing

app = ApiApp()
State = Annotated[
    Literal["InReview", "Approved", "Rejected", "SoftRejected"] | None,
    Query(description="only results in this state"),
]
Since = Annotated[
    str | None,
    Query(
        max_length=40,
        json_schema_extra={"format": "date-time"},
        description="only results submitted after this date, e.g. 2018-03-14T03:14 (UTC)",
    ),
]
TAGS = ["Result"]


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return utc_timestamp(value)
    except ValueError as exc:
        raise errors.ValidationFailed.one("since", str(exc)) from exc


def _reply_result(result: ResultOut) -> Reply:
    return app.reply(result, links=result_links(result))


@app.get(
    "/campaigns/<id>/results",
    summary="List all Results for a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ResultPage, "one page of results in submission order", 401, 403, 404),
)
def campaign_results(
    id: CampaignId,
    limit: Limit = DEFAULT_LIMIT,
    state: State = None,
    since: Since = None,
    after: AfterMember = None,
) -> Reply:
    found, more = results.list_campaign_results(
        app.requester().account_id, id, state=state, since=_since(since), after=after, limit=limit
    )
    return app.members_reply("results", f"/campaigns/{id}/results", (found, more), result_links)


@app.get(
    "/campaigns/<id>/workers",
    summary="List all Workers that participated in a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(WorkerPage, "one page of the campaign's workers", 401, 403, 404),
)
def campaign_workers(
    id: CampaignId,
    limit: Limit = DEFAULT_LIMIT,
    InReview: Annotated[  # noqa: N803 - the seed's parameter name
        bool, Query(description="if true, only workers that currently have results in review")
    ] = False,
    after: AfterMember = None,
) -> Reply:
    found, more = workers.campaign_workers(
        app.requester().account_id, id, limit=limit, after=after, in_review_only=InReview
    )
    return app.members_reply("workers", f"/campaigns/{id}/workers", (found, more))


@app.get(
    "/campaigns/<id>/workers/<workerId>/results",
    summary="List all Results for a Campaign for a specific Worker",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        WorkerResultsPage,
        "one page of the worker's results, and the worker",
        401,
        403,
        404,
    ),
)
def worker_results(
    id: CampaignId,
    workerId: WorkerId,  # noqa: N803 - the path's name
    limit: Limit = DEFAULT_LIMIT,
    state: State = None,
    since: Since = None,
    after: AfterMember = None,
) -> Reply:
    caller = app.requester()
    worker: WorkerStatsOut = workers.campaign_worker(caller.account_id, id, workerId)
    found, more = results.list_worker_results(
        caller.account_id, id, workerId, state=state, since=_since(since), after=after, limit=limit
    )
    path = f"/campaigns/{id}/workers/{workerId}/results"
    return app.members_reply("results", path, (found, more), result_links, extra={"worker": worker})


@app.get(
    "/results/<id>",
    summary="Get a Result",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ResultOut, "the result", 401, 403, 404),
)
def get_result(id: ResultId) -> Reply:
    return _reply_result(results.get_result(app.requester().account_id, id))


@app.post(
    "/results/<id>/approve",
    summary="Approve a Result",
    description="Pays the worker (from the campaign's frozen budget) and awards the tasks' points.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ResultOut, "the approved result", 401, 403, 404, 409),
)
def approve(id: ResultId, review: Annotated[ApproveIn | None, Body()] = None) -> Reply:
    message = review.message if review else None
    return _reply_result(reviewing.approve(app.requester().account_id, id, message))


@app.post(
    "/results/<id>/reject",
    summary="Reject a Result",
    description="The worker is not paid and their reputation drops; the job is open for another result.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ResultOut, "the rejected result", 401, 403, 404, 409),
)
def reject(id: ResultId, review: Annotated[RejectIn, Body()]) -> Reply:
    return _reply_result(reviewing.reject(app.requester().account_id, id, review.reason))


@app.post(
    "/results/<id>/soft-reject",
    summary="Soft-reject a Result",
    description="The same worker may redo the job until `until` (a new assignment); reputation is untouched.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ResultOut, "the soft-rejected result", 401, 403, 404, 409),
)
def soft_reject(id: ResultId, review: Annotated[SoftRejectIn, Body()]) -> Reply:
    return _reply_result(results.soft_reject(app.requester().account_id, id, review.reason, review.until))


@app.post(
    "/campaigns/<id>/workers/<workerId>/approve-all",
    summary="Approve all in review Results of a Worker",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ApproveAllOut, "how many results were approved", 401, 403, 404),
)
def approve_all_of_worker(
    id: CampaignId,
    workerId: WorkerId,  # noqa: N803 - the path's name
    review: Annotated[ApproveIn | None, Body()] = None,
) -> Reply:
    done = reviewing.approve_all(app.requester().account_id, id, workerId, review.message if review else None)
    return app.reply(done, links={"results": {"href": f"/campaigns/{id}/workers/{workerId}/results"}})


@app.post(
    "/campaigns/<id>/results/approve-all",
    summary="Approve all in review Results of a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ApproveAllOut, "how many results were approved", 401, 403, 404),
)
def approve_all_of_campaign(id: CampaignId, review: Annotated[ApproveIn | None, Body()] = None) -> Reply:
    done = reviewing.approve_all(app.requester().account_id, id, None, review.message if review else None)
    return app.reply(done, links={"results": {"href": f"/campaigns/{id}/results"}})


lambda_handler = entrypoint(app)
