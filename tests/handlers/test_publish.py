"""POST /campaigns/{id}/publish through its handler: the reply is the campaign a GET then answers, and
the request reads nothing twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from crowdtask import clock
from crowdtask.models.campaigns import CampaignIn
from crowdtask.models.jobs import JobIn
from crowdtask.services import campaigns, jobs
from crowdtask.services.bulk import BulkParams
from crowdtask.services.flows import uploading
from tests.support import builders, infra
from tests.support.bulk import work_off
from tests.support.handlers import invoke
from tests.support.market import market_item


@contextmanager
def dynamodb_calls() -> Iterator[Counter[str]]:
    """The DynamoDB operations called inside the block, counted."""
    counted: Counter[str] = Counter()
    with infra.dynamodb_calls() as made:
        yield counted
    counted.update(made)


def _campaign(requester, tasks: list[dict[str, Any]], **fields: Any) -> tuple[str, str]:
    task_ids = [builders.task(requester.id, f"task {n}", **spec) for n, spec in enumerate(tasks)]
    job_id = jobs.create_job(requester.id, JobIn(name="job"), task_ids).id
    body = {"name": "campaign", "workerPayment": Decimal("0.5"), "results": 2, **fields}
    return campaigns.create_campaign(requester.id, CampaignIn.model_validate(body), [job_id]).id, job_id


def _pool_campaign(requester, queue) -> str:
    template = {"name": "Is {{animal}} a cat?", "components": [{"type": "Image", "url": "{{image}}"}]}
    pool = builders.pool(requester.id, template, payment="0.5", results=1)
    items = [
        {"pool_id": pool, "input_values": {"animal": f"a{n}", "image": f"https://x/{n}.png"}, "overlap": 2}
        for n in range(3)
    ]
    uploading.submit_tasks(requester.id, items, BulkParams(async_mode=True))
    work_off(queue)
    return pool


def _publish_and_get(requester, campaign_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    published = invoke(
        "campaigns", "campaigns_publish", token=requester.token, path_params={"id": campaign_id}
    )
    assert published.status == 200, published.body
    fetched = invoke("campaigns", "campaigns_get", token=requester.token, path_params={"id": campaign_id})
    assert fetched.status == 200, fetched.body
    return published.body, fetched.body


def test_the_reply_of_a_plain_publish_is_what_a_get_answers_right_after(requester, frozen_clock):
    # Given an unpublished campaign last changed a while ago
    campaign_id, _ = _campaign(requester, [{}, {}])
    frozen_clock.advance(minutes=5)
    # When it is published, Then the reply is the campaign a GET answers next, moved on by the publish
    published, fetched = _publish_and_get(requester, campaign_id)
    assert published == fetched
    assert (published["state"], published["lastModifiedAt"]) == ("active", "2026-03-14T03:19:15")


def test_the_reply_with_an_end_date_and_a_calendar_repeat_is_what_a_get_answers(requester, frozen_clock):
    campaign_id, job_id = _campaign(requester, [{"repeat": "daily"}], endDate="2026-03-20T00:00")
    frozen_clock.advance(minutes=5)
    published, fetched = _publish_and_get(requester, campaign_id)
    assert published == fetched
    assert (published["state"], published["endDate"]) == ("active", "2026-03-20T00:00:00")
    assert market_item(job_id, campaign_id)["repeat"] == "daily"


def test_the_reply_of_a_pool_campaign_is_what_a_get_answers(requester, queue, frozen_clock):
    pool = _pool_campaign(requester, queue)
    frozen_clock.advance(minutes=5)
    published, fetched = _publish_and_get(requester, pool)
    assert published == fetched
    assert published["state"] == "active"
    assert campaigns.require_campaign(requester.id, pool).get("pool_opened")  # its pool went on the market


def test_publishing_reads_nothing_twice(requester, frozen_clock):
    # Given a campaign of one job of two tasks
    campaign_id, job_id = _campaign(requester, [{}, {}])
    # When it is published through the handler
    with dynamodb_calls() as calls:
        published = invoke(
            "campaigns", "campaigns_publish", token=requester.token, path_params={"id": campaign_id}
        )
    assert published.status == 200
    assert market_item(job_id, campaign_id) is not None
    # Then the campaign is read once, its jobs once before the transition (with the account), and once
    # locked the jobs and tasks are what their locks answer: nothing is read twice, nor for the reply
    assert calls == Counter(
        GetItem=2,  # token, campaign
        BatchGetItem=1,  # the jobs to check and the account (its commission rate and balance)
        TransactWriteItems=1,  # state, money, due steps, event
        UpdateItem=1 + 2 + 1,  # the job's lock, the tasks' locks, the market's count
        DeleteItem=2,  # the `locks` and `market` steps done
        PutItem=1,  # the job's market item
    )


@pytest.mark.parametrize(
    "actions", [["campaigns_cancel"], ["campaigns_pause"], ["campaigns_pause", "campaigns_continue"]]
)
def test_the_replies_of_other_transitions_are_what_a_get_answers(requester, frozen_clock, actions):
    campaign_id, job_id = _campaign(requester, [{}])
    invoke("campaigns", "campaigns_publish", token=requester.token, path_params={"id": campaign_id})
    for action in actions:
        frozen_clock.advance(minutes=5)
        with dynamodb_calls() as calls:
            moved = invoke("campaigns", action, token=requester.token, path_params={"id": campaign_id})
        fetched = invoke("campaigns", "campaigns_get", token=requester.token, path_params={"id": campaign_id})
        assert moved.status == 200 and moved.body == fetched.body
        assert fetched.body["lastModifiedAt"] == clock.iso(clock.now())
        assert calls["GetItem"] == 2  # the token and the campaign, read once: not again for the reply
    if actions == ["campaigns_cancel"]:
        assert market_item(job_id, campaign_id)["closed"]


def test_the_reply_of_cancelling_a_pool_campaign_is_what_a_get_answers(requester, queue, frozen_clock):
    pool = _pool_campaign(requester, queue)
    invoke("campaigns", "campaigns_publish", token=requester.token, path_params={"id": pool})
    frozen_clock.advance(minutes=5)
    cancelled = invoke("campaigns", "campaigns_cancel", token=requester.token, path_params={"id": pool})
    fetched = invoke("campaigns", "campaigns_get", token=requester.token, path_params={"id": pool})
    assert cancelled.status == 200 and cancelled.body == fetched.body
    assert fetched.body["state"] == "cancelled"
