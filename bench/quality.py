"""What quality control costs a submission and a claim, on an in-memory DynamoDB Local.

quality_writes_per_submission: the write request units a submission costs (what DynamoDB bills:
every Put, Update and Delete, inside transactions and batches too, as DynamoDB Local reports them
with ReturnConsumedCapacity: a unit per KB of each item, in the table and each index it reaches) in a
campaign with a control task mixed into every assignment and two quality rules, minus what a
submission of as many task results costs in a plain campaign (jobs of two tasks there, of one task
plus the control here), so what is measured is grading, keeping the figures and judging the rules,
not the storing of one more answer; the mean over SUBMISSIONS submissions each. The tasks ask for
text, which is graded and does not vote in the live aggregates, so the votes of a plain job's
second task do not blur the figure. The written
items are counted too (quality_items_per_submission), and the items of one judged submission are
listed by kind. The rules are evaluated on every submission; their conditions do not hold, so what
is counted is the cost of keeping and judging the figures, not of acting.

Statistics ride in items every submission writes anyway: the worker's row in the campaign and
(since quality control) with the requester, in the submission's own transaction. A judged
submission writes as many items as a plain one; what it adds is bytes (a control task's entry in
the result, the control counters on the statistics rows), which the units show.

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
from typing import Any, NamedTuple

SUBMISSIONS = 60
CLAIMS = 200
WORKERS = 20
WRITES_GOAL = 3
LATENCY_GOAL = 1.3
NOW = datetime(2026, 3, 14, 3, 0, 0, tzinfo=UTC)
TEXT = {"type": "TextInput", "hint": "What does the sign say?"}
ANSWER = {"text": "stop"}


WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


class WriteCounter:
    """Items written and write request units consumed by the DynamoDB calls made while `counting` is
    on. Each write asks DynamoDB for its consumed capacity; the units are what it reports."""

    def __init__(self) -> None:
        self.items = 0
        self.units = 0.0
        self.kinds: dict[str, int] = {}
        self.counting = False

    def reset(self) -> None:
        self.items, self.units, self.kinds, self.counting = 0, 0.0, {}, True

    def before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.counting or model.name not in WRITES:
            return
        params["ReturnConsumedCapacity"] = "TOTAL"
        if model.name in {"PutItem", "UpdateItem", "DeleteItem"}:
            self._item(params.get("Item") or params.get("Key") or {})
        elif model.name == "TransactWriteItems":
            for op in params["TransactItems"]:
                if "ConditionCheck" not in op:
                    [(_, body)] = op.items()
                    self._item(body.get("Item") or body.get("Key") or {})
        else:
            for ops in params["RequestItems"].values():
                for op in ops:
                    body = op.get("PutRequest") or op.get("DeleteRequest") or {}
                    self._item(body.get("Item") or body.get("Key") or {})

    def _item(self, item: dict[str, Any]) -> None:
        """Count an item, by its kind: its partition key's prefix (store/keys.py: CW# is the worker's
        row in a campaign, RW# with a requester, ...)."""
        self.items += 1
        pk = str((item.get("pk") or {}).get("S", "?"))
        kind = pk.split("#", 1)[0] + "#" if "#" in pk else pk
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.counting or model.name not in WRITES:
            return
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            self.units += float(entry.get("CapacityUnits", 0))


def _account(role: str, **more: Any) -> str:
    from crowdtask.models.accounts import AccountCreateIn
    from crowdtask.services import accounts

    email = f"{role}-{secrets.token_hex(6)}@example.com"
    return accounts.create_account(
        AccountCreateIn(email=email, password=secrets.token_urlsafe(16), role=role, **more)
    ).id


