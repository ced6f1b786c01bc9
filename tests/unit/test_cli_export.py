"""`crowdtask results export` on a fake API: paging by Link headers, rows that read back as its data."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from crowdtask_cli import main as cli
from crowdtask_cli.api import Client
from crowdtask_cli.export import export


def _result(n: int) -> dict[str, Any]:
    """A result of the API with two tasks: a yes/no with a picture, and a text answer."""
    return {
        "id": f"R{n:03d}",
        "worker": f"W{n % 3}",
        "job": "J1",
        "campaign": "C1",
        "assignmentId": f"A{n}",
        "startedAt": "2026-03-14T03:00:00",
        "completedAt": f"2026-03-14T03:{n:02d}:00",
        "state": "Approved" if n % 2 else "InReview",
        "taskResults": [
            {
                "task": {"id": "T1", "name": "Is it a cat?"},
                "startedAt": "x",
                "completedAt": "y",
                "components": [
                    {"data": {"type": "Image"}, "result": None},
                    {
                        "data": {"type": "BinaryChoice"},
                        "result": {"selectedOption": "Yes" if n % 2 else "No"},
                    },
                ],
            },
            {
                "task": {"id": "T2", "name": 'Say, "why"'},
                "startedAt": "x",
                "completedAt": "y",
                "components": [{"data": {"type": "TextInput"}, "result": {"text": f"line one\nline, {n}"}}],
            },
        ],
    }


AGGREGATES = [
    {
        "task": "T1",
        "method": "majority",
        "answers": 3,
        "components": [None, {"result": {"selectedOption": "Yes"}, "confidence": 0.6667, "votes": 2}],
    },
    {"task": "T2", "method": "majority", "answers": 3, "components": [None, None]},
    {
        "task": "T3",
        "method": "majority",
        "answers": 1,
        "components": [{"result": {"rating": 4}, "confidence": 1.0, "votes": 1}],
    },
]


class FakeApi(Client):
    """Serves lists by `after` cursor and `limit`, with the `Link: rel=next` header the API sends."""

    def __init__(self, lists: dict[str, tuple[str, list[dict[str, Any]], str]]):
        super().__init__("http://api.test", "token")
        self.lists = lists  # path -> (key, items, id field)
        self.asked: list[str] = []

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        route, _, query_text = path.partition("?")
        params = dict(kwargs.get("params") or {})
        params.update(dict(part.split("=", 1) for part in query_text.split("&") if part))
        self.asked.append(f"{route}?{urlencode(sorted(params.items()))}")
        key, items, id_field = self.lists[route]
        after, limit = params.get("after"), int(params["limit"])
        rest = [i for i in items if after is None or i[id_field] > after]
        page = rest[:limit]
        reply = requests.Response()
        reply.status_code = 200
        reply._content = json.dumps({key: page}).encode()
        if len(rest) > limit:
            kept = {k: v for k, v in params.items() if k != "after"}
            reply.headers["Link"] = (
                f'<{route}?{urlencode({**kept, "after": page[-1][id_field]})}>; rel="next"'
            )
        return reply


@pytest.fixture
def api() -> FakeApi:
    results = [_result(n) for n in range(7)]
    return FakeApi(
        {
            "/campaigns/C1/results": ("results", results, "id"),
            "/campaigns/C1/aggregates": ("aggregates", AGGREGATES, "task"),
        }
    )


def test_jsonl_rows_read_back_as_the_apis_task_results_across_pages(api):
    out = io.StringIO()
    # When the export pages 3 at a time through 7 results
    count = export(api, "C1", out, fmt="jsonl", quiet=True, page_size=3)
    # Then it followed the next links to the end: 3 requests, each after the last id of the page before
    assert api.asked == [
        "/campaigns/C1/results?limit=3",
        "/campaigns/C1/results?after=R002&limit=3",
        "/campaigns/C1/results?after=R005&limit=3",
    ]
    # And each task result is one row that reads back as the API's data
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(rows) == 14
    expected = [
        {
            "result": r["id"],
            "campaign": "C1",
            "job": "J1",
            "worker": r["worker"],
            "state": r["state"],
            "submittedAt": r["completedAt"],
            "task": t["task"]["id"],
            "taskName": t["task"]["name"],
            "components": [c["result"] for c in t["components"]],
        }
        for r in api.lists["/campaigns/C1/results"][1]
        for t in r["taskResults"]
    ]
    assert rows == expected


def test_csv_has_a_spreadsheets_columns_and_reads_back(api):
    out = io.StringIO(newline="")
    export(api, "C1", out, fmt="csv", quiet=True, page_size=2)
    table = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert list(table[0]) == [
        "result",
        "campaign",
        "job",
        "worker",
        "state",
        "submittedAt",
        "task",
        "taskName",
        "component1",
        "component2",
    ]
    assert len(table) == 14
    first, second = table[0], table[1]
    assert first == {
        "result": "R000",
        "campaign": "C1",
        "job": "J1",
        "worker": "W0",
        "state": "InReview",
        "submittedAt": "2026-03-14T03:00:00",
        "task": "T1",
        "taskName": "Is it a cat?",
        "component1": "",
        "component2": "No",
    }
    # a comma, a quote and a new line survive the CSV quoting; a missing component is an empty cell
    assert (second["taskName"], second["component1"], second["component2"]) == (
        'Say, "why"',
        "line one\nline, 0",
        "",
    )
    assert [row["component2"] for row in table if row["task"] == "T1"] == ["No", "Yes"] * 3 + ["No"]


def test_aggregates_export_one_row_per_task_with_result_confidence_and_votes(api):
    out = io.StringIO(newline="")
    assert export(api, "C1", out, fmt="csv", aggregated=True, quiet=True, page_size=2) == 3
    table = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert list(table[0]) == [
        "task",
        "method",
        "answers",
        "component1.result",
        "component1.confidence",
        "component1.votes",
        "component2.result",
        "component2.confidence",
        "component2.votes",
    ]
    assert [list(row.values()) for row in table] == [
        ["T1", "majority", "3", "", "", "", "Yes", "0.6667", "2"],
        ["T2", "majority", "3", "", "", "", "", "", ""],
        ["T3", "majority", "1", "4", "1.0", "1", "", "", ""],
    ]
    lines = io.StringIO()
    export(api, "C1", lines, fmt="jsonl", aggregated=True, quiet=True, page_size=2)
    assert [json.loads(line) for line in lines.getvalue().splitlines()] == AGGREGATES


def test_the_command_writes_the_file(api, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "Client", lambda url, token: api)
    target = tmp_path / "results.jsonl"
    argv = ["--token", "t", "results", "export", "C1", "--format", "jsonl", "-o", str(target), "--quiet"]
    assert cli.main(argv) == 0
    assert len(target.read_text().splitlines()) == 14
    assert "14 rows" in capsys.readouterr().err
