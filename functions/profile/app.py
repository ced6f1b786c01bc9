"""Profile: the caller's own account, balance and commission rate."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import profile_links
from crowdtask.http.schemas import error_responses, ok_response
from crowdtask.models.accounts import ProfileOut, ProfileUpdateIn
from crowdtask.services import accounts

app = ApiApp()
TOKEN = [{"authToken": []}]


@app.get(
    "/me",
    summary="Get your Profile",
    tags=["Profile"],
    security=TOKEN,
    responses={**ok_response(ProfileOut, "your profile"), **error_responses(401)},
)
def get_profile() -> Reply:
    return app.reply(accounts.get_profile(app.caller().account_id), links=profile_links())


@app.put(
    "/me",
    summary="Update your Profile",
    tags=["Profile"],
    security=TOKEN,
    responses={**ok_response(ProfileOut, "your updated profile"), **error_responses(401)},
)
def update_profile(changes: Annotated[ProfileUpdateIn, Body()]) -> Reply:
    return app.reply(accounts.update_profile(app.caller().account_id, changes), links=profile_links())


lambda_handler = entrypoint(app)
