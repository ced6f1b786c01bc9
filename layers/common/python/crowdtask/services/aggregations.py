"""Aggregation runs on request: `POST /campaigns/{id}/aggregations {"method": "dawid-skene"}` is an
AGGREGATION operation the aggregation worker runs over the campaign's results.

The run reads every result in review or approved once (store/results.every_answer), keeps only
the observations (task, worker, answer) per component position, and runs Dawid-Skene on each
position's observations: a task's components are separate questions with answers of their own.
Each task's answers replace what the previous run wrote for it. A redelivered message runs again
and writes the same; the operation ends once.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from crowdtask import clock, errors
from crowdtask.models.bulk import AGGREGATION_TYPE, OperationOut
from crowdtask.observability import logger
from crowdtask.services import aggregation, dawid_skene, operations
from crowdtask.services.campaigns import require_campaign
from crowdtask.store import aggregates as aggregate_store
from crowdtask.store import operations as operation_store
from crowdtask.store import queues
from crowdtask.store import results as result_store

COUNTED_STATES = {"InReview", "Approved"}
MESSAGE_KIND = "aggregation.run"


def start(requester_id: str, campaign_id: str, method: str) -> OperationOut:
    """The operation, PENDING; its run is queued."""
    require_campaign(requester_id, campaign_id)
    operation_id = str(uuid.uuid4())
    now = clock.now()
    item = operation_store.operation_item(
        requester_id,
        operation_id,
        clock.iso_precise(now),
        {
            "operation_id": operation_id,
            "op_type": AGGREGATION_TYPE,
            "parameters": {"campaign": campaign_id, "method": method},
            "submitted": clock.iso(now),
            "submitted_precise": clock.iso_precise(now),
        },
    )
    if not operation_store.put_new(item):  # a random id taken: never in practice
        raise errors.Conflict("An operation with this id exists; retry.")
    queues.send_aggregation({"kind": MESSAGE_KIND, "account": requester_id, "operation": operation_id})
    return operations.to_operation(item)


def observations(
    campaign_id: str,
) -> tuple[dict[int, list[tuple[str, str, str]]], Counter[str], dict[str, int], int]:
    """Per component position, (task, worker, answer) of every counted result; how many results
    answered each task; each task's component count; the results read."""
    by_position: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    answered: Counter[str] = Counter()
    parts: dict[str, int] = {}
    read = 0
    for result in result_store.every_answer(campaign_id):
        if result.get("state") not in COUNTED_STATES:
            continue
        read += 1
        worker = str(result["worker_id"])
        controls = {str(c) for c in result.get("control_ids") or []}
        for entry in result.get("taskResults", []):
            task = str(entry["task"]["id"])
            if task in controls:
                continue
            components = entry.get("components", [])
            parts[task] = len(components)
            answered[task] += 1
            for position, component in enumerate(components):
                answer = aggregation.canonical(component.get("data") or {}, component.get("result"))
                if answer is not None:
                    by_position[position].append((task, worker, answer))
    return by_position, answered, parts, read


def aggregate(campaign_id: str) -> tuple[list[dict[str, Any]], int]:
    """Dawid-Skene over the campaign's results: the aggregates to store, and the results read."""
    by_position, answered, parts, read = observations(campaign_id)
    labels = {position: dawid_skene.fit(found).labels for position, found in by_position.items()}
    aggregates = []
    for task, count in sorted(parts.items()):
        components: list[dict[str, Any] | None] = []
        for position in range(count):
            found = labels.get(position, {}).get(task)
            if found is None:
                components.append(None)
                continue
            answer, confidence, votes = found
            components.append(
                {"result": json.loads(str(answer)), "confidence": _number(confidence), "votes": int(votes)}
            )
        aggregates.append({"task": task, "answers": answered[task], "components": components})
    return aggregates, read


def _number(value: float) -> Decimal:
    return Decimal(str(round(float(value), 6)))


def run(message: Mapping[str, Any]) -> None:
    """The aggregation worker's job: one run, its aggregates stored, the operation ended."""
    account, operation_id = str(message["account"]), str(message["operation"])
    item = operation_store.get(account, operation_id, consistent=True)
    if item is None or not operation_store.run_started(account, operation_id, clock.iso(clock.now())):
        return  # gone, or ended by an earlier delivery
    campaign_id = str(item["parameters"]["campaign"])
    aggregates, read = aggregate(campaign_id)
    aggregate_store.put_computed(campaign_id, "dawid-skene", aggregates)
    operation_store.run_ended(
        account,
        operation_id,
        "SUCCESS",
        clock.iso(clock.now()),
        {"results_count": read, "tasks_count": len(aggregates)},
    )


def fail(message: Mapping[str, Any]) -> None:
    """A run that kept failing (its message reached the dead-letter queue): the operation says FAIL."""
    account, operation_id = str(message.get("account")), str(message.get("operation"))
    if not operation_store.run_ended(account, operation_id, "FAIL", clock.iso(clock.now())):
        logger.warning("a failed aggregation run had ended already", extra={"operation": operation_id})
