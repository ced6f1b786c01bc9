"""Published jobs, claims and submissions for market and review tests, made through the real services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}
PICTURE = {"type": "Image", "url": "https://example.com/a.png"}


def published_job(
    requester_id: str, tasks: list[dict[str, Any]] | None = None, **campaign: Any
) -> tuple[str, str]:
    """A published campaign of one job: (campaign id, job id). Tasks show a picture and ask yes or no."""
    from crowdtask.models.campaigns import CampaignIn
    from crowdtask.models.jobs import JobIn
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import campaigns, jobs
    from crowdtask.services import tasks as task_service
    from crowdtask.services.flows import publishing

    specs = tasks or [{}]
    task_ids = [
        task_service.create_task(
            requester_id,
            TaskIn.model_validate({"name": f"task {n}", "components": [PICTURE, CHOICE], **spec}),
        ).id
        for n, spec in enumerate(specs)
    ]
    job_id = jobs.create_job(requester_id, JobIn(name="job"), task_ids).id
    body = {"name": "campaign", "workerPayment": Decimal("0.5"), "results": 2, **campaign}
    campaign_id = campaigns.create_campaign(requester_id, CampaignIn.model_validate(body), [job_id]).id
    publishing.publish(requester_id, campaign_id)
    return campaign_id, job_id


def answers(tasks: list[Any], choice: str = "Yes") -> dict[str, Any]:
    """A valid submission body for an assignment's tasks: every interactive component answered."""
    task_results = []
    for task in tasks:
        components = [*task.components, *task.components_attributes]
        results = []
        for component in components:
            kind = component.get("type") or component.get("component_type")
            results.append({"result": _answer(kind, choice)})
        task_results.append({"task": task.id, "components": results})
    return {"taskResults": task_results}


def _answer(kind: str, choice: str) -> Any:
    return {
        "BinaryChoice": {"selectedOption": choice},
        "TextInput": {"text": "hello"},
        "Rating": {"rating": 3},
        "text_area": {"text": "fine"},
    }.get(kind)


def claim_and_submit(worker_id: str, job_id: str, campaign_id: str | None = None, **where: Any) -> Any:
    """Claim the job and submit a valid result: the ResultOut."""
    from crowdtask.models.market import SubmitIn
    from crowdtask.services import assignments
    from crowdtask.services.flows import reviewing

    assignment = assignments.claim(worker_id, job_id, campaign_id, where.get("lat"), where.get("lng"))
    return reviewing.submit(
        worker_id, assignment.id, SubmitIn.model_validate(answers(assignment.tasks or []))
    )


def balances(account_id: str) -> tuple[str, str]:
    from crowdtask.services import accounts

    profile = accounts.get_profile(account_id)
    return profile.balance.available, profile.balance.frozen


def market_item(job_id: str, campaign_id: str) -> Any:
    """The market item of a job (or a pool task) in a campaign, read consistently; None when there is none."""
    from crowdtask.store import dynamo, keys

    return dynamo.get(*keys.market_job(job_id, campaign_id), consistent=True)
