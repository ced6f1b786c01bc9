"""Writes (or, with --check, verifies) the OpenAPI document merged from every API function."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "layers/common/python/crowdtask/openapi.json"
DESCRIPTION = (
    "crowdtask: requesters define tasks, bundle them into jobs and campaigns, publish them to the job "
    "market; workers claim and complete the work; requesters review and pay. Authenticate with the "
    "X-Auth-Token header (or Authorization: Bearer/OAuth <token>) from POST /auth/token/request. "
    "Errors are {code, message, description}; every response carries X-Request-ID and X-API-Version. "
    "Send Accept: application/hal+json for _links. Lists take order, limit (1..100), search and "
    "after/before cursors. Creating POSTs accept an Idempotency-Key header."
)


def SECURITY_SCHEMES() -> dict[str, Any]:  # noqa: N802 - reads as the constant it stands for
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    return {
        "authToken": APIKey(name="X-Auth-Token", **{"in": APIKeyIn.header}),
        "adminKey": APIKey(name="X-Admin-Key", **{"in": APIKeyIn.header}),
        "workstreamKey": APIKey(name="x-api-key", **{"in": APIKeyIn.header}),
    }


def _load(path: Path) -> ModuleType:
    """functions/<group>/app.py under a unique module name (every function's module is `app`)."""
    spec = importlib.util.spec_from_file_location(f"crowdtask_function_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# The functions validate their settings when loaded; writing the document touches no resource, so
# any name will do where the environment has none.
DOCUMENTING_ENVIRONMENT = {
    "TABLE_NAME": "documenting",
    "IDEMPOTENCY_TABLE_NAME": "documenting",
    "EVENT_BUS_NAME": "documenting",
    "API_VERSION": "1.0",
    "BULK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/documenting",
    "MEDIA_BUCKET_NAME": "documenting",
    "AGGREGATION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/documenting",
    "WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/documenting",
    "ADMIN_KEY_PARAMETER": "/documenting/no-parameter",
}


def build() -> str:
    sys.path.insert(0, str(ROOT / "layers/common/python"))
    previous = dict(os.environ)
    for name, value in DOCUMENTING_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    try:
        return _build()
    finally:
        os.environ.clear()
        os.environ.update(previous)


def _build() -> str:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    merge = OpenAPIMerge(
        title="crowdtask API",
        version="1.0",
        description=DESCRIPTION,
        security_schemes=SECURITY_SCHEMES(),
        on_conflict="error",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for handler in sorted((ROOT / "functions").glob("*/app.py")):
            module = _load(handler)
            resolver = getattr(module, "app", None)
            if resolver is not None and hasattr(resolver, "get_openapi_schema"):
                merge.add_schema(resolver.get_openapi_schema(security_schemes=SECURITY_SCHEMES()))
        document = json.loads(merge.get_openapi_json_schema())
    document_body_refusals(document)
    document_task_uploads(document)
    document_webhooks(document)
    document_paired_position(document)
    document_numeric_bounds(document)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def document_body_refusals(document: dict[str, Any]) -> None:
    """Every POST/PUT/PATCH may answer 415: the entry point refuses a body of a media type no route
    takes before any route runs (http/app.py), so no route declares it itself."""
    from crowdtask.http.schemas import error_response_block

    for methods in document["paths"].values():
        for method, operation in methods.items():
            if method in ("post", "put", "patch"):
                operation["responses"].setdefault(
                    "415", error_response_block(415, "#/components/schemas/ErrorBody")
                )


# The routes that take one task or many: the route reads the body as any JSON, because each item is
# checked on its own (a refused item is reported by index, or skipped with skip_invalid_items=true).
TASK_UPLOADS = (("/tasks", "post"), ("/api/v1/tasks", "post"))


def document_task_uploads(document: dict[str, Any]) -> None:
    """The body of a task upload as what it takes: a task (TaskIn), a task of the bulk API (PoolTaskIn)
    or an array of either, as many as the route takes a request."""
    from crowdtask.models.bulk import PoolTaskIn
    from crowdtask.services.bulk_items import ASYNC_LIMIT

    schemas = document["components"]["schemas"]
    pool_task = PoolTaskIn.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in {**pool_task.pop("$defs", {}), "PoolTaskIn": pool_task}.items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two schemas named {name}")
    item = {"anyOf": [{"$ref": "#/components/schemas/TaskIn"}, {"$ref": "#/components/schemas/PoolTaskIn"}]}
    for path, method in TASK_UPLOADS:
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        described = {key: body["schema"][key] for key in ("description", "title") if key in body["schema"]}
        many = {"type": "array", "items": item, "minItems": 1, "maxItems": ASYNC_LIMIT}
        body["schema"] = {"anyOf": [*item["anyOf"], many], **described}


def document_webhooks(document: dict[str, Any]) -> None:
    """The events a webhook subscription receives, one entry per type of the catalogue (OpenAPI 3.1)."""
    from crowdtask.models.events import webhooks_section

    document["webhooks"] = webhooks_section()


# Query parameters given together or not at all: OpenAPI can say so of the properties of one object
# parameter, sent exploded (`?lat=..&lng=..`: the same query string as two parameters).
PAIRED_QUERY = {("/market/jobs", "get"): ("position", ("lat", "lng"))}


def document_paired_position(document: dict[str, Any]) -> None:
    """GET /market/jobs takes `lat` and `lng` both or neither (422 for one alone): the two query
    parameters become the properties of one form-exploded object whose `dependentRequired` says so."""
    for (path, method), (name, members) in PAIRED_QUERY.items():
        operation = document["paths"][path][method]
        given = {p["name"]: p for p in operation["parameters"] if p["in"] == "query" and p["name"] in members}
        properties = {}
        for member in members:
            number = next(b for b in given[member]["schema"]["anyOf"] if b.get("type") == "number")
            properties[member] = {**number, "description": given[member]["description"]}
        operation["parameters"] = [p for p in operation["parameters"] if p not in given.values()]
        operation["parameters"].append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "style": "form",
                "explode": True,
                "description": f"{' and '.join(members)}: both, or neither",
                "schema": {
                    "type": "object",
                    "properties": properties,
                    "additionalProperties": False,
                    "dependentRequired": {m: [o for o in members if o != m] for m in members},
                },
            }
        )


# pydantic writes a bound it cannot hand to the number type itself (a validator runs first, as for
# the components' Number and Integer) under its own name, which JSON Schema does not know.
BOUND_KEYWORDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


def document_numeric_bounds(node: Any) -> None:
    """Every `ge`/`gt`/`le`/`lt` on a number or integer schema becomes its JSON Schema keyword."""
    if isinstance(node, dict):
        if node.get("type") in ("number", "integer"):
            for name, keyword in BOUND_KEYWORDS.items():
                if name in node:
                    node[keyword] = node.pop(name)
        for value in node.values():
            document_numeric_bounds(value)
    elif isinstance(node, list):
        for value in node:
            document_numeric_bounds(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the committed document is stale")
    args = parser.parse_args()
    fresh = build()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != fresh:
            print(f"{DOCUMENT.relative_to(ROOT)} is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(fresh)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
