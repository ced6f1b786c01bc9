"""The datasets function, invoked with the events in events/ against moto tables."""

from __future__ import annotations

import pytest

from crowdtask.services import accounts
from tests.support.accounts import make_account
from tests.support.handlers import invoke, sample_body

TASK_FIELDS = {
    "id",
    "dataset_id",
    "client_id",
    "stage",
    "kind",
    "file",
    "object",
    "frame_attribute",
    "dataset_attribute",
    "status",
    "assignee",
    "answer",
    "due_date",
    "rejection_reason",
    "created_at",
    "updated_at",
}


@pytest.fixture
def dataset(requester):
    reply = invoke("datasets", "datasets_create", token=requester.token)
    assert reply.status == 201, reply.body
    return reply.body


def _tasks(requester, dataset_id, **query):
    return invoke(
        "datasets",
        "datasets_list_tasks",
        token=requester.token,
        path_params={"datasetId": dataset_id},
        query={k: [str(v)] for k, v in query.items()},
    )


def _task(requester, dataset, stage="Labelling", **subject):
    return next(
        t
        for t in _tasks(requester, dataset["id"]).body["tasks"]
        if t["stage"] == stage and all(t[k] == v for k, v in subject.items())
    )


def _post(requester, name, task_id, body=...):
    return invoke("datasets", name, token=requester.token, body=body, path_params={"taskId": task_id})


def test_create_answers_the_dataset(requester, dataset):
    assert dataset["task_count"] == 14 and dataset["stages"] == ["Labelling", "QA"]
    assert dataset["client_id"] == accounts.get_profile(requester.id).customerId
    fetched = invoke(
        "datasets", "datasets_get", token=requester.token, path_params={"datasetId": dataset["id"]}
    )
    assert fetched.body == dataset


def test_sequence_over_the_api(requester):
    body = {**sample_body("datasets_create"), "type": "sequence"}
    created = invoke("datasets", "datasets_create", token=requester.token, body=body)
    assert created.body["task_count"] == 8
    assert len(_tasks(requester, created.body["id"]).body["tasks"]) == 8


def test_tasks_show_every_field_and_page_with_a_link(requester, dataset):
    page = _tasks(requester, dataset["id"], limit=5)
    assert len(page.body["tasks"]) == 5
    assert all(set(t) == TASK_FIELDS for t in page.body["tasks"])
    assert page.body["tasks"][0]["assignee"] is None and page.body["tasks"][0]["file"] == "frame-0001.jpg"
    link = page.header("Link")
    after = link.split("after=")[1].split(">")[0]
    rest = _tasks(requester, dataset["id"], limit=100, after=after)
    assert len(rest.body["tasks"]) == 9 and rest.header("Link") is None


def test_tasks_after_an_id_not_of_the_dataset_is_a_404_naming_after(requester, dataset):
    page = _tasks(requester, dataset["id"], limit=5, after="nothing")
    assert page.status == 404 and page.body["errors"][0]["field"] == "after"


def test_update_accept_reject_answer_the_task(requester, dataset):
    task = _task(requester, dataset, file="frame-0002.jpg", frame_attribute="weather")
    updated = _post(
        requester,
        "datasets_update_task",
        task["id"],
        {
            "assignee": "ann@example.com",
            "status": "submitted",
            "answer": {"weather": "rain", "confidence": 0.9},
        },
    )
    assert updated.status == 200 and set(updated.body) == TASK_FIELDS
    assert updated.body["answer"] == {"weather": "rain", "confidence": 0.9}
    rejected = _post(requester, "datasets_reject_task", task["id"], {"reason": "it is snow"})
    assert (rejected.body["status"], rejected.body["assignee"]) == ("rejected", "ann@example.com")
    _post(
        requester, "datasets_update_task", task["id"], {"status": "submitted", "answer": {"weather": "snow"}}
    )
    accepted = _post(requester, "datasets_accept_task", task["id"])
    assert accepted.status == 200 and accepted.body["status"] == "accepted"
    qa = _task(requester, dataset, "QA", file="frame-0002.jpg", frame_attribute="weather")
    assert qa["status"] == "pending"


def test_any_json_answer_is_kept_as_sent(requester, dataset):
    task = _task(requester, dataset, file="frame-0001.jpg", object="car")
    deep: object = 10**40
    for _ in range(40):
        deep = {"inner": [deep, 0.1, None, ""]}
    reply = _post(requester, "datasets_update_task", task["id"], {"answer": deep})
    assert reply.status == 200 and reply.body["answer"] == deep
    assert _task(requester, dataset, file="frame-0001.jpg", object="car")["answer"] == deep


