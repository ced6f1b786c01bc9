"""What every route shares, exercised through the handlers with the events in events/."""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import quote, unquote

import boto3
import pytest

from crowdtask.store import parameters
from tests.conftest import ADMIN_KEY
from tests.support.accounts import make_account
from tests.support.handlers import call, invoke, sample_event
from tests.support.infra import ROOT
from tests.support.samples import api_events

# Every sample event reaching its route: tests/handlers/test_sample_events.py
BODY_EVENTS = [
    (group, name)
    for group, name in api_events()
    if group in {"auth", "profile", "tasks", "jobs", "campaigns", "preview", "operations", "compat"}
    and sample_event(name)["httpMethod"] in {"POST", "PUT"}
]


def test_client_request_id_is_echoed(requester):
    reply = invoke(
        "profile", "profile_get_me", token=requester.token, headers={"X-Request-ID": "trace-42.a:b"}
    )
    assert reply.header("X-Request-ID") == "trace-42.a:b"
    odd = invoke("profile", "profile_get_me", token=requester.token, headers={"X-Request-ID": "<script>"})
    assert odd.header("X-Request-ID") != "<script>" and len(odd.header("X-Request-ID") or "") >= 32


@pytest.mark.parametrize("version", ["2.0", "0.9", "latest"])
def test_unsupported_api_version_is_a_clear_400(requester, version):
    reply = invoke("profile", "profile_get_me", token=requester.token, headers={"X-API-Version": version})
    assert reply.status == 400
    assert reply.body["code"] == 1040 and "1.0" in reply.body["description"]


@pytest.mark.parametrize(("group", "name"), BODY_EVENTS)
@pytest.mark.parametrize("raw", ["{bad", '{"name": "x"', "nul", "\x00"])
def test_malformed_json_is_400_everywhere(requester, group, name, raw):
    # the ids of the sample name nothing: a route that looked them up before reading its body answers 404
    headers = {"X-Admin-Key": ADMIN_KEY} if "admin" in name else {}
    reply = invoke(group, name, raw_body=raw, token=requester.token, headers=headers)
    assert reply.status == 400
    assert set(reply.body) == {"code", "message", "description"}


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        42,
        None,
        True,
        {"name": None},
        {"name": ""},
        {"name": "x" * 501},
        {"name": {"a": 1}},
        {"name": "x", "components": "no"},
        {"name": "x", "components": [None]},
        {"name": "x", "components": [{}]},
        {"name": "x", "components": [{"type": 7}]},
        {"name": "x", "lat": "north"},
        {"name": "x", "task": []},
        {"task": {"name": "x", "points": -1}},
        {"name": "x", "unknown": 1},
        {"name": "\ud800"},
        {"name": "x", "properties": []},
        {"name": "x", "meta_data": [{"value": 1}]},
    ],
)
def test_bad_task_bodies_are_422_naming_a_field(requester, body):
    reply = invoke("tasks", "tasks_create", token=requester.token, body=body)
    assert reply.status == 422, reply.body
    assert reply.body["errors"] and all(e["field"] for e in reply.body["errors"])


def test_a_number_json_cannot_hold_is_a_400_not_a_422(requester):
    # json.dumps writes 1e309 as Infinity, which is no JSON: the body is refused before any field
    reply = invoke("tasks", "tasks_create", token=requester.token, body={"name": "x", "points": 1e309})
    assert reply.status == 400 and "not valid JSON" in reply.body["description"]


@pytest.mark.parametrize(
    ("event", "body", "field"),
    [
        ("tasks_create", {"name": "x", "task_ttl": 10**60}, "task_ttl"),
        ("tasks_create", {"name": "x", "properties": {"n": 1e300}}, "properties.n"),
        ("tasks_create", {"name": "x", "meta_data": [{"label": "a", "value": 1e-200}]}, "meta_data[0].value"),
        ("tasks_create", [{"name": "a"}, {"name": "b", "properties": {"n": 10**39}}], "[1].properties.n"),
        ("tasks_put", {"name": "x", "properties": {"d": [1, {"n": 10**39}]}}, "properties.d[1].n"),
    ],
)
def test_numbers_no_item_can_store_are_422_naming_the_field(requester, event, body, field):
    task = invoke("tasks", "tasks_create", token=requester.token, body={"name": "kept"}).body
    reply = invoke("tasks", event, token=requester.token, body=body, path_params={"id": task["id"]})
    assert reply.status == 422, reply.body
    assert [e["field"] for e in reply.body["errors"]] == [field]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e309"])
