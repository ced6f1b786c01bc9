"""Abuse cases: each must be refused, at a bounded cost, before it does harm."""

from __future__ import annotations

import json
import tracemalloc
from decimal import Decimal
from typing import Any

import boto3
import pytest

from crowdtask import errors
from crowdtask.config import settings
from crowdtask.models.accounts import AccountCreateIn, ProfileUpdateIn
from crowdtask.models.campaigns import CampaignIn
from crowdtask.models.datasets import DatasetIn
from crowdtask.models.jobs import JobIn
from crowdtask.models.listing import ListQuery
from crowdtask.models.tasks import TaskIn
from crowdtask.services import (
    accounts,
    assignments,
    auth,
    campaigns,
    datasets,
    jobs,
    maintenance,
    market,
    tasks,
)
from crowdtask.services.bulk_items import BulkParams
from crowdtask.services.flows import publishing, uploading
from crowdtask.store import collections, dynamo
from tests.support.accounts import make_account
from tests.support.builders import campaign as make_campaign
from tests.support.handlers import invoke
from tests.support.infra import TABLE_NAMES


def _wrong(email: str, source: str = "10.0.0.1") -> type[errors.CrowdtaskError]:
    try:
        auth.request_token(email, "not the password", source)
    except errors.CrowdtaskError as refused:
        return type(refused)
    raise AssertionError("a wrong password was accepted")


# ---------------------------------------------------------------- 1. login lockout
def test_after_a_lock_one_more_failure_locks_again_at_once(aws, frozen_clock):
    account = make_account(password="correct horse battery")
    limit, lock = settings().login_max_failures, settings().login_lock_seconds
    assert [_wrong(account.email) for _ in range(limit)] == [errors.InvalidCredentials] * limit
    assert _wrong(account.email) is errors.TooManyRequests
    frozen_clock.advance(seconds=lock + 1)
    maintenance.sweep_expired()  # the sweep must not forget the count when the lock ends
    # one guess after the lock, and it fails: locked again, the right password is refused too
    assert _wrong(account.email) is errors.InvalidCredentials
    with pytest.raises(errors.TooManyRequests):
        auth.request_token(account.email, "correct horse battery", "10.0.0.1")


def test_the_attempt_that_reaches_the_limit_locks_before_its_password_is_checked(aws, frozen_clock):
    # Given every allowed attempt reserved and none of their passwords checked yet (argon2 is slow)
    account = make_account(password="correct horse battery")
    limit = settings().login_max_failures
    for _ in range(limit):
        auth._Attempt(account.email, "10.0.0.1").reserve()
    # When one more attempt arrives in parallel, Then it gets no guess: the lock is already there
    with pytest.raises(errors.TooManyRequests):
        auth._Attempt(account.email, "10.0.0.2").reserve()


def test_a_right_password_forgets_the_failures(aws, frozen_clock):
    account = make_account(password="correct horse battery")
    for _ in range(settings().login_max_failures - 1):
        _wrong(account.email)
    auth.request_token(account.email, "correct horse battery", "10.0.0.1")
    for _ in range(settings().login_max_failures):
        assert _wrong(account.email) is errors.InvalidCredentials


def test_one_source_cannot_spray_a_password_over_many_emails(aws, frozen_clock):
    limit = settings().login_source_max_failures
    emails = [f"victim-{n}@example.com" for n in range(limit + 1)]
    assert {_wrong(email, "203.0.113.7") for email in emails[:limit]} == {errors.InvalidCredentials}
    assert _wrong(emails[limit], "203.0.113.7") is errors.TooManyRequests
    # another address is not affected, and the window ends
    assert _wrong(emails[limit], "198.51.100.1") is errors.InvalidCredentials
    frozen_clock.advance(seconds=settings().login_source_window_seconds)
    assert _wrong(emails[0], "203.0.113.7") is errors.InvalidCredentials


def test_right_passwords_do_not_use_up_the_source(aws, frozen_clock):
    account = make_account(password="correct horse battery")
    for _ in range(settings().login_source_max_failures + 5):
        auth.request_token(account.email, "correct horse battery", "192.0.2.9")
    assert _wrong(account.email, "192.0.2.9") is errors.InvalidCredentials


