"""Reading a task file: JSON Lines (one task per line) or CSV (a header row names the fields)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# CSV columns that are fields of the task itself; every other column is an input value
# (`input_values.<name>` and plain `<name>` mean the same).
_TASK_COLUMNS = {"pool_id", "overlap"}


class FileProblem(ValueError):
    """The file cannot be read as tasks: which line, and why."""


def _csv_task(row: dict[str | None, Any], default_pool: str | None) -> dict[str, Any]:
    """One CSV row: cells past the header's columns (key None) and missing cells (None) are skipped."""
    task: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or not isinstance(cell, str) or cell == "":
            continue
        name = column.strip()
        if name == "overlap":
            task["overlap"] = int(cell) if cell.strip().isdecimal() else cell
        elif name in _TASK_COLUMNS:
            task[name] = cell.strip()
        else:
            inputs[name.removeprefix("input_values.")] = cell
    if default_pool and "pool_id" not in task:
        task["pool_id"] = default_pool
    task["input_values"] = inputs
    return task


def read_tasks(path: Path, default_pool: str | None = None) -> Iterator[dict[str, Any]]:
    """The tasks of the file in order; a `pool_id` given on the command line fills tasks without one."""
    try:
        yield from _read_tasks(path, default_pool)
    except (UnicodeDecodeError, csv.Error) as exc:  # not UTF-8, or not CSV (e.g. a field too large)
        raise FileProblem(f"{path}: {exc}") from None


def _read_tasks(path: Path, default_pool: str | None) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if path.suffix.lower() == ".csv":
            for row in csv.DictReader(handle):
                yield _csv_task(row, default_pool)
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                task = json.loads(line)
            except ValueError as exc:
                raise FileProblem(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(task, dict):
                raise FileProblem(f"{path}:{number}: a task is a JSON object")
            if default_pool and "pool_id" not in task and "input_values" in task:
                task["pool_id"] = default_pool
            yield task


def chunks(
    tasks: Iterator[dict[str, Any]], max_items: int, max_bytes: int
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(index of the first task, tasks) of each request: at most `max_items` tasks and `max_bytes` bytes."""
    current: list[dict[str, Any]] = []
    size = 2
    first = 0
    for count, task in enumerate(tasks):
        task_size = len(json.dumps(task, separators=(",", ":"), ensure_ascii=False).encode()) + 1
        if current and (len(current) >= max_items or size + task_size > max_bytes):
            yield first, current
            first, current, size = count, [], 2
        current.append(task)
        size += task_size
    if current:
        yield first, current
