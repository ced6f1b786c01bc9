"""Accounts and tokens for tests, made through the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class TestAccount:
    id: str
    email: str
    password: str
    token: str


def make_account(
    role: str = "requester",
    balance: Decimal | int = 0,
    password: str = "correct horse",
    groups: list[str] | None = None,
) -> TestAccount:
    """A requester (holding `balance` USD) or a worker (in worker `groups`), with a token."""
    from crowdtask.models.accounts import AccountCreateIn
    from crowdtask.services import accounts, auth

    email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    profile = accounts.create_account(
        AccountCreateIn(
            email=email,
            password=password,
            role=role,
            balance=balance if role == "requester" else None,
            workerGroups=groups,
        )
    )
    token = auth.request_token(email, password).accessToken
    return TestAccount(id=profile.id, email=email, password=password, token=token)