@pytest.mark.parametrize("event", ["tasks_create", "tasks_put", "tasks_create_bulk"])
def test_nan_and_infinity_are_not_json_numbers(requester, event, number):
    # Python's json reads them; they used to vanish from `properties` on the way to the table
    body = '{"name": "x", "properties": {"n": NUMBER}}'.replace("NUMBER", number)
    if event == "tasks_create_bulk":
        body = f"[{body}]"
    reply = invoke("tasks", event, token=requester.token, raw_body=body)
    assert reply.status == 400, reply.body
    assert "not valid JSON" in reply.body["description"]


def test_numbers_at_the_edge_of_what_can_be_stored_are_taken(requester):
    edge = {"big": int("9" * 37), "small": 1e-130, "large": 9.99e37, "negative": -(10**37), "odd": -1.5e-130}
    reply = invoke("tasks", "tasks_create", token=requester.token, body={"name": "x", "properties": edge})
    assert reply.status == 201, reply.body
    assert reply.body["properties"] == edge


@pytest.mark.parametrize("number", ["1e39", "-1e39", str(10**38), "9" * 38, "9.99e125", "9e-131", "-5e-324"])
def test_free_form_numbers_follow_the_documented_rule(requester, number):
    """Whole numbers below 1E+38 in size, other numbers at least 1E-130 in size: a rule a JSON Schema
    states (the document's FreeValue), where "1e39" and "1000...0" are the same number."""
    body = '{"name": "x", "properties": {"a": [{"n": NUMBER}]}}'.replace("NUMBER", number)
    reply = invoke("tasks", "tasks_create", token=requester.token, raw_body=body)
    assert reply.status == 422, reply.body
    assert [e["field"] for e in reply.body["errors"]] == ["properties.a[0].n"]
    assert "a whole number below 1E+38 in size" in reply.body["description"]


@pytest.mark.parametrize("event", ["tasks_create", "tasks_put"])  # PUT's body model loads lazily
def test_validation_error_names_the_nested_field(requester, event):
    body = {
        "name": "x",
        "components": [{"type": "Image"}, {"type": "Rating", "steps": "five"}, {"type": "Nope"}],
    }
    reply = invoke("tasks", event, token=requester.token, body=body)
    assert reply.status == 422
    fields = {e["field"]: e["code"] for e in reply.body["errors"]}
    assert fields == {"components[1].steps": "INVALID_VALUE", "components[2].type": "UNKNOWN_TYPE"}
    assert "components[1].steps" in reply.body["description"]


def test_task_json_field_errors_are_named(requester):
    body = {
        "task": {
            "name": "x",
            "components_attributes": [
                {"component_type": "text_area", "label": "l", "name": "n", "required": "maybe"}
            ],
        }
    }
    reply = invoke("tasks", "tasks_create", token=requester.token, body=body)
    assert reply.status == 422
    assert reply.body["errors"][0]["field"] == "components_attributes[0].required"


def test_oversize_body_is_413(requester):
    huge = {"name": "x", "details": "y" * (6 * 1024 * 1024)}
    reply = invoke("tasks", "tasks_create", token=requester.token, body=huge)
    assert reply.status == 413 and reply.body["message"] == "payload too large"


def test_wrong_method_is_405_with_allow(requester):
    reply = invoke(
        "tasks",
        "tasks_get",
        token=requester.token,
        method="DELETE",
        path_params={"id": "01NOTHING0000000000000000"},
    )
    assert reply.status == 405
    assert reply.header("Allow") == "GET, PUT, OPTIONS"


def test_unknown_path_inside_a_function_is_404(requester):
    reply = invoke("tasks", "tasks_copy", token=requester.token, path_params={"id": "x/y"})
    # not the route's own 404 for an unknown task ("No task x/y in your account."): no route at all
    assert (reply.status, reply.body["description"]) == (404, "No resource exists at this path.")


