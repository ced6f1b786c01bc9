"""Tasks, jobs and campaigns for tests, made through the real services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def task(account_id: str, name: str = "task", **fields: Any) -> str:
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import tasks

    body = {"name": name, "components": [{"type": "Image", "url": "https://example.com/a.png"}], **fields}
    return tasks.create_task(account_id, TaskIn.model_validate(body)).id


def job(account_id: str, name: str = "job", tasks: int = 2) -> str:
    from crowdtask.models.jobs import JobIn
    from crowdtask.services import jobs

    task_ids = [task(account_id, f"{name} task {n}") for n in range(tasks)]
    return jobs.create_job(account_id, JobIn(name=name), task_ids).id


def campaign(account_id: str, jobs: int = 2, payment: str = "0.5", results: int = 2, **fields: Any) -> str:
    from crowdtask.models.campaigns import CampaignIn
    from crowdtask.services import campaigns

    job_ids = [job(account_id, f"job {n}") for n in range(jobs)]
    body = CampaignIn.model_validate(
        {"name": "campaign", "workerPayment": Decimal(payment), "results": results, **fields}
    )
    return campaigns.create_campaign(account_id, body, job_ids).id


def pool(
    account_id: str, template: dict[str, Any], payment: str = "0.5", results: int = 1, **fields: Any
) -> str:
    """A campaign without jobs whose tasks are made from `template` (pool tasks, made with `pool_id`)."""
    return campaign(account_id, jobs=0, payment=payment, results=results, taskTemplate=template, **fields)
