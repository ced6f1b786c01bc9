"""CSV uploads of throughput records: validate every row at once, store the valid ones through the queue.

The file's header names the fields of a throughput record (`measures.<name>` and
`task_parameters.<key>` columns fill those objects; `dataset_id` and `parent_asset_id` are
task parameters). Rows are checked on receipt (per-row errors by row and column); valid rows
travel in chunks, as many as fit in one SQS message, to the bulk worker. Redelivery stores
nothing twice: a row without `unique_id` has an identity made of the upload id and its row,
a row with one is deduplicated like an API call, and a chunk is counted into the upload once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, cast

from pydantic import ValidationError

from crowdtask import clock, errors, ids, parallel
from crowdtask.models.base import FROM_TEXT
from crowdtask.models.throughput import (
    QueuedRow,
    RowError,
    ThroughputIn,
    ThroughputRowsMessage,
    UploadOut,
)
from crowdtask.observability import logger
from crowdtask.services import throughput, workstreams
from crowdtask.services.workstreams import Workstream
from crowdtask.store import queues
from crowdtask.store import throughput as store
from crowdtask.validation import field_errors

MESSAGE_KIND = "throughput.rows"
CSV_SOURCES = ("csv_manual", "csv_automated")
MAX_LISTED_ERRORS = 1000
# Listed errors are stored with the upload (one item): each is kept short.
_MAX_MESSAGE_CHARS = 300
_MAX_FIELD_CHARS = 100
_REQUIRED = ("worker_id", "use_case_id", "task_definition_id", "task_started_at", "task_completed_at")
_OBJECT_FIELDS = {"measures", "task_parameters"}
_PLAIN_COLUMNS = set(ThroughputIn.model_fields) - _OBJECT_FIELDS
_PARAMETER_COLUMNS = {"dataset_id", "parent_asset_id"}
# Rows of different records are stored in parallel (crowdtask.parallel; a record's own rows in file order).


# ---------------------------------------------------------------- receiving a file
def _column_target(column: str) -> tuple[str, str | None] | None:
    """Where a column's cells go: (field, key within the object field) or None if unknown."""
    if column in _PLAIN_COLUMNS:
        return column, None
    if column in _PARAMETER_COLUMNS:
        return "task_parameters", column
    prefix, dot, key = column.partition(".")
    if dot and key and prefix in _OBJECT_FIELDS:
        return prefix, key
    return None


def _read_header(header: list[str]) -> list[tuple[str, str | None]]:
    problems: list[dict[str, str]] = []
    targets: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for position, raw in enumerate(header):
        column = raw.strip().lstrip("\ufeff")
        target = _column_target(column)
        if target is None:
            problems.append(
                {
                    "field": column[:_MAX_FIELD_CHARS] or f"column {position + 1}",
                    "message": "not a field of a throughput record (use measures.<name> for measures)",
                    "code": "UNKNOWN_FIELD",
                }
            )
        elif column in seen:
            problems.append({"field": column, "message": "the column appears twice", "code": "DUPLICATE"})
        seen.add(column)
        targets.append(target or ("", None))
    for required in _REQUIRED:
        if required not in seen:
            problems.append(
                {"field": required, "message": "the header lacks this column", "code": "VALUE_REQUIRED"}
            )
    if problems:
        raise errors.ValidationFailed(problems)
    return targets


def _row_body(targets: list[tuple[str, str | None]], cells: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for (field, key), cell in zip(targets, cells, strict=False):
        value = cell.strip()
        if not value:
            continue  # an empty cell is an absent field
        if key is None:
            body[field] = value
        else:
            body.setdefault(field, {})[key] = value
    return body


def _row_errors(row: int, problems: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "row": row,
            "field": p["field"][:_MAX_FIELD_CHARS],
            "message": p["message"][:_MAX_MESSAGE_CHARS],
            "code": p["code"],
        }
        for p in problems
    ]


