"""Settings: every environment variable the code reads, validated once per container.

template.yaml sets them. Resource names have no default: a function whose environment lacks
one fails its init naming the variable, instead of writing to a table that is not its own.
Tunables (token lifetime, login limits, body limit) have the defaults the template documents.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """The environment lacks a variable (or holds a bad value): the function cannot start."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=1, description="the main DynamoDB table")
    idempotency_table_name: str = Field(
        alias="IDEMPOTENCY_TABLE_NAME", min_length=1, description="Powertools idempotency records"
    )
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1, description="the domain event bus")
    api_version: str = Field(alias="API_VERSION", min_length=1, description="sent as X-API-Version")
    max_body_bytes: int = Field(5 * 1024 * 1024, alias="MAX_BODY_BYTES", gt=0)
    allowed_origin: str = Field(
        "*",
        alias="ALLOWED_ORIGIN",
        pattern=r"^(\*|https?://[A-Za-z0-9.-]+(:[0-9]+)?)$",
        description="the origin browsers may call from (* for any; never answered on the admin routes)",
    )
    # Only some functions have these; `require` says which one a function needs.
    bulk_queue_url: str | None = Field(None, alias="BULK_QUEUE_URL", min_length=1)
    aggregation_queue_url: str | None = Field(None, alias="AGGREGATION_QUEUE_URL", min_length=1)
    media_bucket_name: str | None = Field(
        None, alias="MEDIA_BUCKET_NAME", min_length=1, description="the S3 bucket of uploaded media"
    )
    # How long a presigned upload form and a presigned download URL stay valid.
    media_upload_seconds: int = Field(900, alias="MEDIA_UPLOAD_SECONDS", gt=0, le=7 * 86400)
    media_download_seconds: int = Field(3600, alias="MEDIA_DOWNLOAD_SECONDS", gt=0, le=7 * 86400)
    webhook_queue_url: str | None = Field(None, alias="WEBHOOK_QUEUE_URL", min_length=1)
    # The local stack only (`make run`): webhooks may use http, to loopback addresses (never private ones).
    allow_loopback_webhooks: bool = Field(False, alias="ALLOW_LOOPBACK_WEBHOOKS")
    # Seconds before each retry of a failed webhook delivery (the Standard Webhooks schedule).
    webhook_retry_schedule: str = Field(
        "5,300,1800,7200,18000,36000,50400,72000,86400",
        alias="WEBHOOK_RETRY_SCHEDULE",
        pattern=r"^[0-9]{1,6}(,[0-9]{1,6}){0,19}$",
    )
    # The name of the SSM SecureString holding the admin key; the key itself is read through store/.
    admin_key_parameter: str | None = Field(
        None, alias="ADMIN_KEY_PARAMETER", min_length=1, description="SSM SecureString of the X-Admin-Key"
    )
    token_lifetime_seconds: int = Field(86400, alias="TOKEN_LIFETIME_SECONDS", gt=0)
    login_max_failures: int = Field(5, alias="LOGIN_MAX_FAILURES", gt=0)
    login_lock_seconds: int = Field(300, alias="LOGIN_LOCK_SECONDS", gt=0)
    # an e-mail's failures are forgotten this long after its last attempt (they outlive a lock)
    login_memory_seconds: int = Field(86400, alias="LOGIN_MEMORY_SECONDS", gt=0)
    # failed logins one source address may make per window, whatever the e-mails
    login_source_max_failures: int = Field(50, alias="LOGIN_SOURCE_MAX_FAILURES", gt=0)
    login_source_window_seconds: int = Field(900, alias="LOGIN_SOURCE_WINDOW_SECONDS", gt=0)
    # "cheapest" is for test suites only: the deployed template never sets it.
    password_hash_cost: Literal["standard", "cheapest"] = Field("standard", alias="PASSWORD_HASH_COST")
    # Locally S3 is served to browsers and functions at this URL (the worker app's CSP names it), or at
    # the endpoint of every service (botocore's own order: the service's variable first).
    aws_endpoint_url_s3: str | None = Field(
        None, alias="AWS_ENDPOINT_URL_S3", description="local S3 endpoint"
    )
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL", description="local endpoint")
    aws_region: str | None = Field(None, alias="AWS_REGION", description="set by Lambda in every function")

    @property
    def local_s3_endpoint(self) -> str | None:
        """Where S3 is reached when it is not AWS's (the media client and the worker app's CSP)."""
        return self.aws_endpoint_url_s3 or self.aws_endpoint_url

    def require(self, *fields: str) -> Settings:
        """These settings, or SettingsError naming each listed variable that is not set."""
        missing = [self._env_name(name) for name in fields if getattr(self, name) is None]
        if missing:
            raise SettingsError(f"environment variable(s) not set: {', '.join(missing)}")
        return self

    @classmethod
    def _env_name(cls, field: str) -> str:
        return cls.model_fields[field].alias or field.upper()


def from_environment(environ: Mapping[str, str]) -> Settings:
    """Settings from `environ` (blank values count as unset); SettingsError names what is wrong."""
    names = {info.alias for info in Settings.model_fields.values() if info.alias}
    given = {name: value for name, value in environ.items() if name in names and value.strip()}
    try:
        return Settings.model_validate(given)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("bad environment: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The container's settings; cached because its environment never changes."""
    return from_environment(os.environ)


# Where the code runs is not a setting of the function, but it is read here like every other variable.
def tracing_enabled() -> bool:
    """X-Ray runs only inside Lambda with tracing on (Powertools' own rule)."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"}:
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")
