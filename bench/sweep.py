"""Items read by one auto-approval sweep per due result: 100,000 results in review, 1,000 of them due.

Runs on an in-memory Amazon DynamoDB Local (the same emulator the e2e tests use; the table and its
indexes come from template.yaml). moto would hold the data too, but it answers index queries by
walking the whole table, which says nothing about what DynamoDB reads and is far slower at this size.

The results are written straight through the store (the record `submit` writes, in batches); the
clock is then set to one second after the first 1,000 review windows closed, and the market sweep
runs once. Every item DynamoDB reports reading is counted with botocore hooks: ScannedCount of
each Query, items of each GetItem and BatchGetItem.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STORED = 100_000
DUE = 1_000
JOBS = 10
WORKERS = 100
GOAL = 1.5
REVIEW = "1 hour"
PUBLISHED = datetime(2026, 3, 14, 3, 0, 0, tzinfo=UTC)


class ReadCounter:
    """Items DynamoDB read for the calls made while `counting` is on."""

    def __init__(self) -> None:
        self.items = 0
        self.calls = 0
        self.counting = False

    def __call__(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.counting or model.name not in {"Query", "GetItem", "BatchGetItem"}:
            return
        self.calls += 1
        if model.name == "Query":
            self.items += int(parsed.get("ScannedCount", 0))
        elif model.name == "GetItem":
            self.items += 1 if parsed.get("Item") else 0
        elif model.name == "BatchGetItem":
            self.items += sum(len(found) for found in parsed.get("Responses", {}).values())


def _published_campaign() -> tuple[str, list[str]]:
    """A requester and a campaign of JOBS jobs needing STORED results in all, published."""
    from crowdtask.models.accounts import AccountCreateIn
    from crowdtask.models.campaigns import CampaignIn
    from crowdtask.models.jobs import JobIn
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import accounts, campaigns, jobs, tasks
    from crowdtask.services.flows import publishing

    requester = accounts.create_account(
        AccountCreateIn(
            email="bench@example.com", password=secrets.token_urlsafe(16), role="requester", balance=10_000
        )
    ).id
    choice = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}
    job_ids = []
    for n in range(JOBS):
        task = tasks.create_task(
            requester, TaskIn.model_validate({"name": f"task {n}", "components": [choice]})
        ).id
        job_ids.append(jobs.create_job(requester, JobIn(name=f"job {n}"), [task]).id)
    campaign = CampaignIn.model_validate(
        {
            "name": "bench",
            "workerPayment": Decimal("0.01"),
            "results": STORED // JOBS,
            "maxReviewTime": REVIEW,
        }
    )
    campaign_id = campaigns.create_campaign(requester, campaign, job_ids).id
    publishing.publish(requester, campaign_id)
    return requester, [campaign_id, *job_ids]


def _store_results(requester: str, campaign_id: str, job_ids: list[str]) -> None:
    """STORED results in review: the first DUE submitted an hour before the others."""
    from crowdtask import ids
    from crowdtask.models.accounts import AccountCreateIn
    from crowdtask.services import accounts, results
    from crowdtask.store import dynamo, keys
    from crowdtask.store.campaigns import CAMPAIGNS

    workers = [
        accounts.create_account(
            AccountCreateIn(email=f"worker{n}@example.com", password=secrets.token_urlsafe(16), role="worker")
        ).id
        for n in range(WORKERS)
    ]
    # the pay and review window publishing gave the jobs (the same for all of them)
    market = dynamo.get(*keys.market_job(job_ids[0], campaign_id), consistent=True) or {}
    terms = {k: market[k] for k in ("payment", "commission", "points", "review_seconds", "task_ids")}
    answer = [
        {
            "task": {"id": market["task_ids"][0], "name": "task 0"},
            "startedAt": "2026-03-14T03:05:00",
            "completedAt": "2026-03-14T03:09:00",
            "components": [
                {
                    "data": {"type": "BinaryChoice", "option1": "Yes", "option2": "No"},
                    "result": {"selectedOption": "Yes"},
                }
            ],
        }
    ]

    def record(n: int) -> dict[str, Any]:
        submitted = PUBLISHED + timedelta(minutes=10 if n < DUE else 70)
        assignment = {
            "id": ids.new_id(int(submitted.timestamp() * 1000)),
            "requester_id": requester,
            "campaign_id": campaign_id,
            "job_id": job_ids[n % JOBS],
            "worker_id": workers[n % WORKERS],
            "claimedAt": "2026-03-14T03:05:00",
            **terms,
        }
        stored = results.result_record(
            assignment, ids.new_id(int(submitted.timestamp() * 1000)), answer, submitted
        )
        stored.pop("id")  # the services' view of the item: its id is its sort key
        return stored

    def write(start: int) -> None:
        dynamo.batch_put(record(n) for n in range(start, min(start + 500, STORED)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(0, STORED, 500)))
    # what submitting moved, in bulk: the campaign owes every result, each worker has its share in review
    cost = Decimal(str(terms["payment"])) + Decimal(str(terms["commission"]))
    dynamo.update(
        CAMPAIGNS.pk(requester, campaign_id), campaign_id, "ADD owed :o", vals={":o": cost * STORED}
    )
    for worker in workers:
        share = STORED // WORKERS
        dynamo.update(
            *keys.account(worker),
            "ADD results_in_review :n, earnings_pending :p",
            vals={":n": share, ":p": Decimal(str(terms["payment"])) * share},
        )


def measure() -> dict[str, Any]:
    from bench.dynamodb import local_table

    with local_table():
        from crowdtask import clock
        from crowdtask.services.flows import sweeping
        from crowdtask.store import dynamo

        clock.set_clock(lambda: PUBLISHED)
        requester, (campaign_id, *job_ids) = _published_campaign()
        started = time.perf_counter()
        _store_results(requester, campaign_id, job_ids)
        stored_s = time.perf_counter() - started
        # one second after the first DUE results' review windows closed
        clock.set_clock(lambda: PUBLISHED + timedelta(minutes=10, hours=1, seconds=2))
        counter = ReadCounter()
        dynamo.client().meta.events.register("after-call.dynamodb", counter)
        counter.counting = True
        started = time.perf_counter()
        done = sweeping.sweep_market()
        sweep_s = time.perf_counter() - started
        counter.counting = False
        approved = done["results"]["approved"]
        assert approved == DUE, done
        return {
            "backend": "DynamoDB Local (in memory)",
            "results_stored": STORED,
            "results_due": DUE,
            "results_approved": approved,
            "items_read": counter.items,
            "read_calls": counter.calls,
            "sweep_reads_per_due_item": round(counter.items / approved, 3),
            "goal_max_reads_per_due_item": GOAL,
            "sweep_seconds": round(sweep_s, 1),
            "load_seconds": round(stored_s, 1),
        }


def main() -> int:
    import json

    figures = measure()
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
