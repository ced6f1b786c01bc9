"""Webhook subscriptions of requesters: create, list, change, delete, rotate the secret, send a test,
and the deliveries of each (with redelivery)."""

from __future__ import annotations

from typing import Annotated, Any

from crowdtask.http.app import ApiApp, Reply, dump_every_field, entrypoint
from crowdtask.http.pagination import list_query, page_links
from crowdtask.http.params import DEFAULT_LIMIT, After, Before, Limit, id_param
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from crowdtask.models.webhooks import (
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    SecretRotated,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPage,
    WebhookTestOut,
    WebhookUpdate,
)
from crowdtask.services import webhooks

app = ApiApp()
TAGS = ["Webhooks"]
WebhookId = Annotated[str, id_param("webhook")]
DeliveryId = Annotated[str, id_param("delivery")]
Status = Annotated[
    DeliveryStatus | None,
    Query(description="only the deliveries in this status: pending, succeeded or failed"),
]


def webhook_links(hook: Any) -> dict[str, Any]:
    base = f"/webhooks/{hook.id}"
    return {
        "self": {"href": base},
        "deliveries": {"href": f"{base}/deliveries"},
        "rotate-secret": {"href": f"{base}/rotate-secret"},
        "test": {"href": f"{base}/test"},
    }


def delivery_links(webhook_id: str) -> Any:
    def links(delivery: Any) -> dict[str, Any]:
        base = f"/webhooks/{webhook_id}/deliveries/{delivery.id}"
        return {"webhook": {"href": f"/webhooks/{webhook_id}"}, "redeliver": {"href": f"{base}/redeliver"}}

    return links


@app.post(
    "/webhooks",
    summary="Subscribe to events",
    description='Each event of yours whose type is in `events` (every one with `["*"]`; only those of '
    "`campaign` when given) is POSTed to `url` as the Standard Webhooks specification says: headers "
    "`webhook-id` (the event id), `webhook-timestamp` and `webhook-signature`, body `{type, timestamp, "
    "data}`. The answer carries the signing `secret`, once: keep it. Only https URLs to public addresses "
    "(422 naming `url` otherwise); the address is checked again at every delivery. An `Idempotency-Key` "
    "is not remembered here: the answer holds a secret.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(WebhookCreated, "the subscription, with its secret", 401, 403, 404, status=201),
)
def create_webhook(hook: Annotated[WebhookIn, Body()]) -> Reply:
    created = webhooks.create(app.requester().account_id, hook)
    return app.created(created, f"/webhooks/{created.id}", links=webhook_links(created))


@app.get(
    "/webhooks",
    summary="List your webhook subscriptions",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(WebhookPage, "one page of your subscriptions, newest first", 401, 403),
)
def list_webhooks(limit: Limit = DEFAULT_LIMIT, after: After = None, before: Before = None) -> Reply:
    params = {**app.query_params(), "order": ["-id"]}
    query = list_query(params, limit=limit)
    found, page = webhooks.list_webhooks(app.requester().account_id, query)
    links = page_links("/webhooks", {k: v for k, v in params.items() if k != "order"}, query, page)
    return app.page_reply("webhooks", found, links, webhook_links)


@app.get(
    "/webhooks/<id>",
    summary="A webhook subscription",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(WebhookOut, "the subscription (never its secret)", 401, 403, 404),
)
def get_webhook(id: WebhookId) -> Reply:
    found = webhooks.get(app.requester().account_id, id)
    return app.reply(found, links=webhook_links(found))


@app.put(
    "/webhooks/<id>",
    summary="Change a webhook subscription",
    description="The subscription as it should be. `enabled: false` pauses it; `enabled: true` turns a "
    "disabled one (after 410 Gone, or 5 days of failures) back on.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(WebhookOut, "the subscription after the change", 401, 403, 404),
)
def put_webhook(id: WebhookId, hook: Annotated[WebhookUpdate, Body()]) -> Reply:
    found = webhooks.replace(app.requester().account_id, id, hook)
    return app.reply(found, links=webhook_links(found))


@app.delete(
    "/webhooks/<id>",
    summary="Delete a webhook subscription",
    description="Its pending deliveries are not sent.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(None, "deleted", 401, 403, 404, status=204),
)
def delete_webhook(id: WebhookId) -> Reply:
    webhooks.delete(app.requester().account_id, id)
    return app.empty()


@app.post(
    "/webhooks/<id>/rotate-secret",
    summary="Rotate a webhook's signing secret",
    description="A new secret, shown once. The previous one keeps signing for 24 hours beside it: "
    "`webhook-signature` then carries two `v1,` signatures, and either verifies.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(SecretRotated, "the new secret", 401, 403, 404),
)
def rotate_secret(id: WebhookId) -> Reply:
    rotated = webhooks.rotate_secret(app.requester().account_id, id)
    return app.reply(rotated, links={"webhook": {"href": f"/webhooks/{id}"}})


@app.post(
    "/webhooks/<id>/test",
    summary="Send a test event to a webhook",
    description="A `webhook.test` event, signed like any other, sent now; the answer says how the "
    "endpoint answered (it is not retried, nor listed among the deliveries).",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(WebhookTestOut, "what the endpoint answered", 401, 403, 404),
)
def test_webhook(id: WebhookId) -> Reply:
    # The issue gives the answer's four fields, each always present (statusCode and errorType as null).
    return app.reply(dump_every_field(webhooks.send_test(app.requester().account_id, id)))


@app.get(
    "/webhooks/<id>/deliveries",
    summary="A webhook's deliveries",
    description="One delivery per event sent to the subscription, newest first, with each attempt: its "
    "time, the endpoint's status or the error, and the next attempt's time while pending.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(DeliveryPage, "one page of deliveries", 401, 403, 404),
)
def list_deliveries(
    id: WebhookId,
    limit: Limit = DEFAULT_LIMIT,
    status: Status = None,
    after: After = None,
    before: Before = None,
) -> Reply:
    params = {**app.query_params(), "order": ["-id"]}
    query = list_query(params, limit=limit)
    found, page = webhooks.list_deliveries(app.requester().account_id, id, query, status)
    path = f"/webhooks/{id}/deliveries"
    links = page_links(path, {k: v for k, v in params.items() if k != "order"}, query, page)
    return app.page_reply("deliveries", found, links, delivery_links(id))


@app.post(
    "/webhooks/<id>/deliveries/<deliveryId>/redeliver",
    summary="Send a delivery again",
    description="A delivery that succeeded or failed is sent again now, with the same `webhook-id` and "
    "body; if that fails it is retried on the usual schedule. 409 while it is pending, or while the "
    "subscription is disabled.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(DeliveryOut, "the delivery, pending again", 401, 403, 404, 409, status=202),
)
def redeliver(id: WebhookId, deliveryId: DeliveryId) -> Reply:  # noqa: N803 - the path names it so
    delivery = webhooks.redeliver(app.requester().account_id, id, deliveryId)
    return app.reply(delivery, status=202, links=delivery_links(id)(delivery))


lambda_handler = entrypoint(
    app, needs=("webhook_queue_url",), secret_routes=("/webhooks", "/webhooks/{id}/rotate-secret")
)
