"""Datasets and their labelling tasks, on moto tables built from the template."""

from __future__ import annotations

from collections import Counter

import pytest

from crowdtask import errors
from crowdtask.models.datasets import DatasetIn, LabelsIn, TaskUpdateIn
from crowdtask.services import accounts, datasets
from tests.support.accounts import make_account

SPEC = {
    "name": "Street scenes",
    "stages": ["Labelling", "QA"],
    "files": ["f1.jpg", "f2.jpg"],
    "objects": ["car", "person"],
    "frame_attributes": ["weather"],
    "dataset_attributes": ["city"],
}


def _client(account) -> str:
    return accounts.get_profile(account.id).customerId


def _create(account, kind="single_frame", **overrides):
    return datasets.create_dataset(account.id, DatasetIn.model_validate({**SPEC, "type": kind, **overrides}))


def _tasks(account, dataset_id):
    found, _ = datasets.list_dataset_tasks(account.id, dataset_id, limit=1000, after=None)
    return found


def _find(tasks, stage="Labelling", **subject):
    return next(t for t in tasks if t.stage == stage and all(getattr(t, k) == v for k, v in subject.items()))


def _update(account, task, **fields):
    return datasets.update_task(account.id, task.id, TaskUpdateIn.model_validate(fields))


# ---------------------------------------------------------------- generation
def test_single_frame_dataset_has_14_tasks(requester):
    dataset = _create(requester)
    tasks = _tasks(requester, dataset.id)
    assert len(tasks) == dataset.task_count == 14
    assert Counter(t.stage for t in tasks) == {"Labelling": 7, "QA": 7}
    labelling = [t for t in tasks if t.stage == "Labelling"]
    assert Counter((t.file, t.object, t.frame_attribute, t.dataset_attribute) for t in labelling) == {
        ("f1.jpg", "car", None, None): 1,
        ("f1.jpg", "person", None, None): 1,
        ("f1.jpg", None, "weather", None): 1,
        ("f2.jpg", "car", None, None): 1,
        ("f2.jpg", "person", None, None): 1,
        ("f2.jpg", None, "weather", None): 1,
        (None, None, None, "city"): 1,
    }
    assert Counter(t.kind for t in labelling) == {"file": 6, "label": 1}


def test_sequence_dataset_has_8_tasks_across_all_frames(requester):
    dataset = _create(requester, "sequence")
    tasks = _tasks(requester, dataset.id)
    assert len(tasks) == 8
    assert all(t.file is None and t.kind == "label" for t in tasks)
    labelling = {(t.object, t.frame_attribute, t.dataset_attribute) for t in tasks if t.stage == "Labelling"}
    assert labelling == {
        ("car", None, None),
        ("person", None, None),
        (None, "weather", None),
        (None, None, "city"),
    }


def test_tasks_list_in_stage_file_and_label_order_and_page(requester):
    dataset = _create(requester)
    first, after = datasets.list_dataset_tasks(requester.id, dataset.id, limit=4, after=None)
    assert [(t.stage, t.file, t.object or t.frame_attribute) for t in first] == [
        ("Labelling", "f1.jpg", "car"),
        ("Labelling", "f1.jpg", "person"),
        ("Labelling", "f1.jpg", "weather"),
        ("Labelling", "f2.jpg", "car"),
    ]
    rest, end = datasets.list_dataset_tasks(requester.id, dataset.id, limit=100, after=after)
    assert len(rest) == 10 and end is None
    assert rest[2].dataset_attribute == "city" and rest[3].stage == "QA"


def test_first_stage_is_workable_and_the_next_blocked(requester):
    dataset = _create(requester, due_date="2026-03-20")
    tasks = _tasks(requester, dataset.id)
    assert {t.status for t in tasks if t.stage == "Labelling"} == {"pending"}
    assert {t.status for t in tasks if t.stage == "QA"} == {"blocked"}
    assert {t.due_date for t in tasks} == {"2026-03-20T23:59:59Z"}
    assert {t.client_id for t in tasks} == {_client(requester)}


def test_too_many_tasks_are_refused(requester):
    with pytest.raises(errors.ValidationFailed) as caught:
        _create(requester, files=[f"f{n}" for n in range(3000)])
    assert caught.value.errors[0]["field"] == "files"


# ---------------------------------------------------------------- work and review
def test_qa_is_blocked_until_its_labelling_task_is_accepted(requester):
    tasks = _tasks(requester, _create(requester).id)
    labelling, qa = _find(tasks, file="f1.jpg", object="car"), _find(tasks, "QA", file="f1.jpg", object="car")
    with pytest.raises(errors.Conflict, match="blocked"):
        _update(requester, qa, status="in_progress")
    with pytest.raises(errors.Conflict, match="blocked"):
        _update(requester, qa, answer={"ok": True})
    assert _update(requester, qa, assignee="Reviewer@Example.com").assignee == "reviewer@example.com"
    _update(requester, labelling, assignee="ann@example.com", status="in_progress")
    submitted = _update(requester, labelling, status="submitted", answer={"boxes": [[1, 2, 3.5, 4]]})
    assert submitted.answer == {"boxes": [[1, 2, 3.5, 4]]}
    assert datasets.accept_task(requester.id, labelling.id).status == "accepted"
    after = {t.id: t for t in _tasks(requester, qa.dataset_id)}
    assert after[qa.id].status == "pending"
    assert after[_find(tasks, "QA", file="f2.jpg", object="car").id].status == "blocked"


