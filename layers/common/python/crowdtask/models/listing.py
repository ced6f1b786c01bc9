"""A list request and one page of its answer, shared by every listable collection."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"\w+")


def words(text: str | None) -> set[str]:
    """Lower-cased whole words, for full-word search."""
    return {w.casefold() for w in _WORD.findall(text or "")}


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    has_more: bool
    first_key: str | None
    last_key: str | None


@dataclass(frozen=True)
class ListQuery:
    order: str = "id"
    descending: bool = False
    limit: int = 10
    after: str | None = None
    before: str | None = None
    search: frozenset[str] = frozenset()
    equals: Mapping[str, Any] = field(default_factory=dict)
