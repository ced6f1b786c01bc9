"""Reads of the sweep index (by_due): what is due costs reads in proportion to what is due."""

from __future__ import annotations

from typing import Any

from crowdtask.store import dynamo, keys


def due_keys(kind: str, before_iso: str, limit: int = 500) -> list[tuple[str, str]]:
    """Keys of items of `kind` due before the given time, read from the sweep index only."""
    found: list[tuple[str, str]] = []
    for partition in keys.due_partitions(kind):
        start = None
        while len(found) < limit:
            items, start = dynamo.query(
                index="by_due",
                key_condition="due_pk = :p AND due_sk < :t",
                vals={":p": partition, ":t": before_iso},
                limit=limit - len(found),
                start_key=start,
            )
            found.extend((i["pk"], i["sk"]) for i in items)
            if not start:
                break
    return found


def delete_if_due(pk: str, sk: str, before_iso: str) -> bool:
    """Delete an item only while it is still due (a renewed item is kept)."""
    try:
        dynamo.delete(pk, sk, condition="due_sk < :t", vals={":t": before_iso})
    except dynamo.ConditionFailed:
        return False
    return True


def due_items(kind: str, before_iso: str, limit: int = 500, shards: int = 4) -> list[dict[str, Any]]:
    """Items of `kind` due before the time, as the sweep index projects them (keys plus what it INCLUDEs).

    One index item read per due item: a sweep that acts on the projected attributes alone
    needs no other read.
    """
    found: list[dict[str, Any]] = []
    for partition in keys.due_partitions(kind, shards):
        start = None
        while len(found) < limit:
            items, start = dynamo.query(
                index="by_due",
                key_condition="due_pk = :p AND due_sk < :t",
                vals={":p": partition, ":t": before_iso},
                limit=limit - len(found),
                start_key=start,
            )
            found.extend(items)
            if not start:
                break
    return found
