"""Handler tests: load a function's module and invoke it with an event from events/."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from tests.support.context import FakeLambdaContext
from tests.support.infra import ROOT


@cache
def function_module(group: str) -> ModuleType:
    """functions/<group>/app.py, imported under a unique name (every function's module is `app`)."""
    path = ROOT / "functions" / group / "app.py"
    spec = importlib.util.spec_from_file_location(f"crowdtask_function_{group}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def sample_event(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / f"{name}.json").read_text())


def sample_body(name: str) -> Any:
    """The JSON body of events/<name>.json."""
    return json.loads(sample_event(name)["body"])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    raw: dict[str, Any]

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


def to_reply(response: dict[str, Any]) -> Reply:
    headers = {k: v for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(values) if isinstance(values, list) else values
    text = response.get("body")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    return Reply(status=int(response["statusCode"]), headers=headers, body=body, raw=response)


def invoke(
    group: str,
    event_name: str,
    *,
    body: Any = ...,
    raw_body: str | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
    query: dict[str, list[str]] | None = None,
    method: str | None = None,
) -> Reply:
    """Invoke functions/<group> with events/<event_name>.json, adjusted as asked."""
    event = copy.deepcopy(sample_event(event_name))
    if body is not ...:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    event["headers"] = dict(event.get("headers") or {})
    if token is not None:
        event["headers"]["X-Auth-Token"] = token
    elif event["headers"].get("X-Auth-Token") == "replace-with-a-token":
        event["headers"].pop("X-Auth-Token")
    event["headers"].update(headers or {})
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if path_params is not None:
        event["pathParameters"] = path_params
        path = event["resource"]
        for key, value in path_params.items():
            path = path.replace("{" + key + "}", value)
        event["path"] = path
    if query is not None:
        event["multiValueQueryStringParameters"] = query or None
        event["queryStringParameters"] = {k: v[-1] for k, v in query.items()} or None
    if method is not None:
        event["httpMethod"] = method
    return call(group, event)


def call(group: str, event: dict[str, Any]) -> Reply:
    """functions/<group> invoked with `event`, as API Gateway would hand it over."""
    handler = function_module(group).lambda_handler
    return to_reply(handler(event, FakeLambdaContext(function_name=group)))
