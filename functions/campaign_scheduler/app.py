"""Campaign scheduler: publishes at startDate, finishes at endDate, completes pending job/task locks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crowdtask import lazy
from crowdtask.observability import logger, metrics

if TYPE_CHECKING:
    from crowdtask.services import campaigns
else:  # services load with the first route that uses them (cold start)
    campaigns = lazy.load("crowdtask.services.campaigns")


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    done = campaigns.sweep_due()
    logger.info("campaign steps run", extra=done)
    return done
