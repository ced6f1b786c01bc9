"""What answers cost and what they are worth: Dawid-Skene's run time and accuracy, the results dynamic
overlap saves, and the writes live aggregation adds to a submission.

dawid_skene_seconds_per_100k_results: one AGGREGATION run's computation over 100,000 task results
(20,000 tasks answered by 5 of 2,000 simulated workers, 3 answers): the results read as the store
hands them over (services/aggregations.aggregate, DynamoDB's reads aside), EM to convergence, the
aggregates to store built. Also its EM alone, the iterations and the process's peak memory.

dawid_skene_accuracy_vs_majority: on a simulated crowd of known truth (diligent and sloppy workers,
spammers, workers who always give one answer, adversaries; tests/support/crowds.py), the share of
tasks each method gets right.

overlap_saved_fraction: jobs of one yes/no task on that crowd, collected with overlap min 3, max 7,
confidence 0.9: after each result the live tally (services/aggregation.py: votes, tally, confident)
decides as services/decisions.py does whether the job stops. The fraction of the max results that
were not bought.

aggregation_extra_writes_per_result: items written by a submission (Put, Update, Delete, inside
transactions and batches too) in a campaign whose tasks ask a yes/no question (a live aggregate
counts it) minus in one whose tasks ask for text (nothing aggregates), per task result, on
DynamoDB Local; jobs of one task and of five.
"""

from __future__ import annotations

import resource
import secrets
import sys
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent

SECONDS_GOAL = 60
WRITES_GOAL = 1
RESULTS = 100_000
OVERLAP_MIN, OVERLAP_MAX, OVERLAP_CONFIDENCE = 3, 7, 0.9
SUBMISSIONS = 40
CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}
TEXT = {"type": "TextInput", "hint": "What does the sign say?"}
NOW_ISO = "2026-03-14T03:00:00Z"