@pytest.mark.parametrize("state", ["pending", "in_progress", "blocked"])
def test_only_a_submitted_task_can_be_accepted_or_rejected(requester, state):
    tasks = _tasks(requester, _create(requester).id)
    task = _find(tasks, "QA" if state == "blocked" else "Labelling", file="f1.jpg", object="car")
    if state == "in_progress":
        _update(requester, task, status="in_progress")
    with pytest.raises(errors.Conflict) as caught:
        datasets.accept_task(requester.id, task.id)
    assert f"is {state}" in caught.value.description
    with pytest.raises(errors.Conflict):
        datasets.reject_task(requester.id, task.id, None)


def test_accepting_twice_is_refused_naming_the_state(requester):
    task = _find(_tasks(requester, _create(requester).id), file="f1.jpg", object="car")
    _update(requester, task, status="submitted")
    datasets.accept_task(requester.id, task.id)
    with pytest.raises(errors.Conflict, match="is accepted"):
        datasets.accept_task(requester.id, task.id)
    with pytest.raises(errors.Conflict):
        _update(requester, task, answer="changed")


def test_reject_sends_the_task_back_to_its_assignee(requester):
    task = _find(_tasks(requester, _create(requester).id), dataset_attribute="city")
    _update(requester, task, assignee="ann@example.com", status="submitted", answer="Paris")
    rejected = datasets.reject_task(requester.id, task.id, "it is Lyon")
    assert (rejected.status, rejected.assignee, rejected.rejection_reason) == (
        "rejected",
        "ann@example.com",
        "it is Lyon",
    )
    assert _update(requester, task, status="in_progress").status == "in_progress"
    assert _update(requester, task, status="submitted", answer="Lyon").status == "submitted"
    assert datasets.accept_task(requester.id, task.id).answer == "Lyon"


def test_statuses_that_have_their_own_routes_cannot_be_set():
    for status in ("accepted", "rejected", "blocked", "retired"):
        with pytest.raises(ValueError):
            TaskUpdateIn.model_validate({"status": status})


def test_update_changes_only_what_is_sent(requester):
    task = _find(_tasks(requester, _create(requester).id), file="f1.jpg", object="car")
    _update(requester, task, assignee="ann@example.com", due_date="2026-03-15T12:00:00Z", answer=[1])
    kept = _update(requester, task, status="in_progress")
    assert (kept.assignee, kept.due_date, kept.answer) == ("ann@example.com", "2026-03-15T12:00:00Z", [1])
    cleared = _update(requester, task, assignee=None, due_date=None)
    assert (cleared.assignee, cleared.due_date) == (None, None)


@pytest.mark.parametrize("task_id", ["nope", "01ARZ3NDEKTSV4RRFFQ69G5FAV-0123456789abcdef", ""])
def test_unknown_tasks_are_not_found(requester, task_id):
    with pytest.raises(errors.NotFound):
        datasets.accept_task(requester.id, task_id)


# ---------------------------------------------------------------- per client
def test_a_users_tasks_split_into_file_and_label_tasks(requester):
    tasks = _tasks(requester, _create(requester).id)
    for task in (_find(tasks, file="f1.jpg", object="car"), _find(tasks, dataset_attribute="city")):
        _update(requester, task, assignee="ann@example.com")
    _update(requester, _find(tasks, file="f2.jpg", object="car"), assignee="bob@example.com")
    mine = datasets.user_tasks(requester.id, _client(requester), "ANN@example.com")
    assert [(t.file, t.object) for t in mine.file_tasks] == [("f1.jpg", "car")]
    assert [t.dataset_attribute for t in mine.label_tasks] == ["city"]
    assert datasets.user_tasks(requester.id, _client(requester), "nobody@example.com").file_tasks == []


def test_delayed_tasks_are_past_due_and_not_accepted(requester, frozen_clock):
    tasks = _tasks(requester, _create(requester).id)
    late, done, later = (
        _find(tasks, file="f1.jpg", object="car"),
        _find(tasks, file="f1.jpg", object="person"),
        _find(tasks, file="f2.jpg", object="car"),
    )
    _update(requester, late, due_date="2026-03-14T01:00:00Z")
    _update(requester, done, due_date="2026-03-14T02:00:00Z", status="submitted")
    datasets.accept_task(requester.id, done.id)
    _update(requester, later, due_date="2026-03-15T00:00:00Z")
    found = datasets.delayed_tasks(requester.id, _client(requester)).delayed_tasks
    assert [(t.id, t.delayed_by_seconds) for t in found] == [(late.id, 2 * 3600 + 14 * 60 + 15)]
    frozen_clock.advance(days=1)
    assert [t.id for t in datasets.delayed_tasks(requester.id, _client(requester)).delayed_tasks] == [
        late.id,
        later.id,
    ]