# ---------------------------------------------------------------- 2. and 3. what workers receive, and who
def _pool(requester: str, tasks_: list[dict[str, Any]]) -> str:
    template = {
        "name": "Is it a cat?",
        "components": [{"type": "BinaryChoice", "option1": "Yes", "option2": "No"}],
    }
    pool = campaigns.create_campaign(
        requester,
        CampaignIn.model_validate(
            {"name": "pool", "workerPayment": Decimal("0.1"), "taskTemplate": template}
        ),
    ).id
    items = [{"pool_id": pool, "input_values": {}, "overlap": 1, **extra} for extra in tasks_]
    uploading.create_tasks_now(requester, items, BulkParams())
    publishing.publish(requester, pool)
    return pool


def test_workers_never_receive_control_answers_or_requester_data(aws, frozen_clock):
    requester, worker = make_account(balance=10), make_account("worker")
    secret = {"output_values": {"result": {"selectedOption": "Yes"}}, "correctness_weight": 1}
    _pool(
        requester.id,
        [{"known_solutions": [secret], "baseline_solutions": [secret], "reserved_for": [worker.id]}],
    )
    [job] = market.list_jobs(worker.id, 10, None, None)
    claimed = assignments.claim(worker.id, job.id, None, None, None)
    for shown in (claimed, assignments.get_assignment(worker.id, claimed.id)):
        [task] = json.loads(shown.model_dump_json(exclude_none=True))["tasks"]
        assert set(task) <= {
            "id",
            "name",
            "show_name",
            "details",
            "components",
            "components_attributes",
            "points",
        } | {"region_based"}
        assert "Yes" not in json.dumps(task["components"][0].get("result", ""))
        assert "known_solutions" not in json.dumps(shown.model_dump())


def test_reserved_and_unavailable_workers_are_enforced_in_listing_and_claim(aws, frozen_clock):
    requester = make_account(balance=10)
    allowed, other, excluded = make_account("worker"), make_account("worker"), make_account("worker")
    _pool(requester.id, [{"reserved_for": [allowed.id, excluded.id], "unavailable_for": [excluded.id]}])
    [job] = market.list_jobs(allowed.id, 10, None, None)
    for outsider in (other, excluded):
        assert market.list_jobs(outsider.id, 10, None, None) == []
        with pytest.raises(errors.Forbidden, match="offered to other workers"):
            assignments.claim(outsider.id, job.id, None, None, None)
    assert assignments.claim(allowed.id, job.id, None, None, None).job == job.id


# ---------------------------------------------------------------- 4. dataset generation
def _bounded(call: Any, megabytes: int) -> Any:
    tracemalloc.start()
    try:
        outcome = call()
    except errors.CrowdtaskError as refused:
        outcome = refused
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < megabytes * 1024 * 1024, f"{peak / 1e6:.1f} MB"
    return outcome


def test_a_dataset_of_millions_of_tasks_is_refused_before_any_is_made(aws, frozen_clock):
    owner = make_account()
    body = DatasetIn.model_validate(
        {
            "name": "huge",
            "type": "single_frame",
            "stages": [f"stage {n}" for n in range(10)],
            "files": [f"https://example.com/{n}.png" for n in range(10_000)],
            "objects": [f"object{n}" for n in range(500)],
        }
    )
    refused = _bounded(lambda: datasets.create_dataset(owner.id, body), megabytes=20)
    assert isinstance(refused, errors.ValidationFailed)
    assert "50000000 tasks" in refused.description
    small = datasets.create_dataset(
        owner.id,
        DatasetIn.model_validate(
            {**body.model_dump(), "files": ["https://example.com/1.png"], "objects": ["cat"]}
        ),
    )
    refused = _bounded(
        lambda: datasets.update_files(
            owner.id, small.id, [f"https://example.com/{n}.png" for n in range(20_000)]
        ),
        megabytes=20,
    )
    assert isinstance(refused, errors.ValidationFailed)


# ---------------------------------------------------------------- 5. template amplification
def test_a_template_is_bounded_when_saved(aws, frozen_clock):
    many = {"name": "t", "components": [{"type": "Text", "text": "{{a}} " * 1001}]}
    big = {"name": "t", "components": [{"type": "Text", "text": "x" * 100_001}]}
    for template, message in ((many, "placeholders"), (big, "bytes")):
        with pytest.raises(ValueError, match=message):
            CampaignIn.model_validate({"name": "c", "workerPayment": 1, "taskTemplate": template})