def test_path_ids_are_read_decoded(requester):
    # Given a task, and ids as the gateway passes them: percent-encoded, three bytes per "€"
    task_id = invoke("tasks", "tasks_create", token=requester.token).body["id"]
    spelled_out = "".join(f"%{ord(char):02X}" for char in task_id)
    # When they are asked for / Then the id is the decoded text: its value, and its length (64 at most)
    found = invoke("tasks", "tasks_get", token=requester.token, path_params={"id": spelled_out})
    assert (found.status, found.body.get("id")) == (200, task_id)
    short = invoke("tasks", "tasks_get", token=requester.token, path_params={"id": quote("€" * 64)})
    assert short.status == 404, short.body
    long = invoke("tasks", "tasks_get", token=requester.token, path_params={"id": quote("€" * 65)})
    assert long.status == 422 and long.body["errors"][0]["field"] == "id", long.body


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "OAuth {t}"},
        {"Authorization": "Bearer {t}"},
        {"authorization": "bearer {t}"},
        {"x-auth-token": "{t}"},
    ],
)
def test_every_accepted_token_form_authenticates(requester, headers):
    filled = {k: v.format(t=requester.token) for k, v in headers.items()}
    assert invoke("profile", "profile_get_me", headers=filled).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic {t}"},
        {"Authorization": "Bearer"},
        {"X-Auth-Token": "nope"},
        {"X-Auth-Token": "{t}x"},
    ],
)
def test_missing_or_wrong_tokens_are_401(requester, headers):
    filled = {k: v.format(t=requester.token) for k, v in headers.items()}
    reply = invoke("profile", "profile_get_me", headers=filled)
    assert reply.status == 401 and reply.body["code"] == 1002


def test_workers_may_not_use_requester_routes(worker):
    assert invoke("tasks", "tasks_list", token=worker.token).status == 403
    assert invoke("profile", "profile_get_me", token=worker.token).body["role"] == "worker"


def test_another_accounts_task_is_404_not_403(requester):
    task_id = invoke("tasks", "tasks_create", token=requester.token).body["id"]
    stranger = make_account()
    for name in ("tasks_get", "tasks_put", "tasks_copy", "tasks_archive", "tasks_unarchive"):
        reply = invoke("tasks", name, token=stranger.token, path_params={"id": task_id})
        assert reply.status == 404, name


def test_cors_preflight_and_headers(requester):
    reply = invoke(
        "tasks",
        "tasks_list",
        method="OPTIONS",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert reply.status == 204
    assert reply.header("Access-Control-Allow-Origin") == "*"
    assert "POST" in (reply.header("Access-Control-Allow-Methods") or "")
    plain = invoke(
        "profile", "profile_get_me", token=requester.token, headers={"Origin": "https://a.example"}
    )
    assert plain.header("Access-Control-Allow-Origin") == "*"


def test_hal_links_follow_the_state(requester):
    hal = {"Accept": "application/hal+json"}
    created = invoke("tasks", "tasks_create", token=requester.token, headers=hal)
    assert created.header("Content-Type") == "application/hal+json"
    assert set(created.body["_links"]) == {"self", "copy", "archive", "update"}
    task_id = created.body["id"]
    archived = invoke(
        "tasks", "tasks_archive", token=requester.token, headers=hal, path_params={"id": task_id}
    )
    assert set(archived.body["_links"]) == {"self", "copy", "unarchive"}
    plain = invoke("tasks", "tasks_get", token=requester.token, path_params={"id": task_id})
    assert "_links" not in plain.body and plain.header("Content-Type") == "application/json"


def test_list_pages_with_hal_links_and_link_header(requester):
    for n in range(5):
        invoke("tasks", "tasks_create", token=requester.token, body={"name": f"task {n}"})
    hal = {"Accept": "application/hal+json"}
    seen, query = [], {"limit": ["2"], "order": ["name"]}
    while True:
        page = invoke("tasks", "tasks_list", token=requester.token, headers=hal, query=query)
        assert page.status == 200
        seen += [t["name"] for t in page.body["tasks"]]
        assert all("_links" in t for t in page.body["tasks"])
        if "next" not in page.body["_links"]:
            break
        assert page.header("Link").startswith("</tasks?")
        href = page.body["_links"]["next"]["href"]
        from urllib.parse import parse_qs, urlparse

        query = parse_qs(urlparse(href).query)
        assert query["order"] == ["name"] and query["limit"] == ["2"]
    assert seen == [f"task {n}" for n in range(5)]
    assert "previous" in page.body["_links"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["101"]}, "limit"),
        ({"limit": ["ten"]}, "limit"),
        ({"order": ["colour"]}, "order"),
        ({"after": ["x" * 2001]}, "after"),
        ({"before": ["x" * 2001]}, "before"),
        ({"archived": ["perhaps"]}, "archived"),
    ],
)
def test_bad_list_parameters_name_the_parameter(requester, query, field):
    reply = invoke("tasks", "tasks_list", token=requester.token, query=query)
    assert reply.status == 422
    assert reply.body["errors"][0]["field"] == field