def test_a_refused_transition_is_409_naming_the_state(requester, dataset):
    task = _task(requester, dataset, "QA", file="frame-0001.jpg", object="car")
    reply = _post(requester, "datasets_accept_task", task["id"])
    assert reply.status == 409 and reply.body["code"] == 1009
    assert "is blocked" in reply.body["description"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "accepted"}, "status"),
        ({"assignee": "not an email"}, "assignee"),
        ({"due_date": "next week"}, "due_date"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_updates_are_422_naming_the_field(requester, dataset, body, field):
    task = _task(requester, dataset, file="frame-0001.jpg", object="car")
    reply = _post(requester, "datasets_update_task", task["id"], body)
    assert reply.status == 422 and [e["field"] for e in reply.body["errors"]] == [field]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": "video"}, "type"),
        ({"stages": []}, "stages"),
        ({"stages": ["QA", "QA"]}, "stages"),
        ({"files": ["a", "a"]}, "files"),
        ({"name": None}, "name"),
        ({"files": [f"{n:06d}-" + "x" * 490 for n in range(1000)]}, "files"),
        ({"objects": ["car\u0000"]}, "objects[0]"),
    ],
)
def test_bad_datasets_are_422_naming_the_field(requester, changes, field):
    body = {**sample_body("datasets_create"), **changes}
    reply = invoke("datasets", "datasets_create", token=requester.token, body=body)
    assert reply.status == 422 and reply.body["errors"][0]["field"] == field


def test_resyncs_answer_204_with_or_without_a_body(requester, dataset):
    path = {"datasetId": dataset["id"]}
    files = invoke("datasets", "datasets_file_tasks", token=requester.token, path_params=path)
    assert (files.status, files.body) == (204, None)
    labels = invoke("datasets", "datasets_label_tasks", token=requester.token, path_params=path, raw_body="")
    assert labels.status == 204
    fetched = invoke("datasets", "datasets_get", token=requester.token, path_params=path).body
    assert fetched["files"][-1] == "frame-0003.jpg" and fetched["task_count"] == 20
    assert len([t for t in _tasks(requester, dataset["id"]).body["tasks"] if t["status"] != "retired"]) == 20


def test_client_routes_are_for_the_own_client_id(requester, dataset):
    stranger = make_account()
    other_client = accounts.get_profile(stranger.id).customerId
    for name in ("datasets_client_tasks", "datasets_delayed_tasks"):
        reply = invoke("datasets", name, token=requester.token, path_params={"clientId": other_client})
        assert reply.status == 404
    for name, params in [
        ("datasets_get", {"datasetId": dataset["id"]}),
        ("datasets_list_tasks", {"datasetId": dataset["id"]}),
        ("datasets_file_tasks", {"datasetId": dataset["id"]}),
    ]:
        assert invoke("datasets", name, token=stranger.token, path_params=params).status == 404


def test_user_tasks_need_an_email(requester):
    client = accounts.get_profile(requester.id).customerId
    reply = invoke(
        "datasets", "datasets_client_tasks", token=requester.token, path_params={"clientId": client}, query={}
    )
    assert reply.status == 422 and reply.body["errors"][0]["field"] == "email"


def test_wrong_method_is_405(requester, dataset):
    reply = invoke(
        "datasets",
        "datasets_get",
        token=requester.token,
        method="DELETE",
        path_params={"datasetId": dataset["id"]},
    )
    assert reply.status == 405


def test_workers_may_not_use_dataset_routes(worker):
    assert invoke("datasets", "datasets_create", token=worker.token).status == 403


def test_files_may_be_urls_or_url_name_objects_as_the_seed_clients_send(requester):
    body = {
        **sample_body("datasets_create"),
        "files": ["https://cdn.test/0.png", {"url": "https://cdn.test/1.png", "name": "second frame"}],
    }
    reply = invoke("datasets", "datasets_create", token=requester.token, body=body)
    assert reply.status == 201, reply.body
    assert reply.body["files"] == ["https://cdn.test/0.png", "https://cdn.test/1.png"]
    nameless = {**body, "files": [{"name": "no url"}]}
    refused = invoke("datasets", "datasets_create", token=requester.token, body=nameless)
    assert refused.status == 422 and refused.body["errors"][0]["field"].startswith("files")
