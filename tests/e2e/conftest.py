"""One local stack on the real template.yaml for the whole session, on the session's DynamoDB Local;
afterwards every AWS call its functions made is checked against their policies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local import aws_calls
from local.iam import recorded_calls, refused_calls
from local.template import load_stack
from tests.support.stack import REPO, RUNNER_ADMIN_KEY, RunningStack, start_stack

pytestmark = pytest.mark.e2e


E2E_STACK = "crowdtask-e2e"


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory, dynamodb_local: str) -> Iterator[RunningStack]:
    """The local stack on template.yaml, recording every AWS call its functions make.

    Once the stack has stopped, every call is checked against the calling function's policy in
    template.yaml (local/iam.py). The check is this session fixture's finalizer, so it needs no
    ordering of tests: pytest runs it once, at the end of a session in which any test used the
    stack, after all tests (whichever were selected, in whatever order), and after the stack and
    so every worker has written its last calls. A call a policy does not allow fails the run as
    an error in that teardown, listing function, action and resource of each.
    """
    workdir = tmp_path_factory.mktemp("e2e")
    calls = workdir / "aws-calls"
    calls.mkdir()
    running = start_stack(
        workdir,
        "--dynamodb-url",
        dynamodb_local,
        "--stack-name",
        E2E_STACK,
        # as `make run` does: webhooks may reach a receiver on the loopback
        "--parameter",
        "AllowLoopbackWebhooks=true",
        # retries within seconds, not minutes (tests/e2e/test_webhooks_over_http.py)
        "--parameter",
        "WebhookRetrySchedule=1,2,2,2",
        template=REPO / "template.yaml",
        env={aws_calls.ENV: str(calls)},
    )
    yield running
    running.stop()
    check_calls_against_policies(calls)


def check_calls_against_policies(calls_dir: Path) -> None:
    calls = [call for call in recorded_calls(calls_dir) if call.function != aws_calls.RUNNER_LABEL]
    if not calls:
        pytest.fail(f"no function's AWS call was recorded in {calls_dir}: is {aws_calls.ENV} reaching them?")
    stack = load_stack(REPO / "template.yaml", stack_name=E2E_STACK)
    refused = refused_calls(stack, calls)
    if refused:
        pytest.fail(
            "AWS would refuse these calls of the e2e suite (template.yaml policies):\n" + "\n".join(refused),
            pytrace=False,
        )


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


def new_account(api: RunningStack, role: str = "requester", balance: float = 0, **settings: Any) -> Session:
    """A new account (and its token); `settings` are more fields of the admin's account body."""
    email = f"{role}-{uuid.uuid4().hex[:12]}@example.com"
    password = "a long enough passphrase"
    body: dict[str, Any] = {"email": email, "password": password, "role": role, **settings}
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
