"""What quality control costs a submission and a claim, on an in-memory DynamoDB Local.

quality_writes_per_submission: the items a submission writes (each Put, Update and Delete, inside
transactions and batches too) in a campaign with a control task mixed into every assignment and
two quality rules, minus what a submission writes in a plain campaign; the mean over SUBMISSIONS
submissions each. The rules are evaluated on every submission; their conditions do not hold, so
what is counted is the cost of keeping and judging the figures, not of acting.

claim_latency_ratio_with_requirements: the median claim in a campaign requiring three skills with
control mixing, over the median claim in a plain campaign, claims of the two interleaved in one
run (so the machine's load falls on both alike).
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

SUBMISSIONS = 60
CLAIMS = 200
WORKERS = 20
WRITES_GOAL = 3
LATENCY_GOAL = 1.3
NOW = datetime(2026, 3, 14, 3, 0, 0, tzinfo=UTC)
CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}


class WriteCounter:
    """Items written by the DynamoDB calls made while `counting` is on."""

    def __init__(self) -> None:
        self.items = 0
        self.counting = False

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.counting:
            return
        if model.name in {"PutItem", "UpdateItem", "DeleteItem"}:
            self.items += 1
        elif model.name == "TransactWriteItems":
            self.items += sum(1 for op in params["TransactItems"] if "ConditionCheck" not in op)
        elif model.name == "BatchWriteItem":
            self.items += sum(len(ops) for ops in params["RequestItems"].values())


def _account(role: str, **more: Any) -> str:
    from crowdtask.models.accounts import AccountCreateIn
    from crowdtask.services import accounts

    email = f"{role}-{secrets.token_hex(6)}@example.com"
    return accounts.create_account(
        AccountCreateIn(email=email, password=secrets.token_urlsafe(16), role=role, **more)
    ).id


def _campaign(requester: str, jobs_: int, **settings: Any) -> tuple[str, list[str]]:
    from crowdtask.models.campaigns import CampaignIn
    from crowdtask.models.jobs import JobIn
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import campaigns, flows, jobs, tasks

    task = tasks.create_task(requester, TaskIn.model_validate({"name": "t", "components": [CHOICE]})).id
    job_ids = [jobs.create_job(requester, JobIn(name=f"j{n}"), [task]).id for n in range(jobs_)]
    body = {"name": "bench", "workerPayment": Decimal("0.01"), "results": 1, "maxResultsPerWorker": jobs_}
    campaign_id = campaigns.create_campaign(
        requester, CampaignIn.model_validate({**body, **settings}), job_ids
    ).id
    flows.publish(requester, campaign_id)
    return campaign_id, job_ids


def _quality_settings(requester: str, *, requirements: bool) -> dict[str, Any]:
    """A control task mixed into every assignment, two rules, and (when asked) three requirements
    every bench worker meets."""
    from crowdtask.models.quality import SkillIn
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import quality, tasks

    solution = [{"components": [{"result": {"selectedOption": "Yes"}}], "weight": 1}]
    control = tasks.create_task(
        requester,
        TaskIn.model_validate({"name": "t", "components": [CHOICE], "knownSolutions": solution}),
    ).id
    settings: dict[str, Any] = {
        "quality": {"controlTasks": [control]},
        "qualityRules": [
            {
                "metric": "controlAccuracy",
                "operator": "lt",
                "value": 10,
                "action": {"type": "block", "reason": "failed controls"},
            },
            {
                "metric": "fastSubmits",
                "operator": "gte",
                "value": 1000,
                "fastSubmitThreshold": "2 sec",
                "action": {"type": "rejectAll", "reason": "too fast"},
            },
        ],
    }
    if requirements:
        skills = [quality.create_skill(requester, SkillIn(name=f"s{n}")).id for n in range(3)]
        settings["requirements"] = [{"skill": s, "operator": "gte", "value": 50} for s in skills]
        settings["_skills"] = skills
    return settings


def _give_skills(requester: str, skills: list[str], workers: list[str]) -> None:
    from crowdtask.services import quality

    for skill in skills:
        for worker in workers:
            quality.set_skill_value(requester, skill, worker, 75)


def _submit_body(assignment: Any) -> Any:
    from crowdtask.models.submissions import SubmitIn

    return SubmitIn.model_validate(
        {
            "taskResults": [
                {"task": t.id, "components": [{"result": {"selectedOption": "Yes"}}]}
                for t in assignment.tasks or []
            ]
        }
    )


def _writes_per_submission(
    requester: str, workers: list[str], counter: WriteCounter, **settings: Any
) -> float:
    from crowdtask.services import assignments, flows

    campaign_id, job_ids = _campaign(requester, SUBMISSIONS, **settings)
    total = 0
    for n, job_id in enumerate(job_ids):
        worker = workers[n % len(workers)]
        assignment = assignments.claim(worker, job_id, campaign_id, None, None)
        body = _submit_body(assignment)
        counter.items, counter.counting = 0, True
        flows.submit(worker, assignment.id, body)
        counter.counting = False
        total += counter.items
    return total / SUBMISSIONS


def _claim_timer(workers: list[str], campaign_id: str, job_ids: list[str]) -> Callable[[int], float]:
    from crowdtask.services import assignments

    def claim(n: int) -> float:
        started = time.perf_counter()
        assignments.claim(workers[n % len(workers)], job_ids[n], campaign_id, None, None)
        return (time.perf_counter() - started) * 1000

    return claim


def measure() -> dict[str, Any]:
    from bench.dynamodb import local_table

    with local_table():
        from crowdtask import clock
        from crowdtask.store import dynamo

        clock.set_clock(lambda: NOW)
        requester = _account("requester", balance=10_000)
        workers = [_account("worker") for _ in range(WORKERS)]
        counter = WriteCounter()
        dynamo.client().meta.events.register("before-parameter-build.dynamodb", counter)

        plain_writes = _writes_per_submission(requester, workers, counter)
        judged = _quality_settings(requester, requirements=False)
        judged_writes = _writes_per_submission(requester, workers, counter, **judged)

        required = _quality_settings(requester, requirements=True)
        _give_skills(requester, required.pop("_skills"), workers)
        plain_claim = _claim_timer(workers, *_campaign(requester, CLAIMS))
        required_claim = _claim_timer(workers, *_campaign(requester, CLAIMS, **required))
        plain_ms, required_ms = [], []
        for n in range(CLAIMS):  # interleaved: load on the machine falls on both alike
            plain_ms.append(plain_claim(n))
            required_ms.append(required_claim(n))
        plain_p50, required_p50 = statistics.median(plain_ms), statistics.median(required_ms)
        return {
            "backend": "DynamoDB Local (in memory)",
            "submissions_each": SUBMISSIONS,
            "writes_per_plain_submission": round(plain_writes, 3),
            "writes_per_judged_submission": round(judged_writes, 3),
            "quality_writes_per_submission": round(judged_writes - plain_writes, 3),
            "goal_max_quality_writes_per_submission": WRITES_GOAL,
            "claims_each": CLAIMS,
            "plain_claim_p50_ms": round(plain_p50, 2),
            "required_claim_p50_ms": round(required_p50, 2),
            "claim_latency_ratio_with_requirements": round(required_p50 / plain_p50, 3),
            "goal_max_claim_latency_ratio": LATENCY_GOAL,
        }


def main() -> int:
    import json

    print(json.dumps(measure(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
