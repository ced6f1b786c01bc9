"""List parameters (`order`, `limit`, `search`, `after`/`before` cursors) and page links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from crowdtask import errors
from crowdtask.models.listing import ListQuery, Page, words

ORDER_FIELDS = ("id", "name", "lastModifiedAt", "createdAt")


# A cursor is a position in the list's order: a value of the ordering field (the links carry the
# first and last of a page, which end in the item's id). Any text is a position, so any cursor is
# honoured; the page holds the items past it. No key is longer than DynamoDB's 1,024 bytes, so a
# longer position reads as its first 1,024 bytes.
KEY_BYTES = 1024


def encode_cursor(key: str) -> str:
    return key


def decode_cursor(cursor: str) -> str:
    return cursor.encode()[:KEY_BYTES].decode(errors="ignore")


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
        after=decode_cursor(after) if after else None,
        before=decode_cursor(before) if before else None,
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
        links["next"] = {"href": href({"after": encode_cursor(page.last_key), **range_end})}
    if page.first_key is not None and more_before:
        links["previous"] = {"href": href({"before": encode_cursor(page.first_key)})}
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
