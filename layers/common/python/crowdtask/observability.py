"""Logger, Metrics and Tracer, built once per container and shared by every module."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:  # pragma: no cover
    from aws_lambda_powertools import Tracer

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def tracer() -> Tracer:
    """The X-Ray SDK costs ~200 ms to import; load it only where traces are actually sent."""
    from aws_lambda_powertools import Tracer

    return Tracer()
