"""Password hashing with argon2id (argon2-cffi), cost chosen by PASSWORD_HASH_COST."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from crowdtask.config import settings


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    if settings().password_hash_cost == "cheapest":  # noqa: S105 - a cost profile, not a secret
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    # OWASP's recommended argon2id (19 MiB, 2 passes, 1 lane): a tenth of RFC 9106's low-memory
    # profile in time and memory on a Lambda's share of a CPU, with guessing online bounded by the
    # login limits. Hashes of an older profile are upgraded at the next login (needs_rehash).
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (no user enumeration by timing)."""
    hasher = _hasher()
    try:
        return bool(hasher.verify(stored_hash or _dummy_hash(), password)) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return bool(_hasher().check_needs_rehash(stored_hash))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("no such account: this hash only spends the same time")
