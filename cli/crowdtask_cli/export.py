"""`crowdtask results export CAMPAIGN`: a campaign's results (or aggregates) as CSV or JSON Lines.

One row per task result (a result holds one per task of its job) or per aggregated task. JSON Lines
keeps every component's result as the API gives it; CSV flattens each to the text a spreadsheet
shows: a one-field result is its value (`{"selectedOption": "Yes"}` -> `Yes`), anything else
compact JSON, nothing an empty cell. CSV columns are known only once every row is read (tasks may
have different numbers of components), so CSV rows are written at the end; JSON Lines as they come.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from tqdm import tqdm

from crowdtask_cli.api import Client

PAGE = 100  # the API's largest page
RESULT_COLUMNS = ("result", "campaign", "job", "worker", "state", "submittedAt", "task", "taskName")
AGGREGATE_COLUMNS = ("task", "method", "answers")
AGGREGATE_PARTS = ("result", "confidence", "votes")


def cell(value: Any) -> str:
    """A component's result as one spreadsheet cell."""
    if value is None:
        return ""
    if isinstance(value, dict) and len(value) == 1:
        (only,) = value.values()
        if isinstance(only, str | int | float | bool) or only is None:
            value = only
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def result_rows(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of one result of the API: one per task it answers, components in task order."""
    for task_result in result.get("taskResults") or []:
        task = task_result.get("task") or {}
        yield {
            "result": result["id"],
            "campaign": result.get("campaign"),
            "job": result.get("job"),
            "worker": result.get("worker"),
            "state": result.get("state"),
            "submittedAt": result.get("completedAt"),
            "task": task.get("id"),
            "taskName": task.get("name"),
            "components": [c.get("result") for c in task_result.get("components") or []],
        }


def aggregate_row(aggregate: dict[str, Any]) -> dict[str, Any]:
    """The row of one aggregate of the API: components as given (null where none aggregates)."""
    return {
        "task": aggregate["task"],
        "method": aggregate.get("method"),
        "answers": aggregate.get("answers"),
        "components": list(aggregate.get("components") or []),
    }


def csv_header(columns: tuple[str, ...], parts: tuple[str, ...] | None, width: int) -> list[str]:
    """The fixed columns, then one (per aggregate: one per part) per component position, from 1."""
    if parts is None:
        return [*columns, *(f"component{n}" for n in range(1, width + 1))]
    return [*columns, *(f"component{n}.{part}" for n in range(1, width + 1) for part in parts)]


def csv_cells(
    row: dict[str, Any], columns: tuple[str, ...], parts: tuple[str, ...] | None, width: int
) -> list[str]:
    cells = ["" if row[name] is None else str(row[name]) for name in columns]
    components = row["components"] + [None] * (width - len(row["components"]))
    for component in components:
        if parts is None:
            cells.append(cell(component))
        else:
            found = component or {}
            cells += [
                cell(found.get("result")),
                *("" if found.get(p) is None else str(found[p]) for p in parts[1:]),
            ]
    return cells


def export(
    client: Client,
    campaign_id: str,
    out: IO[str],
    *,
    fmt: str,
    aggregated: bool = False,
    method: str | None = None,
    quiet: bool = False,
    page_size: int = PAGE,
) -> int:
    """Write every row of the campaign to `out` in `fmt` (csv or jsonl): the number of rows."""
    params: dict[str, Any] = {"limit": page_size}
    columns: tuple[str, ...]
    parts: tuple[str, ...] | None
    if aggregated:
        if method:
            params["method"] = method
        pages = client.pages(f"/campaigns/{campaign_id}/aggregates", "aggregates", params)
        columns, parts, unit = AGGREGATE_COLUMNS, AGGREGATE_PARTS, "task"
    else:
        pages = client.pages(f"/campaigns/{campaign_id}/results", "results", params)
        columns, parts, unit = RESULT_COLUMNS, None, "result"
    bar = tqdm(unit=unit, desc="exported", disable=quiet)
    kept: list[dict[str, Any]] = []
    count = 0
    for page in pages:
        for item in page:
            rows = [aggregate_row(item)] if aggregated else list(result_rows(item))
            for row in rows:
                if fmt == "jsonl":
                    out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                else:
                    kept.append(row)
            count += len(rows)
        bar.update(len(page))
    bar.close()
    if fmt == "csv":
        width = max((len(row["components"]) for row in kept), default=0)
        writer = csv.writer(out)
        writer.writerow(csv_header(columns, parts, width))
        writer.writerows(csv_cells(row, columns, parts, width) for row in kept)
    return count