# ---------------------------------------------------------------- Dawid-Skene's run time
def _stored_results(observations: list[tuple[str, str, int]]) -> Iterator[dict[str, Any]]:
    """The crowd's task results as store/results.every_answer hands them over: one result per task
    result, each a job of one task showing a picture and asking one question."""
    for n, (task, worker, answer) in enumerate(observations):
        yield {
            "sk": f"result-{n:07d}",
            "worker_id": worker,
            "state": "InReview",
            "taskResults": [
                {
                    "task": {"id": task},
                    "components": [
                        {"data": {"type": "Image", "url": "https://example.com/a.png"}, "result": None},
                        {"data": {"type": "Rating"}, "result": {"rating": answer}},
                    ],
                }
            ],
            "control_ids": [],
        }


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_time() -> dict[str, Any]:
    from crowdtask.services import aggregations, dawid_skene
    from tests.support.crowds import simulate

    crowd = simulate(tasks=RESULTS // 5, overlap=5, workers=2000, classes=3, seed=2026)
    ratings = {answer: n + 1 for n, answer in enumerate(crowd.answers)}
    observations = [(t, w, ratings[a]) for t, w, a in crowd.observations]
    before_mb = _peak_rss_mb()

    started = time.perf_counter()
    fitted = dawid_skene.fit(crowd.observations)
    em_seconds = time.perf_counter() - started

    started = time.perf_counter()  # EM never converging: every one of its iterations run
    dawid_skene.fit(crowd.observations, tolerance=-float("inf"))
    all_iterations_seconds = time.perf_counter() - started

    def stored(_campaign_id: str) -> Iterator[dict[str, Any]]:
        return _stored_results(observations)

    with mock.patch.object(aggregations.result_store, "every_answer", stored):  # DynamoDB's reads aside
        started = time.perf_counter()
        aggregates, read = aggregations.aggregate("bench-campaign")
        run_seconds = time.perf_counter() - started
    assert read == RESULTS and len(aggregates) == len(crowd.truth)
    return {
        "results": RESULTS,
        "tasks": len(crowd.truth),
        "workers": len({w for _, w, _ in observations}),
        "answers": len(crowd.answers),
        "em_iterations": fitted.iterations,
        "em_seconds": round(em_seconds, 2),
        "run_seconds": round(run_seconds, 2),
        f"em_seconds_all_{dawid_skene.MAX_ITERATIONS}_iterations": round(all_iterations_seconds, 2),
        "dawid_skene_seconds_per_100k_results": round(run_seconds * 100_000 / RESULTS, 2),
        "goal_max_seconds_per_100k_results": SECONDS_GOAL,
        "peak_rss_mb_before": before_mb,
        "peak_rss_mb": _peak_rss_mb(),
    }


# ---------------------------------------------------------------- accuracy
def accuracy() -> dict[str, Any]:
    from crowdtask.services import dawid_skene
    from tests.support import crowds

    crowd = crowds.simulate(tasks=5000, overlap=5, workers=300, classes=3, seed=13)
    labels = {task: label.answer for task, label in dawid_skene.fit(crowd.observations).labels.items()}
    by_ds = crowds.accuracy(labels, crowd.truth)
    by_majority = crowds.accuracy(crowds.majority(crowd.observations), crowd.truth)
    return {
        "crowd": "5,000 tasks, 5 answers each, 300 workers of tests/support/crowds.MIX, 3 answers",
        "dawid_skene": round(by_ds, 4),
        "majority": round(by_majority, 4),
        "margin": round(by_ds - by_majority, 4),
    }


# ---------------------------------------------------------------- dynamic overlap
def _counted(item: dict[str, Any], answer: str) -> None:
    """A yes/no result counted into an aggregate item, as store/aggregates.cast adds it."""
    from crowdtask.services import aggregation

    for vote in aggregation.votes([CHOICE], [{"selectedOption": answer}]):
        item[f"w{vote.key}"] = item.get(f"w{vote.key}", Decimal(0)) + 1
        item[f"n{vote.key}"] = item.get(f"n{vote.key}", 0) + 1
        item.setdefault(f"l{vote.key}", vote.answer)


def overlap_saved(tasks: int = 20_000) -> dict[str, Any]:
    import random

    from crowdtask.services import aggregation
    from tests.support.crowds import MIX, confusion

    rng = random.Random(31)
    kinds = list(MIX)
    workers = [confusion(rng.choices(kinds, weights=[MIX[k] for k in kinds])[0], 2, rng) for _ in range(500)]
    bought = right = 0
    for _ in range(tasks):
        truth = rng.randrange(2)
        item: dict[str, Any] = {}
        chosen = rng.sample(range(len(workers)), OVERLAP_MAX)
        winners: list[aggregation.Winner | None] = [None]
        for count, worker in enumerate(chosen, start=1):
            given = rng.choices(range(2), weights=workers[worker][truth])[0]
            _counted(item, ("Yes", "No")[given])
            winners = aggregation.tally(item, 1)
            if count >= OVERLAP_MIN and aggregation.confident(winners, OVERLAP_CONFIDENCE):
                break
        bought += count
        winner = winners[0]
        right += winner is not None and winner.result == {"selectedOption": ("Yes", "No")[truth]}
    return {
        "overlap": {"min": OVERLAP_MIN, "max": OVERLAP_MAX, "confidence": OVERLAP_CONFIDENCE},
        "jobs": tasks,
        "results_bought_per_job": round(bought / tasks, 3),
        "overlap_saved_fraction": round(1 - bought / (tasks * OVERLAP_MAX), 4),
        "majority_accuracy_with_dynamic_overlap": round(right / tasks, 4),
    }


# ---------------------------------------------------------------- writes of live aggregation
def _campaign(requester: str, component: Mapping[str, Any], tasks_per_job: int) -> tuple[str, list[str]]:
    from crowdtask.models.campaigns import CampaignIn
    from crowdtask.models.jobs import JobIn
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import campaigns, jobs, tasks
    from crowdtask.services.flows import publishing

    job_ids = []
    for n in range(SUBMISSIONS):
        body = {"name": "t", "components": [dict(component)]}
        ids = [tasks.create_task(requester, TaskIn.model_validate(body)).id for _ in range(tasks_per_job)]
        job_ids.append(jobs.create_job(requester, JobIn(name=f"j{n}"), ids).id)
    settings = {"name": "bench", "workerPayment": Decimal("0.01"), "results": 1}
    campaign = CampaignIn.model_validate({**settings, "maxResultsPerWorker": SUBMISSIONS})
    campaign_id = campaigns.create_campaign(requester, campaign, job_ids).id
    publishing.publish(requester, campaign_id)
    return campaign_id, job_ids


def _writes_per_task_result(
    requester: str, workers: list[str], counter: Any, component: Mapping[str, Any], tasks_per_job: int
) -> float:
    from crowdtask.models.submissions import SubmitIn
    from crowdtask.services import assignments
    from crowdtask.services.flows import reviewing

    result = {"selectedOption": "Yes"} if component["type"] == "BinaryChoice" else {"text": "hello"}
    campaign_id, job_ids = _campaign(requester, component, tasks_per_job)
    total = 0
    for n, job_id in enumerate(job_ids):
        worker = workers[n % len(workers)]
        assignment = assignments.claim(worker, job_id, campaign_id, None, None)
        entries = [{"task": t.id, "components": [{"result": result}]} for t in assignment.tasks or []]
        body = SubmitIn.model_validate({"taskResults": entries})
        counter.items, counter.counting = 0, True
        reviewing.submit(worker, assignment.id, body)
        counter.counting = False
        total += counter.items
    return total / (SUBMISSIONS * tasks_per_job)


def extra_writes() -> dict[str, Any]:
    from bench.dynamodb import local_table
    from bench.quality import NOW, WriteCounter

    with local_table():
        from crowdtask import clock
        from crowdtask.models.accounts import AccountCreateIn
        from crowdtask.services import accounts
        from crowdtask.store import dynamo

        def account(role: str, **more: Any) -> str:
            email = f"{role}-{secrets.token_hex(6)}@example.com"
            body = AccountCreateIn(email=email, password=secrets.token_urlsafe(16), role=role, **more)
            return accounts.create_account(body).id

        clock.set_clock(lambda: NOW)
        requester = account("requester", balance=10_000)
        workers = [account("worker") for _ in range(10)]
        counter = WriteCounter()
        dynamo.client().meta.events.register("before-parameter-build.dynamodb", counter)
        found: dict[str, Any] = {"backend": "DynamoDB Local (in memory)", "submissions_each": SUBMISSIONS}
        extra = []
        for tasks_per_job in (1, 5):
            plain = _writes_per_task_result(requester, workers, counter, TEXT, tasks_per_job)
            counted = _writes_per_task_result(requester, workers, counter, CHOICE, tasks_per_job)
            found[f"jobs_of_{tasks_per_job}_tasks"] = {
                "writes_per_task_result_plain": round(plain, 3),
                "writes_per_task_result_aggregated": round(counted, 3),
                "extra": round(counted - plain, 3),
            }
            extra.append(counted - plain)
        found["aggregation_extra_writes_per_result"] = round(max(extra), 3)
        found["goal_max_extra_writes_per_result"] = WRITES_GOAL
        return found


def measure() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "layers/common/python"))
    sys.path.insert(0, str(ROOT))
    return {
        "dawid_skene_run": run_time(),
        "dawid_skene_accuracy": accuracy(),
        "overlap": overlap_saved(),
        "live_aggregation_writes": extra_writes(),
    }


def main() -> int:
    import json

    print(json.dumps(measure(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
