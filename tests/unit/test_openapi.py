"""The committed OpenAPI document is the one the routes generate."""

from __future__ import annotations

import json

from scripts.openapi import DOCUMENT, build


def test_committed_openapi_document_is_fresh():
    assert DOCUMENT.read_text() == build(), "openapi.json is stale: run `make openapi` and commit it"


def test_every_documented_error_uses_the_shared_error_body():
    document = json.loads(DOCUMENT.read_text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
