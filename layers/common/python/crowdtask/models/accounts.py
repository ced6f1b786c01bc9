"""Accounts, credentials, tokens and the profile (the Auth Token and Profile sections)."""

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator

from crowdtask.models.base import ApiModel, Flag, OutModel, Real, Whole, decimal_field, decimal_text

# The document states the same rule as _email(), surrounding spaces included (it strips them). The
# characters are spelled out, for `\s` and str.strip() mean different sets in Python and in a JSON
# Schema pattern: no control character or Unicode space inside the address.
_SPACES = " \t\n\v\f\r"
_SPACE = r"[ \t\n\v\f\r]"  # the same, as a pattern spells them
_PART = r"[^@ \x00-\x1f\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"
_EMAIL_PATTERN = rf"^{_SPACE}*{_PART}@{_PART}\.{_PART}{_SPACE}*$"
_EMAIL = re.compile(_EMAIL_PATTERN)
MAX_EMAIL = 254

Role = Literal["requester", "worker"]


# Seed clients send group ids as JSON numbers: an id is text, or an integer that JSON readers all
# hold exactly (|n| < 2**53), taken as its decimal text. The document says the same.
_SAFE_INTEGER = 2**53 - 1


def _group_id(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > _SAFE_INTEGER:
            raise ValueError(f"an integer id is at most {_SAFE_INTEGER} in size; send a longer one as text")
        return str(value)
    return value


def _text_or_integer(schema: dict[str, Any]) -> None:
    text = dict(schema)
    schema.clear()
    schema["anyOf"] = [text, {"type": "integer", "minimum": -_SAFE_INTEGER, "maximum": _SAFE_INTEGER}]


WorkerGroup = Annotated[
    str,
    BeforeValidator(_group_id),
    Field(
        min_length=1, max_length=64, description="id of a worker group", json_schema_extra=_text_or_integer
    ),
]


def _email(value: str) -> str:
    value = value.strip(_SPACES).lower()
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        raise ValueError("not a valid e-mail address")
    return value


Email = Annotated[
    str,
    AfterValidator(_email),
    Field(
        description="e-mail address (case-insensitive)",
        json_schema_extra={"pattern": _EMAIL_PATTERN, "maxLength": MAX_EMAIL},
    ),
]
Password = Annotated[
    str, Field(min_length=8, max_length=256, description="password, 8 to 256 characters", repr=False)
]
PositiveAmount = Annotated[
    Decimal, decimal_field(9, positive=True, description="USD"), decimal_text(9, positive=True)
]


class Credentials(ApiModel):
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=256, description="your password", repr=False)]


class TokenOut(OutModel):
    accessToken: str = Field(description="send it as X-Auth-Token (or Authorization: Bearer <token>)")
    expiresAt: str = Field(description="UTC ISO 8601 time the token stops working")
    userId: str = Field(description="id of the account the token belongs to")


class ProfileFields(ApiModel):
    firstName: str | None = Field(default=None, max_length=200, description="your first name")
    lastName: str | None = Field(default=None, max_length=200, description="your last name")
    phone: str | None = Field(default=None, max_length=50, description="your phone")
    organization: str | None = Field(default=None, max_length=200, description="name of your organization")
    website: str | None = Field(default=None, max_length=500, description="your organization's website")
    logo: str | None = Field(default=None, max_length=1000, description="URL of your logo")


class SignupIn(ProfileFields):
    email: Email
    password: Password


def _role_rules(schema: dict[str, Any]) -> None:
    """What each role may carry, stated in the document: a worker has no balance to fund (none, or
    zero), and only a worker belongs to worker groups (a requester sends none, or an empty list)."""
    zero = [
        {"type": "null"},
        {"type": "number", "maximum": 0},
        {"type": "string", "pattern": "^0+(?:\\.0+)?$"},
    ]
    schema["if"] = {"properties": {"role": {"const": "worker"}}, "required": ["role"]}
    schema["then"] = {"properties": {"balance": {"anyOf": zero}}}
    schema["else"] = {
        "properties": {"workerGroups": {"anyOf": [{"type": "null"}, {"type": "array", "maxItems": 0}]}}
    }


