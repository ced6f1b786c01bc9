"""Tasks: both input shapes, isolation, replace/copy/archive rules, sharded listing."""

from __future__ import annotations

import pytest

from crowdtask import errors
from crowdtask.models.listing import ListQuery
from crowdtask.models.tasks import TaskIn
from crowdtask.services import tasks
from crowdtask.store import dynamo
from crowdtask.store import tasks as task_store
from tests.support.accounts import make_account

SWARMS_TASK = {
    "name": "My first Task",
    "components": [
        {
            "type": "BinaryChoice",
            "sticky": False,
            "optionalResult": False,
            "landscape": True,
            "properties": {"key": "key", "value": "value"},
        },
        {"type": "Image", "url": "https://example.com/1.png"},
    ],
    "properties": {"key": "key", "value": "value"},
}
TASK_JSON = {
    "task": {
        "name": "This is the main title of the task",
        "show_name": False,
        "task_ttl": 60,
        "user_ttl": 30,
        "process_count": 3,
        "user_multi_process": False,
        "points": 5,
        "repeat": "weekly",
        "repeat_schedule": "weekly:mon;fri",
        "components_attributes": [
            {
                "component_type": "text_area",
                "label": "How?",
                "name": "feel",
                "required": "no",
                "extra": {"instructions": "", "character_limit": 140},
            }
        ],
    },
    "meta_data": [{"label": "source", "value": "crm"}],
}


def test_swarms_task_keeps_every_field_and_gets_derived_ones(requester):
    created = tasks.create_task(requester.id, TaskIn.model_validate(SWARMS_TASK))
    fetched = tasks.get_task(requester.id, created.id)
    assert fetched == created
    assert fetched.components[0]["properties"] == {"key": "key", "value": "value"}
    assert fetched.components[1]["url"] == "https://example.com/1.png"
    assert fetched.resourcesSize == "500KB"
    assert (fetched.readOnly, fetched.archived) == (False, False)
    assert fetched.createdAt == fetched.lastModifiedAt == "2026-03-14T03:14:15"


def test_task_json_envelope_is_the_same_model(requester):
    created = tasks.create_task(requester.id, TaskIn.model_validate(TASK_JSON))
    assert created.name == "This is the main title of the task"
    assert (created.task_ttl, created.user_ttl, created.process_count, created.points) == (60, 30, 3, 5)
    assert created.user_multi_process is False and created.show_name is False
    assert created.repeat_schedule == "weekly:mon;fri"
    assert created.components_attributes[0]["extra"]["character_limit"] == 140
    assert created.meta_data == [{"label": "source", "value": "crm"}]


@pytest.mark.parametrize(
    ("repeat", "schedule"),
    [
        ("daily", "weekly:mon"),
        (None, "daily"),
        ("weekly", "weekly:funday"),
        ("monthly", "monthly:32"),
        ("yearly", "yearly:13-01"),
        ("after_completion", "after_completion:soon"),
    ],
)
def test_bad_repeat_schedules_are_refused(repeat, schedule):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        TaskIn.model_validate({"name": "x", "repeat": repeat, "repeat_schedule": schedule})


def test_another_account_cannot_see_or_touch_a_task(requester):
    created = tasks.create_task(requester.id, TaskIn(name="mine"))
    stranger = make_account()
    for action in (
        lambda: tasks.get_task(stranger.id, created.id),
        lambda: tasks.replace_task(stranger.id, created.id, TaskIn(name="theirs")),
        lambda: tasks.copy_task(stranger.id, created.id),
        lambda: tasks.set_archived(stranger.id, created.id, True),
    ):
        with pytest.raises(errors.NotFound):
            action()
    assert tasks.list_tasks(stranger.id, ListQuery())[0] == []
    assert tasks.get_task(requester.id, created.id).name == "mine"


def test_replace_sets_the_whole_content_and_keeps_identity(requester, frozen_clock):
    created = tasks.create_task(requester.id, TaskIn.model_validate(TASK_JSON))
    frozen_clock.advance(minutes=5)
    replaced = tasks.replace_task(requester.id, created.id, TaskIn(name="renamed"))
    assert replaced.id == created.id and replaced.createdAt == created.createdAt
    assert replaced.lastModifiedAt == "2026-03-14T03:19:15"
    assert (replaced.name, replaced.points, replaced.meta_data, replaced.repeat) == ("renamed", 1, [], None)


def test_archived_and_read_only_tasks_cannot_be_replaced(requester):
    archived = tasks.create_task(requester.id, TaskIn(name="old"))
    tasks.set_archived(requester.id, archived.id, True)
    with pytest.raises(errors.Conflict, match="archived"):
        tasks.replace_task(requester.id, archived.id, TaskIn(name="new"))
    locked = tasks.create_task(requester.id, TaskIn(name="published"))
    task_store.TASKS.update(requester.id, locked.id, {"locked_by": {"01CAMPAIGN"}})
    with pytest.raises(errors.Conflict, match="read-only"):
        tasks.replace_task(requester.id, locked.id, TaskIn(name="new"))


def test_copy_is_a_new_live_task_with_the_same_content(requester):
    source = tasks.create_task(requester.id, TaskIn.model_validate(SWARMS_TASK))
    tasks.set_archived(requester.id, source.id, True)
    copy = tasks.copy_task(requester.id, source.id)
    assert copy.id != source.id and copy.archived is False
    assert copy.model_dump(include={"name", "components", "properties"}) == source.model_dump(
        include={"name", "components", "properties"}
    )