def test_any_cursor_is_a_position_in_the_order(requester):
    """Given tasks a, b, c, when a list by name starts after a text the API never issued, then it holds
    the tasks past that position (no 422); a link's cursor works in the same way."""
    for name in ("c", "a", "b"):
        invoke("tasks", "tasks_create", token=requester.token, body={"name": name})

    def names(**query: str) -> list[str]:
        reply = invoke(
            "tasks",
            "tasks_list",
            token=requester.token,
            query={k: [v] for k, v in {"order": "name", **query}.items()},
        )
        assert reply.status == 200, reply.body
        return [task["name"] for task in reply.body["tasks"]]

    assert names(after="az") == ["b", "c"]
    assert names(before="bz") == ["a", "b"]
    assert names(after="a~", before="b~") == ["b"]
    assert names(after="0" * 2000) == ["a", "b", "c"]
    page = invoke(
        "tasks",
        "tasks_list",
        token=requester.token,
        query={"limit": ["1"], "order": ["name"]},
        headers={"Accept": "application/hal+json"},
    )
    cursor = page.body["_links"]["next"]["href"].split("after=")[1].split("&")[0]
    assert names(after=unquote(cursor)) == ["b", "c"]


def test_idempotency_key_replays_the_first_answer(requester):
    key = {"Idempotency-Key": "create-7"}
    first = invoke("tasks", "tasks_create", token=requester.token, headers=key)
    again = invoke("tasks", "tasks_create", token=requester.token, headers=key)
    assert first.status == again.status == 201
    assert again.body["id"] == first.body["id"]
    assert again.header("Idempotent-Replayed") == "true"
    listed = invoke("tasks", "tasks_list", token=requester.token)
    assert len(listed.body["tasks"]) == 1
    other = invoke("tasks", "tasks_create", token=requester.token, headers=key, body={"name": "different"})
    assert other.status == 422 and other.body["errors"][0]["code"] == "KEY_REUSED"


def test_admin_routes_need_the_admin_key(requester):
    for headers in ({}, {"X-Admin-Key": "wrong"}, {"X-Admin-Key": ADMIN_KEY + "x"}):
        reply = invoke(
            "auth",
            "auth_admin_create_account",
            headers=headers,
            body={"email": "a@b.io", "password": "long enough", "role": "requester"},
        )
        assert reply.status == 401


def test_an_unreadable_admin_key_fails_the_admin_routes_only_and_names_the_parameter(requester, caplog):
    # Given the SSM parameter holding the admin key is gone (and this container never read it)
    name = os.environ["ADMIN_KEY_PARAMETER"]
    boto3.client("ssm").delete_parameter(Name=name)
    parameters.secure_string.cache_clear()
    # When an admin route is called, it is a server error whose log says which parameter and why
    reply = invoke(
        "auth",
        "auth_admin_create_account",
        headers={"X-Admin-Key": ADMIN_KEY},
        body={"email": "a@b.io", "password": "long enough", "role": "requester"},
    )
    assert reply.status == 500 and reply.body["code"] == 1500
    assert f"SSM parameter {name} does not exist" in caplog.text
    # Then login, sign-up and the other routes of the function do not depend on it
    login = invoke(
        "auth", "auth_token_request", body={"email": requester.email, "password": requester.password}
    )
    assert login.status == 200


@pytest.mark.balance(10)
def test_admin_credit_and_token_flow(requester):
    credited = invoke(
        "auth",
        "auth_admin_credit",
        headers={"X-Admin-Key": ADMIN_KEY},
        body={"amount": "2.5"},
        path_params={"id": requester.id},
    )
    assert credited.status == 200 and credited.body["balance"]["available"] == "12.5 USD"
    for amount in (0, -1, "lots", 1e12):
        bad = invoke(
            "auth",
            "auth_admin_credit",
            headers={"X-Admin-Key": ADMIN_KEY},
            body={"amount": amount},
            path_params={"id": requester.id},
        )
        assert bad.status == 422 and bad.body["errors"][0]["field"] == "amount"
    discarded = invoke("auth", "auth_token_discard", token=requester.token)
    assert discarded.status == 204
    assert invoke("profile", "profile_get_me", token=requester.token).status == 401


def test_worker_signup_then_login(aws, frozen_clock):
    signed = invoke("auth", "auth_worker_signup")
    assert signed.status == 201 and signed.body["role"] == "worker"
    again = invoke("auth", "auth_worker_signup")
    assert again.status == 409
    login = invoke(
        "auth", "auth_token_request", body={"email": "WORKER@example.com", "password": "a long passphrase"}
    )
    assert login.status == 200 and login.body["userId"] == signed.body["id"]
    short = invoke("auth", "auth_worker_signup", body={"email": "w2@example.com", "password": "short"})
    assert short.status == 422 and short.body["errors"][0]["field"] == "password"


