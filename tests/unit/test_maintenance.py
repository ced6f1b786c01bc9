"""The maintenance sweep: finds expired tokens and ended locks through the due index only."""

from __future__ import annotations

from crowdtask.config import settings
from crowdtask.services import auth, maintenance
from crowdtask.store import dynamo
from tests.support.accounts import make_account
from tests.support.handlers import FakeLambdaContext, function_module, sample_event
from tests.support.infra import dynamodb_calls


def _tokens() -> int:
    items = dynamo.client().scan(TableName=dynamo.table())["Items"]
    return sum(1 for i in items if i["type"]["S"] == "token")


def test_sweep_removes_expired_tokens_and_keeps_live_ones(aws, frozen_clock):
    # Given two tokens issued now and one issued later
    account = make_account()
    auth.request_token(account.email, account.password)
    frozen_clock.advance(hours=2)
    fresh = auth.request_token(account.email, account.password).accessToken
    # When the first two have expired and the sweep runs (twice: it is safe to repeat)
    frozen_clock.advance(seconds=settings().token_lifetime_seconds - 3600)
    assert maintenance.sweep_expired()["token"] == 2
    assert maintenance.sweep_expired()["token"] == 0
    # Then only the fresh token remains, and it still works
    assert _tokens() == 1
    assert auth.caller_for_token(fresh).account_id == account.id


def test_scheduled_handler_reads_only_the_due_index(aws, frozen_clock):
    account = make_account()
    for _ in range(3):
        auth.request_token(account.email, account.password)
    frozen_clock.advance(days=2)
    with dynamodb_calls() as calls:
        result = function_module("maintenance").lambda_handler(
            sample_event("maintenance_schedule"), FakeLambdaContext("maintenance")
        )
    assert result == {"token": 4, "login": 0}
    assert "Scan" not in calls
    assert calls.count("DeleteItem") == 4
