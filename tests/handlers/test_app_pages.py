"""The worker app's function: its pages and assets, their headers, and what the assets may hold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdtask import config
from tests.support.handlers import function_module, invoke
from tests.support.infra import ROOT

STATIC = ROOT / "functions" / "app" / "static"
PAGES = ("index.html", "review.html")
_IMPORT = re.compile(r"""(?:import|from)\s*(?:[\w{},*\s]+from\s*)?["'](\./[^"']+)["']""")
_HTML_REFERENCE = re.compile(r"""(?:src|href)="([^"#]+)\"""")


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Environment changes the settings see; the cached settings are rebuilt around the test."""
    config.settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    config.settings.cache_clear()


def _references(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found = _HTML_REFERENCE.findall(text) if path.suffix == ".html" else _IMPORT.findall(text)
    # data: (the page's empty icon, so the browser asks for no /favicon.ico) loads nothing
    return {reference.removeprefix("./") for reference in found if not reference.startswith("data:")}


def _first_page_files(page: str) -> set[str]:
    """The page and every file it loads, following module imports."""
    seen, todo = {page}, [page]
    while todo:
        for reference in _references(STATIC / todo.pop()):
            if reference not in seen:
                seen.add(reference)
                todo.append(reference)
    return seen


def test_the_app_page_is_served_with_a_strict_policy_and_no_cache():
    page = invoke("app", "app_page")
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    assert page.raw["body"] == (STATIC / "index.html").read_text(encoding="utf-8")
    assert page.header("Cache-Control") == "no-cache"
    policy = dict(part.strip().split(" ", 1) for part in page.header("Content-Security-Policy").split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in page.header("Content-Security-Policy")
    assert page.header("X-Content-Type-Options") == "nosniff"


def test_the_app_without_its_slash_sends_the_browser_to_it_relatively():
    # relative links need /app/; a relative Location keeps the stage prefix (/v1/app -> /v1/app/)
    reply = invoke("app", "app_page", path_params={})
    assert reply.status == 301 and reply.header("Location") == "app/"


def test_the_review_page_and_the_assets_have_their_types():
    review = invoke("app", "app_asset", path_params={"asset": "review"})
    assert review.status == 200 and "review.js" in review.raw["body"]
    assert review.header("Content-Security-Policy")
    script = invoke("app", "app_asset", path_params={"asset": "worker.js"})
    assert script.status == 200 and script.header("Content-Type") == "text/javascript; charset=utf-8"
    assert script.header("Cache-Control") == "public, max-age=300, must-revalidate"
    style = invoke("app", "app_asset", path_params={"asset": "style.css"})
    assert style.status == 200 and style.header("Content-Type") == "text/css; charset=utf-8"


def test_an_unchanged_asset_is_a_304_by_its_etag():
    first = invoke("app", "app_asset", path_params={"asset": "components.js"})
    again = invoke(
        "app",
        "app_asset",
        path_params={"asset": "components.js"},
        headers={"If-None-Match": first.header("ETag")},
    )
    assert again.status == 304 and not again.raw["body"]
    other = invoke(
        "app", "app_asset", path_params={"asset": "components.js"}, headers={"If-None-Match": '"x"'}
    )
    assert other.status == 200


@pytest.mark.parametrize(
    "name", ["app.py", "../app.py", "..%2Fapp.py", ".hidden.js", "missing.js", "static", "index.htm"]
)
def test_nothing_but_the_static_files_can_be_named(name):
    reply = invoke("app", "app_asset", path_params={"asset": name})
    assert reply.status == 404 and reply.body["code"] == 1004


def test_the_policy_lets_the_browser_reach_the_media_bucket(settings_from):
    settings_from.setenv("MEDIA_BUCKET_NAME", "media-bucket")
    settings_from.setenv("AWS_REGION", "eu-west-1")
    settings_from.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    settings_from.delenv("AWS_ENDPOINT_URL", raising=False)
    policy = function_module("app").content_security_policy()
    bucket = "https://media-bucket.s3.amazonaws.com https://media-bucket.s3.eu-west-1.amazonaws.com"
    assert f"connect-src 'self' {bucket};" in policy
    assert f"media-src 'self' blob: https: {bucket};" in policy
    # locally the browser reaches S3 where the functions do
    settings_from.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5123/")
    config.settings.cache_clear()
    assert "connect-src 'self' http://127.0.0.1:5123;" in function_module("app").content_security_policy()
    # where one endpoint serves every service (the local runner without an S3 of its own), that one
    settings_from.delenv("AWS_ENDPOINT_URL_S3")
    settings_from.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5124")
    config.settings.cache_clear()
    assert "connect-src 'self' http://127.0.0.1:5124;" in function_module("app").content_security_policy()


def test_every_file_is_loaded_by_a_page_and_every_reference_is_a_file():
    loaded = set().union(*(_first_page_files(page) for page in PAGES))
    on_disk = {path.name for path in STATIC.iterdir()}
    assert loaded == on_disk
    for page in PAGES:
        assert all(not reference.startswith(("http", "/")) for reference in _references(STATIC / page))


def test_the_first_page_is_small_and_never_loads_a_script_from_elsewhere():
    files = _first_page_files("index.html")
    assert sum((STATIC / name).stat().st_size for name in files) <= 200 * 1024
    for name in files:
        text = (STATIC / name).read_text(encoding="utf-8")
        assert (
            "<script>" not in text and " on" + "click=" not in text
        )  # no inline script (the CSP forbids it)
        assert not re.search(r"import\s*\(?\s*[\"']https?:", text)


def test_requester_html_is_the_only_text_inserted_as_html():
    # innerHTML appears once, in sanitisedHtml; its callers pass only task details and Html-style Text
    uses = {path.name: path.read_text(encoding="utf-8").count("innerHTML") for path in STATIC.glob("*.js")}
    assert {name: count for name, count in uses.items() if count} == {"ui.js": 1}
    callers = re.findall(
        r"sanitisedHtml\(([^,]+),\s*([\w.]+)", "".join(p.read_text() for p in STATIC.glob("*.js"))
    )
    assert sorted(source for _, source in callers if source != "html") == ["task.details", "text"]
    assert 'style === "Html"' in (STATIC / "components.js").read_text()
