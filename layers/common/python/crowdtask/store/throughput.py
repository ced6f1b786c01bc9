"""Workstreams, throughput records with their running totals, and CSV uploads in the main table.

A record and the totals it feeds change in one transaction: the record's put carries the
condition (new: it must not exist; replacement: it must still be the version that was read),
and each total is an ADD of deltas, so totals never count a record twice or miss one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crowdtask.store import dynamo, keys
from crowdtask.store.collections import can_name_item

MEASURE_PREFIX = "measure:"


class RecordChanged(Exception):
    """The record exists (new write) or is no longer the version read (replacement)."""


class Contention(Exception):
    """Another transaction touched the same items at the same time; read again and retry."""


@dataclass(frozen=True)
class AggregateDelta:
    """What one write adds to the totals of one day (and group value) in one shard."""

    dimension: str
    shard: int
    day: str
    value: str | None
    amounts: Mapping[str, Decimal]  # record_count, task_count, ..., measure:<name>


# ---------------------------------------------------------------- workstreams
def put_workstream(workstream_id: str, data: Mapping[str, Any]) -> None:
    pk, sk = keys.workstream(workstream_id)
    dynamo.put({"pk": pk, "sk": sk, "type": "workstream", **data}, condition="attribute_not_exists(pk)")


def get_workstream(workstream_id: str) -> dict[str, Any] | None:
    if not can_name_item(workstream_id):
        return None
    # Strongly consistent: a rotated key stops working at once.
    return dynamo.get(*keys.workstream(workstream_id), consistent=True)


def set_api_key_hash(workstream_id: str, account_id: str, key_hash: str, issued_at: str) -> dict[str, Any]:
    """Replace the key hash; ConditionFailed when the workstream is not the account's."""
    return dynamo.update(
        *keys.workstream(workstream_id),
        "SET api_key_hash = :h, api_key_created_at = :t, updated_at = :t",
        condition="account_id = :a",
        vals={":h": key_hash, ":t": issued_at, ":a": account_id},
    )


# ---------------------------------------------------------------- records and totals
def aggregate_shard(identity_digest: str) -> int:
    """The totals shard a record adds to (records spread over THROUGHPUT_AGGREGATE_SHARDS)."""
    return keys.shard_of(identity_digest, keys.THROUGHPUT_AGGREGATE_SHARDS)


def get_record(workstream_id: str, digest: str) -> dict[str, Any] | None:
    return dynamo.get(*keys.throughput_record(workstream_id, digest), consistent=True)


def write_record(
    workstream_id: str,
    digest: str,
    record: Mapping[str, Any],
    *,
    expected_version: int | None,
    deltas: list[AggregateDelta],
) -> None:
    """Put the record (version expected_version + 1) and add the deltas to the totals, atomically."""
    pk, sk = keys.throughput_record(workstream_id, digest)
    version = 1 if expected_version is None else expected_version + 1
    item = {"pk": pk, "sk": sk, "type": "throughput_record", **record, "version": version}
    if expected_version is None:
        put = dynamo.put_op(item, "attribute_not_exists(pk)")
    else:
        put = dynamo.put_op(item, "version = :v", vals={":v": expected_version})
    operations = [put, *(_aggregate_update(workstream_id, d) for d in deltas)]
    try:
        dynamo.transact(operations)
    except dynamo.TransactionConflict as exc:
        if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
            raise RecordChanged(digest) from exc
        if "TransactionConflict" in exc.reasons:
            raise Contention(digest) from exc
        raise


def _aggregate_update(workstream_id: str, delta: AggregateDelta) -> dict[str, Any]:
    pk, sk = keys.throughput_aggregate(workstream_id, delta.dimension, delta.shard, delta.day, delta.value)
    names: dict[str, str] = {"#type": "type", "#day": "day", "#value": "value"}
    vals: dict[str, Any] = {
        ":type": "throughput_totals",
        ":day": delta.day,
        ":value": delta.value or delta.day,
    }
    adds = []
    for n, (attribute, amount) in enumerate(sorted(delta.amounts.items())):
        names[f"#a{n}"] = attribute
        vals[f":a{n}"] = amount
        adds.append(f"#a{n} :a{n}")
    expression = "SET #type = :type, #day = :day, #value = :value ADD " + ", ".join(adds)
    return dynamo.update_op(pk, sk, expression, names=names, vals=vals)


def read_totals(
    workstream_id: str, dimension: str, first_day: str | None, last_day: str | None
) -> list[dict[str, Any]]:
    """Every totals item of a dimension whose day is in the range (all shards), by Query."""
    condition = "pk = :pk"
    vals: dict[str, Any] = {}
    if first_day and last_day:
        condition += " AND sk BETWEEN :lo AND :hi"
        vals.update({":lo": first_day, ":hi": last_day + "\uffff"})
    elif first_day:
        condition += " AND sk >= :lo"
        vals[":lo"] = first_day
    elif last_day:
        condition += " AND sk <= :hi"
        vals[":hi"] = last_day + "\uffff"
    found: list[dict[str, Any]] = []
    for partition in keys.throughput_aggregate_partitions(workstream_id, dimension):
        start: dict[str, Any] | None = None
        while True:
            items, start = dynamo.query(
                key_condition=condition, vals={":pk": partition, **vals}, start_key=start, consistent=True
            )
            found.extend(items)
            if start is None:
                break
    return found


# ---------------------------------------------------------------- CSV uploads
def put_upload(workstream_id: str, upload_id: str, data: Mapping[str, Any]) -> None:
    pk, sk = keys.throughput_upload(workstream_id, upload_id)
    dynamo.put(
        {"pk": pk, "sk": sk, "type": "throughput_upload", **data}, condition="attribute_not_exists(pk)"
    )


def read_upload(workstream_id: str, upload_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The upload and its processed chunks: one partition, one Query."""
    pk, upload_sk = keys.throughput_upload(workstream_id, upload_id)
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        page, start = dynamo.query(
            key_condition="pk = :pk", vals={":pk": pk}, start_key=start, consistent=True
        )
        items.extend(page)
        if start is None:
            break
    upload = next((i for i in items if i["sk"] == upload_sk), None)
    return upload, [i for i in items if i["sk"] != upload_sk]


def chunk_done(workstream_id: str, upload_id: str, chunk: int) -> bool:
    return (
        dynamo.get(*keys.throughput_upload_chunk(workstream_id, upload_id, chunk), consistent=True)
        is not None
    )


def finish_chunk(
    workstream_id: str, upload_id: str, chunk: int, outcome: Mapping[str, Any], success: int, failed: int
) -> bool:
    """Record a chunk's outcome and count it into the upload, once: False if it was already counted."""
    pk, sk = keys.throughput_upload_chunk(workstream_id, upload_id, chunk)
    upload_pk, upload_sk = keys.throughput_upload(workstream_id, upload_id)
    try:
        dynamo.transact(
            [
                dynamo.put_op(
                    {"pk": pk, "sk": sk, "type": "throughput_upload_chunk", **outcome},
                    "attribute_not_exists(pk)",
                ),
                dynamo.update_op(
                    upload_pk,
                    upload_sk,
                    "ADD success_count :s, failed_count :f",
                    "attribute_exists(pk)",
                    vals={":s": success, ":f": failed},
                ),
            ]
        )
    except dynamo.TransactionConflict as exc:
        if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
            return False
        raise
    return True
