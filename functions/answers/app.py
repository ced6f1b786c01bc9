"""Answers for requesters: the aggregate of each task (kept live on every submission), and
Dawid-Skene runs on request."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.params import DEFAULT_LIMIT, AfterMember, CampaignId, Limit, TaskId
from crowdtask.http.schemas import TOKEN_AUTH, responses
from crowdtask.models.answers import AggregateOut, AggregatePage, AggregationIn
from crowdtask.models.bulk import OperationOut
from crowdtask.services import aggregations, answers

app = ApiApp()
TAGS = ["Answers"]
Method = Annotated[
    str | None,
    Query(
        max_length=20,
        description="dawid-skene: the last Dawid-Skene run's; else the live aggregate (majority or weighted)",
    ),
]


@app.get(
    "/campaigns/<id>/aggregates",
    summary="The aggregated answers of a Campaign's tasks",
    description="Live: every submission counts at once and every rejection is taken back. Components "
    "that do not aggregate (text, media) are null.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(AggregatePage, "one page of aggregates, by task id", 401, 403, 404),
)
def campaign_aggregates(
    id: CampaignId, limit: Limit = DEFAULT_LIMIT, after: AfterMember = None, method: Method = None
) -> Reply:
    found = answers.campaign_aggregates(
        app.requester().account_id, id, method=method, after=after, limit=limit
    )
    return app.members_reply(
        "aggregates",
        f"/campaigns/{id}/aggregates",
        found,
        lambda a: {"task": {"href": f"/tasks/{a.task}"}},
        member_key="task",
    )


@app.get(
    "/tasks/<id>/aggregate",
    summary="The aggregated answer of a Task",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(AggregateOut, "the task's live aggregate", 401, 403, 404),
)
def task_aggregate(
    id: TaskId,
    campaign: Annotated[
        str | None,
        Query(
            max_length=64, description="the campaign (default: the latest that collected the task's results)"
        ),
    ] = None,
) -> Reply:
    found = answers.task_aggregate(app.requester().account_id, id, campaign)
    return app.reply(
        found, links={"self": {"href": f"/tasks/{id}/aggregate"}, "task": {"href": f"/tasks/{id}"}}
    )


@app.post(
    "/campaigns/<id>/aggregations",
    summary="Run an aggregation over a Campaign's results",
    description="202 with an AGGREGATION operation; once it is SUCCESS, "
    "`GET /campaigns/{id}/aggregates?method=dawid-skene` has its answers.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(OperationOut, "the operation, PENDING", 401, 403, 404, status=202),
)
def start_aggregation(id: CampaignId, run: Annotated[AggregationIn, Body()]) -> Reply:
    operation = aggregations.start(app.requester().account_id, id, run.method)
    links = {
        "self": {"href": f"/operations/{operation.id}"},
        "aggregates": {"href": f"/campaigns/{id}/aggregates?method={run.method}"},
    }
    return app.created(operation, f"/operations/{operation.id}", links=links, status=202)


lambda_handler = entrypoint(app, needs=("aggregation_queue_url",))
