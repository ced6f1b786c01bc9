"""Logger, Metrics and Tracer, built once per container and shared by every module."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def tracer() -> Any:
    """The Tracer, made where traces are sent (config.tracing_enabled): only there is the X-Ray SDK
    (~200 ms to import) loaded at all."""
    from aws_lambda_powertools import Tracer

    return Tracer()