class AccountCreateIn(SignupIn):
    """POST /admin/accounts: the account, its role and starting balance, and optionally its task quotas."""

    model_config = ConfigDict(**SignupIn.model_config, json_schema_extra=_role_rules)

    role: Role = Field(description="`requester` (creates work and pays) or `worker` (does the work)")
    balance: Annotated[
        Decimal | None, decimal_field(9, description="starting available balance, USD"), decimal_text(9)
    ] = None
    # strict: a number, as the document says (not the text "0.5", nor true read as 1)
    commissionRate: Real | None = Field(
        default=None, ge=0, le=1, strict=True, description="commission rate on worker payments (default 0.2)"
    )
    charity: Flag | None = Field(default=None, strict=True, description="if the account is a charity one")
    customerId: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="customer id (generated when absent)"
    )
    workerGroups: list[WorkerGroup] | None = Field(
        default=None,
        max_length=50,
        description="worker accounts only: ids of the worker groups the worker belongs to; a campaign with "
        "a `workerGroup` is offered only to its members",
    )
    taskQuotaPerMinute: Whole | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="tasks the account may create a minute (default 100,000)",
    )
    taskQuotaPerDay: Whole | None = Field(
        default=None,
        ge=1,
        le=1_000_000_000,
        description="tasks the account may create a day (default 2,000,000)",
    )


class CreditIn(ApiModel):
    amount: PositiveAmount


# Printable ASCII only, and a scheme (if any) of http or https: nothing a browser could run. Empty
# clears the field. The document states the same pattern (as JSON Schema reads one: `$` may stand
# before a final line break, which the validator strips).
WEB_ADDRESS_PATTERN = (
    r"^(|[hH][tT][tT][pP][sS]?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?"
    r"|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(/[!-~]*)?)$"
)
_WEB_ADDRESS = re.compile(WEB_ADDRESS_PATTERN)


class ProfileUpdateIn(ProfileFields):
    """PUT /me: the editable fields. Read-only fields of GET /me may be sent back and are ignored."""

    id: object | None = Field(default=None, description="read-only, ignored")
    customerId: object | None = Field(default=None, description="read-only, ignored")
    balance: object | None = Field(default=None, description="read-only, ignored")
    email: object | None = Field(default=None, description="read-only, ignored")
    commissionRate: object | None = Field(default=None, description="read-only, ignored")
    charity: object | None = Field(default=None, description="read-only, ignored")
    role: object | None = Field(default=None, description="read-only, ignored")
    createdAt: object | None = Field(default=None, description="read-only, ignored")

    website: str | None = Field(
        default=None,
        max_length=500,
        description="your organization's website: an http(s) URL or a host name",
        json_schema_extra={"pattern": WEB_ADDRESS_PATTERN},
    )
    logo: str | None = Field(
        default=None,
        max_length=1000,
        description="URL of your logo: an http(s) URL or a host name",
        json_schema_extra={"pattern": WEB_ADDRESS_PATTERN},
    )

    @field_validator("website", "logo")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        """An http(s) URL, or a host name (with a path) that a client will show as one."""
        if value and not _WEB_ADDRESS.match(value):
            raise ValueError("must be an http(s) URL or a host name")
        return value.strip() if value else value


class Balance(OutModel):
    available: str = Field(description="money available for new campaigns, e.g. `42 USD`")
    frozen: str = Field(description="money currently frozen for active campaigns")


class ProfileOut(OutModel):
    firstName: str | None = Field(default=None, description="your first name")
    lastName: str | None = Field(default=None, description="your last name")
    phone: str | None = Field(default=None, description="your phone")
    organization: str | None = Field(default=None, description="name of your organization")
    website: str | None = Field(default=None, description="your organization's website")
    id: str = Field(description="your id")
    customerId: str = Field(description="your customer id")
    balance: Balance = Field(description="your current balance")
    email: str = Field(description="your email")
    logo: str | None = Field(default=None, description="URL of your logo")
    commissionRate: Real = Field(description="commission rate on worker payments")
    charity: Flag = Field(description="if your account is a charity one")
    role: Role = Field(description="requester or worker")
    createdAt: str = Field(description="when the account was created")
    workerGroups: list[str] | None = Field(default=None, description="workers: the worker groups joined")


class AccountRecord(OutModel):
    """An account as stored."""

    id: str
    email: str
    role: Role
    password_hash: str = Field(repr=False)
    customerId: str
    commissionRate: float = 0.2
    charity: bool = False
    balance_available: Decimal = Decimal(0)
    balance_frozen: Decimal = Decimal(0)
    firstName: str | None = None
    lastName: str | None = None
    phone: str | None = None
    organization: str | None = None
    website: str | None = None
    logo: str | None = None
    createdAt: str
    lastModifiedAt: str
