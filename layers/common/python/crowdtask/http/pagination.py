"""List parameters (`order`, `limit`, `search`, `after`/`before` cursors) and page links."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from crowdtask import errors
from crowdtask.models.listing import ListQuery, Page, words

ORDER_FIELDS = ("id", "name", "lastModifiedAt", "createdAt")


def encode_cursor(order: str, key: str) -> str:
    raw = json.dumps({"o": order, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str, name: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key = data["k"]
        cursor_order = data["o"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise errors.ValidationFailed.one(
            name, "not a cursor from a previous page's link", "INVALID_CURSOR"
        ) from exc
    if cursor_order != order or not isinstance(key, str):
        raise errors.ValidationFailed.one(
            name,
            f"this cursor belongs to a list ordered by {cursor_order!r}; keep the same order",
            "INVALID_CURSOR",
        )
    return key


def parse_order(values: Sequence[str] | None) -> tuple[str, bool]:
    """`order=name` or `order=-lastModifiedAt` (descending); `id` may follow as the tie-breaker."""
    fields = [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
    if not fields:
        return "id", False
    primary, *rest = fields
    descending = primary.startswith("-")
    name = primary.lstrip("-+")
    if name not in ORDER_FIELDS:
        raise errors.ValidationFailed.one(
            "order", f"must be one of {', '.join(ORDER_FIELDS)} (prefix - for descending)"
        )
    if any(extra.lstrip("-+") not in {"id", "createdAt"} for extra in rest):
        raise errors.ValidationFailed.one("order", "one ordering field is supported; ties are broken by id")
    return name, descending


def list_query(
    params: Mapping[str, Sequence[str]] | None,
    *,
    limit: int,
    equals: Mapping[str, Any] | None = None,
) -> ListQuery:
    params = params or {}
    order, descending = parse_order(params.get("order"))
    after = _single(params, "after")
    before = _single(params, "before")
    search_text = " ".join(params.get("search") or [])
    return ListQuery(
        order=order,
        descending=descending,
        limit=limit,
        after=decode_cursor(after, order, "after") if after else None,
        before=decode_cursor(before, order, "before") if before else None,
        search=frozenset(words(search_text)),
        equals=dict(equals or {}),
    )


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    return values[-1] if values else None


def page_links(
    path: str, params: Mapping[str, Sequence[str]] | None, query: ListQuery, page: Page
) -> dict[str, Any]:
    """HAL `self`, `next` and `previous` links; each keeps the list's other parameters."""
    kept = {k: list(v) for k, v in (params or {}).items() if k not in {"after", "before"}}

    def href(extra: dict[str, str]) -> str:
        query_string = urlencode([*((k, v) for k, vs in kept.items() for v in vs), *extra.items()])
        return f"{path}?{query_string}" if query_string else path

    paging_back = query.before is not None and query.after is None
    # Both cursors: the items between them; the next page keeps the range's end.
    range_end = {"before": _single(params or {}, "before") or ""} if query.after and query.before else {}
    links: dict[str, Any] = {
        "self": {"href": href({k: v[-1] for k, v in (params or {}).items() if k in {"after", "before"}})}
    }
    more_after = page.has_more if not paging_back else True
    more_before = page.has_more if paging_back else query.after is not None
    if page.last_key is not None and more_after:
        links["next"] = {"href": href({"after": encode_cursor(query.order, page.last_key), **range_end})}
    if page.first_key is not None and more_before:
        links["previous"] = {"href": href({"before": encode_cursor(query.order, page.first_key)})}
    return links


def link_header(links: Mapping[str, Any]) -> dict[str, str]:
    """RFC 8288 `Link` header, so plain-JSON clients can page too."""
    parts = [f'<{links[rel]["href"]}>; rel="{rel}"' for rel in ("next", "previous") if rel in links]
    return {"Link": ", ".join(parts)} if parts else {}


def member_links(
    path: str, params: Mapping[str, Sequence[str]] | None, last_id: str | None, has_more: bool
) -> dict[str, Any]:
    """Links of a page of an ordered member list (a job's tasks, a campaign's jobs), paged by id."""
    kept = [(k, v) for k, vs in (params or {}).items() if k != "after" for v in vs]
    current = [(k, v) for k, vs in (params or {}).items() for v in vs]
    links: dict[str, Any] = {"self": {"href": f"{path}?{urlencode(current)}" if current else path}}
    if has_more and last_id is not None:
        links["next"] = {"href": f"{path}?{urlencode([*kept, ('after', last_id)])}"}
    return links