def _campaign(requester: str, jobs_: int, tasks_per_job: int = 1, **settings: Any) -> tuple[str, list[str]]:
    from crowdtask.models.campaigns import CampaignIn
    from crowdtask.models.jobs import JobIn
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import campaigns, jobs, tasks
    from crowdtask.services.flows import publishing

    asked = [
        tasks.create_task(requester, TaskIn.model_validate({"name": f"t{n}", "components": [TEXT]})).id
        for n in range(tasks_per_job)
    ]
    job_ids = [jobs.create_job(requester, JobIn(name=f"j{n}"), asked).id for n in range(jobs_)]
    body = {"name": "bench", "workerPayment": Decimal("0.01"), "results": 1, "maxResultsPerWorker": jobs_}
    campaign_id = campaigns.create_campaign(
        requester, CampaignIn.model_validate({**body, **settings}), job_ids
    ).id
    publishing.publish(requester, campaign_id)
    return campaign_id, job_ids


def _quality_settings(requester: str, *, requirements: bool) -> dict[str, Any]:
    """A control task mixed into every assignment, two rules, and (when asked) three requirements
    every bench worker meets."""
    from crowdtask.models.quality import SkillIn
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import quality, tasks

    solution = [{"components": [{"result": ANSWER}], "weight": 1}]
    control = tasks.create_task(
        requester,
        TaskIn.model_validate({"name": "t", "components": [TEXT], "knownSolutions": solution}),
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
        {"taskResults": [{"task": t.id, "components": [{"result": ANSWER}]} for t in assignment.tasks or []]}
    )


class Cost(NamedTuple):
    items: float  # written items per submission
    units: float  # write request units per submission
    kinds: dict[str, int]  # the items of the last submission, by kind


def _writes_per_submission(
    requester: str, workers: list[str], counter: WriteCounter, tasks_per_job: int, **settings: Any
) -> Cost:
    from crowdtask.services import assignments
    from crowdtask.services.flows import reviewing

    campaign_id, job_ids = _campaign(requester, SUBMISSIONS, tasks_per_job, **settings)
    items, units = 0, 0.0
    for n, job_id in enumerate(job_ids):
        worker = workers[n % len(workers)]
        assignment = assignments.claim(worker, job_id, campaign_id, None, None)
        body = _submit_body(assignment)
        counter.reset()
        reviewing.submit(worker, assignment.id, body)
        counter.counting = False
        items, units = items + counter.items, units + counter.units
    return Cost(items / SUBMISSIONS, units / SUBMISSIONS, dict(sorted(counter.kinds.items())))


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
        events = dynamo.client().meta.events
        events.register("before-parameter-build.dynamodb", counter.before)
        events.register("after-call.dynamodb", counter.after)

        plain_writes = _writes_per_submission(requester, workers, counter, 2)
        judged = _quality_settings(requester, requirements=False)
        judged_writes = _writes_per_submission(requester, workers, counter, 1, **judged)

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
            "writes_counted_as": (
                "write request units, as DynamoDB Local reports them (ReturnConsumedCapacity=TOTAL on "
                "every write: a unit per KB of each item written, in the table and in each index the "
                "item reaches; AWS bills a transaction's items twice, on both sides alike); items "
                "counted too: every Put, Update and Delete, transaction and batch items included"
            ),
            "compared": (
                "submissions of two task results each: a plain job of two tasks, a judged job of "
                "one task and the control mixed in (text answers: graded, no votes)"
            ),
            "note": (
                "a judged submission writes the same items as a plain one (the statistics ride in the "
                "worker's rows every submission updates, in its transaction); the units it adds are "
                "bytes: the control's grade in the result, the control counters on the statistics "
                "rows; an item that crosses a KB costs a unit more per copy"
            ),
            "write_units_per_plain_submission": round(plain_writes.units, 3),
            "write_units_per_judged_submission": round(judged_writes.units, 3),
            "quality_writes_per_submission": round(judged_writes.units - plain_writes.units, 3),
            "items_per_plain_submission": round(plain_writes.items, 3),
            "items_per_judged_submission": round(judged_writes.items, 3),
            "quality_items_per_submission": round(judged_writes.items - plain_writes.items, 3),
            "judged_submission_items_by_kind": judged_writes.kinds,
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
