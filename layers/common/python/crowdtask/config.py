"""Settings read once per container from the environment that template.yaml sets."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple


class Settings(NamedTuple):
    table_name: str
    idempotency_table_name: str
    event_bus_name: str
    bulk_queue_url: str
    admin_key: str
    api_version: str
    max_body_bytes: int
    token_lifetime_seconds: int
    login_max_failures: int
    login_lock_seconds: int


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The environment as typed settings; cached because a container's environment never changes."""
    return Settings(
        table_name=os.environ.get("TABLE_NAME", "crowdtask-main"),
        idempotency_table_name=os.environ.get("IDEMPOTENCY_TABLE_NAME", "crowdtask-idempotency"),
        event_bus_name=os.environ.get("EVENT_BUS_NAME", "crowdtask-events"),
        bulk_queue_url=os.environ.get("BULK_QUEUE_URL", ""),
        admin_key=os.environ.get("ADMIN_KEY", ""),
        api_version=os.environ.get("API_VERSION", "1.0"),
        max_body_bytes=_int("MAX_BODY_BYTES", 5 * 1024 * 1024),
        token_lifetime_seconds=_int("TOKEN_LIFETIME_SECONDS", 86400),
        login_max_failures=_int("LOGIN_MAX_FAILURES", 5),
        login_lock_seconds=_int("LOGIN_LOCK_SECONDS", 300),
    )
