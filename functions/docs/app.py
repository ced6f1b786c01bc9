"""Docs: the committed OpenAPI document of the whole API, and Swagger UI over it."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam

from crowdtask import errors

app = ApiApp()
# Served by this function from the Powertools package: no CDN. Relative links keep the stage prefix.
_SWAGGER_ASSETS = {"swagger-ui-bundle.min.js": "text/javascript", "swagger-ui.min.css": "text/css"}


@lru_cache(maxsize=1)
def _document() -> str:
    return resources.files("crowdtask").joinpath("openapi.json").read_text(encoding="utf-8")


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Reply:
    return Response(200, "application/json", _document())


@app.get("/swagger", include_in_schema=False)
def swagger_ui() -> Reply:
    # Where Powertools apps serve their document: `/swagger?format=json`.
    if (app.current_event.query_string_parameters or {}).get("format") == "json":
        return openapi_document()
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    page = generate_swagger_html(
        _document().replace("</", "<\\/"),
        "swagger/swagger-ui-bundle.min.js",
        "swagger/swagger-ui.min.css",
        "swagger",
        None,
        False,
    )
    return Response(200, "text/html", page)


@app.get("/swagger/<asset>", include_in_schema=False)
def swagger_asset(asset: Annotated[str, PathParam()]) -> Reply:
    if asset not in _SWAGGER_ASSETS:
        raise errors.NotFound(f"No such asset {asset!r}.")
    import aws_lambda_powertools.event_handler as handler_package

    folder = Path(handler_package.__file__).parent / "openapi" / "swagger_ui"
    return Response(200, _SWAGGER_ASSETS[asset], (folder / asset).read_text(encoding="utf-8"))


lambda_handler = entrypoint(app, idempotency=False)
