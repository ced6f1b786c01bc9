"""Profile: the caller's own account, balance and commission rate."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import profile_links
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask.models.accounts import ProfileOut, ProfileUpdateIn
from crowdtask.services import accounts

app = ApiApp()


@app.get(
    "/me",
    summary="Get your Profile",
    tags=["Profile"],
    security=TOKEN_AUTH,
    responses=responses(ProfileOut, "your profile", 401),
)
def get_profile() -> Reply:
    return app.reply(accounts.get_profile(app.caller().account_id), links=profile_links())


@app.put(
    "/me",
    summary="Update your Profile",
    tags=["Profile"],
    security=TOKEN_AUTH,
    responses=responses(ProfileOut, "your updated profile", 401),
)
def update_profile(changes: Annotated[ProfileUpdateIn, Body()]) -> Reply:
    return app.reply(accounts.update_profile(app.caller().account_id, changes), links=profile_links())


lambda_handler = entrypoint(app)