def validate_rows(
    workstream: Workstream, text: str, default_source: str
) -> tuple[int, list[tuple[int, ThroughputIn]], list[dict[str, Any]]]:
    """(data rows, valid rows with their row numbers, per-row errors); a bad header refuses the file."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise errors.ValidationFailed.one("body", "the CSV is empty; its first row names the columns")
    targets = _read_header(header)
    total = 0
    valid: list[tuple[int, ThroughputIn]] = []
    problems: list[dict[str, Any]] = []
    try:
        for row, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
            total += 1
            if len(cells) > len(targets):
                problems += _row_errors(
                    row,
                    [
                        {
                            "field": "row",
                            "message": f"{len(cells)} cells, but the header names {len(targets)} columns",
                            "code": "INVALID_VALUE",
                        }
                    ],
                )
                continue
            body = _row_body(targets, cells)
            body.setdefault("data_source", default_source)
            try:
                data = ThroughputIn.model_validate(body, context=FROM_TEXT)
            except ValidationError as exc:
                problems += _row_errors(row, field_errors(cast("list[dict[str, Any]]", exc.errors())))
                continue
            found = throughput.check_configuration(workstream, data)
            if data.data_source not in CSV_SOURCES:
                found.append(
                    {
                        "field": "data_source",
                        "message": "rows of a CSV upload are csv_manual or csv_automated",
                        "code": "NOT_AN_OPTION",
                    }
                )
            if found:
                problems += _row_errors(row, found)
                continue
            valid.append((row, data))
    except csv.Error as exc:
        raise errors.ValidationFailed.one("body", f"not a readable CSV: {exc}") from exc
    return total, valid, problems


def _identity_groups(rows: list[tuple[int, ThroughputIn]]) -> list[list[tuple[int, ThroughputIn]]]:
    """Rows that write the same record, together and in file order (the last one wins a replace)."""
    groups: dict[tuple[str, ...], list[tuple[int, ThroughputIn]]] = {}
    for row, data in rows:
        if data.unique_id is None:
            identity: tuple[str, ...] = ("row", str(row))
        else:
            identity = ("uid", data.use_case_id, data.task_definition_id, data.unique_id)
        groups.setdefault(identity, []).append((row, data))
    return list(groups.values())


def chunk_messages(
    workstream_id: str, upload_id: str, rows: list[tuple[int, ThroughputIn]]
) -> list[dict[str, Any]]:
    """Queue messages of as many rows as fit under the SQS size limit; a record's rows share a chunk."""
    messages: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    empty = ThroughputRowsMessage(workstream_id=workstream_id, upload_id=upload_id, chunk=0, rows=[])
    base = queues.message_size(empty.model_dump(mode="json")) + 16
    size = base

    def flush() -> None:
        nonlocal current, size
        if current:
            message = ThroughputRowsMessage(
                workstream_id=workstream_id,
                upload_id=upload_id,
                chunk=len(messages),
                rows=[QueuedRow.model_validate(r) for r in current],
            )
            messages.append(message.model_dump(mode="json"))
        current, size = [], base

    for group in _identity_groups(rows):
        entries = [
            {"row": row, "record": data.model_dump(mode="json", exclude_none=True)} for row, data in group
        ]
        group_size = sum(queues.message_size(entry) + 1 for entry in entries)
        if size + group_size > queues.MAX_MESSAGE_BYTES:
            flush()
        current.extend(entries)
        size += group_size
    flush()
    return messages


def upload_csv(workstream: Workstream, text: str, default_source: str = "csv_manual") -> UploadOut:
    """Validate the file, remember the upload and queue its valid rows; the rows are stored shortly."""
    if default_source not in CSV_SOURCES:
        raise errors.ValidationFailed.one(
            "data_source", "must be csv_manual or csv_automated", "NOT_AN_OPTION"
        )
    total, valid, problems = validate_rows(workstream, text, default_source)
    upload_id = ids.new_id()
    messages = chunk_messages(workstream.id, upload_id, valid)
    item = {
        "id": upload_id,
        "workstream_id": workstream.id,
        "account_id": workstream.account_id,
        "created_at": clock.iso(clock.now()),
        "total_count": total,
        "valid_count": len(valid),
        "not_valid_count": len({p["row"] for p in problems}),
        "success_count": 0,
        "failed_count": 0,
        "chunk_count": len(messages),
        "errors": problems[:MAX_LISTED_ERRORS],
    }
    store.put_upload(workstream.id, upload_id, item)
    queues.send_bulk(messages)
    return _to_upload(item, [], with_errors=False)


