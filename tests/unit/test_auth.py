"""Tokens, password storage and the failed-login lock."""

from __future__ import annotations

import pytest

from crowdtask import errors
from crowdtask.config import settings
from crowdtask.services import auth
from crowdtask.store import dynamo
from tests.support.accounts import make_account


def _all_items() -> list[dict]:
    return [dynamo.from_item(i) for i in dynamo.client().scan(TableName=dynamo.table())["Items"]]


def test_token_is_stored_only_as_a_hash_and_identifies_the_account(aws, frozen_clock):
    # Given an account that requested a token
    account = make_account()
    # Then the raw token appears nowhere in the table, and the password only as an argon2id hash
    stored = repr(_all_items())
    assert account.token not in stored
    assert account.password not in stored
    record = next(i for i in _all_items() if i.get("type") == "account")
    assert record["password_hash"].startswith("$argon2id$")
    # And the token resolves to its account and role
    caller = auth.caller_for_token(account.token)
    assert (caller.account_id, caller.role) == (account.id, "requester")


def test_tokens_carry_a_prefix_so_none_reads_as_a_command_line_option(aws, frozen_clock):
    account = make_account()
    tokens = [auth.issue_token(account.id, "requester").accessToken for _ in range(200)]
    # token_urlsafe alone starts with "-" one time in 64: `crowdtask --token -x...` would break
    assert all(t.startswith("ct_") and len(t) == 46 for t in tokens)
    assert len(set(tokens)) == 200


def test_token_expires_after_its_lifetime(aws, frozen_clock):
    account = make_account()
    frozen_clock.advance(seconds=settings().token_lifetime_seconds - 1)
    assert auth.caller_for_token(account.token).account_id == account.id
    frozen_clock.advance(seconds=1)
    with pytest.raises(errors.Unauthorized):
        auth.caller_for_token(account.token)


def test_expires_at_is_now_plus_lifetime(aws, frozen_clock):
    account = make_account()
    token = auth.request_token(account.email, account.password)
    assert token.expiresAt == "2026-03-15T03:14:15"
    assert token.userId == account.id


def test_discarded_token_stops_working_and_others_keep_working(aws, frozen_clock):
    account = make_account()
    second = auth.request_token(account.email, account.password).accessToken
    auth.discard_token(auth.caller_for_token(account.token))
    with pytest.raises(errors.Unauthorized):
        auth.caller_for_token(account.token)
    assert auth.caller_for_token(second).account_id == account.id


@pytest.mark.parametrize("email_case", [str.lower, str.upper])
def test_email_is_case_insensitive(aws, frozen_clock, email_case):
    account = make_account()
    assert auth.request_token(email_case(account.email), account.password).userId == account.id


def test_wrong_password_and_unknown_email_get_the_same_refusal(aws, frozen_clock):
    account = make_account()
    with pytest.raises(errors.InvalidCredentials) as wrong:
        auth.request_token(account.email, "not the password")
    with pytest.raises(errors.InvalidCredentials) as unknown:
        auth.request_token("nobody@example.com", "whatever1")
    assert wrong.value.description == unknown.value.description


def test_repeated_failures_lock_the_email_for_a_while(aws, frozen_clock):
    # Given an account whose password was guessed wrong as often as allowed
    account = make_account()
    for _ in range(settings().login_max_failures):
        with pytest.raises(errors.InvalidCredentials):
            auth.request_token(account.email, "guess-guess")
    # When the right password arrives during the lock, it is refused with Retry-After
    with pytest.raises(errors.TooManyRequests) as locked:
        auth.request_token(account.email, account.password)
    assert int(locked.value.headers["Retry-After"]) == settings().login_lock_seconds + 1
    # Then after the lock the right password works and clears the counter
    frozen_clock.advance(seconds=settings().login_lock_seconds)
    assert auth.request_token(account.email, account.password).userId == account.id
    with pytest.raises(errors.InvalidCredentials):
        auth.request_token(account.email, "guess-again")


def test_failures_below_the_limit_do_not_lock(aws, frozen_clock):
    account = make_account()
    for _ in range(settings().login_max_failures - 1):
        with pytest.raises(errors.InvalidCredentials):
            auth.request_token(account.email, "guess-guess")
    assert auth.request_token(account.email, account.password).userId == account.id
