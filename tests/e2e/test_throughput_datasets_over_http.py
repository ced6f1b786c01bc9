"""Throughput and datasets over HTTP on DynamoDB Local: the full paths and the races moto cannot hold."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Session, new_account
from tests.support.stack import RunningStack, wait_for

pytestmark = pytest.mark.e2e

WORKSTREAM = {
    "name": "Invoice capture",
    "use_cases": [{"name": "Invoices", "task_definitions": [{"name": "Transcribe"}, {"name": "Review"}]}],
}


class Stream:
    """A workstream over HTTP: its owner, id, key and the ids of its first task definition."""

    def __init__(self, owner: Session):
        created = owner.call("POST", "/workstreams", json=WORKSTREAM)
        assert created.status_code == 201, created.text
        body = created.json()
        self.owner = owner
        self.id = body["id"]
        self.key = body["api_key"]
        self.use_case_id = body["use_cases"][0]["id"]
        self.task_definition_id = body["use_cases"][0]["task_definitions"][0]["id"]

    def record(self, **fields: Any) -> dict[str, Any]:
        return {
            "worker_id": "john.doe@example.com",
            "use_case_id": self.use_case_id,
            "task_definition_id": self.task_definition_id,
            "task_started_at": "2020-12-22T09:13:24.127Z",
            "task_completed_at": "2020-12-22T10:13:24.127Z",
            **fields,
        }

    def submit(self, **fields: Any) -> requests.Response:
        return self.owner.api.request(
            "POST",
            f"/workstreams/{self.id}/throughput",
            json=self.record(**fields),
            headers={"x-api-key": self.key},
        )

    def totals(self, **query: str) -> dict[str, Any]:
        reply = self.owner.call("GET", f"/workstreams/{self.id}/throughput", params=query)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body


@pytest.fixture
def stream(api: RunningStack) -> Stream:
    return Stream(new_account(api))


def test_seed_record_round_trip(stream: Stream):
    reply = stream.submit(
        task_id="032d6802-0efa-46de-a73c-6c24f094dfcf",
        task_url="https://taskus.com/annotate/123412",
        task_count=10,
        subtask_count=10,
        task_created_at="2020-12-22T10:13:24.127Z",
        measures={"boxes_drawn": 42},
        data_source="api",
        task_parameters={"dataset_id": "6c24f094dfcf", "parent_asset_id": "6c24f094dfcf"},
        unique_id="032d6802-0efa-46de-a73c-6c24f094dfcf",
        replace=True,
    )
    assert (reply.status_code, reply.json()) == (200, {"message": "Data successfully received."})
    totals = stream.totals(group_by="task_definition")
    assert totals["totals"] == {
        "record_count": 1,
        "task_count": 10,
        "subtask_count": 10,
        "duration": 3600,
        "measures": {"boxes_drawn": 42},
    }
    assert totals["groups"][0]["name"] == "Transcribe"
    assert (
        stream.owner.api.request(
            "POST", f"/workstreams/{stream.id}/throughput", json=stream.record()
        ).status_code
        == 401
    )


def test_concurrent_replacing_writes_leave_one_record_and_consistent_totals(stream: Stream):
    counts = list(range(1, 13))

    def replace(count: int) -> int:
        worker = "ann" if count % 2 else "bob"
        return stream.submit(unique_id="race", replace=True, task_count=count, worker_id=worker).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(replace, counts))
    assert statuses == [200] * len(counts)
    totals = stream.totals(group_by="worker")
    assert totals["totals"]["record_count"] == 1
    assert totals["totals"]["task_count"] in counts
    # the one record's worker group holds it all; the other group has nothing left
    assert [(g["key"], g["record_count"], g["task_count"]) for g in totals["groups"]] == [
        ("ann" if totals["totals"]["task_count"] % 2 else "bob", 1, totals["totals"]["task_count"])
    ]


def test_concurrent_repeats_without_replace_store_one_record(stream: Stream):
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(lambda n: stream.submit(unique_id="once", task_count=n).status_code, range(1, 9))
        )
    assert statuses == [200] * 8
    assert stream.totals()["totals"]["record_count"] == 1


def test_concurrent_distinct_records_all_count(stream: Stream):
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(lambda n: stream.submit(unique_id=f"r{n}", task_count=2).status_code, range(16))
        )
    assert statuses == [200] * 16
    totals = stream.totals(group_by="day")
    assert totals["totals"]["task_count"] == 32 and totals["groups"][0]["record_count"] == 16


def test_csv_upload_end_to_end(stream: Stream):
    rows = [
        "worker_id,use_case_id,task_definition_id,task_started_at,task_completed_at,measures.boxes,unique_id",
        *(
            f"w{n},{stream.use_case_id},{stream.task_definition_id},"
            f"2020-12-2{n % 3}T09:00:00Z,2020-12-2{n % 3}T09:00:30Z,{n},c{n}"
            for n in range(30)
        ),
        f"bad,{stream.use_case_id},{stream.task_definition_id},2020-12-22T09:00:00Z,oops,1,c-bad",
    ]
    reply = stream.owner.api.request(
        "POST",
        f"/workstreams/{stream.id}/throughput/csv",
        data="\n".join(rows).encode(),
        headers={"x-api-key": stream.key, "Content-Type": "text/csv"},
    )
    assert reply.status_code == 202, reply.text
    upload = reply.json()
    assert (upload["total_count"], upload["valid_count"], upload["not_valid_count"]) == (31, 30, 1)

    def completed() -> dict[str, Any] | None:
        found = stream.owner.call("GET", upload["errors_url"]).json()
        return found if found["status"] == "completed" else None

    done = wait_for(completed, 60, "the bulk worker to store the rows")
    assert (done["success_count"], done["failed_count"]) == (30, 0)
    assert [(e["row"], e["field"]) for e in done["errors"]] == [(32, "task_completed_at")]
    totals = stream.totals()["totals"]
    assert (totals["record_count"], totals["duration"], totals["measures"]) == (
        30,
        900,
        {"boxes": sum(range(30))},
    )


# ---------------------------------------------------------------- datasets
DATASET = {
    "name": "Street scenes",
    "type": "single_frame",
    "stages": ["Labelling", "QA"],
    "files": ["f1.jpg", "f2.jpg"],
    "objects": ["car", "person"],
    "frame_attributes": ["weather"],
    "dataset_attributes": ["city"],
}


def _dataset_tasks(owner: Session, dataset_id: str) -> list[dict[str, Any]]:
    reply = owner.call("GET", f"/datasets/{dataset_id}/tasks")
    assert reply.status_code == 200, reply.text
    tasks: list[dict[str, Any]] = reply.json()["tasks"]
    return tasks


def test_dataset_review_flow_and_isolation(api: RunningStack):
    owner = new_account(api)
    created = owner.call("POST", "/datasets", json=DATASET)
    assert created.status_code == 201, created.text
    dataset = created.json()
    sequence = owner.call("POST", "/datasets", json={**DATASET, "type": "sequence"}).json()
    assert len(_dataset_tasks(owner, dataset["id"])) == 14 and len(_dataset_tasks(owner, sequence["id"])) == 8
    tasks = _dataset_tasks(owner, dataset["id"])
    labelling = next(t for t in tasks if t["stage"] == "Labelling" and t["dataset_attribute"] == "city")
    qa = next(t for t in tasks if t["stage"] == "QA" and t["dataset_attribute"] == "city")
    update = {"assignee": "ann@example.com", "status": "submitted", "answer": "Paris"}
    assert owner.call("POST", f"/dataset-tasks/{labelling['id']}", json=update).status_code == 200
    # two reviewers accept at once: one wins, the other is told the task is accepted
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(
            pool.map(lambda _: owner.call("POST", f"/dataset-tasks/{labelling['id']}/accept"), range(2))
        )
    assert sorted(r.status_code for r in replies) == [200, 409]
    assert "is accepted" in next(r for r in replies if r.status_code == 409).json()["description"]
    qa_now = next(t for t in _dataset_tasks(owner, dataset["id"]) if t["id"] == qa["id"])
    assert qa_now["status"] == "pending"
    client_id = owner.call("GET", "/me").json()["customerId"]
    mine = owner.call("GET", f"/clients/{client_id}/tasks", params={"email": "ann@example.com"}).json()
    assert [t["id"] for t in mine["label_tasks"]] == [labelling["id"]] and mine["file_tasks"] == []
    stranger = new_account(api)
    assert (
        stranger.call("GET", f"/clients/{client_id}/tasks", params={"email": "ann@example.com"}).status_code
        == 404
    )
    assert stranger.call("GET", f"/datasets/{dataset['id']}/tasks").status_code == 404
    assert stranger.call("POST", f"/dataset-tasks/{qa['id']}/accept").status_code == 404


def test_resync_over_http(api: RunningStack):
    owner = new_account(api)
    dataset = owner.call("POST", "/datasets", json=DATASET).json()
    reply = owner.call("POST", f"/datasets/{dataset['id']}/file-tasks", json={"files": ["f1.jpg"]})
    assert reply.status_code == 204 and reply.text == ""
    reply = owner.call("POST", f"/datasets/{dataset['id']}/label-tasks", json={"objects": ["car"]})
    assert reply.status_code == 204
    live = [t for t in _dataset_tasks(owner, dataset["id"]) if t["status"] != "retired"]
    assert sorted(
        (t["stage"], t["file"] or "", t["object"] or t["frame_attribute"] or t["dataset_attribute"])
        for t in live
    ) == sorted(
        (stage, file, label)
        for stage in ("Labelling", "QA")
        for file, label in [("f1.jpg", "car"), ("f1.jpg", "weather"), ("", "city")]
    )
    assert owner.call("GET", f"/datasets/{dataset['id']}").json()["task_count"] == 6
