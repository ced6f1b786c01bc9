"""CORS from ALLOWED_ORIGIN: the public routes answer it, the admin routes never answer `*`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crowdtask.http import app as http_app

import pytest

from crowdtask import config
from tests.conftest import ADMIN_KEY
from tests.support.context import FakeLambdaContext
from tests.support.handlers import invoke, sample_event, to_reply

ORIGIN = "https://app.example.com"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}


def _cors_headers(reply: Any) -> dict[str, str]:
    return {k: v for k, v in reply.headers.items() if k.lower().startswith("access-control-")}


def test_with_any_origin_the_admin_routes_answer_no_cors_at_all(aws, frozen_clock):
    # Given the default ALLOWED_ORIGIN "*": a public route's preflight allows any origin
    public = invoke("auth", "auth_token_request", method="OPTIONS", headers=PREFLIGHT)
    assert public.status == 204 and public.header("Access-Control-Allow-Origin") == "*"
    # Then an admin route's preflight and answers carry no CORS header: no page may call or read them
    for name in ("auth_admin_create_account", "auth_admin_credit"):
        preflight = invoke("auth", name, method="OPTIONS", headers=PREFLIGHT, path_params=None)
        assert preflight.status == 204 and _cors_headers(preflight) == {}, name
    created = invoke(
        "auth",
        "auth_admin_create_account",
        headers={"X-Admin-Key": ADMIN_KEY, "Origin": ORIGIN},
        body={"email": "cors@example.com", "password": "long enough", "role": "requester"},
    )
    assert created.status == 201 and _cors_headers(created) == {}
    refused = invoke(
        "auth",
        "auth_admin_create_account",
        headers={"X-Admin-Key": "wrong", "Origin": ORIGIN},
        body={"email": "cors2@example.com", "password": "long enough", "role": "requester"},
    )
    assert refused.status == 401 and _cors_headers(refused) == {}
    # And the public routes still answer "*" on their refusals too
    bad_login = invoke("auth", "auth_token_request", headers={"Origin": ORIGIN}, body={"email": "x"})
    assert bad_login.status == 422 and bad_login.header("Access-Control-Allow-Origin") == "*"


@pytest.fixture
def one_origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ALLOWED_ORIGIN set to one origin, for the apps made during the test (settings are per container)."""
    monkeypatch.setenv("ALLOWED_ORIGIN", ORIGIN)
    config.settings.cache_clear()
    http_app.cors.cache_clear()
    yield
    monkeypatch.undo()
    config.settings.cache_clear()
    http_app.cors.cache_clear()


def _container() -> Any:
    """A function with a public and an admin route, made (like a cold start) with the current settings."""
    app = http_app.ApiApp()

    @app.post("/admin/accounts")
    def admin() -> http_app.Reply:
        return app.reply({"ok": True})

    @app.post("/auth/token/request")
    def public() -> http_app.Reply:
        return app.reply({"ok": True})

    return http_app.entrypoint(app, idempotency=False)


def _call(handler: Any, event_name: str, method: str, origin: str) -> Any:
    event = sample_event(event_name)
    event["httpMethod"] = method
    event["headers"] = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Content-Type": "application/json",
    }
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["body"] = "{}" if method == "POST" else None
    return to_reply(handler(event, FakeLambdaContext()))


def test_one_allowed_origin_is_answered_everywhere_and_others_nowhere(one_origin):
    handler = _container()
    for event_name in ("auth_admin_create_account", "auth_token_request"):
        for method in ("OPTIONS", "POST"):
            allowed = _call(handler, event_name, method, ORIGIN)
            assert allowed.header("Access-Control-Allow-Origin") == ORIGIN, (event_name, method)
            assert allowed.header("Vary") == "Origin"
            other = _call(handler, event_name, method, "https://elsewhere.example")
            # without Allow-Origin the browser refuses (Powertools still lists the methods of a preflight)
            assert other.header("Access-Control-Allow-Origin") is None, (event_name, method)
            assert other.header("Vary") == "Origin"


def test_an_origin_that_is_not_one_is_refused_at_cold_start(monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGIN", "https://a.example,https://b.example")
    config.settings.cache_clear()
    try:
        with pytest.raises(config.SettingsError, match="ALLOWED_ORIGIN"):
            config.settings()
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()
