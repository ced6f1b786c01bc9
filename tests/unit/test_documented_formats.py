"""The OpenAPI document states the formats the models enforce, and the two agree on the edges."""

from __future__ import annotations

import json
import re

import pytest

from crowdtask.models.accounts import WEB_ADDRESS_PATTERN, ProfileUpdateIn, SignupIn
from crowdtask.models.durations import DOCUMENTED_PATTERN, seconds
from tests.support.infra import ROOT

DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
SCHEMAS = DOCUMENT["components"]["schemas"]


def documented(pattern: str, value: str) -> bool:
    """As a JSON Schema validator reads `pattern`: a search, not a full match."""
    return re.search(pattern, value) is not None


def signs_up(email: str) -> bool:
    try:
        SignupIn.model_validate({"email": email, "password": "a long enough passphrase"})
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com",
        "  Ada@Example.COM\n",
        "é@ü.de",
        "a@b",
        "a b@c.de",
        "a\x1d@b.de",  # Python's \s holds U+001D, a JSON Schema pattern's does not
        "a\u3000b@c.de",
        "@b.de",
        "a@@b.de",
        "",
    ],
)
def test_the_documented_email_pattern_is_the_check(email):
    pattern = SCHEMAS["SignupIn"]["properties"]["email"]["pattern"]
    assert documented(pattern, email) == signs_up(email)


@pytest.mark.parametrize(
    "address",
    [
        "https://example.com/about",
        "HTTP://example.com:8080/x?y#z",
        "example.com",
        "www.example.co.uk/team",
        "",
        "javascript:alert(1)",
        "java\tscript:x",
        "https://exa mple.com",
        "example",
        "https://example.com:١٢",  # digits of another script are no port
    ],
)
def test_the_documented_web_address_pattern_is_the_check(address):
    assert SCHEMAS["ProfileUpdateIn"]["properties"]["website"]["pattern"] == WEB_ADDRESS_PATTERN
    try:
        ProfileUpdateIn.model_validate({"website": address})
        accepted = True
    except ValueError:
        accepted = False
    assert documented(WEB_ADDRESS_PATTERN, address) == accepted


@pytest.mark.parametrize(
    "duration", ["1s", "30 sec", "9999999 seconds", "99999 min", "999 hours", "366 days", " 2 d\n"]
)
def test_every_documented_duration_is_taken(duration):
    assert documented(DOCUMENTED_PATTERN, duration)
    assert 0 < seconds(duration) <= 366 * 86400


@pytest.mark.parametrize("duration", ["0 s", "367 days", "1000 hours", "100000 min", "10", "10 weeks"])
def test_durations_the_document_refuses(duration):
    # the check takes some of these (larger counts, other spellings); the document promises fewer
    assert not documented(DOCUMENTED_PATTERN, duration)


def test_the_document_states_the_other_formats():
    campaign = SCHEMAS["CampaignIn"]["properties"]["estDuration"]["anyOf"][0]
    assert campaign["pattern"] == DOCUMENTED_PATTERN
    upload = DOCUMENT["paths"]["/tasks"]["post"]["parameters"]
    assert [p["schema"].get("format") for p in upload if p["name"] == "operation_id"] == ["uuid"]
    # the dataset route's rejection has its own bound, under its own name (not the results' RejectIn)
    reject = DOCUMENT["paths"]["/dataset-tasks/{taskId}/reject"]["post"]["requestBody"]
    reference = reject["content"]["application/json"]["schema"]["anyOf"][0]["$ref"]
    reason = SCHEMAS[reference.rsplit("/", 1)[1]]["properties"]["reason"]["anyOf"][0]
    assert reason["maxLength"] == 2000
