"""Auth: tokens, worker sign-up, and admin account management."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from crowdtask.http import auth
from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.schemas import error_responses, ok_response
from crowdtask.models.accounts import AccountCreateIn, Credentials, CreditIn, ProfileOut, SignupIn, TokenOut
from crowdtask.services import accounts
from crowdtask.services import auth as auth_service

app = ApiApp()
TOKEN = [{"authToken": []}]
ADMIN = [{"adminKey": []}]


@app.post(
    "/auth/token/request",
    summary="Request an auth token",
    tags=["Auth Token"],
    responses={**ok_response(TokenOut, "a new token"), **error_responses(401, 429)},
)
def request_token(credentials: Annotated[Credentials, Body()]) -> Reply:
    return app.reply(auth_service.request_token(credentials.email, credentials.password))


@app.post(
    "/auth/token/discard",
    summary="Discard an auth token",
    tags=["Auth Token"],
    security=TOKEN,
    responses={204: {"description": "the token no longer works"}, **error_responses(401)},
)
def discard_token() -> Reply:
    auth_service.discard_token(app.caller())
    return app.empty()


@app.post(
    "/workers/signup",
    summary="Sign up as a worker",
    tags=["Accounts"],
    responses={**ok_response(ProfileOut, "the new worker account", 201), **error_responses(409)},
)
def sign_up(account: Annotated[SignupIn, Body()]) -> Reply:
    return app.reply(accounts.sign_up_worker(account), status=201)


@app.post(
    "/admin/accounts",
    summary="Create an account (admin)",
    tags=["Admin"],
    security=ADMIN,
    responses={**ok_response(ProfileOut, "the new account", 201), **error_responses(401, 409)},
)
def create_account(account: Annotated[AccountCreateIn, Body()]) -> Reply:
    auth.require_admin(app.current_event.headers)
    return app.reply(accounts.create_account(account), status=201)


@app.post(
    "/admin/accounts/<id>/credit",
    summary="Credit a requester's available balance (admin)",
    tags=["Admin"],
    security=ADMIN,
    responses={**ok_response(ProfileOut, "the account after the credit"), **error_responses(401, 404, 409)},
)
def credit_account(
    id: Annotated[str, Path(max_length=64, description="id of the account")],
    credit: Annotated[CreditIn, Body()],
) -> Reply:
    auth.require_admin(app.current_event.headers)
    return app.reply(accounts.credit(id, credit.amount))


lambda_handler = entrypoint(app)
