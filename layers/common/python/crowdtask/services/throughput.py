"""Throughput records: validated against the workstream, deduplicated by `unique_id`, totalled on write.

Totals are kept per UTC day (of `task_completed_at`) in four dimensions: the whole day,
per worker, per use case and per task definition. Each write adds its deltas to them in the
same transaction as the record, so reading totals is a Query over days, never a scan of
records. A replacement adds new minus old; its put is conditioned on the version it read,
so two concurrent replacements cannot both subtract the same old record.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from crowdtask import clock, errors, ids
from crowdtask.models.throughput import (
    GroupBy,
    GroupTotals,
    ThroughputIn,
    ThroughputTotalsOut,
    Totals,
    iso_millis,
)
from crowdtask.numbers import plain_numbers
from crowdtask.services.workstreams import Workstream
from crowdtask.store import throughput as store
from crowdtask.store.throughput import MEASURE_PREFIX, AggregateDelta

Outcome = Literal["created", "replaced", "ignored"]
DIMENSIONS: dict[str, str | None] = {
    "day": None,
    "worker": "worker_id",
    "use_case": "use_case_id",
    "task_definition": "task_definition_id",
}
MAX_ATTEMPTS = 10
_ZERO = Decimal(0)


# ---------------------------------------------------------------- validation
def check_configuration(workstream: Workstream, data: ThroughputIn) -> list[dict[str, str]]:
    """Problems of the ids against the workstream's configuration (empty when they belong to it)."""
    if workstream.use_case(data.use_case_id) is None:
        return [
            {
                "field": "use_case_id",
                "message": f"{data.use_case_id!r} is not a use case of workstream {workstream.id}",
                "code": "UNKNOWN_ID",
            }
        ]
    if workstream.task_definition(data.use_case_id, data.task_definition_id) is None:
        return [
            {
                "field": "task_definition_id",
                "message": (
                    f"{data.task_definition_id!r} is not a task definition of use case {data.use_case_id}"
                ),
                "code": "UNKNOWN_ID",
            }
        ]
    return []


