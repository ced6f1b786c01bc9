"""Results of the job market as requesters review them, and the workers who produced them."""

from typing import Any, Literal

from pydantic import Field

from crowdtask.models.base import ApiModel, Flag, OutModel, Real, Whole
from crowdtask.models.quality import QualityStats
from crowdtask.models.times import Timestamp

ResultState = Literal["InReview", "Approved", "Rejected", "SoftRejected"]
RESULT_STATES: tuple[str, ...] = ("InReview", "Approved", "Rejected", "SoftRejected")


class TaskRef(OutModel):
    id: str = Field(description="id of the task")
    name: str = Field(description="name of the task")


class CheckedUpload(OutModel):
    """The uploaded file a media result's submission checked; downloads always read this version."""

    versionId: str | None = Field(
        default=None, description="the version of the object that was checked (the bucket keeps versions)"
    )
    size: int = Field(description="its size in bytes")
    contentType: str = Field(description="its Content-Type")


class ComponentResultOut(OutModel):
    data: dict[str, Any] = Field(description="the component as the task defines it")
    result: dict[str, Any] | None = Field(
        default=None, description="the worker's result, validated against the component catalogue"
    )
    upload: CheckedUpload | None = Field(
        default=None, description="media results: the uploaded file as the submission checked it"
    )
    downloadUrl: str | None = Field(
        default=None,
        description="media results read by the requester: a time-limited URL to download the uploaded file "
        "as the submission checked it (that version, even if the same key was posted to again), valid for "
        "MEDIA_DOWNLOAD_SECONDS (1 hour by default)",
    )


class ControlGrade(OutModel):
    """How a control task was answered (requesters only: workers never learn which task is a control)."""

    correct: Flag = Field(description="whether the answer matched a known solution")
    score: Real = Field(description="the weight of the best solution it matched, 0 when none")
    weight: Real = Field(description="the best weight of the task's solutions")


class TaskResultOut(OutModel):
    task: TaskRef = Field(description="the task")
    startedAt: str = Field(description="when work on the task started")
    completedAt: str = Field(description="when the task was completed")
    components: list[ComponentResultOut] = Field(description="one entry per component of the task")
    control: ControlGrade | None = Field(
        default=None, description="set when the task is a control task (it has knownSolutions)"
    )


class ResultOut(OutModel):
    """The result object."""

    id: str = Field(description="id of the result")
    worker: str = Field(description="id of the worker")
    job: str = Field(description="id of the job")
    campaign: str = Field(description="id of the campaign")
    assignmentId: str = Field(description="id of the assignment the result was submitted for")
    startedAt: str = Field(description="when the worker claimed the job")
    completedAt: str = Field(description="when the result was submitted")
    state: ResultState = Field(description="InReview, Approved, Rejected or SoftRejected")
    taskResults: list[TaskResultOut] = Field(description="one entry per task of the job, in order")
    reviewBy: str | None = Field(
        default=None,
        description="while InReview: when it is approved automatically (maxReviewTime, default 3 days)",
    )
    reviewedAt: str | None = Field(default=None, description="when it was approved or (soft-)rejected")
    autoApproved: Flag | None = Field(
        default=None, description="true when the review window closed unreviewed"
    )
    reviewedBy: str | None = Field(
        default=None,
        description="the policy that reviewed it (autoReview.control, autoReview.agreement); none: you, "
        "a quality rule, or the review window (autoApproved)",
    )
    message: str | None = Field(default=None, description="the requester's message with the approval")
    reason: str | None = Field(default=None, description="the requester's reason for a (soft-)rejection")
    until: str | None = Field(
        default=None, description="soft-rejected: the worker may redo the job until then"
    )


class ResultPage(OutModel):
    results: list[ResultOut] = Field(description="one page of results, in submission order")


class Score(OutModel):
    me: Real = Field(description="on jobs of the calling requester")
    global_: Real = Field(alias="global", description="across the platform")


class ResultCounts(OutModel):
    inReview: Whole = Field(description="results in review")
    approved: Whole = Field(description="approved results")
    rejected: Whole = Field(description="rejected results")


class WorkerStatsOut(OutModel):
    """A worker as a requester sees them in one campaign."""

    id: str = Field(description="id of the worker")
    reputation: Score = Field(
        description="100 x approved / (approved + rejected) results (100 before any review)"
    )
    experience: Score = Field(description="approved results")
    results: ResultCounts = Field(description="the worker's result counts in this campaign")
    quality: QualityStats | None = Field(default=None, description="the worker's statistics in this campaign")


class WorkerPage(OutModel):
    workers: list[WorkerStatsOut] = Field(description="one page of the campaign's workers, by id")


class WorkerResultsPage(OutModel):
    results: list[ResultOut] = Field(description="one page of the worker's results in the campaign")
    worker: WorkerStatsOut = Field(description="the worker")


class ApproveIn(ApiModel):
    message: str | None = Field(
        default=None, max_length=10000, description="an optional message for the worker (Markdown)"
    )


class RejectIn(ApiModel):
    reason: str = Field(
        min_length=1,
        max_length=10000,
        description="a reason for the rejection that is displayed to the worker",
    )


class SoftRejectIn(ApiModel):
    reason: str = Field(
        min_length=1,
        max_length=10000,
        description="a reason for the rejection that is displayed to the worker provided in Markdown",
    )
    until: Timestamp = Field(
        description="timestamp (UTC) until when the worker can redo the job; in the future"
    )


class ApproveAllOut(OutModel):
    campaign: str = Field(description="id of the campaign")
    worker: str | None = Field(default=None, description="id of the worker (approve-all of one worker)")
    approved: Whole = Field(description="results this call approved")
    more: Flag = Field(
        description="true when results were still in review as the call ended (its time budget is "
        "~20 s); call again to go on"
    )
