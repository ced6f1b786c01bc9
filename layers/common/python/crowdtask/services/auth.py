"""Tokens: issue on good credentials, discard; slow down guessing. Looking one up is services/callers.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from crowdtask import clock, credentials, errors
from crowdtask.config import settings
from crowdtask.models.accounts import TokenOut
from crowdtask.services import passwords
from crowdtask.services.callers import Caller, caller_for_token, is_admin_key
from crowdtask.store import accounts as account_store

__all__ = ["Caller", "caller_for_token", "discard_token", "is_admin_key", "issue_token", "request_token"]


def _retry_after(until: str | None, now: datetime, fallback: int) -> str:
    if until is None:
        return str(fallback)
    return str(max(1, int((datetime.fromisoformat(until + "+00:00") - now).total_seconds()) + 1))


class _Attempt:
    """One login attempt, counted against the e-mail and the source before the password is checked."""

    def __init__(self, email: str, source: str):
        cfg = settings()
        self.email, self.source, self.cfg = email, source, cfg
        self.now = clock.now()
        window_start = int(self.now.timestamp()) // cfg.login_source_window_seconds
        self.window = f"W{cfg.login_source_window_seconds}#{window_start}"
        self.lock_until = clock.iso(self.now + timedelta(seconds=cfg.login_lock_seconds))

    def reserve(self) -> int:
        """The count of the e-mail's attempts with this one, or 429 when no guess is allowed now."""
        cfg = self.cfg
        window_end = (
            int(self.now.timestamp()) // cfg.login_source_window_seconds + 1
        ) * cfg.login_source_window_seconds
        if not account_store.reserve_source_attempt(
            self.source, self.window, limit=cfg.login_source_max_failures, expire_epoch=window_end + 3600
        ):
            wait = max(1, window_end - int(self.now.timestamp()))
            raise errors.TooManyRequests(
                "Too many failed logins from this address; try again later.",
                headers={"Retry-After": str(wait)},
            )
        try:
            return account_store.reserve_login_attempt(
                self.email,
                limit=cfg.login_max_failures,
                now_iso=clock.iso(self.now),
                lock_until_iso=self.lock_until,
                forget_iso=clock.iso(self.now + timedelta(seconds=cfg.login_memory_seconds)),
                expire_epoch=int(self.now.timestamp()) + cfg.login_memory_seconds,
            )
        except account_store.LoginRefused as refused:
            account_store.release_source_attempt(self.source, self.window)  # it got no guess
            retry = _retry_after(refused.until, self.now, cfg.login_lock_seconds)
            raise errors.TooManyRequests(
                "Too many failed logins for this e-mail; try again later.", headers={"Retry-After": retry}
            ) from None

    def failed(self, count: int) -> None:
        if count >= self.cfg.login_max_failures:
            account_store.lock_login(self.email, self.lock_until)

    def succeeded(self) -> None:
        account_store.clear_login_guard(self.email)
        account_store.release_source_attempt(self.source, self.window)


def request_token(email: str, password: str, source: str = "unknown") -> TokenOut:
    """A token for good credentials. Each attempt is counted before the password is checked (see
    store/accounts.py), per e-mail and per source address, so parallel guesses get no more tries."""
    attempt = _Attempt(email, source)
    count = attempt.reserve()
    account_id = account_store.account_id_for_email(email)
    account = account_store.get(account_id) if account_id else None
    stored_hash = account.get("password_hash") if account else None
    if not passwords.verify_password(stored_hash, password) or account is None:
        attempt.failed(count)
        raise errors.InvalidCredentials("The given credentials did not match any user in our database.")
    attempt.succeeded()
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
