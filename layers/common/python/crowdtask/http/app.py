"""The resolver every API function uses, and the Lambda entry point wrapped around it.

Everything that is the same for all routes lives here once: request ids, API versioning,
body limits, JSON parsing, error bodies, 405s, HAL replies, idempotency keys and telemetry.
"""

from __future__ import annotations

import base64
import json
import math
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from crowdtask.http import auth, pagination, resume_collection
from crowdtask.http.idempotency import run_idempotent

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.dependant import get_dependant
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Dependant
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, RootModel

from crowdtask import errors
from crowdtask.config import settings, tracing_enabled
from crowdtask.models.listing import ListQuery, Page
from crowdtask.observability import logger, metrics, tracer
from crowdtask.validation import field_errors

SUPPORTED_VERSIONS = ("1.0",)
HAL = "application/hal+json"
JSON = "application/json"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
# Bodies that are not JSON by design (the route reads them itself): the JSON syntax check skips them.
TEXT_BODY_TYPES = ("text/csv", "application/csv", "text/plain")

# Routes return bodies they serialised themselves (HAL adds `_links`), so the reply type is open;
# each route declares its body model through `responses=` (http/schemas.py).
Reply = Response[Any]
ItemLinks = Callable[[Any], dict[str, Any]]


def dump(body: BaseModel) -> dict[str, Any]:
    """The one serialisation rule of the API's bodies: JSON types, field aliases, nulls left out."""
    return body.model_dump(mode="json", by_alias=True, exclude_none=True)


def dump_every_field(body: BaseModel) -> dict[str, Any]:
    """For the shapes a seed gives with every field present, null included (each use names its seed)."""
    return body.model_dump(mode="json", by_alias=True)


# The routes that take the X-Admin-Key. They never answer `Access-Control-Allow-Origin: *`: with
# ALLOWED_ORIGIN `*` they answer no CORS headers at all, so no web page can read (or preflight) them.
ADMIN_PREFIX = "/admin/"


@lru_cache(maxsize=1)
def cors() -> CORSConfig:
    """CORS of every function from ALLOWED_ORIGIN, the setting the template's gateway responses use too."""
    return CORSConfig(
        allow_origin=settings().allowed_origin,
        allow_headers=[
            "Authorization",
            "X-Auth-Token",
            "X-API-Version",
            "X-Request-ID",
            "Idempotency-Key",
            "X-Admin-Key",
            "x-api-key",
        ],
        expose_headers=["X-Request-ID", "X-API-Version", "Link", "Retry-After", "Idempotent-Replayed"],
        max_age=600,
    )


def error_response(error: errors.CrowdtaskError) -> Reply:
    body: dict[str, Any] = {"code": error.code, "message": error.message, "description": error.description}
    for name, value in error.extra.items():  # what a refusal carries besides its text (a balance)
        body.setdefault(name, value)
    if isinstance(error, errors.ValidationFailed):
        body["errors"] = error.errors
        if getattr(error, "validation_errors", None) is not None:  # bulk: refused items by index
            body["validation_errors"] = error.validation_errors  # type: ignore[attr-defined]
    return Response(status_code=error.status, content_type=JSON, body=body, headers=dict(error.headers))


