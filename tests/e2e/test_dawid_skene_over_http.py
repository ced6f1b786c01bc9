"""Dawid-Skene on request over HTTP, on the local stack: the request queues a run on the aggregation
queue of template.yaml, the runner delivers it to the aggregation worker, the operation ends and
the answers are there (every call the functions make checked against their policies)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Session, new_account
from tests.support.stack import wait_for

pytestmark = pytest.mark.e2e

CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}
PICTURE = {"type": "Image", "url": "https://x.io/c.png"}
TRUTH = ["Yes", "No", "Yes", "Yes", "No"]


def _campaign(owner: Session) -> tuple[str, str, list[str]]:
    tasks = []
    for n in range(len(TRUTH)):
        made = owner.call("POST", "/tasks", json={"name": f"cat {n}?", "components": [PICTURE, CHOICE]})
        assert made.status_code == 201, made.text
        tasks.append(made.json()["id"])
    job = owner.call("POST", "/jobs", json={"name": "cats"}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=tasks).status_code == 200
    made = owner.call("POST", "/campaigns", json={"name": "cats", "workerPayment": 0.5, "results": 3})
    assert made.status_code == 201, made.text
    campaign = made.json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign}/jobs", json=[job]).status_code == 200
    assert owner.call("POST", f"/campaigns/{campaign}/publish").status_code == 200
    return campaign, job, tasks


def _submit(worker: Session, job: str, choices: dict[str, str]) -> None:
    claim = worker.call("POST", f"/market/jobs/{job}/claim")
    assert claim.status_code == 201, claim.text
    assignment = claim.json()
    entries = [
        {"task": t["id"], "components": [{"result": None}, {"result": {"selectedOption": choices[t["id"]]}}]}
        for t in assignment["tasks"]
    ]
    submitted = worker.call("POST", f"/assignments/{assignment['id']}/submit", json={"taskResults": entries})
    assert submitted.status_code == 201, submitted.text


def test_a_dawid_skene_run_over_http_ends_with_the_answers(api, requester):
    # Given a job of five tasks answered by two careful workers and one who always says the opposite
    campaign, job, tasks = _campaign(requester)
    truth = dict(zip(tasks, TRUTH, strict=True))
    opposite = {t: {"Yes": "No", "No": "Yes"}[a] for t, a in truth.items()}
    for choices in (truth, truth, opposite):
        _submit(new_account(api, "worker"), job, choices)
    # When the requester asks for Dawid-Skene
    started = requester.call("POST", f"/campaigns/{campaign}/aggregations", json={"method": "dawid-skene"})
    assert started.status_code == 202, started.text
    operation = started.json()
    assert (operation["type"], operation["status"]) == ("AGGREGATION", "PENDING")
    assert started.headers["Location"].endswith(f"/operations/{operation['id']}")

    # Then the aggregation worker runs it and the operation ends as SUCCESS
    def ended() -> dict[str, Any] | None:
        found = requester.call("GET", f"/operations/{operation['id']}").json()
        return found if found["status"] in {"SUCCESS", "FAIL"} else None

    assert wait_for(ended, 60, "the aggregation to end", interval=0.2)["status"] == "SUCCESS"
    # and every task's answer is the truth, the picture not aggregated
    reply = requester.call("GET", f"/campaigns/{campaign}/aggregates?method=dawid-skene&limit=100")
    assert reply.status_code == 200, reply.text
    found = {a["task"]: a for a in reply.json()["aggregates"]}
    assert set(found) == set(tasks)
    for task, aggregate in found.items():
        picture, choice = aggregate["components"]
        assert picture is None
        assert choice["result"] == {"selectedOption": truth[task]}
        assert (choice["votes"], aggregate["answers"], aggregate["method"]) == (2, 3, "dawid-skene")
    # and another requester finds neither the run nor the answers
    other = new_account(api, balance=1)
    assert other.call("GET", f"/operations/{operation['id']}").status_code == 404
    assert other.call("GET", f"/campaigns/{campaign}/aggregates?method=dawid-skene").status_code == 404
