"""Market scheduler: assignment time-outs, auto-approval, task_ttl expiry, repeats, market openings."""

from __future__ import annotations

from typing import Any

from crowdtask.config import settings
from crowdtask.observability import logger, metrics
from crowdtask.services.flows import sweeping

settings()  # validated at cold start: a function whose environment lacks a variable fails its init


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    done = sweeping.sweep_market()
    logger.info("market sweep run", extra=done)
    return done