class ApiApp(APIGatewayRestResolver):
    """APIGatewayRestResolver with the crowdtask conventions registered once."""

    def __init__(self) -> None:
        super().__init__(enable_validation=True, cors=cors())
        self.exception_handler(errors.CrowdtaskError)(error_response)
        self.exception_handler(RequestValidationError)(self._validation_error)
        self.exception_handler(RequestUnsupportedContentType)(self._unsupported_media_type)
        self.exception_handler(NotFoundError)(self._no_route)
        self.use(middlewares=[_one_object_per_body])
        self._analysed_for_answers: set[Route] = set()

    def _convert_matches_into_route_keys(self, match: re.Match[str]) -> dict[str, str]:
        """Path parameters as the client meant them: the gateway passes the path still percent-encoded,
        so an id's length and value are those of its decoded text (the one hook Powertools gives
        between matching a route and validating its parameters)."""
        matched = super()._convert_matches_into_route_keys(match)
        route = self.context["_route"]
        if route._dependant is None:
            route._dependant = _analysis_for_answers(route)
            self._analysed_for_answers.add(route)
        return {name: unquote(value) for name, value in matched.items()}

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """The document describes every reply model of `responses=`: routes that answered requests
        forget their request-time analysis (`_analysis_for_answers`) and are analysed again in full."""
        for route in self._analysed_for_answers:
            route._dependant, route._body_field = None, None
        self._analysed_for_answers.clear()
        return super().get_openapi_schema(*args, **kwargs)

    # ------------------------------------------------------------------ caller
    def caller(self, role: str | None = None) -> auth.Caller:
        """The authenticated caller of this request (looked up once per request)."""
        found = self.context.get("caller")
        if found is None:
            found = auth.authenticate(self.current_event.headers)
            self.append_context(caller=found)
        if role is not None and found.role != role:
            raise errors.Forbidden(f"This route is for {role} accounts; the token belongs to a {found.role}.")
        return found

    def requester(self) -> auth.Caller:
        return self.caller(role="requester")

    def worker(self) -> auth.Caller:
        return self.caller(role="worker")

    # ------------------------------------------------------------------ replies
    def wants_hal(self) -> bool:
        accept = self.current_event.headers.get("accept") or self.current_event.headers.get("Accept") or ""
        return HAL in accept.lower()

    def reply(
        self,
        body: BaseModel | Mapping[str, Any] | None,
        *,
        status: int = 200,
        links: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """A JSON reply (a model by dump()); with `Accept: application/hal+json` it gains `_links`."""
        payload: dict[str, Any] = dump(body) if isinstance(body, BaseModel) else dict(body or {})
        content_type = JSON
        if self.wants_hal() and links is not None:
            payload = {"_links": dict(links), **payload}
            content_type = HAL
        return Response(
            status_code=status,
            content_type=content_type,
            body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
            headers=dict(headers or {}),
        )

    def created(
        self,
        body: BaseModel,
        location: str,
        *,
        links: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        status: int = 201,
    ) -> Reply:
        """A new resource: 201 (or 202 for work accepted) with its Location and links."""
        return self.reply(body, status=status, links=links, headers={"Location": location, **(headers or {})})

    def reply_list(self, body: list[Any], *, headers: Mapping[str, str] | None = None) -> Reply:
        """A JSON array reply (the bulk API's operation log)."""
        return Response(
            status_code=200,
            content_type=JSON,
            body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            headers=dict(headers or {}),
        )

    def query_params(self) -> dict[str, list[str]]:
        return dict(self.current_event.multi_value_query_string_parameters or {})

    def list_query(self, limit: int, archived: bool | None) -> ListQuery:
        """The collection query of this request (order, search, cursors; archived filter)."""
        equals = {} if archived is None else {"archived": archived}
        return pagination.list_query(self.query_params(), limit=limit, equals=equals)

    def page_reply(
        self,
        key: str,
        items: Sequence[BaseModel],
        links: dict[str, Any],
        item_links: ItemLinks | None = None,
        extra: Mapping[str, BaseModel] | None = None,
    ) -> Reply:
        """A page of a list: `{key: [...], **extra}`, HAL links (on each item too) and the `Link` header."""
        body: dict[str, Any] = {key: self.with_item_links(items, item_links)}
        body.update({name: dump(model) for name, model in (extra or {}).items()})
        return self.reply(body, links=links, headers=pagination.link_header(links))

    def with_item_links(
        self, items: Sequence[BaseModel], item_links: ItemLinks | None
    ) -> list[dict[str, Any]]:
        """Items as a page shows them: each with its own `_links` when HAL is asked for."""
        dumped = [dump(item) for item in items]
        if item_links is None or not self.wants_hal():
            return dumped
        return [{"_links": item_links(item), **body} for item, body in zip(items, dumped, strict=True)]

    def collection_reply(
        self,
        key: str,
        path: str,
        query: ListQuery,
        found: tuple[Sequence[BaseModel], Page],
        item_links: ItemLinks,
    ) -> Reply:
        items, page = found
        links = pagination.page_links(path, self.query_params(), query, page)
        return self.page_reply(key, items, links, item_links)

    def members_reply(
        self,
        key: str,
        path: str,
        found: tuple[Sequence[Any], bool],
        item_links: ItemLinks | None = None,
        extra: Mapping[str, BaseModel] | None = None,
        cursor: Callable[[Any], str] = lambda item: str(item.id),
    ) -> Reply:
        """A page of an ordered list paged by member id (a job's tasks, a campaign's results);
        `cursor`: the id an item is paged by, where it is not its `id`."""
        items, has_more = found
        last = cursor(items[-1]) if items else None
        links = pagination.member_links(path, self.query_params(), last, has_more)
        return self.page_reply(key, items, links, item_links, extra)

    def empty(self, status: int = 204) -> Reply:
        return Response(status_code=status, content_type=None, body=None)

    # ------------------------------------------------------------------ handlers
    def _validation_error(self, exc: RequestValidationError) -> Reply:
        problems = field_errors(exc.errors())
        if any(p["code"] == "MALFORMED_JSON" for p in problems):
            return error_response(errors.BadRequest("The request body is not valid JSON."))
        return error_response(errors.ValidationFailed(problems))

    def _unsupported_media_type(self, _exc: RequestUnsupportedContentType) -> Reply:
        return error_response(_unsupported(self.current_event.headers.get("content-type") or ""))

    def _no_route(self, _exc: NotFoundError) -> Reply:
        path = self.current_event.path
        allowed = sorted({r.method for r in self._static_routes + self._dynamic_routes if r.rule.match(path)})
        if allowed:
            return error_response(
                errors.MethodNotAllowed(
                    f"{self.current_event.http_method} is not allowed on {path}; use {', '.join(allowed)}.",
                    headers={"Allow": ", ".join([*allowed, "OPTIONS"])},
                )
            )
        return error_response(errors.NotFound("No resource exists at this path."))


# ---------------------------------------------------------------------- entry point
def _analysis_for_answers(route: Route) -> Dependant:
    """A route's analysis for answering requests: its parameters, body and return type, without the
    reply models of its `responses=`, which only the OpenAPI document reads (Powertools builds a
    validator of each of them, error bodies included, on a route's first request: measured, 36 M
    instructions of POST /tasks's cold start)."""
    return get_dependant(path=route.openapi_path, call=route.func, responses=None)


def _one_object_per_body(app: ApiApp, next_middleware: Callable[[ApiApp], Any]) -> Any:
    """A route that takes one object refuses a JSON array (Powertools' validation would take the
    array's first item for the object and drop the rest without a word)."""
    route = app.context.get("_route")
    params = route.dependant.body_params if route is not None else []
    takes_an_object = bool(params) and not any(_takes_an_array(p.field_info.annotation) for p in params)
    if takes_an_object and isinstance(app.current_event.json_body, list):
        raise errors.ValidationFailed.one("body", "a JSON object is expected here, not an array")
    return next_middleware(app)


def _takes_an_array(annotation: Any) -> bool:
    """Whether a body annotation admits a JSON array (a list, a union holding one, `Any`)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _takes_an_array(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_takes_an_array(member) for member in typing.get_args(annotation))
    if annotation is Any or annotation in (list, tuple, set, frozenset):
        return True
    if origin in (list, tuple, set, frozenset, Sequence):
        return True
    if isinstance(annotation, type) and issubclass(annotation, RootModel):
        return _takes_an_array(annotation.model_fields["root"].annotation)
    return False


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _request_id(event: Mapping[str, Any]) -> str:
    given = _header(event.get("headers"), "X-Request-ID")
    if given and _REQUEST_ID.match(given):
        return given
    return str(uuid.uuid4())


def _precheck(event: dict[str, Any]) -> errors.CrowdtaskError | None:
    """Refusals that need no route: version, size, media type and JSON syntax."""
    version = _header(event.get("headers"), "X-API-Version")
    if version is not None and version.strip() not in SUPPORTED_VERSIONS and version.strip() != "1":
        return errors.UnsupportedVersion(
            f"X-API-Version {version!r} is not supported; "
            f"supported versions: {', '.join(SUPPORTED_VERSIONS)}."
        )
    body = event.get("body")
    if body is None:
        return None
    return _size_refusal(body, bool(event.get("isBase64Encoded"))) or _body_refusal(event, body)


def _size_refusal(body: str, base64_encoded: bool) -> errors.CrowdtaskError | None:
    if base64_encoded:
        try:
            size = len(base64.b64decode(body))
        except ValueError:
            return errors.BadRequest("The request body is not valid base64.")
    else:
        size = len(body.encode("utf-8"))
    if size > settings().max_body_bytes:
        return errors.PayloadTooLarge(
            f"The body has {size} bytes; the limit is {settings().max_body_bytes}. "
            "Split it into smaller requests."
        )
    return None


def _body_refusal(event: dict[str, Any], body: str) -> errors.CrowdtaskError | None:
    """415 for a body of a media type no route takes; 400 for one that is not UTF-8 JSON."""
    if (event.get("httpMethod") or "").upper() not in _BODY_METHODS or not body.strip():
        return None
    media_type = (_header(event.get("headers"), "Content-Type") or "").partition(";")[0].strip().lower()
    if media_type in TEXT_BODY_TYPES:
        return None  # the route reads the text itself, or refuses its type
    if media_type not in ("", JSON):
        return _unsupported(media_type)
    return _json_syntax(body, bool(event.get("isBase64Encoded")))


def _unsupported(media_type: str) -> errors.UnsupportedMediaType:
    return errors.UnsupportedMediaType(
        f"The body was sent as {media_type.partition(';')[0].strip() or 'no media type'}; "
        f"this route takes {JSON}."
    )


def _json_syntax(body: str, base64_encoded: bool) -> errors.CrowdtaskError | None:
    """400 for a body that is not UTF-8 JSON text (API Gateway hands over non-text bodies as base64)."""
    if base64_encoded:
        try:
            body = base64.b64decode(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            return errors.BadRequest(
                f"The request body is not UTF-8 text: byte {exc.start} cannot start a character. "
                "Send JSON encoded as UTF-8."
            )
    try:
        json.loads(body, parse_constant=_not_json, parse_float=_finite)
    except ValueError as exc:
        return errors.BadRequest(f"The request body is not valid JSON: {exc}.")
    except RecursionError:
        return errors.BadRequest("The request body is not valid JSON: its arrays or objects nest too deeply.")
    return None


def _not_json(constant: str) -> float:
    """NaN and Infinity: Python's json reads them, JSON has no such thing (they would vanish on the way)."""
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text} is beyond what a number can hold here")
    return value


