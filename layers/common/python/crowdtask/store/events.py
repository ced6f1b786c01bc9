"""Publishes domain events on the EventBridge bus (`source` crowdtask, `detail-type` the event)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import boto3

from crowdtask.config import settings
from crowdtask.observability import logger

SOURCE = "crowdtask"


@lru_cache(maxsize=1)
def _client() -> Any:
    return boto3.client("events")


def publish(detail_type: str, detail: dict[str, Any]) -> None:
    """Best effort after the state change is committed: a failed publish is logged, never undoes it."""
    publish_many([(detail_type, detail)])


def publish_many(entries: list[tuple[str, dict[str, Any]]]) -> None:
    bus = settings().event_bus_name
    for start in range(0, len(entries), 10):
        chunk = [
            {
                "Source": SOURCE,
                "DetailType": kind,
                "Detail": json.dumps(detail, default=str),
                "EventBusName": bus,
            }
            for kind, detail in entries[start : start + 10]
        ]
        try:
            response = _client().put_events(Entries=chunk)
            if response.get("FailedEntryCount"):
                logger.warning("some events were not published", extra={"response": response})
        except Exception:
            logger.exception("publishing events failed", extra={"events": [c["DetailType"] for c in chunk]})
