"""Accounts: creation, unique e-mail, credits, profile edits, events (races run in e2e on DynamoDB Local)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crowdtask import errors
from crowdtask.models.accounts import AccountCreateIn, ProfileUpdateIn, SignupIn
from crowdtask.services import accounts
from tests.support.accounts import make_account
from tests.support.eventbus import EventTap


def _new(email: str = "jon@example.com", **extra) -> AccountCreateIn:
    return AccountCreateIn(email=email, password="long enough", role=extra.pop("role", "requester"), **extra)


def test_requester_gets_balance_customer_id_and_default_commission(aws, frozen_clock):
    profile = accounts.create_account(_new(balance=Decimal("42"), firstName="Jon"))
    assert profile.balance.available == "42 USD"
    assert profile.balance.frozen == "0 USD"
    assert profile.commissionRate == 0.2
    assert len(profile.customerId) == 8 and profile.customerId.isalnum()
    assert profile.firstName == "Jon" and profile.createdAt == "2026-03-14T03:14:15"


def test_account_created_event_is_published(aws, frozen_clock):
    tap = EventTap()
    profile = accounts.create_account(_new())
    [event] = tap.drain()
    assert event["detail-type"] == "account.created"
    detail = event["detail"]
    assert detail["data"] == {"accountId": profile.id, "role": "requester"}
    assert (detail["type"], detail["account"], detail["timestamp"]) == (
        "account.created",
        profile.id,
        "2026-03-14T03:14:15.000Z",
    )
    assert detail["id"].startswith("evt_") and len(detail["id"]) == 30 and "campaign" not in detail


def test_email_is_unique_whatever_its_case(aws, frozen_clock):
    accounts.create_account(_new("Jon@Example.com"))
    with pytest.raises(errors.Conflict):
        accounts.sign_up_worker(SignupIn(email="jon@example.COM", password="long enough"))


def test_worker_accounts_cannot_be_given_a_balance(aws, frozen_clock):
    with pytest.raises(errors.ValidationFailed) as refused:
        accounts.create_account(_new(role="worker", balance=Decimal(5)))
    assert refused.value.errors[0]["field"] == "balance"


def test_credit_refuses_unknown_accounts_and_workers(aws, frozen_clock):
    with pytest.raises(errors.NotFound):
        accounts.credit("01NOSUCHACCOUNT00000000000", Decimal(1))
    worker = make_account(role="worker")
    with pytest.raises(errors.Conflict):
        accounts.credit(worker.id, Decimal(1))


def test_profile_update_changes_only_fields_sent_and_ignores_read_only_ones(aws, frozen_clock):
    account = make_account(balance=Decimal(7))
    accounts.update_profile(account.id, ProfileUpdateIn(firstName="Jon", phone="+1"))
    frozen_clock.advance(minutes=1)
    updated = accounts.update_profile(
        account.id,
        ProfileUpdateIn.model_validate(
            {"phone": None, "website": "www.swarms.com", "balance": {"available": "1e9 USD"}}
        ),
    )
    assert updated.firstName == "Jon"
    assert updated.phone is None
    assert updated.website == "www.swarms.com"
    assert updated.balance.available == "7 USD"


def test_profile_refuses_script_urls(aws, frozen_clock):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ProfileUpdateIn(website="javascript:alert(1)")
