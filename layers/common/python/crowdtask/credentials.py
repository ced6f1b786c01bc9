"""Bearer secrets (access tokens, workstream keys): random, prefixed, stored only as a digest."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    """A 256-bit random secret behind a fixed prefix, so it never starts with "-" (safe as a
    command-line argument) and secret scanners can tell what kind of credential leaked."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(secret: str) -> str:
    """What is stored and looked up: the secret's SHA-256 (random secrets need no slow hash)."""
    return hashlib.sha256(secret.encode()).hexdigest()