def _errors_url(workstream_id: str, upload_id: str) -> str:
    return f"/workstreams/{workstream_id}/throughput/uploads/{upload_id}"


def _to_upload(item: dict[str, Any], chunks: list[dict[str, Any]], *, with_errors: bool) -> UploadOut:
    success, failed = int(item.get("success_count", 0)), int(item.get("failed_count", 0))
    valid = int(item["valid_count"])
    listed = [*item.get("errors", []), *(e for chunk in chunks for e in chunk.get("errors", []))]
    return UploadOut(
        id=item["id"],
        status="completed" if success + failed >= valid else "processing",
        total_count=int(item["total_count"]),
        valid_count=valid,
        not_valid_count=int(item["not_valid_count"]),
        success_count=success,
        failed_count=failed,
        errors_url=_errors_url(item["workstream_id"], item["id"]),
        created_at=item["created_at"],
        errors=[RowError.model_validate(e) for e in sorted(listed, key=lambda e: int(e["row"]))]
        if with_errors
        else None,
    )


def get_upload(workstream: Workstream, upload_id: str) -> UploadOut:
    item, chunks = store.read_upload(workstream.id, upload_id) if len(upload_id) <= 64 else (None, [])
    if item is None:
        raise errors.NotFound(f"No upload {upload_id} in workstream {workstream.id}.")
    return _to_upload(item, chunks, with_errors=True)


# ---------------------------------------------------------------- the bulk worker's side
def store_rows(message: dict[str, Any]) -> None:
    """Store one chunk of rows (a bulk queue message of kind `throughput.rows`); safe to run again."""
    chunk = ThroughputRowsMessage.model_validate(message)
    if store.chunk_done(chunk.workstream_id, chunk.upload_id, chunk.chunk):
        return  # a redelivery of a chunk already stored and counted
    workstream = workstreams.find_workstream(chunk.workstream_id)
    if workstream is None:
        raise LookupError(f"workstream {chunk.workstream_id} of upload {chunk.upload_id} is gone")
    rows = [(queued.row, ThroughputIn.model_validate(queued.record)) for queued in chunk.rows]

    def store_group(group: list[tuple[int, ThroughputIn]]) -> list[dict[str, Any]]:
        failures: list[dict[str, Any]] = []
        for row, data in group:
            try:
                throughput.receive(
                    workstream,
                    data,
                    default_source="csv_manual",
                    fallback_identity=f"row:{chunk.upload_id}:{row}",
                )
            except errors.CrowdtaskError as refused:
                problems = getattr(refused, "errors", None) or [
                    {"field": "row", "message": refused.description, "code": "NOT_STORED"}
                ]
                failures += _row_errors(row, problems)
        return failures

    groups = _identity_groups(rows)
    outcomes = parallel.each(store_group, groups)
    failures = [failure for failed in outcomes for failure in failed]
    failed_rows = len({f["row"] for f in failures})
    counted = store.finish_chunk(
        chunk.workstream_id,
        chunk.upload_id,
        chunk.chunk,
        {"rows": len(rows), "errors": failures[:MAX_LISTED_ERRORS], "stored_at": clock.iso(clock.now())},
        success=len(rows) - failed_rows,
        failed=failed_rows,
    )
    logger.info(
        "throughput rows stored",
        extra={"upload": chunk.upload_id, "chunk": chunk.chunk, "rows": len(rows), "counted": counted},
    )
