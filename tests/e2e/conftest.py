"""One local stack on the real template.yaml for the whole session, on the session's DynamoDB Local."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.stack import REPO, RUNNER_ADMIN_KEY, RunningStack, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory, dynamodb_local: str) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("e2e"),
        "--dynamodb-url",
        dynamodb_local,
        "--stack-name",
        "crowdtask-e2e",
        template=REPO / "template.yaml",
    )
    yield running
    running.stop()


@dataclass(frozen=True)
class Session:
    """An account over HTTP: its id, e-mail, password and token."""

    api: RunningStack
    id: str
    email: str
    password: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"X-Auth-Token": self.token, **kwargs.pop("headers", {})}
        return self.api.request(method, path, headers=headers, **kwargs)


def admin(api: RunningStack, method: str, path: str, **kwargs: Any) -> Any:
    return api.request(method, path, headers={"X-Admin-Key": RUNNER_ADMIN_KEY}, **kwargs)


def new_account(api: RunningStack, role: str = "requester", balance: float = 0) -> Session:
    email = f"{role}-{uuid.uuid4().hex[:12]}@example.com"
    password = "a long enough passphrase"
    body: dict[str, Any] = {"email": email, "password": password, "role": role}
    if balance:
        body["balance"] = balance
    created = admin(api, "POST", "/admin/accounts", json=body)
    assert created.status_code == 201, created.text
    token = api.request("POST", "/auth/token/request", json={"email": email, "password": password})
    assert token.status_code == 200, token.text
    return Session(api, created.json()["id"], email, password, token.json()["accessToken"])


@pytest.fixture
def requester(api: RunningStack) -> Session:
    return new_account(api, balance=100)