def test_a_pool_task_that_would_grow_past_the_limit_is_refused_before_it_is_rendered(aws, frozen_clock):
    requester = make_account(balance=10)
    template = {"name": "t", "components": [{"type": "Text", "text": "{{a}}" * 1000}]}
    pool = campaigns.create_campaign(
        requester.id, CampaignIn.model_validate({"name": "c", "workerPayment": 1, "taskTemplate": template})
    ).id
    item = {"pool_id": pool, "input_values": {"a": "y" * 150_000}, "overlap": 1}
    refused = _bounded(lambda: uploading.create_tasks_now(requester.id, [item], BulkParams()), megabytes=40)
    assert isinstance(refused, errors.ValidationFailed)
    assert refused.validation_errors["0"]["task"]["code"] == "TOO_LONG"  # type: ignore[attr-defined]


# ---------------------------------------------------------------- 6. filtered lists read a bounded amount
def test_a_filtered_list_reads_a_bounded_amount_and_hands_back_a_cursor(aws, frozen_clock, monkeypatch):
    owner = make_account()
    matches = set()
    # Four needles in 144 tasks: a page's budget (48 reads) runs out before it finds two needles,
    # whatever shards the random ids fall in (with 48 tasks, it sometimes read them all at once).
    for n in range(144):
        name = f"needle {n}" if n % 36 == 5 else f"hay {n}"
        found = tasks.create_task(owner.id, TaskIn.model_validate({"name": name}))
        if name.startswith("needle"):
            matches.add(found.id)
    monkeypatch.setattr(collections, "READ_BUDGET", 48)  # 3 items per shard of 16
    reads = []
    monkeypatch.setattr(dynamo, "query", _counting(dynamo.query, reads))
    seen, pages, short_pages, after = [], 0, 0, None
    while True:
        page = tasks.list_tasks(owner.id, ListQuery(limit=2, after=after, search=frozenset({"needle"})))[1]
        pages += 1
        seen += [item["id"] for item in page.items]
        short_pages += page.has_more and len(page.items) < 2
        if not page.has_more:
            break
        after = page.last_key
        assert pages < 60
    assert sorted(seen) == sorted(matches) and len(seen) == len(set(seen))
    assert short_pages >= 1
    assert max(reads) <= 100  # no single read asks for more than the budget allows per page


def _counting(query: Any, reads: list[int]) -> Any:
    def counted(**kwargs: Any) -> Any:
        reads.append(kwargs.get("limit") or 0)
        return query(**kwargs)

    return counted


# ---------------------------------------------------------------- 7. copies count against the task quota
def test_copies_count_against_the_task_quota(aws, frozen_clock):
    owner = accounts.create_account(
        AccountCreateIn(
            email="quota@example.com",
            password="correct horse",
            role="requester",
            balance=10,
            taskQuotaPerMinute=5,
        )
    )
    campaign_id = make_campaign(owner.id, jobs=2)  # two jobs of two tasks (made directly, not counted)
    campaigns.copy_campaign(owner.id, campaign_id, deep=True)  # four tasks: 1 of the 5 left
    with pytest.raises(errors.TooManyRequests):
        campaigns.copy_campaign(owner.id, campaign_id, deep=True)
    first_job = campaigns.jobs_page(owner.id, campaign_id, 1, None)[0][0]
    with pytest.raises(errors.TooManyRequests):
        jobs.copy_job(owner.id, first_job.id, deep=True)  # two tasks: more than the one left
    task_id = tasks.list_tasks(owner.id, ListQuery(limit=1))[0][0].id
    tasks.copy_task(owner.id, task_id)  # the last one
    with pytest.raises(errors.TooManyRequests):
        tasks.copy_task(owner.id, task_id)


# ---------------------------------------------------------------- 8. requester HTML and URLs
def test_requester_html_is_sanitised_when_saved(aws, frozen_clock):
    owner = make_account()
    body = {
        "name": "html",
        "details": '<b>Look</b><script>alert(1)</script><img src="javascript:alert(2)" onerror="x()">',
        "components": [
            {"type": "Text", "style": "Html", "text": '<a href="javascript:alert(3)">x</a><i>ok</i>'}
        ],
    }
    saved = tasks.get_task(owner.id, tasks.create_task(owner.id, TaskIn.model_validate(body)).id)
    assert "<b>Look</b>" in (saved.details or "") and "<i>ok</i>" in saved.components[0]["text"]
    for html in (saved.details or "", saved.components[0]["text"]):
        assert "script" not in html and "javascript" not in html and "onerror" not in html


