"""POST /preview/markdown through the handler, with events/preview_markdown.json."""

from __future__ import annotations

import json

import pytest

from tests.support.handlers import invoke, sample_event


def test_a_requester_gets_the_sample_message_as_html(requester):
    reply = invoke("preview", "preview_markdown", token=requester.token)

    assert reply.status == 200, reply.body
    assert set(reply.body) == {"html"}
    html = reply.body["html"]
    assert "<h1>Markdown Feedback</h1>" in html and "<h2>What to improve</h2>" in html
    assert '<img src="https://example.com/guide/frame.png" alt="A correctly labelled frame">' in html
    assert '<video controls="" src="https://example.com/guide/boxes.mp4">How to draw a box</video>' in html
    assert '<audio controls="" src="https://example.com/guide/instructions.mp3">' in html
    assert 'src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert reply.header("X-API-Version") == "1.0"


def test_a_worker_may_preview_too(worker):
    reply = invoke("preview", "preview_markdown", token=worker.token, body={"text": "**Thanks!**"})

    assert reply.status == 200
    assert reply.body == {"html": "<p><strong>Thanks!</strong></p>\n"}


def test_raw_html_comes_back_escaped(requester):
    reply = invoke("preview", "preview_markdown", token=requester.token, body={"text": "<script>x</script>"})

    assert reply.status == 200
    assert reply.body["html"] == "<p>&lt;script&gt;x&lt;/script&gt;</p>\n"


def test_the_longest_text_is_accepted(requester):
    reply = invoke("preview", "preview_markdown", token=requester.token, body={"text": "a" * 20_000})

    assert reply.status == 200


def test_no_token_is_401(aws, frozen_clock):
    reply = invoke("preview", "preview_markdown")

    assert reply.status == 401
    assert set(reply.body) == {"code", "message", "description"}


def test_an_unknown_token_is_401(aws, frozen_clock):
    assert invoke("preview", "preview_markdown", token="not-a-token").status == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "VALUE_REQUIRED"),
        ({"text": "a" * 20_001}, "TOO_LONG"),
        ({"text": 5}, "INVALID_VALUE"),
        ({"text": None}, "INVALID_VALUE"),
        ({"text": "x", "format": "html"}, "UNKNOWN_FIELD"),
    ],
)
def test_a_bad_text_is_422_naming_the_field(requester, body, code):
    reply = invoke("preview", "preview_markdown", token=requester.token, body=body)

    assert reply.status == 422, reply.body
    problem = reply.body["errors"][0]
    expected_field = "format" if code == "UNKNOWN_FIELD" else "text"
    assert (problem["field"], problem["code"]) == (expected_field, code)


@pytest.mark.parametrize("raw", ["{bad", '{"text": "x"', "\x00"])
def test_malformed_json_is_400(requester, raw):
    reply = invoke("preview", "preview_markdown", token=requester.token, raw_body=raw)

    assert reply.status == 400
    assert set(reply.body) == {"code", "message", "description"}


def test_the_sample_event_routes_to_this_function():
    event = sample_event("preview_markdown")

    assert (event["httpMethod"], event["path"]) == ("POST", "/preview/markdown")
    assert set(json.loads(event["body"])) == {"text"}
