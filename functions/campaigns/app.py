"""Campaigns: the conditions under which jobs reach the job market, their jobs and their lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import campaign_links, job_links
from crowdtask.http.params import (
    DEFAULT_LIMIT,
    After,
    ArchivedFilter,
    Before,
    CampaignId,
    Limit,
    Order,
    Search,
)
from crowdtask.http.routes import copy_and_archive_routes, member_routes
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask.models.campaigns import CampaignIn, CampaignJobIds, CampaignOut, CampaignPage
from crowdtask.models.jobs import JobPage
from crowdtask.services import campaigns
from crowdtask.services.flows import publishing

app = ApiApp()
TAGS = ["Campaign"]
LIFECYCLE = ["Campaign Lifecycle"]


def _reply_campaign(campaign: CampaignOut) -> Reply:
    return app.reply(campaign, links=campaign_links(campaign))


@app.get(
    "/campaigns",
    summary="List all Campaigns",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        CampaignPage,
        "one page of campaigns; the `Link` header and HAL links page on",
        401,
        403,
    ),
)
def list_campaigns(
    limit: Limit = DEFAULT_LIMIT,
    order: Order = None,
    search: Search = None,
    after: After = None,
    before: Before = None,
    archived: ArchivedFilter = None,
) -> Reply:
    query = app.list_query(limit, archived)
    found = campaigns.list_campaigns(app.requester().account_id, query)
    return app.collection_reply("campaigns", "/campaigns", query, found, campaign_links)


@app.post(
    "/campaigns",
    summary="Create a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(CampaignOut, "the new campaign (unpublished)", 401, 403, 404, status=201),
)
def create_campaign(campaign: Annotated[CampaignIn, Body()]) -> Reply:
    created = campaigns.create_campaign(app.requester().account_id, campaign)
    return app.created(created, f"/campaigns/{created.id}", links=campaign_links(created))


@app.get(
    "/campaigns/<id>",
    summary="Get a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(CampaignOut, "the campaign", 401, 403, 404),
)
def get_campaign(id: CampaignId) -> Reply:
    return _reply_campaign(campaigns.get_campaign(app.requester().account_id, id))


@app.put(
    "/campaigns/<id>",
    summary="Update a Campaign",
    description="A published campaign keeps what workers do and are paid: send those fields unchanged.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(CampaignOut, "the updated campaign", 401, 403, 404, 409),
)
def replace_campaign(id: CampaignId, campaign: Annotated[CampaignIn, Body()]) -> Reply:
    return _reply_campaign(campaigns.replace_campaign(app.requester().account_id, id, campaign))


copy_and_archive_routes(
    app,
    collection="campaigns",
    noun="campaign",
    model=CampaignOut,
    tags=TAGS,
    links=campaign_links,
    copy=campaigns.copy_campaign,
    archive=lambda account, id, deep: campaigns.set_archived(account, id, True, deep),
    unarchive=lambda account, id, deep: campaigns.set_archived(account, id, False, deep),
    deep="also apply to the campaign's jobs and their tasks",
)


member_routes(
    app,
    collection="campaigns",
    noun="campaign",
    members="jobs",
    page_model=JobPage,
    ids_model=CampaignJobIds,
    links=job_links,
    page=campaigns.jobs_page,
    change=lambda account, id, ids, append: campaigns.change_jobs(account, id, ids, append=append),
)


def _lifecycle_route(action: str, summary: str, move: Callable[[str, str], CampaignOut]) -> None:
    """POST /campaigns/{id}/<action>, answered by `move` (account id, campaign id)."""

    @app.post(
        f"/campaigns/<id>/{action}",
        summary=summary,
        tags=LIFECYCLE,
        security=TOKEN_AUTH,
        operation_id=f"campaign_{action}",
        responses=responses(CampaignOut, "the campaign in its new state", 401, 403, 404, 409),
    )
    def moved(id: CampaignId) -> Reply:
        return _reply_campaign(move(app.requester().account_id, id))


_lifecycle_route("publish", "Publish a Campaign", publishing.publish)
_lifecycle_route("pause", "Pause an active Campaign", campaigns.pause)
_lifecycle_route("continue", "Continue a paused Campaign", campaigns.resume)
_lifecycle_route("cancel", "Cancel a published Campaign", publishing.cancel)

lambda_handler = entrypoint(app)
