"""`crowdtask results export` against the local stack: paging by the API's next links, rows that read back."""

from __future__ import annotations

import io
import json

import pytest

from crowdtask_cli.api import Client
from crowdtask_cli.export import export
from tests.e2e.conftest import new_account
from tests.support.stack import RunningStack

pytestmark = pytest.mark.e2e

CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}


def test_the_export_pages_through_the_stack_and_reads_back_as_the_results(api: RunningStack):
    # Given a campaign of one yes/no task whose job takes 5 results, from 5 workers
    owner = new_account(api, balance=20)
    task = owner.call("POST", "/tasks", json={"name": "Yes?", "components": [CHOICE]}).json()["id"]
    job = owner.call("POST", "/jobs", json={"name": "j"}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=[task]).status_code == 200
    campaign = owner.call(
        "POST", "/campaigns", json={"name": "c", "workerPayment": 0.5, "results": 5}
    ).json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign}/jobs", json=[job]).status_code == 200
    assert owner.call("POST", f"/campaigns/{campaign}/publish").status_code == 200
    for n in range(5):
        worker = new_account(api, role="worker")
        claim = worker.call("POST", f"/market/jobs/{job}/claim").json()
        choice = "Yes" if n % 2 else "No"
        answer = {"taskResults": [{"task": task, "components": [{"result": {"selectedOption": choice}}]}]}
        assert worker.call("POST", f"/assignments/{claim['id']}/submit", json=answer).status_code == 201
    # When the export pages 2 results at a time (3 pages)
    out = io.StringIO()
    client = Client(api.url, owner.token)
    assert export(client, campaign, out, fmt="jsonl", quiet=True, page_size=2) == 5
    # Then its rows read back as the API's results
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    listed = owner.call("GET", f"/campaigns/{campaign}/results", params={"limit": 100}).json()["results"]
    assert [row["result"] for row in rows] == [r["id"] for r in listed]
    for row, result in zip(rows, listed, strict=True):
        assert (row["worker"], row["state"], row["submittedAt"], row["task"]) == (
            result["worker"],
            result["state"],
            result["completedAt"],
            task,
        )
        assert row["components"] == [result["taskResults"][0]["components"][0]["result"]]
    assert sorted(row["components"][0]["selectedOption"] for row in rows) == ["No"] * 3 + ["Yes"] * 2
