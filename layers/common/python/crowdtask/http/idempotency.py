"""`Idempotency-Key` on creating POSTs, with Powertools idempotency and DynamoDB persistence.

A retried request with the same key, credentials, method and path gets the first answer
again instead of creating twice; the same key with another body is refused. Server errors
are not remembered, so they can be retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crowdtask import errors

KEY_HEADER = "idempotency-key"
_CREDENTIAL_HEADERS = ("x-auth-token", "authorization", "x-admin-key", "x-api-key")
_LIFETIME_SECONDS = 24 * 3600


class _ServerError(Exception):
    def __init__(self, response: dict[str, Any]):
        super().__init__("server error: not stored")
        self.response = response


def _headers(event: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in (event.get("headers") or {}).items() if isinstance(v, str)}


def _mark_replayed(response: Any, idempotent_data: Any) -> Any:
    if isinstance(response, dict):
        response.setdefault("multiValueHeaders", {})["Idempotent-Replayed"] = ["true"]
    return response


def run_idempotent(
    event: dict[str, Any],
    context: Any,
    resolve: Callable[[dict[str, Any], Any], dict[str, Any]],
    secret_routes: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Resolve the event, once per Idempotency-Key when the request carries one.

    A route whose answer is a secret (a token, an API key) is in `secret_routes` (by its path
    template, as API Gateway names the resource): its answer must never be stored, so there the
    header is ignored and every request is answered anew. So is a request without credentials:
    keys are scoped by credential, and anonymous clients share none (one would be answered with
    another's reply, or refused while another's request runs).
    """
    headers = _headers(event)
    key = headers.get(KEY_HEADER, "").strip()
    anonymous = not any(headers.get(h, "").strip() for h in _CREDENTIAL_HEADERS)
    method = (event.get("httpMethod") or "").upper()
    if method != "POST" or not key or anonymous or event.get("resource") in secret_routes:
        return resolve(event, context)
    if len(key) > 255:
        raise errors.ValidationFailed.one("Idempotency-Key", "at most 255 characters")

    import hashlib  # like the Powertools utility: only requests with an Idempotency-Key pay its import

    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    from crowdtask.store import idempotency as idempotency_store

    credential = "|".join(headers.get(h, "") for h in _CREDENTIAL_HEADERS)
    request = {
        "scope": hashlib.sha256(credential.encode()).hexdigest(),
        "route": f"POST {event.get('path')}",
        "key": key,
        "body": hashlib.sha256((event.get("body") or "").encode()).hexdigest(),
    }
    config = IdempotencyConfig(
        event_key_jmespath="[scope, route, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=_LIFETIME_SECONDS,
        response_hook=_mark_replayed,
    )
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)

    @idempotent_function(
        data_keyword_argument="request", persistence_store=idempotency_store.persistence(), config=config
    )
    def once(request: dict[str, Any]) -> dict[str, Any]:
        response = resolve(event, context)
        if int(response.get("statusCode", 500)) >= 500:
            raise _ServerError(response)
        return _plain(response)

    try:
        return once(request=request)
    except _ServerError as failed:
        return failed.response
    except IdempotencyAlreadyInProgressError as exc:
        raise errors.Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly."
        ) from exc
    except IdempotencyValidationError as exc:
        raise errors.ValidationFailed.one(
            "Idempotency-Key", "this key was already used with a different request body", "KEY_REUSED"
        ) from exc


def _plain(response: dict[str, Any]) -> dict[str, Any]:
    """The stored copy must be JSON: multiValueHeaders may be a defaultdict."""
    plain = dict(response)
    plain["statusCode"] = int(plain.get("statusCode", 200))
    if "multiValueHeaders" in plain:
        plain["multiValueHeaders"] = {k: list(v) for k, v in plain["multiValueHeaders"].items()}
    if "headers" in plain and plain["headers"] is not None:
        plain["headers"] = dict(plain["headers"])
    return plain
