"""Jobs: CRUD, ordered task lists, sizes, copy/archive (deep), isolation."""

from __future__ import annotations

import pytest

from crowdtask import errors
from crowdtask.models.jobs import JobIn
from crowdtask.models.listing import ListQuery
from crowdtask.services import jobs, tasks
from tests.support import builders
from tests.support.accounts import make_account


def test_job_sizes_add_up_its_tasks(requester):
    job_id = builders.job(requester.id, tasks=3)
    job = jobs.get_job(requester.id, job_id)
    assert (job.taskCount, job.resourcesSize, job.estimatedUploadSize) == (
        3,
        "2MB",
        "0KB",
    )  # 3 x 500 KB, rounded up
    assert (job.readOnly, job.archived) == (False, False)


def test_put_replaces_and_post_appends_keeping_order(requester):
    job_id = jobs.create_job(requester.id, JobIn(name="j")).id
    a, b, c = (builders.task(requester.id, n) for n in "abc")
    assert jobs.change_tasks(requester.id, job_id, [b, a], append=False) == [b, a]
    assert jobs.change_tasks(requester.id, job_id, [c], append=True) == [b, a, c]
    assert jobs.change_tasks(requester.id, job_id, [c, a], append=False) == [c, a]
    page, more = jobs.tasks_page(requester.id, job_id, 1, None)
    assert [t.id for t in page] == [c] and more
    page, more = jobs.tasks_page(requester.id, job_id, 1, c)
    assert [t.id for t in page] == [a] and not more


def test_repeated_unknown_foreign_and_archived_task_ids_are_named(requester):
    """A repeated id is a 422 (the document says unique), ids naming nothing a 404, archived a 409."""
    job_id = jobs.create_job(requester.id, JobIn(name="j")).id
    mine = builders.task(requester.id)
    archived = builders.task(requester.id)
    tasks.set_archived(requester.id, archived, True)
    foreign = builders.task(make_account().id)
    with pytest.raises(errors.ValidationFailed) as repeated:
        jobs.change_tasks(requester.id, job_id, [mine, "nope", foreign, archived, mine], append=False)
    assert [(e["field"], e["code"]) for e in repeated.value.errors] == [("[4]", "DUPLICATE")]
    with pytest.raises(errors.NotFound) as unknown:
        jobs.change_tasks(requester.id, job_id, [mine, "nope", foreign, archived], append=False)
    assert [(e["field"], e["code"]) for e in unknown.value.extra["errors"]] == [
        ("[1]", "NOT_FOUND"),
        ("[2]", "NOT_FOUND"),
    ]
    with pytest.raises(errors.Conflict) as frozen:
        jobs.change_tasks(requester.id, job_id, [mine, archived], append=False)
    assert [(e["field"], e["code"]) for e in frozen.value.extra["errors"]] == [("[1]", "ARCHIVED")]
    jobs.change_tasks(requester.id, job_id, [mine], append=False)
    with pytest.raises(errors.Conflict) as again:
        jobs.change_tasks(requester.id, job_id, [mine], append=True)
    assert again.value.extra["errors"][0]["code"] == "DUPLICATE"


def test_copy_shares_tasks_unless_deep(requester):
    job_id = builders.job(requester.id, tasks=2)
    original = jobs.tasks_page(requester.id, job_id, 10, None)[0]
    shallow = jobs.copy_job(requester.id, job_id, deep=False)
    deep = jobs.copy_job(requester.id, job_id, deep=True)
    assert [t.id for t in jobs.tasks_page(requester.id, shallow.id, 10, None)[0]] == [t.id for t in original]
    deep_tasks = jobs.tasks_page(requester.id, deep.id, 10, None)[0]
    assert {t.id for t in deep_tasks}.isdisjoint({t.id for t in original})
    assert [t.name for t in deep_tasks] == [t.name for t in original]
    assert len(tasks.list_tasks(requester.id, ListQuery(limit=100))[0]) == 4


def test_deep_archive_archives_the_tasks(requester):
    job_id = builders.job(requester.id, tasks=2)
    jobs.set_archived(requester.id, job_id, True, deep=True)
    assert all(t.archived for t in jobs.tasks_page(requester.id, job_id, 10, None)[0])
    jobs.set_archived(requester.id, job_id, False, deep=True)
    assert not any(t.archived for t in jobs.tasks_page(requester.id, job_id, 10, None)[0])
    shallow = builders.job(requester.id, tasks=1)
    jobs.set_archived(requester.id, shallow, True, deep=False)
    assert not jobs.tasks_page(requester.id, shallow, 10, None)[0][0].archived


def test_another_account_sees_no_job(requester):
    job_id = builders.job(requester.id)
    stranger = make_account()
    for action in (
        lambda: jobs.get_job(stranger.id, job_id),
        lambda: jobs.replace_job(stranger.id, job_id, JobIn(name="x")),
        lambda: jobs.copy_job(stranger.id, job_id, deep=True),
        lambda: jobs.set_archived(stranger.id, job_id, True),
        lambda: jobs.change_tasks(stranger.id, job_id, [], append=False),
        lambda: jobs.tasks_page(stranger.id, job_id, 10, None),
    ):
        with pytest.raises(errors.NotFound):
            action()
