"""Campaigns: the conditions under which jobs reach the job market, their jobs and their lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from crowdtask import lazy
from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import campaign_links, job_links
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
    from crowdtask.models import campaigns as campaign_models
    from crowdtask.models.campaigns import CampaignOut
    from crowdtask.services import campaigns, flows
else:  # services and models load with the first route that uses them (cold start)
    campaign_models = lazy.load("crowdtask.models.campaigns")
    campaigns = lazy.load("crowdtask.services.campaigns")
    flows = lazy.load("crowdtask.services.flows")

app = ApiApp()
CampaignId = Annotated[str, Path(max_length=64, description="id of the campaign")]
Deep = Annotated[bool, Query(description="also apply to the campaign's jobs (and their tasks)")]
TAGS = ["Campaign"]
LIFECYCLE = ["Campaign Lifecycle"]


def _reply_campaign(campaign: campaign_models.CampaignOut, status: int = 200) -> Reply:
    headers = {"Location": f"/campaigns/{campaign.id}"} if status == 201 else None
    return app.reply(campaign, status=status, links=campaign_links(campaign), headers=headers)


@app.get(
    "/campaigns",
    summary="List all Campaigns",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        "campaigns:CampaignPage",
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
    responses=responses("campaigns:CampaignOut", "the new campaign (unpublished)", 401, 403, status=201),
)
def create_campaign(campaign: Annotated[campaign_models.CampaignIn, Body()]) -> Reply:
    return _reply_campaign(campaigns.create_campaign(app.requester().account_id, campaign), status=201)


@app.get(
    "/campaigns/<id>",
    summary="Get a Campaign",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("campaigns:CampaignOut", "the campaign", 401, 403, 404),
)
def get_campaign(id: CampaignId) -> Reply:
    return _reply_campaign(campaigns.get_campaign(app.requester().account_id, id))


@app.put(
    "/campaigns/<id>",
    summary="Update a Campaign",
    description="A published campaign keeps what workers do and are paid: send those fields unchanged.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses("campaigns:CampaignOut", "the updated campaign", 401, 403, 404, 409),
)
def replace_campaign(id: CampaignId, campaign: Annotated[campaign_models.CampaignIn, Body()]) -> Reply:
    return _reply_campaign(campaigns.replace_campaign(app.requester().account_id, id, campaign))


copy_and_archive_routes(
    app,
    collection="campaigns",
    noun="campaign",
    model="campaigns:CampaignOut",
    tags=TAGS,
    links=campaign_links,
    copy=lambda account, id, deep: campaigns.copy_campaign(account, id, deep),  # noqa: PLW0108 - loads the service on first use
    archive=lambda account, id, deep: campaigns.set_archived(account, id, True, deep),
    unarchive=lambda account, id, deep: campaigns.set_archived(account, id, False, deep),
    deep="also apply to the campaign's jobs and their tasks",
)


member_routes(
    app,
    collection="campaigns",
    noun="campaign",
    members="jobs",
    page_model="jobs:JobPage",
    ids_model="campaigns:CampaignJobIds",
    links=job_links,
    page=lambda account, id, limit, after: campaigns.jobs_page(account, id, limit, after),  # noqa: PLW0108
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
        responses=responses("campaigns:CampaignOut", "the campaign in its new state", 401, 403, 404, 409),
    )
    def moved(id: CampaignId) -> Reply:
        return _reply_campaign(move(app.requester().account_id, id))


_lifecycle_route("publish", "Publish a Campaign", lambda account, id: flows.publish(account, id))  # noqa: PLW0108
_lifecycle_route("pause", "Pause an active Campaign", lambda account, id: campaigns.pause(account, id))  # noqa: PLW0108
_lifecycle_route("continue", "Continue a paused Campaign", lambda account, id: campaigns.resume(account, id))  # noqa: PLW0108
_lifecycle_route("cancel", "Cancel a published Campaign", lambda account, id: flows.cancel(account, id))  # noqa: PLW0108

lambda_handler = entrypoint(app)
