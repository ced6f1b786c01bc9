"""One call over many items on a shared thread pool: DynamoDB calls that do not depend on each other.

WORKERS 1 runs them one after the other (tests on moto, which is not thread-safe for writes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
WORKERS = 8
_POOL = ThreadPoolExecutor(max_workers=WORKERS)


def each(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`function` applied to every item, up to WORKERS at a time; the answers in the items' order."""
    if WORKERS <= 1:
        return [function(item) for item in items]
    return list(_POOL.map(function, items))