def test_archive_and_unarchive_are_idempotent(requester):
    created = tasks.create_task(requester.id, TaskIn(name="x"))
    assert tasks.set_archived(requester.id, created.id, True).archived is True
    assert tasks.set_archived(requester.id, created.id, True).archived is True
    assert tasks.set_archived(requester.id, created.id, False).archived is False


def _walk(account_id: str, **query) -> list[str]:
    """Every page forward from the start, returning names in order."""
    names, after = [], None
    while True:
        page_items, page = tasks.list_tasks(account_id, ListQuery(limit=4, after=after, **query))
        names += [t.name for t in page_items]
        if not page.has_more:
            return names
        after = page.last_key


def _walk_back(account_id: str, start_after: str | None, **query) -> list[str]:
    names, before = [], start_after
    while before is not None:
        page_items, page = tasks.list_tasks(account_id, ListQuery(limit=4, before=before, **query))
        names = [t.name for t in page_items] + names
        before = page.first_key if page.has_more else None
    return names


NAMES = [
    "delta",
    "Alpha",
    "charlie",
    "bravo one",
    "echo",
    "bravo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
]


def test_every_order_pages_through_all_items_once(requester, frozen_clock):
    created = []
    for name in NAMES:
        created.append(tasks.create_task(requester.id, TaskIn(name=name)))
        frozen_clock.advance(seconds=1)
    # touch "delta" last so lastModifiedAt order differs from creation order
    tasks.replace_task(requester.id, created[0].id, TaskIn(name="delta"))

    assert _walk(requester.id) == NAMES
    assert _walk(requester.id, order="createdAt") == NAMES
    assert _walk(requester.id, descending=True) == NAMES[::-1]
    by_name = sorted(NAMES, key=str.casefold)
    assert by_name[:3] == ["Alpha", "bravo", "bravo one"]
    assert _walk(requester.id, order="name") == by_name
    assert _walk(requester.id, order="name", descending=True) == by_name[::-1]
    assert _walk(requester.id, order="lastModifiedAt") == [*NAMES[1:], "delta"]


def test_paging_backwards_returns_the_previous_items(requester, frozen_clock):
    for name in NAMES:
        tasks.create_task(requester.id, TaskIn(name=name))
        frozen_clock.advance(seconds=1)
    items, page = tasks.list_tasks(requester.id, ListQuery(order="name", limit=100))
    last_key = page.last_key
    assert _walk_back(requester.id, last_key, order="name") == [t.name for t in items][:-1]


def test_pages_stay_stable_while_tasks_are_added(requester, frozen_clock):
    for name in NAMES[:6]:
        tasks.create_task(requester.id, TaskIn(name=name))
        frozen_clock.advance(seconds=1)
    first, page = tasks.list_tasks(requester.id, ListQuery(limit=3))
    tasks.create_task(requester.id, TaskIn(name="newcomer"))
    second, _ = tasks.list_tasks(requester.id, ListQuery(limit=3, after=page.last_key))
    assert [t.name for t in first + second] == NAMES[:6]


def test_search_matches_all_full_words_and_filters_archived(requester):
    for name in ["red apple", "green apple", "apples", "red car"]:
        tasks.create_task(requester.id, TaskIn(name=name))
    hits = lambda **q: sorted(t.name for t in tasks.list_tasks(requester.id, ListQuery(**q))[0])  # noqa: E731
    assert hits(search=frozenset({"apple"})) == ["green apple", "red apple"]
    assert hits(search=frozenset({"apple", "red"})) == ["red apple"]
    assert hits(search=frozenset({"app"})) == []
    red_car = next(t for t in tasks.list_tasks(requester.id, ListQuery())[0] if t.name == "red car")
    tasks.set_archived(requester.id, red_car.id, True)
    assert hits(search=frozenset({"red"}), equals={"archived": False}) == ["red apple"]
    assert hits(equals={"archived": True}) == ["red car"]


def test_search_pages_through_sparse_matches(requester):
    for n in range(30):
        tasks.create_task(requester.id, TaskIn(name=f"needle {n}" if n % 7 == 0 else f"hay {n}"))
    assert sorted(_walk(requester.id, search=frozenset({"needle"}))) == sorted(
        f"needle {n}" for n in (0, 7, 14, 21, 28)
    )


def test_tasks_spread_over_shards(requester):
    for n in range(40):
        tasks.create_task(requester.id, TaskIn(name=f"t{n}"))
    items = dynamo.client().scan(TableName=dynamo.table())["Items"]
    partitions = {i["pk"]["S"] for i in items if i.get("type", {}).get("S") == "task"}
    assert len(partitions) >= 10


@pytest.mark.parametrize("descending", [False, True])
def test_after_and_before_together_list_the_items_between_them(requester, frozen_clock, descending):
    for name in NAMES:
        tasks.create_task(requester.id, TaskIn(name=name))
        frozen_clock.advance(seconds=1)
    every, _ = tasks.list_tasks(requester.id, ListQuery(limit=100, descending=descending))
    # the cursor of each item: the last key of a page of one
    cursors = [tasks.list_tasks(requester.id, ListQuery(limit=1, descending=descending))[1].last_key]
    while len(cursors) < 7:
        page = tasks.list_tasks(requester.id, ListQuery(limit=1, descending=descending, after=cursors[-1]))[1]
        cursors.append(page.last_key)
    between, page = tasks.list_tasks(
        requester.id, ListQuery(limit=100, descending=descending, after=cursors[1], before=cursors[6])
    )
    assert [t.name for t in between] == [t.name for t in every][2:6]
    assert not page.has_more