def _finish(response: dict[str, Any], request_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
    headers = response.setdefault("multiValueHeaders", {})
    headers["X-Request-ID"] = [request_id]
    headers["X-API-Version"] = [settings().api_version]
    _cors_for_route(headers, str(event.get("resource") or event.get("path") or ""))
    status = int(response.get("statusCode", 500))
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    if status >= 500:
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
    elif status >= 400:
        metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
    response["statusCode"] = status
    return response


def _cors_for_route(headers: dict[str, Any], route: str) -> None:
    """Admin routes drop the CORS headers of a `*` origin; with one origin, every answer varies by Origin."""
    allowed = settings().allowed_origin
    if allowed == "*" and (route + "/").startswith(ADMIN_PREFIX):
        for name in [name for name in headers if name.lower().startswith("access-control-")]:
            del headers[name]
    elif allowed != "*":
        headers["Vary"] = ["Origin"]


def _serialise(app: ApiApp, error: errors.CrowdtaskError, event: dict[str, Any]) -> dict[str, Any]:
    """Build a refusal with the resolver's own serialisation, so CORS headers are the same."""
    response = error_response(error)
    headers = {"Content-Type": JSON, **response.headers}
    origin = _header(event.get("headers"), "Origin")
    if origin:
        config = cors()
        headers.update(config.to_dict(config.allowed_origin(origin)))
    return {
        "statusCode": response.status_code,
        "multiValueHeaders": {k: v if isinstance(v, list) else [v] for k, v in headers.items()},
        "body": json.dumps(response.body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def entrypoint(
    app: ApiApp,
    *,
    idempotency: bool = True,
    needs: tuple[str, ...] = (),
    secret_routes: tuple[str, ...] = (),
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler for `app`: logging context, pre-checks, idempotency, headers.

    `idempotency=False` for functions whose POSTs create nothing (previews, docs): they
    ignore Idempotency-Key and need no access to the idempotency table. `secret_routes` (path
    templates such as `/auth/token/request`) answer with a credential: an Idempotency-Key is
    ignored there, so no token or key is ever kept in the idempotency table. The settings are
    validated here, at cold start; `needs` names the optional ones this function cannot do without.
    """
    exempt = frozenset(secret_routes)
    settings().require(*needs)

    @metrics.log_metrics(raise_on_empty_metrics=False)
    @logger.inject_lambda_context(clear_state=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_id = _request_id(event)
        logger.set_correlation_id(request_id)
        logger.append_keys(method=event.get("httpMethod"), path=event.get("path"))
        refusal = _precheck(event)
        if refusal is not None:
            return _finish(_serialise(app, refusal, event), request_id, event)
        resolve: Callable[[dict[str, Any], Any], dict[str, Any]] = app.resolve
        if tracing_enabled():
            resolve = tracer().capture_method(app.resolve)
        try:
            if idempotency:
                response = run_idempotent(event, context, resolve, exempt)
            else:
                response = resolve(event, context)
        except errors.CrowdtaskError as refusal_in_flight:
            response = _serialise(app, refusal_in_flight, event)
        except Exception:
            logger.exception("unhandled error")
            response = _serialise(
                app,
                _Internal(
                    "Something went wrong on our side; retry, and quote the X-Request-ID when reporting."
                ),
                event,
            )
        return _finish(response, request_id, event)

    resume_collection()
    return lambda_handler


class _Internal(errors.CrowdtaskError):
    status, code, message = 500, 1500, "internal error"
