"""Workstreams, throughput records and their totals, on moto tables built from the template."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from crowdtask import credentials, errors
from crowdtask.models.throughput import ThroughputIn
from crowdtask.services import throughput, workstreams
from crowdtask.store import dynamo, keys
from tests.support.accounts import make_account
from tests.support.throughput import make_workstream, record_body


@pytest.fixture
def stream(requester):
    return make_workstream(requester.id)


def _receive(stream, **overrides):
    workstream = workstreams.authenticate_key(stream.id, stream.api_key)
    return throughput.receive(workstream, ThroughputIn.model_validate(record_body(stream, **overrides)))


def _totals(requester, stream, first=None, last=None, group_by=None):
    workstream = workstreams.owned_workstream(requester.id, stream.id)
    return throughput.totals(workstream, first, last, group_by)


# ---------------------------------------------------------------- workstreams and keys
def test_workstream_has_generated_ids_and_a_key_shown_once(requester, stream):
    shown = workstreams.get_workstream(requester.id, stream.id)
    assert shown.api_key is None
    assert [u.name for u in shown.use_cases] == ["Invoices", "Receipts"]
    assert shown.use_cases[0].id == stream.use_case_id
    assert shown.use_cases[0].task_definitions[0].id == stream.task_definition_id
    stored = dynamo.get(*keys.workstream(stream.id))
    assert stream.api_key not in str(stored)
    assert stored["api_key_hash"] == credentials.digest(stream.api_key)
    assert stream.api_key.startswith("cws_")


def test_another_accounts_workstream_is_not_found(stream):
    stranger = make_account()
    for call in (workstreams.get_workstream, workstreams.rotate_api_key, workstreams.owned_workstream):
        with pytest.raises(errors.NotFound):
            call(stranger.id, stream.id)


@pytest.mark.parametrize("key", [None, "", "   ", "not-the-key"])
def test_missing_or_wrong_key_is_unauthorized(stream, key):
    with pytest.raises(errors.Unauthorized):
        workstreams.authenticate_key(stream.id, key)


def test_a_key_of_another_workstream_is_unauthorized(requester, stream):
    other = make_workstream(requester.id, "Other")
    with pytest.raises(errors.Unauthorized):
        workstreams.authenticate_key(stream.id, other.api_key)
    with pytest.raises(errors.Unauthorized):
        workstreams.authenticate_key("01NOSUCHWORKSTREAM00000000", stream.api_key)


def test_rotation_replaces_the_key_at_once(requester, stream):
    rotated = workstreams.rotate_api_key(requester.id, stream.id)
    assert rotated.api_key and rotated.api_key != stream.api_key
    with pytest.raises(errors.Unauthorized):
        workstreams.authenticate_key(stream.id, stream.api_key)
    assert workstreams.authenticate_key(stream.id, rotated.api_key).id == stream.id


# ---------------------------------------------------------------- validation of a record
def _problems(body) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        ThroughputIn.model_validate(body)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


@pytest.mark.parametrize("value", ["yesterday", "22/12/2020 09:13", "2020-13-01T00:00:00Z", 1608628404, ""])
def test_timestamps_must_be_iso_8601(stream, value):
    assert "task_started_at" in _problems(record_body(stream, task_started_at=value))


def test_completed_before_started_is_refused(stream):
    problems = _problems(
        record_body(stream, task_started_at="2020-12-22T10:00:00Z", task_completed_at="2020-12-22T09:59:59Z")
    )
    assert "must not be before task_started_at" in problems["task_completed_at"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data_source", "email"),
        ("task_count", 0),
        ("task_count", -3),
        ("subtask_count", 0),
        ("duration", -1),
        ("measures", {"a": 1, "b": 2, "c": 3, "d": 4}),
        ("measures", {"bad name!": 1}),
        ("measures", {"boxes": -1}),
        ("worker_id", ""),
        ("replace", "sometimes"),
    ],
)
def test_every_field_is_validated(stream, field, value):
    assert any(loc.startswith(field) for loc in _problems(record_body(stream, **{field: value})))


@pytest.mark.parametrize("field", ["worker_id", "use_case_id", "task_definition_id", "task_started_at"])
def test_required_fields(stream, field):
    body = record_body(stream)
    del body[field]
    assert field in _problems(body)


def test_unknown_fields_are_refused(stream):
    assert "task_cout" in _problems(record_body(stream, task_cout=3))


def test_ids_may_arrive_as_numbers(stream):
    data = ThroughputIn.model_validate(record_body(stream, unique_id=12345, task_id=7))
    assert (data.unique_id, data.task_id) == ("12345", "7")


def test_foreign_use_case_is_refused_naming_the_field(stream):
    with pytest.raises(errors.ValidationFailed) as caught:
        _receive(stream, use_case_id="01FOREIGN00000000000000000")
    assert caught.value.errors[0]["field"] == "use_case_id"


def test_task_definition_of_another_use_case_is_refused(stream):
    with pytest.raises(errors.ValidationFailed) as caught:
        _receive(stream, task_definition_id=stream.other_task_definition_id)
    assert caught.value.errors[0]["field"] == "task_definition_id"


def test_ids_of_another_workstream_are_refused(requester, stream):
    other = make_workstream(requester.id, "Other")
    with pytest.raises(errors.ValidationFailed):
        _receive(stream, use_case_id=other.use_case_id, task_definition_id=other.task_definition_id)


# ---------------------------------------------------------------- storing and totals
def test_duration_is_computed_and_task_count_defaults_to_one(requester, stream):
    assert _receive(stream) == "created"
    totals = _totals(requester, stream).totals
    assert (totals.record_count, totals.task_count, totals.subtask_count) == (1, 1, 0)
    assert totals.duration == 3600


def test_duration_is_exact_to_the_millisecond(requester, stream):
    _receive(stream, task_started_at="2020-12-22T10:00:00.001Z", task_completed_at="2020-12-22T10:00:00.128Z")
    _receive(stream, task_started_at="2020-12-22T10:00:00Z", task_completed_at="2020-12-22T10:00:00.3Z")
    assert _totals(requester, stream).totals.duration == 0.427


def test_given_duration_wins_and_timestamps_are_stored_in_utc(requester, stream):
    _receive(
        stream,
        duration=12.5,
        unique_id="u1",
        task_started_at="2020-12-22T11:13:24.127+02:00",
        task_completed_at="2020-12-22T12:13:24.127+02:00",
        task_parameters={"dataset_id": "6c24f094dfcf", "parent_asset_id": 17, "batch": "b-1"},
    )
    assert _totals(requester, stream).totals.duration == 12.5
    digest = throughput.identity_digest(
        stream.id, ThroughputIn.model_validate(record_body(stream, unique_id="u1"))
    )
    record = dynamo.get(*keys.throughput_record(stream.id, digest))
    assert record["task_started_at"] == "2020-12-22T09:13:24.127Z"
    assert record["data_source"] == "api"
    assert record["task_parameters"] == {
        "dataset_id": "6c24f094dfcf",
        "parent_asset_id": "17",
        "batch": "b-1",
    }


def test_repeat_without_replace_is_ignored(requester, stream):
    assert _receive(stream, unique_id="abc", task_count=3) == "created"
    assert _receive(stream, unique_id="abc", task_count=50) == "ignored"
    totals = _totals(requester, stream).totals
    assert (totals.record_count, totals.task_count) == (1, 3)


def test_unique_id_is_per_use_case_and_task_definition(requester, stream):
    _receive(stream, unique_id="abc")
    outcome = _receive(
        stream,
        unique_id="abc",
        use_case_id=stream.other_use_case_id,
        task_definition_id=stream.other_task_definition_id,
    )
    assert outcome == "created"
    assert _totals(requester, stream).totals.record_count == 2


def test_records_without_unique_id_are_all_kept(requester, stream):
    assert [_receive(stream) for _ in range(3)] == ["created"] * 3
    assert _totals(requester, stream).totals.task_count == 3


def test_replace_replaces_and_totals_reflect_only_the_new_values(requester, stream):
    _receive(stream, unique_id="abc", task_count=3, subtask_count=9, measures={"boxes": 10, "pages": 2})
    assert (
        _receive(stream, unique_id="abc", task_count=5, subtask_count=1, measures={"boxes": 4}, replace=True)
        == "replaced"
    )
    totals = _totals(requester, stream).totals
    assert (totals.record_count, totals.task_count, totals.subtask_count) == (1, 5, 1)
    assert totals.measures == {"boxes": 4}


def test_replace_without_an_earlier_record_creates_it(requester, stream):
    assert _receive(stream, unique_id="new", replace=True) == "created"
    assert _totals(requester, stream).totals.record_count == 1


def test_replace_moving_worker_and_day_moves_the_totals(requester, stream):
    _receive(stream, unique_id="m", worker_id="ann")
    _receive(
        stream,
        unique_id="m",
        worker_id="bob",
        task_started_at="2020-12-23T09:00:00Z",
        task_completed_at="2020-12-23T09:30:00Z",
        replace=True,
    )
    by_worker = _totals(requester, stream, group_by="worker").groups
    assert [(g.key, g.record_count, g.duration) for g in by_worker] == [("bob", 1, 1800)]
    by_day = _totals(requester, stream, group_by="day").groups
    assert [(g.key, g.record_count) for g in by_day] == [("2020-12-23", 1)]


def test_replacement_conditions_on_the_version_it_read(requester, stream, monkeypatch):
    """A replacing write that loses the race re-reads the record: deltas never apply twice."""
    _receive(stream, unique_id="race", task_count=1)
    from crowdtask.store import throughput as store

    real_get = store.get_record
    raced = {"done": False}

    def get_then_race(workstream_id, digest):
        found = real_get(workstream_id, digest)
        if not raced["done"]:
            raced["done"] = True  # another writer replaces the record between our read and our write
            _receive(stream, unique_id="race", task_count=7, replace=True)
        return found

    monkeypatch.setattr(store, "get_record", get_then_race)
    assert _receive(stream, unique_id="race", task_count=4, replace=True) == "replaced"
    totals = _totals(requester, stream).totals
    assert (totals.record_count, totals.task_count) == (1, 4)


def test_totals_come_from_the_aggregates_not_the_records(requester, stream):
    for n in range(3):
        _receive(stream, unique_id=f"r{n}", task_count=2)
    # Given the records themselves gone, the totals still answer: they never read records.
    for n in range(3):
        data = ThroughputIn.model_validate(record_body(stream, unique_id=f"r{n}"))
        dynamo.delete(*keys.throughput_record(stream.id, throughput.identity_digest(stream.id, data)))
    assert _totals(requester, stream).totals.task_count == 6


def _seed(stream):
    rows = [
        ("ann", stream.use_case_id, stream.task_definition_id, "2020-12-01", 2, {"boxes": 3}),
        ("ann", stream.other_use_case_id, stream.other_task_definition_id, "2020-12-02", 5, {"boxes": 1.5}),
        ("bob", stream.use_case_id, stream.task_definition_id, "2020-12-02", 1, None),
        ("bob", stream.use_case_id, stream.task_definition_id, "2020-12-03", 4, {"pages": 2}),
    ]
    for worker, use_case, definition, day, count, measures in rows:
        _receive(
            stream,
            worker_id=worker,
            use_case_id=use_case,
            task_definition_id=definition,
            task_started_at=f"{day}T08:00:00Z",
            task_completed_at=f"{day}T08:10:00Z",
            task_count=count,
            measures=measures,
        )


def test_totals_by_worker_in_a_range(requester, stream):
    _seed(stream)
    found = _totals(requester, stream, date(2020, 12, 2), date(2020, 12, 3), "worker")
    assert [(g.key, g.task_count, g.record_count, g.duration) for g in found.groups] == [
        ("ann", 5, 1, 600),
        ("bob", 5, 2, 1200),
    ]
    assert found.totals.task_count == 10 and found.totals.measures == {"boxes": 1.5, "pages": 2}


def test_totals_by_use_case_name_their_groups(requester, stream):
    _seed(stream)
    found = _totals(requester, stream, None, None, "use_case")
    assert [(g.key, g.name, g.task_count) for g in found.groups] == [
        (stream.use_case_id, "Invoices", 7),
        (stream.other_use_case_id, "Receipts", 5),
    ]


def test_totals_by_task_definition_from_a_day_on(requester, stream):
    _seed(stream)
    found = _totals(requester, stream, date(2020, 12, 3), None, "task_definition")
    assert [(g.key, g.name, g.use_case_id, g.task_count) for g in found.groups] == [
        (stream.task_definition_id, "Transcribe", stream.use_case_id, 4)
    ]


def test_totals_by_day_up_to_a_day(requester, stream):
    _seed(stream)
    found = _totals(requester, stream, None, date(2020, 12, 2), "day")
    assert [(g.key, g.task_count, g.measures) for g in found.groups] == [
        ("2020-12-01", 2, {"boxes": 3}),
        ("2020-12-02", 6, {"boxes": 1.5}),
    ]
    assert found.from_ is None and found.to == "2020-12-02"


def test_totals_of_an_empty_range(requester, stream):
    _seed(stream)
    found = _totals(requester, stream, date(2021, 1, 1), date(2021, 1, 31), "worker")
    assert found.groups == [] and found.totals.record_count == 0


def test_a_range_that_ends_before_it_starts_holds_nothing(requester, stream):
    """Given records on 2020-12-01..02, a range from 12-03 to 12-01 holds no day: zero totals, no 422."""
    _seed(stream)
    found = _totals(requester, stream, date(2020, 12, 3), date(2020, 12, 1), "day")
    assert found.totals.record_count == 0 and found.groups == []
    assert _totals(requester, stream, date(2020, 12, 1), date(2020, 12, 3)).totals.record_count > 0


def test_measure_arithmetic_is_exact(requester, stream):
    for value in ("0.1", "0.2", "0.3"):
        _receive(stream, measures={"km": Decimal(value)})
    assert _totals(requester, stream).totals.measures == {"km": 0.6}
