"""app_first_load_kb: every byte the browser fetches to show the worker app's first page, uncompressed.

Headless Chromium (as in the browser tests) opens /app/ on a local stack and adds up the bodies of
every response until the network is idle; the same sum is made by reading the page and every file it
references, to check that the browser fetched nothing else.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

GOAL_KB = 200
ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "functions" / "app" / "static"
_REFERENCE = re.compile(
    r"""(?:src|href)="(?!data:)([^"#]+)"|(?:import|from)\s*(?:[\w{},*\s]+from\s*)?["']\./([^"']+)["']"""
)


def _files_of(page: str) -> dict[str, int]:
    """The page and every file it loads (module imports followed), with their sizes."""
    sizes: dict[str, int] = {}
    todo = [page]
    while todo:
        name = todo.pop()
        if name in sizes:
            continue
        text = (STATIC / name).read_text(encoding="utf-8")
        sizes[name] = len(text.encode())
        todo.extend(a or b for a, b in _REFERENCE.findall(text))
    return sizes


def _collect(into: list[Any]) -> Any:
    # Playwright wraps the handler it is given, which a bound builtin such as list.append cannot take.
    def collect(response: Any) -> None:
        into.append(response)

    return collect


def measure() -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import CHROMIUM, LAUNCH_FLAGS
    from tests.support.stack import start_stack

    with tempfile.TemporaryDirectory() as workdir:
        api = start_stack(Path(workdir), "--moto-dynamodb", "--in-memory", template=ROOT / "template.yaml")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_FLAGS)
                page = browser.new_page()
                responses: list[Any] = []
                page.on("response", _collect(responses))
                page.goto(f"{api.url}/app/", wait_until="networkidle")
                page.get_by_role("heading", name="Sign in to find work").wait_for()
                fetched = {
                    response.url.rsplit("/", 1)[-1] or "index.html": len(response.body())
                    for response in responses
                }
                browser.close()
        finally:
            api.stop()
    files = _files_of("index.html")
    total = sum(fetched.values())
    return {
        "app_first_load_kb": round(total / 1024, 1),
        "goal_kb": GOAL_KB,
        "responses": len(fetched),
        "bytes_by_file": dict(sorted(fetched.items())),
        "files_referenced_bytes": sum(files.values()),
        "browser_fetched_only_referenced_files": sorted(fetched) == sorted(files),
    }