def test_another_clients_data_is_not_found(requester):
    dataset = _create(requester)
    task = _tasks(requester, dataset.id)[0]
    stranger = make_account()
    with pytest.raises(errors.NotFound):
        datasets.user_tasks(requester.id, _client(stranger), "ann@example.com")
    with pytest.raises(errors.NotFound):
        datasets.delayed_tasks(stranger.id, _client(requester))
    with pytest.raises(errors.NotFound):
        datasets.get_dataset(stranger.id, dataset.id)
    with pytest.raises(errors.NotFound):
        datasets.list_dataset_tasks(stranger.id, dataset.id, limit=10, after=None)
    with pytest.raises(errors.NotFound):
        datasets.accept_task(stranger.id, task.id)
    with pytest.raises(errors.NotFound):
        datasets.update_files(stranger.id, dataset.id, ["x"])


# ---------------------------------------------------------------- re-sync
def test_file_tasks_follow_the_files_keeping_what_is_done(requester):
    dataset = _create(requester)
    tasks = _tasks(requester, dataset.id)
    done = _find(tasks, file="f2.jpg", object="car")
    _update(requester, done, status="submitted")
    datasets.accept_task(requester.id, done.id)
    # When f2 is replaced by f3
    datasets.update_files(requester.id, dataset.id, ["f1.jpg", "f3.jpg"])
    after = _tasks(requester, dataset.id)
    by_file = Counter((t.file, t.status) for t in after)
    assert by_file[("f3.jpg", "pending")] == 3 and by_file[("f3.jpg", "blocked")] == 3
    assert by_file[("f2.jpg", "retired")] == 5  # all of f2's tasks retire except the accepted one
    assert _find(after, file="f2.jpg", object="car").status == "accepted"
    assert _find(after, "QA", file="f2.jpg", object="car").status == "retired"
    assert datasets.get_dataset(requester.id, dataset.id).task_count == 14 + 1
    # And putting f2 back revives its tasks instead of duplicating them
    datasets.update_files(requester.id, dataset.id, ["f1.jpg", "f2.jpg", "f3.jpg"])
    again = _tasks(requester, dataset.id)
    assert len(again) == 20
    assert _find(again, "QA", file="f2.jpg", object="car").status == "pending"  # its Labelling is accepted
    assert Counter(t.status for t in again)["retired"] == 0


def test_label_tasks_follow_the_labels(requester):
    dataset = _create(requester, "sequence")
    datasets.update_labels(
        requester.id,
        dataset.id,
        LabelsIn.model_validate({"objects": ["car", "bicycle"], "dataset_attributes": []}),
    )
    after = [t for t in _tasks(requester, dataset.id) if t.status != "retired"]
    assert {(t.stage, t.object or t.frame_attribute or t.dataset_attribute) for t in after} == {
        (stage, label) for stage in ("Labelling", "QA") for label in ("car", "bicycle", "weather")
    }
    assert datasets.get_dataset(requester.id, dataset.id).objects == ["car", "bicycle"]


def test_a_resync_without_changes_repairs_missing_tasks(requester):
    from crowdtask.store import dynamo, keys

    dataset = _create(requester)
    lost = _tasks(requester, dataset.id)[0]
    dynamo.delete(*keys.dataset_task(requester.id, dataset.id, lost.id))
    datasets.update_files(requester.id, dataset.id, None)
    assert lost.id in {t.id for t in _tasks(requester, dataset.id)}


def test_a_resync_unblocks_what_waits_on_an_accepted_task(requester, monkeypatch):
    """Accept and re-sync each check the other's write, so a crash between steps heals on re-sync."""
    from crowdtask.store import datasets as store

    tasks = _tasks(requester, _create(requester).id)
    labelling, qa = _find(tasks, dataset_attribute="city"), _find(tasks, "QA", dataset_attribute="city")
    _update(requester, labelling, status="submitted")
    with monkeypatch.context() as patched:
        patched.setattr(datasets, "_unblock", lambda *args: None)  # the accept's second step is lost
        datasets.accept_task(requester.id, labelling.id)
    assert store.get_task(requester.id, qa.dataset_id, qa.id)["status"] == "blocked"
    datasets.update_labels(requester.id, qa.dataset_id, None)
    assert store.get_task(requester.id, qa.dataset_id, qa.id)["status"] == "pending"


def test_review_steps_are_published_on_the_bus(requester):
    from tests.support.eventbus import EventTap

    tap = EventTap()
    dataset = _create(requester)
    task = _find(_tasks(requester, dataset.id), dataset_attribute="city")
    _update(requester, task, status="submitted")
    datasets.reject_task(requester.id, task.id, "again")
    _update(requester, task, status="submitted")
    datasets.accept_task(requester.id, task.id)
    published = [(e["detail-type"], e["detail"]["data"].get("taskId")) for e in tap.drain()]
    assert published == [
        ("dataset.created", None),
        ("dataset_task.submitted", task.id),
        ("dataset_task.rejected", task.id),
        ("dataset_task.submitted", task.id),
        ("dataset_task.accepted", task.id),
    ]
