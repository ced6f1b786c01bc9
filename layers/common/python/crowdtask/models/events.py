"""The catalogue of events: every type crowdtask sends, what it means, and its payload's model.

An event is written to the outbox with the change it reports (store/outbox.py), put on the
EventBridge bus as `detail {id, type, timestamp, account, campaign?, data}` and delivered to
webhooks as `{type, timestamp, data}` (the OpenAPI document's `webhooks`). `data` carries ids and
states, never secrets. Money is a decimal string in USD (micro-dollars exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    """A payload: exactly these fields (a field no model names is a defect of the catalogue)."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- accounts, datasets, operations
class AccountCreated(EventData):
    accountId: str = Field(description="the new account")
    role: str = Field(description="requester or worker")


class DatasetCreated(EventData):
    datasetId: str = Field(description="the new dataset")
    clientId: str = Field(description="the client the dataset belongs to")
    tasks: int = Field(description="how many tasks the dataset holds")


class DatasetTaskChanged(EventData):
    taskId: str = Field(description="the dataset task")
    datasetId: str = Field(description="its dataset")
    clientId: str | None = Field(default=None, description="the dataset's client")
    stage: str | None = Field(default=None, description="the task's stage")


class OperationFinished(EventData):
    accountId: str = Field(description="the account that started the operation")
    operationId: str = Field(description="the operation")
    status: str | None = Field(default=None, description="SUCCESS or FAIL")
    successCount: int = Field(description="items stored")
    failedCount: int = Field(description="items refused or failed")


# ---------------------------------------------------------------- campaigns and jobs
class CampaignMoved(EventData):
    accountId: str = Field(description="the campaign's owner")
    campaignId: str = Field(description="the campaign")
    frozen: str | None = Field(default=None, description="USD frozen from the balance (campaign.published)")
    released: str | None = Field(default=None, description="USD given back to the available balance")


class CampaignPublishFailed(EventData):
    accountId: str = Field(description="the campaign's owner")
    campaignId: str = Field(description="the campaign whose startDate came")
    reason: str = Field(description="why it could not be published")


class JobRef(EventData):
    jobId: str = Field(description="the job")
    campaignId: str = Field(description="its campaign")


class JobClosed(JobRef):
    reason: str = Field(description="why it takes no more claims (`confident`: its answer is sure)")
    released: str = Field(description="USD its untaken slots would have cost, given back")


class JobReopened(JobRef):
    slots: int = Field(description="how many results it takes again")


class JobRepeatSkipped(JobRef):
    reason: str = Field(description="why the repeat opened nothing this time")


# ---------------------------------------------------------------- assignments and results
class AssignmentEnded(EventData):
    assignmentId: str = Field(description="the assignment")
    workerId: str = Field(description="the worker who held it")
    jobId: str = Field(description="its job")
    campaignId: str = Field(description="its campaign")


class AssignmentClaimed(AssignmentEnded):
    deadline: str = Field(description="when the work is due (UTC)")


class ResultSubmitted(EventData):
    resultId: str = Field(description="the result, in review")
    workerId: str = Field(description="who submitted it")
    jobId: str = Field(description="its job")
    campaignId: str = Field(description="its campaign")
    reviewBy: str | None = Field(default=None, description="when it is approved unless reviewed first (UTC)")


class ResultReviewed(EventData):
    resultId: str = Field(description="the result")
    workerId: str = Field(description="who submitted it")
    jobId: str = Field(description="its job")
    campaignId: str = Field(description="its campaign")
    requesterId: str = Field(description="the campaign's owner")
    reviewedBy: str | None = Field(
        default=None, description="the policy that decided, when not the requester"
    )


class ResultApproved(ResultReviewed):
    auto: bool = Field(description="approved because its review window closed")


class ResultRejected(ResultReviewed):
    reason: str = Field(description="why, as the worker sees it")


class ResultSoftRejected(ResultRejected):
    until: str = Field(description="until when the worker may redo the job (UTC)")
    assignmentId: str = Field(description="the new assignment to redo it")


class BonusPaid(EventData):
    bonusId: str = Field(description="the bonus")
    requesterId: str = Field(description="who paid it")
    workerId: str = Field(description="who was paid")
    resultId: str | None = Field(default=None, description="the result it rewards, if one")
    amount: str = Field(description="USD to the worker")
    commission: str = Field(description="USD commission on it")
    reason: str = Field(description="why, as the worker sees it")


# ---------------------------------------------------------------- quality
class WorkerBlocked(EventData):
    requesterId: str = Field(description="who blocked the worker")
    workerId: str = Field(description="the worker")
    campaignId: str | None = Field(default=None, description="the campaign; absent: all the requester's")
    until: str | None = Field(default=None, description="when the block ends (UTC); absent: for good")
    blockId: str = Field(description="the block")
    actionId: str | None = Field(default=None, description="the quality rule's action, when a rule did it")


class WorkerSkillSet(EventData):
    requesterId: str = Field(description="the skill's owner")
    workerId: str = Field(description="the worker")
    skillId: str = Field(description="the skill")
    value: float = Field(description="the new value, 0..100")
    actionId: str = Field(description="the quality rule's action that set it")


class WorkerResultsRejected(EventData):
    requesterId: str = Field(description="the campaign's owner")
    campaignId: str = Field(description="the campaign")
    workerId: str = Field(description="the worker")
    rejected: int = Field(description="results rejected by the action")
    returned: str = Field(description="USD they would have cost, kept for the results replacing them")
    actionId: str = Field(description="the quality rule's action")