def _seconds_between(started: datetime, completed: datetime) -> Decimal:
    elapsed = completed - started
    micros = (elapsed.days * 86400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
    return Decimal(micros) / Decimal(1_000_000)  # exact: 3600 or 0.127, never a float


def _to_millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def record_fields(workstream: Workstream, data: ThroughputIn, default_source: str) -> dict[str, Any]:
    """The stored record: timestamps in UTC to the millisecond, duration computed when absent."""
    started, completed = _to_millis(data.task_started_at), _to_millis(data.task_completed_at)
    duration = data.duration if data.duration is not None else _seconds_between(started, completed)
    parameters = data.task_parameters.model_dump(exclude_none=True) if data.task_parameters else None
    return {
        "workstream_id": workstream.id,
        "worker_id": data.worker_id,
        "task_id": data.task_id,
        "task_url": data.task_url,
        "task_count": data.task_count,
        "subtask_count": data.subtask_count,
        "use_case_id": data.use_case_id,
        "task_definition_id": data.task_definition_id,
        "task_started_at": iso_millis(started),
        "task_completed_at": iso_millis(completed),
        "duration": duration,
        "task_created_at": iso_millis(data.task_created_at) if data.task_created_at else None,
        "measures": dict(data.measures) if data.measures else None,
        "data_source": data.data_source or default_source,
        "task_parameters": parameters or None,
        "unique_id": data.unique_id,
        "day": completed.date().isoformat(),
        "received_at": clock.iso(clock.now()),
    }


# ---------------------------------------------------------------- writing
def identity_digest(workstream_id: str, data: ThroughputIn, fallback: str | None = None) -> str:
    """The dedup identity: unique_id within use case and task definition, else `fallback`, else new."""
    if data.unique_id is not None:
        parts = ["uid", data.use_case_id, data.task_definition_id, data.unique_id]
    else:
        parts = ["one", fallback or ids.new_id()]
    return hashlib.sha256("\x1f".join([workstream_id, *parts]).encode()).hexdigest()[:40]


def receive(
    workstream: Workstream,
    data: ThroughputIn,
    *,
    default_source: str = "api",
    fallback_identity: str | None = None,
) -> Outcome:
    """Store one record and its totals. A repeat is ignored, or with `replace` replaces the earlier one."""
    problems = check_configuration(workstream, data)
    if problems:
        raise errors.ValidationFailed(problems)
    record = record_fields(workstream, data, default_source)
    digest = identity_digest(workstream.id, data, fallback_identity)
    shard = store.aggregate_shard(digest)
    for attempt in range(MAX_ATTEMPTS):
        old = store.get_record(workstream.id, digest) if data.replace else None
        deltas = aggregate_deltas(shard, record, old)
        try:
            store.write_record(
                workstream.id,
                digest,
                record,
                expected_version=None if old is None else int(old["version"]),
                deltas=deltas,
            )
        except store.RecordChanged:
            if not data.replace:
                return "ignored"
            continue  # created or replaced meanwhile: read it again and replace that
        except store.Contention:
            _pause(attempt)
            continue
        return "created" if old is None else "replaced"
    raise errors.Conflict("This record is being changed by other requests right now; retry shortly.")


def _pause(attempt: int) -> None:
    # Jitter spreads retries of colliding writers apart; not a secret, so `random` is right here.
    time.sleep(random.uniform(0, min(0.2, 0.01 * 2**attempt)))  # noqa: S311


def _amounts(record: Mapping[str, Any]) -> dict[str, Decimal]:
    amounts = {
        "record_count": Decimal(1),
        "task_count": Decimal(record["task_count"]),
        "subtask_count": Decimal(record.get("subtask_count") or 0),
        "duration": Decimal(record["duration"]),
    }
    for name, value in (record.get("measures") or {}).items():
        amounts[MEASURE_PREFIX + name] = Decimal(value)
    return amounts


def _contributions(record: Mapping[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Decimal]]:
    amounts = _amounts(record)
    return {
        (dimension, record["day"], None if field is None else str(record[field])): amounts
        for dimension, field in DIMENSIONS.items()
    }


def aggregate_deltas(
    shard: int, record: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[AggregateDelta]:
    """What the totals must gain: the new record's amounts minus the old one's, zeros left out."""
    gained: dict[tuple[str, str, str | None], dict[str, Decimal]] = defaultdict(dict)
    for key, amounts in _contributions(record).items():
        for name, amount in amounts.items():
            gained[key][name] = gained[key].get(name, _ZERO) + amount
    if old is not None:
        for key, amounts in _contributions(old).items():
            for name, amount in amounts.items():
                gained[key][name] = gained[key].get(name, _ZERO) - amount
    deltas = []
    for (dimension, day, value), amounts in sorted(gained.items(), key=lambda kv: str(kv[0])):
        changed = {name: amount for name, amount in amounts.items() if amount != _ZERO}
        if changed:
            deltas.append(AggregateDelta(dimension, shard, day, value, changed))
    return deltas


# ---------------------------------------------------------------- reading totals
def _plain(amount: Decimal) -> int | float:
    number: int | float = plain_numbers(amount)
    return number


def _sum(items: Iterable[Mapping[str, Any]]) -> dict[str, Decimal]:
    summed: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for item in items:
        for name, value in item.items():
            if name in {"record_count", "task_count", "subtask_count", "duration"} or name.startswith(
                MEASURE_PREFIX
            ):
                summed[name] += Decimal(value)
    return summed


def _totals_fields(summed: Mapping[str, Decimal]) -> dict[str, Any]:
    return {
        "record_count": int(summed.get("record_count", _ZERO)),
        "task_count": int(summed.get("task_count", _ZERO)),
        "subtask_count": int(summed.get("subtask_count", _ZERO)),
        "duration": _plain(summed.get("duration", _ZERO)),
        "measures": {
            name.removeprefix(MEASURE_PREFIX): _plain(value)
            for name, value in sorted(summed.items())
            if name.startswith(MEASURE_PREFIX) and value != _ZERO
        },
    }


def totals(
    workstream: Workstream, first_day: date | None, last_day: date | None, group_by: GroupBy | None
) -> ThroughputTotalsOut:
    """Totals of the days first_day..last_day (inclusive, UTC, by task_completed_at), optionally grouped."""
    first = first_day.isoformat() if first_day else None
    last = last_day.isoformat() if last_day else None
    # A range that ends before it starts holds no day: its totals are zero, nothing is read.
    empty = first_day is not None and last_day is not None and first_day > last_day

    def read(dimension: str) -> list[dict[str, Any]]:
        return [] if empty else store.read_totals(workstream.id, dimension, first, last)

    day_items = read("day")
    groups: list[GroupTotals] | None = None
    if group_by is not None:
        items = day_items if group_by == "day" else read(group_by)
        by_value: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            by_value[str(item["value"])].append(item)
        names = workstream.names()
        groups = []
        for value, members in by_value.items():
            fields = _totals_fields(_sum(members))
            if fields["record_count"] == 0:
                continue  # every record once counted here was replaced into another group
            name, use_case = names.get(value, (None, None)) if group_by != "day" else (None, None)
            groups.append(GroupTotals(key=value, name=name, use_case_id=use_case, **fields))
        if group_by == "day":
            groups.sort(key=lambda g: g.key)
        else:
            groups.sort(key=lambda g: (-g.task_count, g.key))
    return ThroughputTotalsOut.model_validate(
        {
            "workstream_id": workstream.id,
            "from": first,
            "to": last,
            "group_by": group_by,
            "totals": Totals(**_totals_fields(_sum(day_items))),
            "groups": groups,
        }
    )
