"""The API over HTTP for the commands: a token session that retries what is worth retrying, and paging."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests


class ApiError(RuntimeError):
    """The API refused a request for good (not a retryable status)."""


class Client:
    """A token-authenticated session that retries what is worth retrying (429 with Retry-After, 5xx)."""

    def __init__(self, base_url: str, token: str, attempts: int = 8, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = token
        self.attempts = attempts
        self.timeout = timeout

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.request(method, path, **kwargs)
        return reply.json() if reply.content else None

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The answer to `method path` once it is not worth retrying; ApiError for a 4xx or when giving up."""
        for attempt in range(self.attempts):
            try:
                reply = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
            except requests.ConnectionError:
                if attempt == self.attempts - 1:
                    raise
                time.sleep(min(30.0, 0.5 * 2**attempt))
                continue
            if reply.status_code == 429 or reply.status_code >= 500:
                if attempt == self.attempts - 1:
                    break
                wait = reply.headers.get("Retry-After")
                time.sleep(float(wait) if wait and wait.isdecimal() else min(30.0, 0.5 * 2**attempt))
                continue
            if reply.status_code >= 400:
                raise ApiError(f"{method} {path}: {reply.status_code} {reply.text[:500]}")
            return reply
        raise ApiError(
            f"{method} {path}: gave up after {self.attempts} tries ({reply.status_code} {reply.text[:200]})"
        )

    def pages(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[list[Any]]:
        """The `key` list of every page of a list, following each answer's `Link: <...>; rel="next"`."""
        target: str | None = path
        while target is not None:
            reply = self.request("GET", target, params=params)
            yield list((reply.json() or {}).get(key) or [])
            target = (reply.links.get("next") or {}).get("url")
            params = None  # the next link carries every parameter
