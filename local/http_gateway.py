"""The API on a threading HTTP server, routing and answering like API Gateway (REST, Lambda proxy)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import re
import socket
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.lambdas import FunctionPool, error_text
from local.template import ACCOUNT_ID, API_ID, Api, Route

log = logging.getLogger("local.http")

# API Gateway's payload limit.
MAX_BODY_BYTES = 10 * 1024 * 1024
# A body above the limit is still read (and dropped) up to here, so the client gets the 413.
_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
LOCAL_PREFIX = "/_local/"
# API Gateway owns these response headers; a function's values are replaced (or moved aside).
_GATEWAY_HEADERS = {"content-length", "connection", "transfer-encoding", "date"}
# AWS's own status and message when a gateway response is not customised in the template.
_DEFAULT_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    ),
    "REQUEST_TOO_LARGE": (413, "Request Too Long", None),
    "INTEGRATION_FAILURE": (502, "Internal server error", "InternalServerErrorException"),
}


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class _CompiledResource:
    path: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[Any, ...]
    methods: dict[str, Route]


@dataclass(frozen=True)
class RouteMatch:
    resource: str
    methods: dict[str, Route]
    path_parameters: dict[str, str]

    def route_for(self, method: str) -> Route | None:
        return self.methods.get(method) or self.methods.get("ANY")


_PARAMETER = re.compile(r"\{([^{}]+)\}")


def _compile(path: str) -> tuple[re.Pattern[str], tuple[str, ...], tuple[Any, ...]]:
    """A regex for one resource path, its parameter names, and a rank: lower ranks are more specific.

    A segment ranks static (0) < static text with a parameter in it (1) < whole-segment
    parameter (2) < greedy {name+} (3), compared left to right as API Gateway walks its
    resource tree; among equals, more static characters win.
    """
    parts, names, ranks = [], [], []
    static_chars = 0
    for segment in path.strip("/").split("/") if path.strip("/") else []:
        greedy = re.fullmatch(r"\{([^{}]+)\+\}", segment)
        if greedy:
            names.append(greedy.group(1))
            parts.append("(.+)")
            ranks.append(3)
            continue
        pieces, position = [], 0
        for parameter in _PARAMETER.finditer(segment):
            pieces.append(re.escape(segment[position : parameter.start()]))
            pieces.append("([^/]+)")
            names.append(parameter.group(1))
            position = parameter.end()
        pieces.append(re.escape(segment[position:]))
        static = _PARAMETER.sub("", segment)
        static_chars += len(static)
        ranks.append(0 if position == 0 else (2 if not static else 1))
        parts.append("".join(pieces))
    pattern = re.compile("/" + "/".join(parts))
    return pattern, tuple(names), (tuple(ranks), -static_chars)


class RouteTable:
    """The API's resources, from the template's Api events; matched on the raw (still encoded) path."""

    def __init__(self, routes: Iterable[Route]):
        by_path: dict[str, dict[str, Route]] = {}
        for route in routes:
            methods = by_path.setdefault(_normalise(route.path), {})
            if route.method in methods:
                log.warning("%s %s is declared twice; %s wins", route.method, route.path, route.function)
            methods[route.method] = route
        resources = []
        for path, methods in by_path.items():
            pattern, names, rank = _compile(path)
            resources.append(_CompiledResource(path, pattern, names, rank, methods))
        self._resources = sorted(resources, key=lambda resource: resource.rank)

    def __len__(self) -> int:
        return sum(len(resource.methods) for resource in self._resources)

    def match(self, raw_path: str) -> RouteMatch | None:
        path = _normalise(raw_path)
        for resource in self._resources:
            found = resource.pattern.fullmatch(path)
            if found:
                return RouteMatch(
                    resource.path, resource.methods, dict(zip(resource.names, found.groups(), strict=True))
                )
        return None


def split_target(target: str) -> tuple[str, str]:
    """Path and query of a request target; by hand, as urlsplit reads "//x/y" as a host and a path."""
    if target.startswith(("http://", "https://")):  # absolute-form, as sent to proxies
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path or "/", query


def _normalise(path: str) -> str:
    # API Gateway routes /tasks/ like /tasks.
    return "/" + path.strip("/") if path not in ("", "/") else "/"


# ---------------------------------------------------------------- events and responses


def proxy_event(
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    match: RouteMatch,
    stage: str,
    source_ip: str,
    request_id: str,
    binary_media_types: list[str],
) -> dict[str, Any]:
    """The API Gateway REST (v1) Lambda proxy event."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query_single: dict[str, str] = {}
    query_multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)

    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    encoded = False
    text: str | None = None
    if body:
        if _is_binary(content_type, binary_media_types):
            text, encoded = base64.b64encode(body).decode(), True
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text, encoded = base64.b64encode(body).decode(), True

    now = dt.datetime.now(dt.UTC)
    host = single.get("Host") or single.get("host") or ""
    user_agent = next((value for name, value in headers if name.lower() == "user-agent"), None)
    return {
        "resource": match.resource,
        "path": raw_path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": f"{zlib.crc32(match.resource.encode()) & 0xFFFFFF:06x}",
            "resourcePath": match.resource,
            "httpMethod": method,
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{raw_path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": host,
            "deploymentId": "local",
            "apiId": API_ID,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _is_binary(content_type: str, binary_media_types: list[str]) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    for declared in binary_media_types:
        pattern = declared.lower()
        if pattern in ("*/*", media) or (pattern.endswith("/*") and media.startswith(pattern[:-1])):
            return True
    return False


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedResponse(Exception):
    """The function's answer is not a valid Lambda proxy response."""


def proxy_response(result: Any) -> HttpResponse:
    """The HTTP response for a function's proxy result; headers and multiValueHeaders are merged."""
    if not isinstance(result, dict):
        raise MalformedResponse(f"expected an object, got {type(result).__name__}")
    try:
        status = int(result.get("statusCode"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"statusCode {result.get('statusCode')!r}") from exc
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status}")
    headers = [
        (name, value)
        for name, values in _merged_headers(result).items()
        if name.lower() not in _GATEWAY_HEADERS
        for value in values
    ]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, _body_bytes(result))


def _merged_headers(result: dict[str, Any]) -> dict[str, list[str]]:
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    merged: dict[str, list[str]] = {}
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        merged.setdefault(str(name), []).extend(_header_text(value) for value in values)
    for name, value in single.items():
        # As on API Gateway: a pair given in both places appears once.
        if _header_text(value) not in merged.get(str(name), []):
            merged.setdefault(str(name), []).append(_header_text(value))
    return merged


def _body_bytes(result: dict[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, got {type(body).__name__}")
    if not result.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise MalformedResponse("isBase64Encoded with a body that is not base64") from exc


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CONTEXT_VARIABLE = re.compile(r"\$(\{)?context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)(?(1)\})")


class GatewayResponses:
    """API Gateway's own answers (no route, body too large, function failed), customised by the template."""

    def __init__(self, api: Api):
        self.api = api

    def render(
        self,
        response_type: str,
        request_id: str,
        path: str = "",
        method: str = "",
        request_headers: Iterable[tuple[str, str]] = (),
    ) -> HttpResponse:
        status, message, error_type = _DEFAULT_RESPONSES[response_type]
        specific = self.api.gateway_responses.get(response_type)
        family = self.api.gateway_responses.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")
        # A status set on DEFAULT_4XX/5XX applies to every response of that family (AWS documents this).
        if specific and specific.status:
            status = specific.status
        elif family and family.status:
            status = family.status
        templates = (specific.templates if specific and specific.templates else None) or (
            family.templates if family else {}
        )
        variables = {
            "error.message": message,
            "error.messageString": json.dumps(message),
            "error.responseType": response_type,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "stage": self.api.stage,
            "path": f"/{self.api.stage}{path}",
            "httpMethod": method,
            "apiId": API_ID,
            "accountId": ACCOUNT_ID,
        }
        template = templates.get("application/json") or next(iter(templates.values()), None)
        if template is None:
            body = json.dumps({"message": message})
        else:
            body = _CONTEXT_VARIABLE.sub(lambda found: variables.get(found.group(2), ""), template)
        mapped: dict[str, str] = {}
        for source in (family, specific):  # the specific response's mappings win
            for name, expression in (source.headers if source else {}).items():
                value = _mapped_value(expression, variables, request_headers)
                if value is not None:
                    mapped[name] = value
        headers = [("Content-Type", "application/json"), *mapped.items()]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        return HttpResponse(status, headers, body.encode())


def _mapped_value(
    expression: str, variables: Mapping[str, str], request_headers: Iterable[tuple[str, str]]
) -> str | None:
    """A gateway response header mapping: a 'quoted literal', context.X, or method.request.header.X."""
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]
    if expression.startswith("context."):
        return variables.get(expression.removeprefix("context."))
    if expression.startswith("method.request.header."):
        wanted = expression.removeprefix("method.request.header.").lower()
        return next((value for name, value in request_headers if name.lower() == wanted), None)
    return None  # other sources (stage variables, query strings) are not known for these responses


# ---------------------------------------------------------------- the server


class Gateway:
    """Turns HTTP requests into invocations of the functions that own the routes."""

    def __init__(
        self,
        api: Api,
        routes: Iterable[Route],
        pools: Mapping[str, FunctionPool],
        local_routes: Mapping[tuple[str, str], Callable[[], Any]] | None = None,
    ):
        self.api = api
        self.routes = RouteTable(routes)
        self.pools = pools
        self.responses = GatewayResponses(api)
        self.local_routes = dict(local_routes or {})
        # bytes of the events sent to each function and of the bodies they answered (benchmarks)
        self.payload_bytes: Counter[str] = Counter()
        self._payload_lock = threading.Lock()

    def handle(self, request: _RequestHandler) -> None:
        request_id = str(uuid.uuid4())
        began = time.monotonic()
        raw_path, query = split_target(request.path)
        method = request.command.upper()
        body, too_large = request.read_body()
        if too_large:
            response = self.responses.render(
                "REQUEST_TOO_LARGE", request_id, raw_path, method, request.headers.items()
            )
        elif raw_path.startswith(LOCAL_PREFIX):
            response = self._local(request, method, raw_path, request_id)
        else:
            response = self._api(request, method, raw_path, query, body, request_id)
        response.headers.append(("x-amzn-RequestId", request_id))
        request.write(response)
        log.info(
            "%s %s -> %d (%.0f ms)", method, request.path, response.status, (time.monotonic() - began) * 1000
        )

    def _local(self, request: _RequestHandler, method: str, path: str, request_id: str) -> HttpResponse:
        action = self.local_routes.get((method, _normalise(path)))
        if action is None:
            return self.responses.render(
                "MISSING_AUTHENTICATION_TOKEN", request_id, path, method, request.headers.items()
            )
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(action()).encode())

    def _api(
        self, request: _RequestHandler, method: str, raw_path: str, query: str, body: bytes, request_id: str
    ) -> HttpResponse:
        match = self.routes.match(raw_path)
        route = match.route_for(method) if match else None
        if match is None or route is None:
            if match is not None and method == "OPTIONS" and self.api.cors:
                return self._cors_preflight()
            return self.responses.render(
                "MISSING_AUTHENTICATION_TOKEN", request_id, raw_path, method, request.headers.items()
            )
        event = proxy_event(
            method=method,
            raw_path=raw_path,
            query=query,
            headers=request.event_headers(),
            body=body,
            match=match,
            stage=self.api.stage,
            source_ip=request.client_address[0],
            request_id=request_id,
            binary_media_types=self.api.binary_media_types,
        )
        invocation = self.pools[route.function].invoke(event)
        answered = invocation.result.get("body") if isinstance(invocation.result, dict) else None
        with self._payload_lock:
            self.payload_bytes[route.function] += len(json.dumps(event)) + len(str(answered or ""))
        if not invocation.ok:
            log.warning("%s failed: %s", route.function, error_text(invocation))
            return self.responses.render(
                "INTEGRATION_FAILURE", request_id, raw_path, method, request.headers.items()
            )
        try:
            return proxy_response(invocation.result)
        except MalformedResponse as exc:
            log.warning("%s: malformed Lambda proxy response: %s", route.function, exc)
            return self.responses.render(
                "INTEGRATION_FAILURE", request_id, raw_path, method, request.headers.items()
            )

    def _cors_preflight(self) -> HttpResponse:
        """SAM's mock OPTIONS method, added where a route has no OPTIONS (or ANY) of its own."""
        cors = self.api.cors or {}
        headers = [("Content-Type", "application/json")]
        for key, header in (
            ("AllowOrigin", "Access-Control-Allow-Origin"),
            ("AllowHeaders", "Access-Control-Allow-Headers"),
            ("AllowMethods", "Access-Control-Allow-Methods"),
            ("MaxAge", "Access-Control-Max-Age"),
            ("AllowCredentials", "Access-Control-Allow-Credentials"),
        ):
            if cors.get(key):
                headers.append((header, cors[key]))
        return HttpResponse(200, headers, b"")


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks and browsers reuse connections
    timeout = 120  # an idle keep-alive connection does not hold a thread forever
    server: GatewayServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle's algorithm meets the
        # client's delayed ACK and every keep-alive response waits ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_request(self) -> None:
        self.server.gateway.handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_request

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, PROPFIND, ...) goes to the API too, which refuses it with its own
        # 405 body, instead of http.server's 501 HTML page.
        if name.startswith("do_") and name[3:].isalpha():
            return self.do_request
        raise AttributeError(name)

    def event_headers(self) -> list[tuple[str, str]]:
        headers = [(name, value) for name, value in self.headers.items()]
        names = {name.lower() for name, _ in headers}
        # What CloudFront and API Gateway add in front of the integration.
        for name, value in (
            ("X-Forwarded-For", self.client_address[0]),
            ("X-Forwarded-Port", str(self.server.server_address[1])),
            ("X-Forwarded-Proto", "http"),
            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"),
        ):
            if name.lower() not in names:
                headers.append((name, value))
        return headers

    def read_body(self) -> tuple[bytes, bool]:
        """The request body and whether it is over the API's limit (then it is read and dropped)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = max(int(self.headers.get("Content-Length") or 0), 0)
        except ValueError:
            self.close_connection = True  # the body's end is unknown: this connection cannot go on
            return b"", False
        if length <= MAX_BODY_BYTES:
            return self.rfile.read(length) if length else b"", False
        if length > _DRAIN_LIMIT_BYTES:
            self.close_connection = True
            return b"", True
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        return b"", True

    def _read_chunked(self) -> tuple[bytes, bool]:
        chunks, size = [], 0
        while True:
            line = self.rfile.readline(1024)
            chunk_size = int(line.split(b";")[0].strip() or b"0", 16)
            if chunk_size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            data = self.rfile.read(chunk_size)
            self.rfile.readline(8)
            size += len(data)
            if size <= MAX_BODY_BYTES:
                chunks.append(data)
            elif size > _DRAIN_LIMIT_BYTES:
                self.close_connection = True
                return b"", True
        return (b"", True) if size > MAX_BODY_BYTES else (b"".join(chunks), False)

    def write(self, response: HttpResponse) -> None:
        status = HTTPStatus(response.status) if response.status in HTTPStatus._value2member_map_ else None
        reason = status.phrase if status else ""
        self.send_response_only(response.status, reason)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            self.send_header(name, value)
        if response.status >= 200 and response.status not in (204, 304):  # these never carry a body
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True  # a keep-alive connection must not block shutdown
    allow_reuse_address = True
    request_queue_size = 128  # the default backlog of 5 drops connections under a load test

    gateway: Gateway  # set once the functions are ready; nothing is served before

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early (curl | head, a cancelled fetch) is not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        log.exception("error while serving %s", client_address)

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        thread.start()
        return thread
