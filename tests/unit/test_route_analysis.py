"""Answering a request analyses its route without the reply models of `responses=`; the OpenAPI
document, made after requests were answered, still describes every one of them."""

from __future__ import annotations

import json
from typing import Any

from crowdtask.http.app import ApiApp, Reply
from crowdtask.http.schemas import responses

from pydantic import BaseModel, Field

from tests.support.context import FakeLambdaContext


class Parcel(BaseModel):
    weight: int = Field(ge=1, description="grams")


class Receipt(BaseModel):
    number: str = Field(description="the receipt's number")


def _app() -> ApiApp:
    app = ApiApp()

    @app.post("/parcels", responses=responses(Receipt, "the receipt", 401))
    def send(parcel: Parcel) -> Reply:
        return app.reply(Receipt(number=str(parcel.weight)), status=201)

    return app


def _post(app: ApiApp, body: Any) -> dict[str, Any]:
    event = {
        "resource": "/parcels",
        "path": "/parcels",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "body": json.dumps(body),
        "requestContext": {"resourcePath": "/parcels", "httpMethod": "POST", "path": "/v1/parcels"},
    }
    answer: dict[str, Any] = app.resolve(event, FakeLambdaContext(function_name="parcels"))
    return answer


def test_a_request_is_validated_and_answered_without_the_reply_models():
    app = _app()
    assert _post(app, {"weight": 0})["statusCode"] == 422
    assert _post(app, {"weight": 5})["statusCode"] == 201
    (route,) = app._static_routes
    assert route.dependant.response_extra_models == []


def test_the_document_made_after_requests_is_the_document_made_before():
    before = _app().get_openapi_json_schema()
    answered = _app()
    _post(answered, {"weight": 5})
    after = answered.get_openapi_json_schema()
    assert after == before
    assert "Receipt" in json.loads(after)["components"]["schemas"]
