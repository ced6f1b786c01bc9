"""Results review for requesters: a campaign's results and workers, approve, (soft-)reject, approve-all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from crowdtask import errors, lazy
from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import result_links
from crowdtask.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, link_header, member_links
from crowdtask.http.schemas import TOKEN_AUTH, responses

if TYPE_CHECKING:
    from crowdtask.models import campaigns as campaign_models
    from crowdtask.models import results as result_models
    from crowdtask.services import flows, results, workers
else:  # services and models load with the first route that uses them (cold start)
    campaign_models = lazy.load("crowdtask.models.campaigns")
    result_models = lazy.load("crowdtask.models.results")
    results = lazy.load("crowdtask.services.results")
    flows = lazy.load("crowdtask.services.flows")
    workers = lazy.load("crowdtask.services.workers")

app = ApiApp()
CampaignId = Annotated[str, Path(max_length=64, description="id of the campaign")]
ResultId = Annotated[str, Path(max_length=64, description="id of the result")]
WorkerId = Annotated[str, Path(max_length=64, description="id of the worker")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="elements per page, 1..100")]
State = Annotated[
    Literal["InReview", "Approved", "Rejected", "SoftRejected"] | None,
    Query(description="only results in this state"),
]
Since = Annotated[
    str | None,
    Query(max_length=40, description="only results submitted after this date, e.g. 2018-03-14T03:14 (UTC)"),
]
After = Annotated[str | None, Query(max_length=64, description="id of the last element of the previous page")]
TAGS = ["Result"]


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return campaign_models._utc_timestamp(value)
    except ValueError as exc:
        raise errors.ValidationFailed.one("since", str(exc)) from exc


def _results_reply(
    path: str, found: list[result_models.ResultOut], more: bool, extra: dict[str, Any] | None = None
) -> Reply:
    params = app.current_event.multi_value_query_string_parameters or {}
    links = member_links(path, params, found[-1].id if found else None, more)
    body = {
        **result_models.ResultPage(results=found).model_dump(mode="json", by_alias=True, exclude_none=True),
        **(extra or {}),
    }
    if app.wants_hal():
        body["results"] = [
            {"_links": result_links(r), **b} for r, b in zip(found, body["results"], strict=True)
        ]
    return app.reply(body, links=links, headers=link_header(links))


def _reply_result(result: result_models.ResultOut) -> Reply:
    return app.reply(result, links=result_links(result))


@app.get(
    "/campaigns/<id>/results",
    summary="List all Results for a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("results:ResultPage", "one page of results in submission order", 401, 403, 404),
)
def campaign_results(
    id: CampaignId,
    limit: Limit = DEFAULT_LIMIT,
    state: State = None,
    since: Since = None,
    after: After = None,
) -> Reply:
    found, more = results.list_campaign_results(
        app.requester().account_id, id, state=state, since=_since(since), after=after, limit=limit
    )
    return _results_reply(f"/campaigns/{id}/results", found, more)


@app.get(
    "/campaigns/<id>/workers",
    summary="List all Workers that participated in a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("results:WorkerPage", "one page of the campaign's workers", 401, 403, 404),
)
def campaign_workers(
    id: CampaignId,
    limit: Limit = DEFAULT_LIMIT,
    InReview: Annotated[  # noqa: N803 - the seed's parameter name
        bool, Query(description="if true, only workers that currently have results in review")
    ] = False,
    after: After = None,
) -> Reply:
    found, more = workers.campaign_workers(
        app.requester().account_id, id, limit=limit, after=after, in_review_only=InReview
    )
    params = app.current_event.multi_value_query_string_parameters or {}
    links = member_links(f"/campaigns/{id}/workers", params, found[-1].id if found else None, more)
    return app.reply(result_models.WorkerPage(workers=found), links=links, headers=link_header(links))


@app.get(
    "/campaigns/<id>/workers/<workerId>/results",
    summary="List all Results for a Campaign for a specific Worker",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        "results:WorkerResultsPage",
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
    after: After = None,
) -> Reply:
    caller = app.requester()
    worker: result_models.WorkerStatsOut = workers.campaign_worker(caller.account_id, id, workerId)
    found, more = results.list_worker_results(
        caller.account_id, id, workerId, state=state, since=_since(since), after=after, limit=limit
    )
    extra = {"worker": worker.model_dump(mode="json", by_alias=True)}
    return _results_reply(f"/campaigns/{id}/workers/{workerId}/results", found, more, extra)


@app.get(
    "/results/<id>",
    summary="Get a Result",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("results:ResultOut", "the result", 401, 403, 404),
)
def get_result(id: ResultId) -> Reply:
    return _reply_result(results.get_result(app.requester().account_id, id))


@app.post(
    "/results/<id>/approve",
    summary="Approve a Result",
    description="Pays the worker (from the campaign's frozen budget) and awards the tasks' points.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("results:ResultOut", "the approved result", 401, 403, 404, 409),
)
def approve(id: ResultId, review: Annotated[result_models.ApproveIn | None, Body()] = None) -> Reply:
    message = review.message if review else None
    return _reply_result(flows.approve(app.requester().account_id, id, message))


@app.post(
    "/results/<id>/reject",
    summary="Reject a Result",
    description="The worker is not paid and their reputation drops; the job is open for another result.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("results:ResultOut", "the rejected result", 401, 403, 404, 409),
)
def reject(id: ResultId, review: Annotated[result_models.RejectIn, Body()]) -> Reply:
    return _reply_result(flows.reject(app.requester().account_id, id, review.reason))


@app.post(
    "/results/<id>/soft-reject",
    summary="Soft-reject a Result",
    description="The same worker may redo the job until `until` (a new assignment); reputation is untouched.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("results:ResultOut", "the soft-rejected result", 401, 403, 404, 409),
)
def soft_reject(id: ResultId, review: Annotated[result_models.SoftRejectIn, Body()]) -> Reply:
    return _reply_result(results.soft_reject(app.requester().account_id, id, review.reason, review.until))


@app.post(
    "/campaigns/<id>/workers/<workerId>/approve-all",
    summary="Approve all in review Results of a Worker",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("results:ApproveAllOut", "how many results were approved", 401, 403, 404),
)
def approve_all_of_worker(
    id: CampaignId,
    workerId: WorkerId,  # noqa: N803 - the path's name
    review: Annotated[result_models.ApproveIn | None, Body()] = None,
) -> Reply:
    done = flows.approve_all(app.requester().account_id, id, workerId, review.message if review else None)
    return app.reply(done, links={"results": {"href": f"/campaigns/{id}/workers/{workerId}/results"}})


@app.post(
    "/campaigns/<id>/results/approve-all",
    summary="Approve all in review Results of a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("results:ApproveAllOut", "how many results were approved", 401, 403, 404),
)
def approve_all_of_campaign(
    id: CampaignId, review: Annotated[result_models.ApproveIn | None, Body()] = None
) -> Reply:
    done = flows.approve_all(app.requester().account_id, id, None, review.message if review else None)
    return app.reply(done, links={"results": {"href": f"/campaigns/{id}/results"}})


lambda_handler = entrypoint(app)
