"""Webhook subscriptions and their deliveries (Standard Webhooks), and the event types one may follow."""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema

from crowdtask.models.base import ApiModel, Flag, OutModel, ResourceId, Whole
from crowdtask.models.events import CATALOGUE

# The events a subscription may name: the catalogue's (crowdtask.models.events).
EVENT_TYPES: frozenset[str] = frozenset(CATALOGUE)
ALL_EVENTS = "*"
MAX_EVENT_TYPES = 50


def _known_event(value: str) -> str:
    if value != ALL_EVENTS and value not in EVENT_TYPES:
        raise ValueError("not an event type of the catalogue (see the OpenAPI document's webhooks), nor *")
    return value


def _one_kind_of_list(value: list[str]) -> list[str]:
    if ALL_EVENTS in value and len(value) > 1:
        raise ValueError('["*"] follows every event: name no other type beside it')
    return list(dict.fromkeys(value))


EventType = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_known_event)]
# As the document states it: types of the catalogue (a repeat counts once), or "*" alone.
_EVENT_TYPES_SCHEMA = {
    "anyOf": [
        {
            "type": "array",
            "items": {"type": "string", "enum": sorted(EVENT_TYPES)},
            "minItems": 1,
            "maxItems": MAX_EVENT_TYPES,
        },
        {"type": "array", "items": {"const": ALL_EVENTS}, "minItems": 1, "maxItems": 1},
    ],
    "description": (
        'the event types to receive, e.g. ["result.submitted"] (types of the webhooks section), or ["*"] '
        "alone for every one"
    ),
}
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=MAX_EVENT_TYPES),
    AfterValidator(_one_kind_of_list),
    WithJsonSchema(_EVENT_TYPES_SCHEMA),
]
# The form a subscription's URL takes, stated in the document (its `pattern`) and enforced by the model
# from this one constant: https to a host name, an optional port, printable ASCII after the host.
# What a pattern cannot say the service checks (outbound.check_url): the addresses a name resolves to
# must be public.
_PORT = (
    r"(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"  # 1..65535
)
URL_PATTERN = r"^https://([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}" + _PORT + r"([/?#][!-~]*)?$"
# The one exception the document's description states: http(s) to a loopback address, which the
# service takes only where the deployment allows loopback webhooks (AllowLoopbackWebhooks: local
# runs) and refuses elsewhere, also with a 422 naming `url`. Kept out of `pattern`, which says what a
# deployment on AWS takes.
LOOPBACK_URL_PATTERN = (
    r"^https?://(127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\[::1\])" + _PORT + r"([/?#][!-~]*)?$"
)
_URL_FORMS = (re.compile(URL_PATTERN), re.compile(LOOPBACK_URL_PATTERN))


def _documented_url(value: str) -> str:
    # fullmatch: the document's `$` (ECMA-262) matches at the very end only, never before a newline
    if not any(form.fullmatch(value) for form in _URL_FORMS):
        raise ValueError(
            "must be an https URL to a host name, e.g. https://hooks.example.com/in, with printable ASCII "
            "after the host (http to 127.0.0.1 or [::1] only where loopback webhooks are allowed)"
        )
    return value


WebhookUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description=(
            "where the events are POSTed: https, to a host name whose addresses are public (checked when "
            "subscribing if it resolves, and at each delivery); http(s) to 127.x.x.x or [::1] only where "
            "the deployment allows loopback webhooks (local runs)"
        ),
        json_schema_extra={"pattern": URL_PATTERN},
    ),
    AfterValidator(_documented_url),
]
Description = Annotated[str | None, Field(default=None, max_length=500, description="a note for yourself")]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookIn(ApiModel):
    """POST /webhooks: where to send which events."""

    url: WebhookUrl
    events: EventTypes
    campaign: ResourceId | None = Field(
        default=None, description="only the events of this campaign of yours (default: every event of yours)"
    )
    description: Description = None


class WebhookUpdate(WebhookIn):
    """PUT /webhooks/{id}: the subscription as it should be; `enabled: true` turns a disabled one back on."""

    enabled: Flag = Field(default=True, description="false pauses deliveries; true re-enables a disabled one")


class WebhookOut(OutModel):
    id: str = Field(description="id of the subscription")
    url: str
    events: list[str] = Field(description='the event types it receives, or ["*"]')
    campaign: str | None = Field(default=None, description="the campaign it is limited to, if any")
    description: str | None = None
    enabled: Flag = Field(description="false: paused by you, or disabled after failing (see disabledReason)")
    disabledReason: str | None = Field(default=None, description="why deliveries stopped, when they did")
    failingSince: str | None = Field(
        default=None,
        description="UTC time deliveries started failing (none succeeded since); 5 days disable it",
    )
    createdAt: str
    lastModifiedAt: str


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="the signing secret (whsec_...): shown once, now; verify each request's "
        "webhook-signature with it (any Standard Webhooks library)"
    )


class WebhookPage(OutModel):
    webhooks: list[WebhookOut] = Field(description="one page of your subscriptions")


class SecretRotated(OutModel):
    id: str = Field(description="id of the subscription")
    secret: str = Field(description="the new signing secret (shown once)")
    previousSecretExpiresAt: str | None = Field(
        default=None,
        description="until then the previous secret signs too: webhook-signature carries both signatures",
    )


class WebhookTestOut(OutModel):
    success: Flag = Field(description="the endpoint answered 2xx")
    statusCode: Whole | None = Field(default=None, description="the endpoint's HTTP status, if it answered")
    errorType: str | None = Field(
        default=None,
        description="http_status, timeout, connection, tls, dns or refused_address; null on success",
    )
    durationMs: Whole = Field(description="how long the request took")


class AttemptOut(OutModel):
    attempt: Whole = Field(description="1 for the first try, counting up")
    at: str = Field(description="UTC time it was sent")
    statusCode: int | None = None
    error: str | None = None
    durationMs: int


class DeliveryOut(OutModel):
    id: str = Field(description="id of the delivery (one per event and subscription)")
    event: str = Field(description="the event id: the webhook-id header of every attempt")
    eventType: str
    status: DeliveryStatus = Field(description="pending (in flight or waiting to retry), succeeded or failed")
    attempt: Whole = Field(description="attempts made so far")
    statusCode: Whole | None = Field(
        default=None, description="the last attempt's HTTP status, if it answered"
    )
    error: str | None = Field(default=None, description="what went wrong with the last attempt")
    nextAttemptAt: str | None = Field(default=None, description="UTC time of the next attempt, while pending")
    createdAt: str
    attempts: list[AttemptOut] = Field(description="every attempt, oldest first")


class DeliveryPage(OutModel):
    deliveries: list[DeliveryOut] = Field(
        description="one page of the subscription's deliveries, newest first"
    )
