"""Market scheduler: assignment time-outs, auto-approval, task_ttl expiry, repeats, market openings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crowdtask import lazy
from crowdtask.observability import logger, metrics

if TYPE_CHECKING:
    from crowdtask.services import market_schedule
else:  # services load with the first route that uses them (cold start)
    market_schedule = lazy.load("crowdtask.services.market_schedule")


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    done = market_schedule.sweep()
    logger.info("market sweep run", extra=done)
    return done
