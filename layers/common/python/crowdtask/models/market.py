"""The job market as workers see it: open jobs, assignments, submissions and the worker's own record."""

from typing import Literal

from pydantic import Field

from crowdtask.models.base import OutModel, Real, Whole
from crowdtask.models.results import ResultCounts
from crowdtask.models.submissions import ComponentResultIn, SubmitIn, TaskResultIn  # noqa: F401 - re-exported
from crowdtask.models.tasks import WorkerTaskOut

AssignmentState = Literal["open", "submitted", "released", "expired"]


class Region(OutModel):
    lat: Real = Field(description="latitude of the centre of the job's region")
    lng: Real = Field(description="longitude of the centre of the job's region")
    radius: Real = Field(
        description="radius of the region in metres; only workers inside it may take the job"
    )


class MarketJobOut(OutModel):
    """A job this worker may take now."""

    id: str = Field(description="id of the job; claim it with POST /market/jobs/{id}/claim")
    campaign: str = Field(description="id of the campaign the job is published in (pass it when claiming)")
    name: str = Field(description="name of the job")
    description: str | None = Field(default=None, description="what the job is about")
    title: str | None = Field(default=None, description="the campaign's title for the job market")
    campaignDescription: str | None = Field(default=None, description="the campaign's description")
    terms: str | None = Field(default=None, description="terms the worker agrees to by claiming")
    estDuration: str | None = Field(default=None, description="estimated duration of the job")
    workerPayment: Real = Field(description="payment (USD) for an approved result")
    points: Whole = Field(description="points for an approved result (the job's tasks' points added up)")
    taskCount: Whole = Field(description="how many tasks the job has")
    remaining: Whole = Field(description="results still open to claim")
    workTime: Whole = Field(
        description="seconds the worker has once claimed: the smallest user_ttl of the job's tasks, "
        "else the campaign's maxWorkTime, else 1 hour"
    )
    uploadTime: Whole = Field(
        description="seconds after the work deadline in which a result may still be uploaded"
    )
    expiresAt: str | None = Field(
        default=None, description="when the job leaves the market (publication + the smallest task_ttl)"
    )
    region: Region | None = Field(default=None, description="the region of a region-based job")
    distance: Real | None = Field(
        default=None, description="metres from the position given in lat/lng to the region's centre"
    )


class MarketJobPage(OutModel):
    jobs: list[MarketJobOut] = Field(
        description="jobs this worker may take now, longest on the market first (at most `limit`)"
    )


class AssignmentOut(OutModel):
    """The assignment object: a claimed job and what must be done by when."""

    id: str = Field(description="id of the assignment")
    job: str = Field(description="id of the job")
    campaign: str = Field(description="id of the campaign")
    state: AssignmentState = Field(
        description="open (working on it), submitted, released (given back) or expired (deadline passed)"
    )
    claimedAt: str = Field(description="when the job was claimed (or the redo was granted)")
    deadline: str = Field(description="work deadline: claim time + the job's work time")
    submitBy: str = Field(
        description="last moment a result is accepted: the deadline plus the campaign's maxUploadTime"
    )
    tasks: list[WorkerTaskOut] | None = Field(
        default=None,
        description="the job's tasks, in order: what the worker must do (single assignment only)",
    )
    result: str | None = Field(default=None, description="id of the submitted result")
    redoOf: str | None = Field(default=None, description="the soft-rejected result this assignment redoes")
    reason: str | None = Field(default=None, description="the requester's reason for asking for a redo")
    endedAt: str | None = Field(default=None, description="when it was submitted, released or expired")


class AssignmentPage(OutModel):
    assignments: list[AssignmentOut] = Field(description="one page of the worker's assignments, newest first")


class Earnings(OutModel):
    """As Mechanical Turk's dashboard shows them: rewards and bonuses apart, and their total."""

    pending: str = Field(description="payments of results still in review, e.g. `0.5 USD`")
    paid: str = Field(description="payments of approved results")
    bonuses: str = Field(description="bonuses requesters paid you (paid at once, never in review)")
    total: str = Field(description="everything paid to you: approved results' payments plus bonuses")


class WorkerMeOut(OutModel):
    """GET /workers/me: the worker's record on the platform."""

    id: str = Field(description="the worker's id")
    email: str = Field(description="the worker's e-mail")
    points: Whole = Field(description="points earned with approved results")
    earnings: Earnings = Field(description="money earned: pending review, paid, bonuses and their total")
    reputation: Real = Field(
        description="100 x approved / (approved + rejected) results; 100 before any review"
    )
    experience: Whole = Field(description="approved results")
    results: ResultCounts = Field(description="the worker's results by review state")
    workerGroups: list[str] = Field(description="worker groups the worker belongs to")
