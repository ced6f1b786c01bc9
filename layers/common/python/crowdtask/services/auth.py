"""Tokens: issue on good credentials, look up on every request, discard; slow down guessing."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from crowdtask import clock, credentials, errors
from crowdtask.config import settings
from crowdtask.models.accounts import TokenOut
from crowdtask.services import passwords
from crowdtask.store import accounts as account_store
from crowdtask.store.parameters import secure_string


@dataclass(frozen=True)
class Caller:
    account_id: str
    role: str
    token_hash: str


def caller_for_token(token: str) -> Caller:
    hashed = credentials.digest(token)
    item = account_store.get_token(hashed)
    # Expiry is checked here, not left to DynamoDB TTL, which may delete items days late.
    if item is None or item["expiresAt"] <= clock.iso(clock.now()):
        raise errors.Unauthorized("The token is unknown, discarded or expired; request a new one.")
    return Caller(account_id=item["account_id"], role=item["role"], token_hash=hashed)


def _check_not_locked(email: str) -> None:
    guard = account_store.get_login_guard(email)
    if not guard or not guard.get("locked_until"):
        return
    now = clock.now()
    until = guard["locked_until"]
    if until > clock.iso(now):
        wait = max(1, int((datetime.fromisoformat(until + "+00:00") - now).total_seconds()) + 1)
        raise errors.TooManyRequests(
            "Too many failed logins for this e-mail; try again later.", headers={"Retry-After": str(wait)}
        )


def _count_failure(email: str) -> None:
    cfg = settings()
    now = clock.now()
    expire_epoch = int((now + timedelta(seconds=cfg.login_lock_seconds * 4)).timestamp())
    failures = account_store.record_failed_login(email, expire_epoch)
    if failures >= cfg.login_max_failures:
        # The count survives the lock, so one more failure after it ends locks again at once.
        until = clock.iso(now + timedelta(seconds=cfg.login_lock_seconds))
        account_store.lock_login(email, until, expire_epoch)


def request_token(email: str, password: str) -> TokenOut:
    _check_not_locked(email)
    account_id = account_store.account_id_for_email(email)
    account = account_store.get(account_id) if account_id else None
    stored_hash = account.get("password_hash") if account else None
    if not passwords.verify_password(stored_hash, password) or account is None:
        _count_failure(email)
        raise errors.InvalidCredentials("The given credentials did not match any user in our database.")
    account_store.clear_login_guard(email)
    if stored_hash and passwords.needs_rehash(stored_hash):
        account_store.update_fields(
            account["id"], {"password_hash": passwords.hash_password(password)}, clock.iso(clock.now())
        )
    return issue_token(account["id"], account["role"])


def issue_token(account_id: str, role: str) -> TokenOut:
    token = credentials.new_secret("ct")
    now = clock.now()
    expires = now + timedelta(seconds=settings().token_lifetime_seconds)
    expires_at = clock.iso(expires)
    account_store.put_token(credentials.digest(token), account_id, role, expires_at, int(expires.timestamp()))
    return TokenOut(accessToken=token, expiresAt=expires_at, userId=account_id)


def discard_token(caller: Caller) -> None:
    account_store.delete_token(caller.token_hash)


def is_admin_key(given: str) -> bool:
    """Is `given` the admin key? The key is the SSM SecureString named by ADMIN_KEY_PARAMETER."""
    name = settings().require("admin_key_parameter").admin_key_parameter or ""
    return hmac.compare_digest(given.encode(), secure_string(name).encode())
