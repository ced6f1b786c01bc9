"""Housekeeping sweeps that do not change what the API answers (expiry is checked on read)."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from crowdtask import clock
from crowdtask.observability import logger, metrics
from crowdtask.store import sweeps

_KINDS = ("token", "login")


def sweep_expired(batch: int = 500) -> dict[str, int]:
    """Delete what has expired; safe to re-run and to run twice at once (deletes are conditional)."""
    now = clock.iso(clock.now())
    removed: dict[str, int] = {}
    for kind in _KINDS:
        count = 0
        for pk, sk in sweeps.due_keys(kind, now, limit=batch):
            count += sweeps.delete_if_due(pk, sk, now)
        removed[kind] = count
        metrics.add_metric(name=f"Expired_{kind}", unit=MetricUnit.Count, value=count)
    logger.info("expired items removed", extra=removed)
    return removed
