"""Headless Chromium (Debian's package) driven by Playwright for the worker app's tests.

Never `playwright install`: the browser is /usr/bin/chromium, which `make test` installs when missing.
"""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / ".local" / "artifacts" / "app"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # recordings: Chromium's fake camera and microphone, allowed without a prompt
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


# Module scope, not session: while Playwright's sync API lives it runs an event loop in this thread,
# and code under test that calls asyncio.run (Powertools' async batch processing) fails beside it.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for a module's browser tests."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium and chromium-driver")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_FLAGS)
        yield browser
        browser.close()


def new_page(chromium: Any, **context: Any) -> Any:
    """A page in a fresh context (own cookies and sessionStorage), phone-sized; console errors kept."""
    page = chromium.new_context(viewport=PHONE, **context).new_page()
    page.set_default_timeout(30_000)  # generous: the machine may be busy with other work
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    return page


def screenshots(page: Any, step: str) -> list[Path]:
    """The page at phone and at desktop width, as test artifacts; the phone size is restored."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # a passing status toast is fixed to the viewport: in a full-page picture it would cover the middle
    page.evaluate("() => { document.getElementById('status').textContent = ''; }")
    written = []
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        path = ARTIFACTS / f"{step}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    return written


# Every input, select, textarea and button the page shows must have an accessible name, every group of
# controls a legend, every image an alt attribute: read from the DOM as assistive technology reads it.
UNNAMED_CONTROLS = """() => {
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const named = (e) => {
    if (e.getAttribute("aria-label")?.trim()) return true;
    const by = e.getAttribute("aria-labelledby");
    if (by && by.split(/\\s+/).some((id) => document.getElementById(id)?.textContent.trim())) return true;
    if (e.labels && [...e.labels].some((l) => l.textContent.trim())) return true;
    if (e.tagName === "BUTTON" || e.getAttribute("role") === "button") return !!e.textContent.trim();
    return false;
  };
  const problems = [];
  for (const e of document.querySelectorAll("input, select, textarea, button, [role=application]")) {
    if (e.type !== "hidden" && visible(e) && !named(e)) problems.push(e.outerHTML.slice(0, 80));
  }
  for (const f of document.querySelectorAll("fieldset")) {
    const legend = f.querySelector(":scope > legend");
    if (!legend?.textContent.trim()) problems.push(`fieldset without legend ${f.id}`);
  }
  for (const i of document.querySelectorAll("img")) {
    if (!i.hasAttribute("alt")) problems.push(`img without alt ${i.src}`);
  }
  return problems;
}"""


def png(width: int = 64, height: int = 48) -> bytes:
    """A small opaque PNG (a gradient), made here so the test needs no file."""
    rows = b"".join(
        b"\x00" + bytes(channel for x in range(width) for channel in (x * 4 % 256, y * 5 % 256, 160))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def wav(seconds: float = 0.6, rate: int = 8000) -> bytes:
    """A short 440 Hz tone."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))
        out.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return buffer.getvalue()


# Text with a contrast ratio below 4.5:1 against the first opaque background behind it (WCAG 1.4.3);
# disabled controls are exempt, as WCAG exempts inactive components.
LOW_CONTRAST = """() => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = (v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
    const c = [r, g, b].map(linear);
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (e) => {
    for (let n = e; n; n = n.parentElement) {
      const color = rgb(getComputedStyle(n).backgroundColor);
      if (color.length < 4 || color[3] > 0.99) return color;
    }
    return [255, 255, 255];
  };
  const problems = [];
  for (const e of document.querySelectorAll("body *")) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.getClientRects().length || e.closest("button:disabled")) continue;
    const a = luminance(rgb(getComputedStyle(e).color)), b = luminance(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) problems.push(`${e.tagName} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return problems;
}"""
