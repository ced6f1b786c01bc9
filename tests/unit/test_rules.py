"""The pure rules, as pure functions: no moto, no network, no table; inputs in, answers out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from crowdtask import errors

# The rules under test. They are about to move to other modules: this block is the one place to follow them.
from crowdtask.money import amount, usd
from crowdtask.services.lifecycle import allowed_actions, require
from crowdtask.services.market_terms import job_terms
from crowdtask.services.operations import status_of
from crowdtask.services.pricing import commission_of, cost, needed

PUBLISHED = datetime(2026, 3, 14, 3, 14, 15, tzinfo=UTC)
ACTIONS = ("publish", "pause", "continue", "cancel", "finish")
STATES = ("unpublished", "active", "paused", "finished", "cancelled")


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pure rule never calls AWS: any API call made during these tests fails them."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a pure rule called AWS")

    monkeypatch.setattr("botocore.client.BaseClient._make_api_call", refuse)


# ---------------------------------------------------------------- the campaign state machine
MOVES = {
    ("publish", "unpublished"): ("active", "campaign.published"),
    ("pause", "active"): ("paused", "campaign.paused"),
    ("continue", "paused"): ("active", "campaign.continued"),
    ("cancel", "active"): ("cancelled", "campaign.cancelled"),
    ("cancel", "paused"): ("cancelled", "campaign.cancelled"),
    ("finish", "active"): ("finished", "campaign.finished"),
    ("finish", "paused"): ("finished", "campaign.finished"),
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_require_allows_exactly_the_moves_of_the_state_machine(action, state):
    if (action, state) in MOVES:
        transition = require(action, state)
        assert (transition.target, transition.event) == MOVES[action, state]
        assert transition.action == action
    else:
        with pytest.raises(errors.Conflict) as refused:
            require(action, state)
        assert f"Cannot {action} a campaign that is {state};" in refused.value.description


def test_a_refusal_names_every_state_that_allows_the_action_in_order():
    with pytest.raises(errors.Conflict) as refused:
        require("cancel", "unpublished")
    assert refused.value.description == (
        "Cannot cancel a campaign that is unpublished; "
        "only a campaign that is active or paused can be cancelled."
    )
    with pytest.raises(errors.Conflict) as refused:
        require("continue", "finished")
    assert refused.value.description.endswith("only a campaign that is paused can be continued.")
    assert refused.value.status == 409


def test_an_unknown_action_is_a_programming_error_not_a_conflict():
    with pytest.raises(KeyError):
        require("archive", "unpublished")


@pytest.mark.parametrize(
    ("state", "actions"),
    [
        ("unpublished", ["publish"]),
        ("active", ["pause", "cancel"]),
        ("paused", ["continue", "cancel"]),
        ("finished", []),
        ("cancelled", []),
        ("no such state", []),
    ],
)
def test_allowed_actions_are_the_requesters_never_finish(state, actions):
    assert allowed_actions(state) == actions


# ---------------------------------------------------------------- money
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, "42.000000"),
        ("0.0000015", "0.000002"),  # half to even: up to 2
        ("0.0000025", "0.000002"),  # half to even: down to 2
        ("0.0000005", "0.000000"),
        ("0.00000051", "0.000001"),
        ("-0.0000015", "-0.000002"),
        (0.1, "0.100000"),  # the float's shortest text, not its binary value
        (Decimal("12.3456789"), "12.345679"),
        ("1e-7", "0.000000"),
    ],
)
def test_amounts_are_rounded_half_to_even_at_the_micro_dollar(value, expected):
    rounded = amount(value)
    assert rounded == Decimal(expected)
    assert rounded.as_tuple().exponent == -6


@pytest.mark.parametrize("value", ["lots", "", "Infinity", "-Infinity", "sNaN", "1e30"])
def test_what_is_not_an_amount_is_a_value_error_naming_it(value):
    with pytest.raises(ValueError, match=f"not an amount: {value!r}"):
        amount(value)


def test_nan_is_not_an_amount_either():
    # Infinity and sNaN are refused as "not an amount", but a quiet NaN comes back as Decimal('NaN'):
    # quantize() only signals on signalling NaNs. The request models refuse NaN before it gets here.
    with pytest.raises(ValueError, match="not an amount: 'NaN'"):
        amount("NaN")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (42, "42 USD"),
        (Decimal("42.000000"), "42 USD"),
        (Decimal("100"), "100 USD"),
        (Decimal("1E+2"), "100 USD"),
        (1_000_000, "1000000 USD"),
        (0, "0 USD"),
        (Decimal("0.000000"), "0 USD"),
        (0.5, "0.5 USD"),
        (Decimal("12.50"), "12.5 USD"),
        (0.002, "0.002 USD"),
        (1e-7, "0.0000001 USD"),  # shown as it is: usd() does not round
        (Decimal("-3.5"), "-3.5 USD"),
    ],
)
def test_usd_shows_the_number_without_trailing_zeros_or_exponent(value, shown):
    assert usd(value) == shown


# ---------------------------------------------------------------- commission and cost
@pytest.mark.parametrize(
    ("payment", "rate", "commission"),
    [
        ("0.5", "0.2", "0.1"),
        ("0.000007", "0.2", "0.000001"),  # 0.0000014: rounded down
        ("0.000009", "0.15", "0.000001"),  # 0.00000135: down, although nearer to 1 than 2 only by a bit
        ("0.000009", "0.2", "0.000001"),  # 0.0000018: down, not to the nearest
        ("0.01", "0", "0"),
        ("0", "0.2", "0"),
        ("3", "0.333333", "0.999999"),
    ],
)
def test_commission_is_rounded_down_to_the_micro_dollar(payment, rate, commission):
    assert commission_of(Decimal(payment), Decimal(rate)) == Decimal(commission)


@pytest.mark.parametrize(
    ("campaign", "results", "rate", "frozen"),
    [
        ({"workerPayment": Decimal("0.5")}, 6, Decimal("0.2"), "3.6"),
        ({"workerPayment": 0.1}, 3, Decimal("0.2"), "0.36"),  # a float payment, exactly
        ({"workerPayment": "0.05"}, 1, Decimal("0.2"), "0.06"),
        ({"workerPayment": Decimal("0.0000015")}, 1, Decimal("0"), "0.000002"),  # half to even, up
        ({"workerPayment": Decimal("0.0000025")}, 1, Decimal("0"), "0.000002"),  # half to even, down
        ({}, 10, Decimal("0.2"), "0"),  # no payment set: nothing to freeze
        ({"workerPayment": Decimal("60")}, 2, Decimal("0.2"), "144"),
        ({"workerPayment": Decimal("0.5")}, 0, Decimal("0.2"), "0"),
    ],
)
def test_cost_is_payment_times_results_plus_commission_rounded_once(campaign, results, rate, frozen):
    assert cost(campaign, results, rate) == Decimal(frozen)


@pytest.mark.parametrize("payment", ["0.000007", "0.000009", "0.01", "0.333333", "1.234567"])
@pytest.mark.parametrize("rate", ["0.15", "0.2", "0.25", "0.333333"])
@pytest.mark.parametrize("results", [1, 3, 7, 1000])
def test_what_results_are_paid_never_exceeds_what_was_frozen_for_them(payment, rate, results):
    # each approval pays the payment and its commission (rounded down); publishing froze the total once
    paid = results * (Decimal(payment) + commission_of(Decimal(payment), Decimal(rate)))
    assert paid <= cost({"workerPayment": Decimal(payment)}, results, Decimal(rate))


@pytest.mark.parametrize(
    ("content", "results"),
    [
        ({"overlap": 3}, 3),
        ({"overlap": 3, "process_count": 2}, 2),  # process_count narrows the overlap
        ({"overlap": 3, "process_count": 3}, 3),
        ({"overlap": 3, "process_count": 5}, 3),  # ... but never widens it
        ({"overlap": 3, "process_count": 0}, 3),  # 0: unlimited
        ({"overlap": 1, "process_count": 1}, 1),
        ({}, 1),  # no overlap: one result
        ({"overlap": None}, 1),
        ({"overlap": 0}, 1),
        ({"process_count": 4}, 1),
    ],
)
def test_a_pool_task_needs_its_overlap_narrowed_by_its_process_count(content, results):
    assert needed(content) == results


# ---------------------------------------------------------------- market terms of a job
CAMPAIGN = {"id": "C1", "results": 3, "workerPayment": Decimal("0.5"), "commission_rate": Decimal("0.2")}
JOB = {"id": "J1", "account_id": "A1", "task_ids": ["T1", "T2"], "name": "Rate"}


def _terms(tasks: list[dict[str, Any]], **campaign: Any) -> dict[str, Any]:
    return job_terms({**CAMPAIGN, **campaign}, JOB, tasks, PUBLISHED)


def test_a_job_without_task_rules_takes_the_campaigns_settings_and_the_defaults():
    assert _terms([{}, {}]) == {
        "account_id": "A1",
        "campaign_id": "C1",
        "job_id": "J1",
        "job_name": "Rate",
        "task_ids": ["T1", "T2"],
        "published_precise": "2026-03-14T03:14:15.000000Z",
        "publishedAt": "2026-03-14T03:14:15",
        "remaining": 3,
        "needed": 3,
        "points": 2,  # one per task
        "payment": Decimal("0.5"),
        "commission": Decimal("0.1"),
        "work_seconds": 3600,  # neither user_ttl nor maxWorkTime: an hour
        "upload_seconds": 0,
        "review_seconds": 3 * 86400,  # no maxReviewTime: three days
    }


def test_unset_campaign_fields_leave_no_key_and_set_ones_travel():
    terms = _terms(
        [{}],
        workerGroup="7",
        title="Rate pictures",
        description="d",
        terms="t",
        estDuration="10 sec",
        maxUploadTime="2 min",
        maxReviewTime="2 hours",
    )
    assert (terms["worker_group"], terms["title"], terms["campaign_description"]) == (
        "7",
        "Rate pictures",
        "d",
    )
    assert (terms["terms"], terms["est_duration"]) == ("t", "10 sec")
    assert (terms["upload_seconds"], terms["review_seconds"]) == (120, 7200)
    assert not {"max_per_worker", "expires_at", "region_lat", "repeat", "job_description"} & set(_terms([{}]))


@pytest.mark.parametrize(
    ("process_counts", "results", "expected"),
    [
        ([2, 0], 5, 2),
        ([4, 2, 3], 5, 2),  # the smallest
        ([9], 3, 3),  # never more than the campaign wants
        ([3], 3, 3),
        ([0, 0], 4, 4),  # 0: no limit
        ([1], 1, 1),
    ],
)
def test_process_count_narrows_the_results_needed(process_counts, results, expected):
    terms = _terms([{"process_count": n} for n in process_counts], results=results)
    assert terms["needed"] == terms["remaining"] == expected


@pytest.mark.parametrize(
    ("tasks", "max_results", "expected"),
    [
        ([{}], None, None),
        ([{}], 3, 3),
        ([{"user_multi_process": True}], 3, 3),
        ([{}, {"user_multi_process": False}], 3, 1),  # one task forbids it: one per worker for the job
        ([{"user_multi_process": False}], None, 1),
    ],
)
def test_user_multi_process_false_allows_one_result_per_worker(tasks, max_results, expected):
    campaign = {} if max_results is None else {"maxResultsPerWorker": max_results}
    assert _terms(tasks, **campaign).get("max_per_worker") == expected


@pytest.mark.parametrize(
    ("user_ttls", "max_work_time", "seconds"),
    [
        ([90, 0], "10 min", 90),  # the smallest user_ttl wins over maxWorkTime
        ([120, 90], None, 90),
        ([7200], "10 min", 7200),  # ... even when it is longer
        ([0, 0], "10 min", 600),  # no user_ttl: maxWorkTime
        ([0], None, 3600),  # neither: an hour
        ([1], None, 1),
    ],
)
def test_work_time_is_the_smallest_user_ttl_else_max_work_time_else_an_hour(
    user_ttls, max_work_time, seconds
):
    campaign = {"maxWorkTime": max_work_time} if max_work_time else {}
    assert _terms([{"user_ttl": n} for n in user_ttls], **campaign)["work_seconds"] == seconds


@pytest.mark.parametrize(
    ("task_ttls", "expires_at"),
    [
        ([30, 0], "2026-03-14T03:44:15"),  # minutes after publishing, the smallest one
        ([45, 30, 60], "2026-03-14T03:44:15"),
        ([1], "2026-03-14T03:15:15"),
        ([24 * 60], "2026-03-15T03:14:15"),
        ([0, 0], None),  # 0: never
    ],
)
def test_task_ttl_sets_when_the_job_expires(task_ttls, expires_at):
    assert _terms([{"task_ttl": n} for n in task_ttls]).get("expires_at") == expires_at


def test_times_are_written_in_utc_whatever_the_zone_of_publication():
    in_berlin = PUBLISHED.astimezone(timezone(timedelta(hours=1)))
    terms = job_terms(CAMPAIGN, JOB, [{"task_ttl": 30}], in_berlin)
    assert (terms["publishedAt"], terms["expires_at"]) == ("2026-03-14T03:14:15", "2026-03-14T03:44:15")
    assert terms["published_precise"] == "2026-03-14T03:14:15.000000Z"


def test_the_first_region_based_task_gives_the_region():
    tasks = [
        {"region_based": False, "lat": 1, "lng": 1, "radius": 10},
        {"region_based": True, "lat": 52.52, "lng": 13.405, "radius": 2000},
        {"region_based": True, "lat": 40.7, "lng": -74.0, "radius": 300},
    ]
    terms = _terms(tasks)
    assert (terms["region_lat"], terms["region_lng"], terms["region_radius"]) == (
        Decimal("52.52"),
        Decimal("13.405"),
        Decimal("2000"),
    )
    bare = _terms([{"region_based": True}])
    assert (bare["region_lat"], bare["region_lng"], bare["region_radius"]) == (0, 0, 300)  # the defaults
    assert "region_lat" not in _terms([{"region_based": False, "lat": 5}])


@pytest.mark.parametrize(
    ("task", "repeat", "after"),
    [
        ({"repeat": "after_completion", "repeat_schedule": "after_completion:60"}, "after_completion:60", 60),
        ({"repeat": "after_completion"}, "after_completion", 0),
        ({"repeat": "daily"}, "daily", None),  # a calendar repeat: no seconds after completion
        ({"repeat": "weekly", "repeat_schedule": "weekly:mon; fri"}, "weekly:mon;fri", None),
        ({"repeat": None, "repeat_schedule": None}, None, None),
    ],
)
def test_the_first_repeating_task_gives_the_repeat(task, repeat, after):
    terms = _terms([{}, task, {"repeat": "yearly"}] if repeat else [task])
    assert (terms.get("repeat"), terms.get("repeat_after")) == (repeat, after)


def test_points_add_up_payment_is_rounded_like_an_amount_and_defaults_are_nothing():
    assert _terms([{"points": 3}, {"points": 4}, {"points": 0}])["points"] == 7
    terms = _terms([{}], workerPayment="0.0000015", commission_rate="0.5")
    assert (terms["payment"], terms["commission"]) == (Decimal("0.000002"), Decimal("0.000001"))
    bare = job_terms({"id": "C1"}, JOB, [{}], PUBLISHED)  # no payment, rate or results stored
    assert (bare["payment"], bare["commission"], bare["needed"]) == (Decimal(0), Decimal(0), 1)


# ---------------------------------------------------------------- a bulk operation's status
SUBMITTED = "2026-03-14T03:14:15.000000+00:00"


def _operation(**fields: Any) -> dict[str, Any]:
    return {"submitted_precise": SUBMITTED, **fields}


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"final_status": "SUCCESS"}, "SUCCESS"),
        ({"final_status": "FAIL", "chunks_done": 3}, "FAIL"),
        ({}, "PENDING"),
        ({"chunks_done": 0}, "PENDING"),
        ({"chunks_done": 1}, "RUNNING"),
        ({"chunks_done": Decimal(2)}, "RUNNING"),  # as the table gives numbers back
    ],
)
def test_a_queued_operation_is_pending_until_a_chunk_is_counted(frozen_clock, fields, status):
    frozen_clock.advance(hours=1)  # long past the queueing grace: age never fails a queued operation
    assert status_of(_operation(queued_at="2026-03-14T03:14:16", **fields)) == status


def test_an_operation_never_queued_fails_after_five_minutes_not_at_five(frozen_clock):
    item = _operation()
    assert status_of(item) == "PENDING"
    frozen_clock.advance(minutes=5)
    assert status_of(item) == "PENDING"
    frozen_clock.advance(microseconds=1)
    assert status_of(item) == "FAIL"
    assert status_of({**item, "final_status": "SUCCESS"}) == "SUCCESS"  # a final status still wins
