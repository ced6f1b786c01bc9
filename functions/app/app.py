"""The worker web app and the requester review page: static files kept beside this module, served as is."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from crowdtask.http.app import ApiApp, Reply, entrypoint

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam

from crowdtask import errors
from crowdtask.config import settings

app = ApiApp()
STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Pages are checked on every load (a deploy shows at once); scripts and styles may be reused for a few
# minutes, then revalidated by their ETag.
_PAGE_CACHE = "no-cache"
_ASSET_CACHE = "public, max-age=300, must-revalidate"
PAGES = {"": "index.html", "review": "review.html"}


@dataclass(frozen=True)
class Asset:
    """One file of static/: its bytes as text, its content type and its ETag."""

    body: str
    content_type: str
    etag: str
    cache_control: str


@cache
def _asset(name: str) -> Asset:
    """A file of static/ by its plain name (no folders: nothing outside static/ can be named)."""
    path = STATIC / name
    if "/" in name or "\\" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        raise errors.NotFound(f"No such file {name!r} in the app.")
    body = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(body.encode()).hexdigest()[:32]
    cache_control = _PAGE_CACHE if path.suffix == ".html" else _ASSET_CACHE
    return Asset(body, _TYPES[path.suffix], f'"{digest}"', cache_control)


def media_origins() -> list[str]:
    """Origins the browser uploads media to and plays them from: the media bucket's hosts (global and
    regional, as S3 presigns either), or locally the S3 endpoint the functions are pointed at."""
    local = settings().local_s3_endpoint
    if local:
        parts = urlsplit(local)
        return [f"{parts.scheme}://{parts.netloc}"]
    bucket, region = settings().media_bucket_name, settings().aws_region
    if not bucket:
        return []
    hosts = [f"{bucket}.s3.amazonaws.com"] + ([f"{bucket}.s3.{region}.amazonaws.com"] if region else [])
    return [f"https://{host}" for host in hosts]


def content_security_policy() -> str:
    """No inline script or style, nothing from another origin but the media bucket (uploads, downloads)
    and requester media (https only) in img/media elements."""
    media = " ".join(media_origins())
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"connect-src 'self' {media}".strip(),
            f"img-src 'self' blob: data: https: {media}".strip(),
            f"media-src 'self' blob: https: {media}".strip(),
            "font-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _serve(name: str) -> Reply:
    asset = _asset(name)
    headers = {
        "Cache-Control": asset.cache_control,
        "ETag": asset.etag,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if asset.content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = content_security_policy()
        headers["Permissions-Policy"] = "camera=(self), microphone=(self), geolocation=(self)"
    given = app.current_event.headers.get("if-none-match") or app.current_event.headers.get("If-None-Match")
    if given and asset.etag in [tag.strip() for tag in given.split(",")]:
        return Response(304, None, "", headers)
    return Response(200, asset.content_type, asset.body, headers)


@app.get("/app", include_in_schema=False)
def app_page() -> Reply:
    # Relative asset and API links need the trailing slash: /prod/app sends the browser to /prod/app/.
    if not app.current_event.path.endswith("/"):
        return Response(301, None, "", {"Location": "app/", "Cache-Control": "no-cache"})
    return _serve(PAGES[""])


@app.get("/app/<asset>", include_in_schema=False)
def app_asset(asset: Annotated[str, PathParam()]) -> Reply:
    return _serve(PAGES.get(asset, asset))


lambda_handler = entrypoint(app, idempotency=False)
