"""Answers for requesters: the aggregate of each task (kept live on every submission),
Dawid-Skene runs on request, and bonuses for the workers who gave them."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import bonus_links
from crowdtask.http.pagination import list_query, page_links
from crowdtask.http.params import (
    DEFAULT_LIMIT,
    After,
    AfterMember,
    Before,
    CampaignId,
    Limit,
    TaskId,
    id_filter,
    id_param,
)
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query

from crowdtask.models.answers import AggregateOut, AggregatePage, AggregationIn
from crowdtask.models.bonuses import BonusIn, BonusOut, BonusPage
from crowdtask.models.bulk import OperationOut
from crowdtask.services import aggregations, answers, bonuses

app = ApiApp()
TAGS, BONUSES = ["Answers"], ["Bonus"]
BonusId = Annotated[str, id_param("bonus")]
# Required here (optional on other creating POSTs): a retried payment must never pay twice.
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="a key unique to this payment (a UUID, say): the same key sent again returns the same "
        "bonus and pays nothing more",
    ),
]
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
        cursor=lambda a: str(a.task),
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
        str | None, id_filter("the campaign (default: the latest that collected the task's results)")
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


@app.post(
    "/bonuses",
    summary="Pay a Worker a bonus",
    description="From your available balance at once, plus your commission rate on it (as on results), "
    "to a worker who has submitted a result in one of your campaigns. The `Idempotency-Key` header is "
    "required: a request repeated with the same key answers the same bonus (201, `Idempotent-Replayed`) "
    "and pays once; a refusal (409) is answered again for that key too, so use a new key once the "
    "balance is credited. 409 (with `balance`) when the available balance does not cover amount plus "
    "commission; 404 for a worker who never worked for you, or a `result` that is not theirs in your "
    "account. The worker sees the bonus in `GET /workers/me` (`earnings.bonuses`).",
    tags=BONUSES,
    security=TOKEN_AUTH,
    responses=responses(BonusOut, "the bonus, paid", 401, 403, 404, 409, status=201),
)
def pay_bonus(bonus: Annotated[BonusIn, Body()], idempotency_key: IdempotencyKey) -> Reply:
    paid, _ = bonuses.pay(app.requester().account_id, bonus, idempotency_key)
    return app.created(paid, f"/bonuses/{paid.id}", links=bonus_links(paid))


@app.get(
    "/bonuses",
    summary="List the bonuses you paid",
    tags=BONUSES,
    security=TOKEN_AUTH,
    responses=responses(BonusPage, "one page of your bonuses, newest first", 401, 403),
)
def list_bonuses(
    limit: Limit = DEFAULT_LIMIT,
    worker: Annotated[str | None, id_filter("only the bonuses of this worker")] = None,
    after: After = None,
    before: Before = None,
) -> Reply:
    params = {**app.query_params(), "order": ["-id"]}
    query = list_query(params, limit=limit)
    found, page = bonuses.list_bonuses(app.requester().account_id, query, worker=worker)
    links = page_links("/bonuses", {k: v for k, v in params.items() if k != "order"}, query, page)
    return app.page_reply("bonuses", found, links, bonus_links)


@app.get(
    "/bonuses/<id>",
    summary="A bonus you paid",
    tags=BONUSES,
    security=TOKEN_AUTH,
    responses=responses(BonusOut, "the bonus", 401, 403, 404),
)
def get_bonus(id: BonusId) -> Reply:
    found = bonuses.get_bonus(app.requester().account_id, id)
    return app.reply(found, links=bonus_links(found))


lambda_handler = entrypoint(app, needs=("aggregation_queue_url",))
