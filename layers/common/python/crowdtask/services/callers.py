"""Who a request comes from: the account behind a token, or the admin key.

Apart from services/auth.py (sign-in, which loads the account models and password hashing) because
every API function asks this on every request and most never sign anyone in: measured, the two
cost each of those functions some 70 M instructions (~10 ms) of its cold start.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from crowdtask import clock, credentials, errors
from crowdtask.config import settings
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


def is_admin_key(given: str) -> bool:
    """Is `given` the admin key? The key is the SSM SecureString named by ADMIN_KEY_PARAMETER."""
    name = settings().require("admin_key_parameter").admin_key_parameter or ""
    return hmac.compare_digest(given.encode(), secure_string(name).encode())