class WorkerResultsApproved(EventData):
    requesterId: str = Field(description="the campaign's owner")
    campaignId: str = Field(description="the campaign")
    workerId: str = Field(description="the worker")
    approved: int = Field(description="results approved by the action")
    actionId: str = Field(description="the quality rule's action")


# ---------------------------------------------------------------- webhooks
class WebhookTest(EventData):
    webhookId: str = Field(description="the subscription asked to send a test")


class WebhookDisabled(EventData):
    webhookId: str = Field(description="the subscription disabled")
    reason: str = Field(description="why: its endpoint answered 410, or failed for 5 days")


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    data: type[EventData]


CATALOGUE: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType(
            "account.created", "An account was created (by an admin or by signing up).", AccountCreated
        ),
        EventType("dataset.created", "A dataset and its tasks were created.", DatasetCreated),
        EventType("dataset_task.submitted", "A dataset task was submitted for review.", DatasetTaskChanged),
        EventType("dataset_task.accepted", "A submitted dataset task was accepted.", DatasetTaskChanged),
        EventType(
            "dataset_task.rejected", "A submitted dataset task went back to its assignee.", DatasetTaskChanged
        ),
        EventType(
            "operation.finished", "An asynchronous operation (a bulk upload) ended.", OperationFinished
        ),
        EventType("campaign.published", "A campaign was published: its budget is frozen.", CampaignMoved),
        EventType("campaign.paused", "A campaign was paused: workers cannot claim its jobs.", CampaignMoved),
        EventType("campaign.continued", "A paused campaign goes on.", CampaignMoved),
        EventType(
            "campaign.cancelled", "A campaign was cancelled: what is still frozen goes back.", CampaignMoved
        ),
        EventType("campaign.finished", "A campaign has all its results, or its endDate came.", CampaignMoved),
        EventType(
            "campaign.publish_failed",
            "A campaign's startDate came but it could not be published.",
            CampaignPublishFailed,
        ),
        EventType("job.expired", "A job's time on the market (task_ttl) is over.", JobRef),
        EventType("job.closed", "A job takes no more claims: its answer is confident.", JobClosed),
        EventType("job.reopened", "A repeating job takes results again.", JobReopened),
        EventType("job.repeat_skipped", "A repeat could not open the job this time.", JobRepeatSkipped),
        EventType("assignment.claimed", "A worker claimed a job.", AssignmentClaimed),
        EventType("assignment.released", "A worker gave an assignment back.", AssignmentEnded),
        EventType("assignment.expired", "An assignment's time ran out without a result.", AssignmentEnded),
        EventType("result.submitted", "A worker submitted a result: it is in review.", ResultSubmitted),
        EventType("result.approved", "A result was approved and paid.", ResultApproved),
        EventType("result.rejected", "A result was rejected: the job takes another.", ResultRejected),
        EventType(
            "result.soft_rejected", "A result was sent back: its worker may redo the job.", ResultSoftRejected
        ),
        EventType("bonus.paid", "A requester paid a worker a bonus.", BonusPaid),
        EventType(
            "worker.blocked", "A worker was blocked, by the requester or a quality rule.", WorkerBlocked
        ),
        EventType("worker.skill_set", "A quality rule set a worker's skill.", WorkerSkillSet),
        EventType(
            "worker.results_rejected",
            "A quality rule rejected a worker's results in review.",
            WorkerResultsRejected,
        ),
        EventType(
            "worker.results_approved",
            "A quality rule approved a worker's results in review.",
            WorkerResultsApproved,
        ),
        EventType("webhook.test", "Sent on request to check a webhook subscription.", WebhookTest),
        EventType("webhook.disabled", "A webhook subscription was disabled.", WebhookDisabled),
    )
}


def validate(type_: str, data: dict[str, Any]) -> EventData:
    """The payload as its catalogue model reads it; KeyError for a type the catalogue lacks."""
    return CATALOGUE[type_].data.model_validate(data)


class DeliveredEvent(BaseModel):
    """The body a webhook receives."""

    type: str = Field(description="the event type")
    timestamp: str = Field(description="when it happened: ISO-8601 UTC with milliseconds")
    data: dict[str, Any] = Field(description="the payload")


def webhooks_section() -> dict[str, Any]:
    """The OpenAPI 3.1 `webhooks`: one entry per event type, its body `{type, timestamp, data}`."""
    section: dict[str, Any] = {}
    for event in CATALOGUE.values():
        schema = {
            "type": "object",
            "title": f"Event {event.name}",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"type": "string", "const": event.name, "description": "the event type"},
                "timestamp": {
                    "type": "string",
                    "format": "date-time",
                    "description": "when it happened: ISO-8601 UTC with milliseconds",
                },
                "data": _inline(event.data.model_json_schema()),
            },
        }
        section[event.name] = {
            "post": {
                "summary": event.description,
                "description": (
                    f"{event.description} Sent as a signed request (Standard Webhooks: webhook-id is the "
                    "event id, webhook-timestamp, webhook-signature). Answer 2xx to acknowledge it."
                ),
                "operationId": "event_" + event.name.replace(".", "_"),
                "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
                "responses": {"2XX": {"description": "received"}},
            }
        }
    return section


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A payload model's schema with no $defs (they are flat models)."""
    schema = dict(schema)
    schema.pop("$defs", None)
    return schema