def test_profile_put_round_trips_get(requester):
    current = invoke("profile", "profile_get_me", token=requester.token).body
    current["firstName"] = "Ada"
    updated = invoke("profile", "profile_put_me", token=requester.token, body=current)
    assert updated.status == 200 and updated.body["firstName"] == "Ada"
    assert updated.body["balance"] == current["balance"]
    unknown = invoke("profile", "profile_put_me", token=requester.token, body={"nickname": "x"})
    assert unknown.status == 422 and unknown.body["errors"][0]["field"] == "nickname"


def test_docs_serve_the_committed_document_and_swagger(aws):
    document = invoke("docs", "docs_openapi")
    assert document.status == 200
    assert document.body == json.loads((ROOT / "openapi.json").read_text())
    page = invoke("docs", "docs_swagger")
    assert page.status == 200 and "SwaggerUIBundle" in page.raw["body"]
    assert "swagger/swagger-ui-bundle.min.js" in page.raw["body"]
    asset = invoke("docs", "docs_swagger_asset", path_params={"asset": "swagger-ui-bundle.min.js"})
    assert asset.status == 200 and len(asset.raw["body"]) > 10_000
    assert asset.header("Content-Type") == "text/javascript"
    assert invoke("docs", "docs_swagger_asset", path_params={"asset": "secrets.txt"}).status == 404


def test_a_body_that_is_not_utf8_is_a_400_naming_the_encoding(requester):
    # API Gateway hands a body that is not text to the function base64-encoded
    raw = base64.b64encode(b'{"name": "caf\xe9"}').decode()
    event = {**sample_event("tasks_create"), "body": raw, "isBase64Encoded": True}
    event["headers"] = {**event["headers"], "X-Auth-Token": requester.token}
    event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    reply = call("tasks", event)
    assert reply.status == 400 and "UTF-8" in reply.body["description"]


def test_a_json_body_sent_as_multipart_form_data_is_a_415(requester):
    reply = invoke(
        "tasks",
        "tasks_create",
        token=requester.token,
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert reply.status == 415 and "multipart/form-data" in reply.body["description"]


def test_arrays_nested_beyond_what_a_parser_follows_are_a_400_before_authentication():
    reply = invoke("tasks", "tasks_create", raw_body="[" * 200_000)
    assert reply.status == 400 and "nest" in reply.body["description"]


def test_the_openapi_document_is_also_where_powertools_apps_serve_it():
    event = dict(sample_event("docs_swagger"))
    event["queryStringParameters"] = {"format": "json"}
    event["multiValueQueryStringParameters"] = {"format": ["json"]}
    reply = call("docs", event)
    assert reply.status == 200 and reply.body == json.loads((ROOT / "openapi.json").read_text())


def test_discarding_a_token_answers_what_the_document_promises(requester):
    document = json.loads((ROOT / "openapi.json").read_text())
    promised = document["paths"]["/auth/token/discard"]["post"]["responses"]
    reply = invoke("auth", "auth_token_discard", token=requester.token)
    assert str(reply.status) in promised
    assert promised[str(reply.status)].get("content", {}) == {} and reply.raw.get("body") in (None, "")


def test_a_route_taking_one_object_refuses_an_array_naming_the_body(requester):
    # Given two jobs sent where one is expected
    reply = invoke("jobs", "jobs_create", token=requester.token, body=[{"name": "a"}, {"name": "b"}])
    # Then nothing is made from the first of them: the body is refused
    assert reply.status == 422, reply.body
    assert reply.body["errors"][0]["field"] == "body"
    assert invoke("jobs", "jobs_list", token=requester.token).body["jobs"] == []
    # and an action taking an optional object refuses an array too
    refused = invoke("results", "results_approve", token=requester.token, body=[None, None])
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "body"


def test_routes_taking_arrays_still_take_them(requester):
    bulk = invoke("tasks", "tasks_create", token=requester.token, body=[{"name": "a"}, {"name": "b"}])
    assert bulk.status in (200, 201, 202), bulk.body


def test_an_idempotency_key_without_credentials_is_no_one_elses_replay(aws, frozen_clock):
    # Given two anonymous clients that happen to send the same Idempotency-Key
    key = {"Idempotency-Key": "signup-1"}
    first = invoke(
        "auth", "auth_worker_signup", body={"email": "a@example.com", "password": "a long one"}, headers=key
    )
    second = invoke(
        "auth", "auth_worker_signup", body={"email": "b@example.com", "password": "a long one"}, headers=key
    )
    # Then each is answered for itself: no shared scope, no replay of the other's answer, no refusal
    assert (first.status, second.status) == (201, 201)
    assert first.body["id"] != second.body["id"] and second.header("Idempotent-Replayed") is None