@pytest.mark.parametrize(
    "url", ["java\tscript:alert(1)", "javascript:alert(1)", "data:text/html,x", "https://a.b/\x00"]
)
@pytest.mark.parametrize(
    "component",
    [
        lambda url: {"type": "Image", "url": url},
        lambda url: {"type": "Audio", "url": url},
        lambda url: {"type": "Video", "url": url},
        lambda url: {"type": "ImageMarker", "url": url},
        lambda url: {"type": "BinaryImageChoice", "option1": {"id": "a", "url": url}, "option2": {"id": "b"}},
    ],
)
def test_media_urls_must_be_http(url, component):
    with pytest.raises(ValueError, match="http"):
        TaskIn.model_validate({"name": "t", "components": [component(url)]})


@pytest.mark.parametrize(
    "value", ["java\tscript:alert(1)", " javascript:x", "JAVASCRIPT:x", "vbscript:x", "data:x"]
)
def test_profile_links_are_web_addresses(value):
    with pytest.raises(ValueError, match="http"):
        ProfileUpdateIn.model_validate({"website": value})
    for fine in ("https://example.com/about", "example.com", "www.example.co.uk/team"):
        assert ProfileUpdateIn.model_validate({"logo": fine}).logo == fine


# ---------------------------------------------------------------- 9. no secret in the idempotency table
def _idempotency_records() -> str:
    return json.dumps(boto3.client("dynamodb").scan(TableName=TABLE_NAMES["IdempotencyTable"])["Items"])


def test_credential_routes_ignore_idempotency_keys_and_store_no_secret(aws, frozen_clock):
    account = make_account(password="correct horse battery")
    body = {"email": account.email, "password": "correct horse battery"}
    key = {"Idempotency-Key": "login-1"}
    first = invoke("auth", "auth_token_request", body=body, headers=key)
    second = invoke("auth", "auth_token_request", body=body, headers=key)
    assert first.status == second.status == 200
    assert first.body["accessToken"] != second.body["accessToken"]
    created = [
        invoke(
            "throughput",
            "throughput_create_workstream",
            token=account.token,
            headers={"Idempotency-Key": "ws-1"},
        )
        for _ in range(2)
    ]
    assert [c.status for c in created] == [201, 201]
    records = _idempotency_records()
    for secret in (
        first.body["accessToken"],
        second.body["accessToken"],
        *(c.body["api_key"] for c in created),
    ):
        assert secret not in records
    # other creating routes still remember their answer
    again = [
        invoke("tasks", "tasks_create", token=account.token, headers={"Idempotency-Key": "t-1"})
        for _ in range(2)
    ]
    assert again[0].body["id"] == again[1].body["id"]


# ---------------------------------------------------------------- 10. member lists: the limit first
def test_a_member_list_over_the_limit_is_refused_before_any_id_is_looked_up(aws, frozen_clock, monkeypatch):
    owner = make_account()
    job_id = jobs.create_job(owner.id, JobIn(name="j")).id
    looked_up = []
    monkeypatch.setattr(dynamo, "batch_get", lambda *a, **k: looked_up.append(a) or {})
    with pytest.raises(errors.ValidationFailed) as refused:
        jobs.change_tasks(owner.id, job_id, [f"T{n}" for n in range(1001)], append=False)
    assert refused.value.errors[0]["code"] == "TOO_MANY"
    assert looked_up == []


# ---------------------------------------------------------------- 11. schedules that never occur
@pytest.mark.parametrize("schedule", ["yearly:02-30", "yearly:04-31", "yearly:13-01", "yearly:01-01;02-31"])
def test_a_yearly_schedule_of_a_day_that_never_comes_is_refused(schedule):
    with pytest.raises(ValueError, match="days that exist"):
        TaskIn.model_validate({"name": "t", "repeat": "yearly", "repeat_schedule": schedule})


def test_a_leap_day_is_a_day_that_comes():
    assert TaskIn.model_validate({"name": "t", "repeat": "yearly", "repeat_schedule": "yearly:02-29"})


# ---------------------------------------------------------------- 12. a discarded token stops at once
def test_tokens_are_read_strongly_consistently(aws, frozen_clock):
    account = make_account()
    calls: list[dict[str, Any]] = []
    dynamo.client().meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: calls.append(params)
    )
    auth.caller_for_token(account.token)
    token_reads = [c for c in calls if c["Key"]["pk"]["S"].startswith("TOKEN#")]
    assert token_reads and all(c.get("ConsistentRead") for c in token_reads)
