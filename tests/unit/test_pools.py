"""Pool tasks (made with `pool_id`) on the market: their budget, their market items, crashes and ends."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from crowdtask.services import campaigns, market, operations, pools, pricing
from crowdtask.services.bulk import BulkParams
from crowdtask.services.flows import publishing, reviewing, sweeping, uploading
from tests.support import builders
from tests.support.accounts import make_account
from tests.support.bulk import receive_sqs_event, run_bulk_worker, work_off
from tests.support.market import balances, claim_and_submit, market_item, published_job

TEMPLATE = {
    "name": "Is {{animal}} a cat?",
    "components": [
        {"type": "Image", "url": "{{image}}"},
        {"type": "BinaryChoice", "option1": "Yes", "option2": "No"},
    ],
}


def _pool(requester) -> str:
    return builders.pool(requester.id, TEMPLATE, payment="0.5", results=1)


def _items(pool: str, count: int, overlap: int = 2) -> list[dict[str, Any]]:
    return [
        {
            "pool_id": pool,
            "input_values": {"animal": f"a{n}", "image": f"https://x/{n}.png"},
            "overlap": overlap,
        }
        for n in range(count)
    ]


def _upload(requester, queue, items: list[dict[str, Any]], **params: Any) -> Any:
    operation, _ = uploading.submit_tasks(requester.id, items, BulkParams(async_mode=True, **params))
    work_off(queue)
    return operations.get_operation(requester.id, operation.id)


def _task_ids(requester, operation_id: str) -> list[str]:
    log = operations.operation_log(requester.id, operation_id, None, 1000).log
    return [entry.output["task_id"] for entry in log if entry.success]


def test_a_campaign_of_pool_tasks_only_publishes_pays_for_them_and_finishes(requester, worker, queue):
    # Given three tasks of overlap 2 made for an unpublished campaign of 0.5 USD per result
    pool = _pool(requester)
    operation = _upload(requester, queue, _items(pool, 3))
    stored = campaigns.require_campaign(requester.id, pool)
    assert (int(stored["pool_tasks"]), int(stored["pool_needed"])) == (3, 6)
    # When it is published: 6 results x 0.5 USD + 20% commission are frozen, every task is on the market
    publishing.publish(requester.id, pool)
    assert balances(requester.id) == ("96.4 USD", "3.6 USD")
    task_ids = _task_ids(requester, operation.id)
    listed = {job.id: job.remaining for job in market.list_jobs(worker.id, 100, None, None)}
    assert listed == dict.fromkeys(task_ids, 2)
    # Then workers do each task twice, the requester approves, and the campaign finishes
    for task_id in task_ids:
        for _ in range(2):
            someone = make_account("worker")
            result = claim_and_submit(someone.id, task_id, pool)
            reviewing.approve(requester.id, result.id, None)
    assert campaigns.get_campaign(requester.id, pool).state == "finished"
    assert balances(requester.id) == ("96.4 USD", "0 USD")


def test_tasks_for_a_live_campaign_freeze_their_cost_and_go_on_the_market(requester, worker, queue):
    campaign_id, _ = published_job(requester.id, results=1, taskTemplate=TEMPLATE)  # 0.5 USD, 1 result: 0.6
    before = balances(requester.id)
    assert before == ("99.4 USD", "0.6 USD")
    operation = _upload(requester, queue, _items(campaign_id, 2, overlap=3))
    # 2 tasks x 3 results x 0.5 USD x 1.2 = 3.6 USD more frozen, in the transaction that counted them
    assert balances(requester.id) == ("95.8 USD", "4.2 USD")
    for task_id in _task_ids(requester, operation.id):
        item = market_item(task_id, campaign_id)
        assert item is not None and int(item["remaining"]) == 3 and item["task_ids"] == [task_id]
    campaign = campaigns.require_campaign(requester.id, campaign_id)
    assert int(campaign["results_outstanding"]) == 1 + 6


def test_without_the_balance_live_tasks_are_stored_but_stay_off_the_market(queue, frozen_clock):
    poor = make_account(balance=Decimal("0.6"))
    campaign_id, _ = published_job(poor.id, results=1, taskTemplate=TEMPLATE)  # freezes all 0.6 USD
    operation = _upload(poor, queue, _items(campaign_id, 2))
    assert (operation.status, operation.details.success_count, operation.unfundedCount) == ("SUCCESS", 2, 2)
    assert all(market_item(t, campaign_id) is None for t in _task_ids(poor, operation.id))
    assert balances(poor.id) == ("0 USD", "0.6 USD")


def test_a_crash_before_the_market_items_is_finished_by_the_market_scheduler(
    requester, queue, monkeypatch, frozen_clock
):
    campaign_id, _ = published_job(requester.id, results=1, taskTemplate=TEMPLATE)
    operation, _ = uploading.submit_tasks(requester.id, _items(campaign_id, 3), BulkParams(async_mode=True))
    event = receive_sqs_event(queue)
    real = pools.open_chunk
    monkeypatch.setattr(pools, "open_chunk", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("died")))
    with pytest.raises(BatchProcessingError):
        run_bulk_worker(event)
    monkeypatch.setattr(pools, "open_chunk", real)
    assert run_bulk_worker(event) == {"batchItemFailures": []}  # redelivered: counted already, nothing twice
    task_ids = _task_ids(requester, operation.id)
    assert all(market_item(t, campaign_id) is None for t in task_ids)
    assert balances(requester.id) == ("95.8 USD", "4.2 USD")  # frozen once
    assert sweeping.sweep_market()["pool_chunks_opened"] == 0  # the worker may still be at it
    frozen_clock.advance(seconds=61)
    assert sweeping.sweep_market()["pool_chunks_opened"] == 1
    assert all(market_item(t, campaign_id) is not None for t in task_ids)
    assert sweeping.sweep_market()["pool_chunks_opened"] == 0


def test_a_big_pool_opens_and_closes_in_steps(requester, queue, monkeypatch, frozen_clock):
    monkeypatch.setattr(pools, "STEP", 2)
    pool = _pool(requester)
    task_ids = []
    for _ in range(4):  # four uploads: four chunks of two tasks
        operation = _upload(requester, queue, _items(pool, 2, overlap=1))
        task_ids += _task_ids(requester, operation.id)
    publishing.publish(requester.id, pool)
    opened = [t for t in task_ids if market_item(t, pool) is not None]
    assert 0 < len(opened) < 8  # the first step, at publish
    for _ in range(5):  # the market step stays due until the whole pool is open
        frozen_clock.advance(seconds=60)
        sweeping.sweep_market()
    assert all(market_item(t, pool) is not None for t in task_ids)
    assert int(campaigns.require_campaign(requester.id, pool)["results_outstanding"]) == 8  # counted once
    publishing.cancel(requester.id, pool)
    for _ in range(5):
        frozen_clock.advance(seconds=60)
        sweeping.sweep_campaign_steps()
    assert all(market_item(t, pool)["closed"] for t in task_ids)  # type: ignore[index]
    assert balances(requester.id) == ("100 USD", "0 USD")


def test_a_pool_still_leaves_the_market_when_ending_crashes_after_its_transaction(
    requester, queue, monkeypatch, frozen_clock
):
    pool = _pool(requester)
    task_ids = _task_ids(requester, _upload(requester, queue, _items(pool, 3, overlap=1)).id)
    publishing.publish(requester.id, pool)
    assert all(market_item(t, pool) is not None for t in task_ids)

    def crash(*_args: Any) -> None:
        raise RuntimeError("the container died")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(campaigns, "apply_locks", crash)  # the first step after the state change
        publishing.cancel(requester.id, pool)
    assert campaigns.require_campaign(requester.id, pool)["state"] == "cancelled"
    assert not any(market_item(t, pool).get("closed") for t in task_ids)  # type: ignore[union-attr]
    frozen_clock.advance(seconds=60)
    assert sweeping.sweep_campaign_steps()["pool-close"] == 1
    assert all(market_item(t, pool)["closed"] for t in task_ids)  # type: ignore[index]
    assert sweeping.sweep_campaign_steps()["pool-close"] == 0  # done: not due again


def test_publishing_counts_only_what_was_there_when_it_decided(requester, queue):
    # tasks counted between publishing's read and its write move the campaign's version: publish decides again
    pool = _pool(requester)
    _upload(requester, queue, _items(pool, 1))
    real_budget = pricing.budget
    calls = {"n": 0}

    def budget_then_more_tasks(campaign: dict[str, Any], rate: Decimal) -> Decimal:
        calls["n"] += 1
        figure = real_budget(campaign, rate)
        if calls["n"] == 1:
            _upload(requester, queue, _items(pool, 2))
        return figure

    pricing.budget = budget_then_more_tasks  # type: ignore[assignment]
    try:
        publishing.publish(requester.id, pool)
    finally:
        pricing.budget = real_budget  # type: ignore[assignment]
    assert calls["n"] == 2
    assert balances(requester.id) == ("96.4 USD", "3.6 USD")  # 3 tasks x 2 results, not 1 x 2


def test_a_campaign_without_jobs_or_pool_tasks_still_cannot_be_published(requester):
    from crowdtask import errors

    with pytest.raises(errors.Conflict, match="pool_id"):
        publishing.publish(requester.id, _pool(requester))


def test_pool_tasks_are_not_edited_or_archived_one_by_one(requester, queue):
    from crowdtask import errors
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import tasks

    pool = _pool(requester)
    [task_id] = _task_ids(requester, _upload(requester, queue, _items(pool, 1)).id)
    with pytest.raises(errors.Conflict, match="template"):
        tasks.replace_task(requester.id, task_id, TaskIn(name="changed"))
    with pytest.raises(errors.Conflict, match="template"):
        tasks.set_archived(requester.id, task_id, True)
    assert tasks.get_task(requester.id, task_id).name == "Is a0 a cat?"


def test_a_pool_task_stops_collecting_once_its_answer_is_confident(requester, queue):
    # Given a pool task of overlap 5 in a campaign that stops at 2 agreeing results
    pool = builders.pool(
        requester.id, TEMPLATE, payment="0.5", results=5, overlap={"min": 2, "confidence": 0.9}
    )
    operation = _upload(requester, queue, _items(pool, 1, overlap=5))
    publishing.publish(requester.id, pool)
    assert balances(requester.id) == ("97 USD", "3 USD")  # 5 results x 0.5 USD x 1.2
    [task_id] = _task_ids(requester, operation.id)
    # When two workers give the same answer
    for _ in range(2):
        claim_and_submit(make_account("worker").id, task_id, pool)
    # Then the task leaves the market and the three results it did not need are paid back at once
    assert market_item(task_id, pool).get("closed")
    assert balances(requester.id) == ("98.8 USD", "1.2 USD")
