"""Auth: tokens, worker sign-up, and admin account management."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http import auth
from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.params import AccountId
from crowdtask.http.schemas import ADMIN_AUTH, TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask.models.accounts import AccountCreateIn, Credentials, CreditIn, ProfileOut, SignupIn, TokenOut
from crowdtask.services import accounts
from crowdtask.services import auth as auth_service

app = ApiApp()


@app.post(
    "/auth/token/request",
    summary="Request an auth token",
    tags=["Auth Token"],
    responses=responses(TokenOut, "a new token", 401, 429),
)
def request_token(credentials: Annotated[Credentials, Body()]) -> Reply:
    source = app.current_event.request_context.identity.source_ip or "unknown"
    return app.reply(auth_service.request_token(credentials.email, credentials.password, source))


@app.post(
    "/auth/token/discard",
    summary="Discard an auth token",
    tags=["Auth Token"],
    security=TOKEN_AUTH,
    responses=responses(None, "the token no longer works", 401, status=204),
)
def discard_token() -> Reply:
    auth_service.discard_token(app.caller())
    return app.empty()


@app.post(
    "/workers/signup",
    summary="Sign up as a worker",
    tags=["Accounts"],
    responses=responses(ProfileOut, "the new worker account", 409, status=201),
)
def sign_up(account: Annotated[SignupIn, Body()]) -> Reply:
    return app.reply(accounts.sign_up_worker(account), status=201)


@app.post(
    "/admin/accounts",
    summary="Create an account (admin)",
    tags=["Admin"],
    security=ADMIN_AUTH,
    responses=responses(ProfileOut, "the new account", 401, 409, status=201),
)
def create_account(account: Annotated[AccountCreateIn, Body()]) -> Reply:
    auth.require_admin(app.current_event.headers)
    return app.reply(accounts.create_account(account), status=201)


@app.post(
    "/admin/accounts/<id>/credit",
    summary="Credit a requester's available balance (admin)",
    tags=["Admin"],
    security=ADMIN_AUTH,
    responses=responses(ProfileOut, "the account after the credit", 401, 404, 409),
)
def credit_account(
    id: AccountId,
    credit: Annotated[CreditIn, Body()],
) -> Reply:
    auth.require_admin(app.current_event.headers)
    return app.reply(accounts.credit(id, credit.amount))


lambda_handler = entrypoint(app, needs=("admin_key_parameter",), secret_routes=("/auth/token/request",))
