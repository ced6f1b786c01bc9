"""Who is calling: the token from `X-Auth-Token` or `Authorization: OAuth|Bearer <token>`."""

from __future__ import annotations

from collections.abc import Mapping

from crowdtask import errors
from crowdtask.services.callers import Caller, caller_for_token, is_admin_key

__all__ = ["authenticate", "bearer_token", "require_admin"]


def _get(headers: Mapping[str, str] | None, name: str) -> str | None:
    lowered = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == lowered:
            return value
    return None


def bearer_token(headers: Mapping[str, str] | None) -> str | None:
    """The token the request carries, in any of the accepted forms, or None."""
    token = _get(headers, "X-Auth-Token")
    if token and token.strip():
        return token.strip()
    authorization = (_get(headers, "Authorization") or "").strip()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in {"oauth", "bearer"} and value.strip():
        return value.strip()
    return None


def authenticate(headers: Mapping[str, str] | None) -> Caller:
    token = bearer_token(headers)
    if token is None:
        raise errors.Unauthorized(
            "Send your token in the X-Auth-Token header (or Authorization: Bearer <token>); "
            "get one from POST /auth/token/request."
        )
    return caller_for_token(token)


def require_admin(headers: Mapping[str, str] | None) -> None:
    if not is_admin_key(_get(headers, "X-Admin-Key") or ""):
        raise errors.Unauthorized("The X-Admin-Key header is missing or wrong.")
