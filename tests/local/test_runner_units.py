"""Pieces of the runner without processes: routing, proxy responses, gateway responses, event sources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.http_gateway import GatewayResponses, MalformedResponse, RouteTable, proxy_response, split_target
from local.lambdas import Invocation
from local.pollers import records_to_delete, schedule_interval, scheduled_event
from local.template import Api, GatewayResponse, Route, ScheduleSource


def table(*paths: str) -> RouteTable:
    routes = []
    for spec in paths:
        method, _, path = spec.partition(" ")
        routes.append(Route(path, method, "Fn", path, "Api"))
    return RouteTable(routes)


@pytest.mark.parametrize(
    ("path", "resource", "parameters"),
    [
        ("/tasks", "/tasks", {}),
        ("/tasks/", "/tasks", {}),
        ("/tasks/t1", "/tasks/{id}", {"id": "t1"}),
        ("/tasks/archived", "/tasks/archived", {}),
        ("/tasks/t1/copy", "/tasks/{id}/copy", {"id": "t1"}),
        ("/tasks/t1/other", "/{proxy+}", {"proxy": "tasks/t1/other"}),
        ("/swagger", "/swagger", {}),
        ("/swagger.css", "/swagger.{asset}", {"asset": "css"}),
        ("/swagger.x/y", "/{proxy+}", {"proxy": "swagger.x/y"}),
        ("/a%2Fb/copy", "/{proxy+}", {"proxy": "a%2Fb/copy"}),
        ("/tasks/a%2Fb", "/tasks/{id}", {"id": "a%2Fb"}),
        ("/", "/", {}),
    ],
)
def test_route_precedence(path: str, resource: str, parameters: dict[str, str]) -> None:
    routes = table(
        "ANY /",
        "ANY /{proxy+}",
        "ANY /tasks/{id}/copy",
        "ANY /tasks/{id}",
        "GET /tasks/archived",
        "ANY /tasks",
        "ANY /swagger.{asset}",
        "ANY /swagger",
    )
    match = routes.match(path)
    assert match is not None
    assert (match.resource, match.path_parameters) == (resource, parameters)


def test_specific_method_beats_any_on_the_same_resource() -> None:
    routes = RouteTable(
        [Route("/x", "ANY", "Catchall", "A", "Api"), Route("/x", "GET", "Reader", "B", "Api")]
    )
    match = routes.match("/x")
    assert match is not None
    assert match.route_for("GET").function == "Reader"  # type: ignore[union-attr]
    assert match.route_for("DELETE").function == "Catchall"  # type: ignore[union-attr]
    assert table("GET /y").match("/y").route_for("POST") is None  # type: ignore[union-attr]
    assert table("GET /y").match("/z") is None


def test_proxy_response_merges_headers_and_decodes_base64() -> None:
    response = proxy_response(
        {
            "statusCode": "202",
            "headers": {"X-A": "1", "X-B": 2, "Content-Length": "999"},
            "multiValueHeaders": {"X-A": ["1", "0"], "Set-Cookie": ["a=1", "b=2"]},
            "body": "aGk=",
            "isBase64Encoded": True,
        }
    )
    assert response.status == 202
    assert response.body == b"hi"
    assert response.headers == [
        ("X-A", "1"),
        ("X-A", "0"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("X-B", "2"),
        ("Content-Type", "application/json"),
    ]


@pytest.mark.parametrize(
    "result",
    [
        None,
        "text",
        {"body": "x"},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 99},
        {"statusCode": "x"},
    ],
)
def test_malformed_proxy_responses(result: Any) -> None:
    with pytest.raises(MalformedResponse):
        proxy_response(result)


def test_gateway_responses_fall_back_to_the_family_and_to_aws_defaults() -> None:
    api = Api(
        "Api",
        "v1",
        {
            "DEFAULT_4XX": GatewayResponse(
                None,
                {"application/json": '{"m": $context.error.messageString, "r": "$context.requestId"}'},
                {},
            ),
            "DEFAULT_5XX": GatewayResponse(
                None,
                {},
                {
                    "Access-Control-Allow-Origin": "'*'",
                    "X-Request-ID": "context.requestId",
                    "X-Echo": "method.request.header.x-in",
                    "X-Unknown": "stageVariables.nothing",
                },
            ),
        },
        None,
        [],
    )
    responses = GatewayResponses(api)
    too_large = responses.render("REQUEST_TOO_LARGE", "rid")
    assert too_large.status == 413
    assert json.loads(too_large.body) == {"m": "Request Too Long", "r": "rid"}
    failed = responses.render("INTEGRATION_FAILURE", "rid", request_headers=[("X-In", "hello")])
    assert failed.status == 502
    assert json.loads(failed.body) == {"message": "Internal server error"}
    assert failed.headers == [
        ("Content-Type", "application/json"),
        ("Access-Control-Allow-Origin", "*"),
        ("X-Request-ID", "rid"),
        ("X-Echo", "hello"),
        ("x-amzn-ErrorType", "InternalServerErrorException"),
    ]
    assert responses.render("MISSING_AUTHENTICATION_TOKEN", "rid").status == 403


RECORDS = [{"messageId": f"m{i}", "receiptHandle": f"h{i}"} for i in range(3)]


@pytest.mark.parametrize(
    ("ok", "result", "report", "deleted"),
    [
        (True, None, True, ["h0", "h1", "h2"]),
        (True, {"batchItemFailures": []}, True, ["h0", "h1", "h2"]),
        (True, {"batchItemFailures": [{"itemIdentifier": "m1"}]}, True, ["h0", "h2"]),
        (True, {"batchItemFailures": [{"itemIdentifier": "m1"}]}, False, ["h0", "h1", "h2"]),
        (True, {"batchItemFailures": [{"itemIdentifier": "nope"}]}, True, []),
        (True, {"batchItemFailures": [{"itemIdentifier": ""}]}, True, []),
        (False, {"errorType": "RuntimeError"}, True, []),
        (False, {"errorType": "RuntimeError"}, False, []),
    ],
)
def test_records_to_delete(ok: bool, result: Any, report: bool, deleted: list[str]) -> None:
    invocation = Invocation(ok, result, "rid", 1, 1.0)
    assert records_to_delete(invocation, RECORDS, report) == deleted


def test_schedule_intervals_and_events() -> None:
    assert schedule_interval("rate(1 minute)") == 60
    assert schedule_interval("rate(15 minutes)") == 900
    assert schedule_interval("rate(2 hours)") == 7200
    assert schedule_interval("rate(1 day)") == 86400
    assert schedule_interval("cron(0 3 * * ? *)") == 3600
    assert schedule_interval("at(2030-01-01T00:00:00)") is None
    source = ScheduleSource("Every", "Schedule", "rate(1 minute)", None, True, "arn:aws:events:r:a:rule/x")
    event = scheduled_event(source)
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:r:a:rule/x"]
    assert event["detail"] == {}
    with_input = ScheduleSource("Every", "Schedule", "rate(1 minute)", '{"a": 1}', True, "arn")
    assert scheduled_event(with_input) == {"a": 1}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/tasks?limit=2", ("/tasks", "limit=2")),
        ("//tasks//x?a=%20", ("//tasks//x", "a=%20")),
        ("/", ("/", "")),
        ("http://example.com/a/b?c=d", ("/a/b", "c=d")),
        ("", ("/", "")),
    ],
)
def test_split_target(target: str, expected: tuple[str, str]) -> None:
    assert split_target(target) == expected
