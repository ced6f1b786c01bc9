"""Campaigns: the conditions under which jobs are published to the job market."""

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from crowdtask import templates
from crowdtask.models.answers import AggregationSettings, AutoReview, OverlapSettings
from crowdtask.models.base import (
    ApiModel,
    Flag,
    JsonObject,
    OutModel,
    Real,
    Whole,
    decimal_field,
    decimal_text,
    id_text,
)
from crowdtask.models.durations import Duration
from crowdtask.models.quality import MAX_RULES, QualityRule, QualitySettings, Requirement
from crowdtask.models.times import Timestamp

State = Literal["unpublished", "active", "paused", "finished", "cancelled"]


class CampaignIn(ApiModel):
    """POST /campaigns and PUT /campaigns/{id}."""

    name: str = Field(min_length=1, max_length=500, description="name of the campaign")
    title: str | None = Field(default=None, max_length=500, description="title for jobs on the job market")
    description: str | None = Field(
        default=None, max_length=10000, description="description for jobs in this campaign on the job market"
    )
    terms: str | None = Field(default=None, max_length=10000, description="terms the worker agrees to")
    estDuration: Duration | None = Field(
        default=None, description="estimated duration for jobs in this campaign"
    )
    workerPayment: Annotated[
        Decimal,
        decimal_field(4, description="payment (in USD) for workers who work on jobs in this campaign"),
        decimal_text(4),
    ] = Decimal(0)
    results: Whole = Field(
        default=1, ge=1, le=100000, description="number of results that should be generated for each job"
    )
    maxResultsPerWorker: Whole | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="number of times a single worker can work on each job (optional)",
    )
    workerGroup: Annotated[str | None, BeforeValidator(id_text)] = Field(
        default=None,
        max_length=64,
        description="id of a workergroup whose workers may work on the jobs (optional)",
    )
    maxWorkTime: Duration | None = Field(
        default=None, description="time a worker has to work on a job (optional)"
    )
    maxUploadTime: Duration | None = Field(
        default=None,
        description="time a worker has to upload the results after finishing his work (optional)",
    )
    maxReviewTime: Duration | None = Field(
        default=None,
        description="time to (soft-) reject results before they are auto-approved (optional)",
    )
    training: Flag = Field(
        default=False, description="if this campaign is a training for future jobs (optional)"
    )
    startDate: Timestamp | None = Field(
        default=None, description="publish this campaign automatically at a specific date (optional, UTC)"
    )
    endDate: Timestamp | None = Field(
        default=None,
        description=(
            "finish this campaign automatically at a specific date (optional, UTC); after startDate when "
            "both are given"
        ),
    )
    properties: JsonObject | None = Field(default=None, description="custom key/value pairs (optional)")
    taskTemplate: JsonObject | None = Field(
        default=None,
        description=(
            "a task (either task form) whose string values may hold {{placeholders}}; a task created with "
            "`pool_id` = this campaign and `input_values` is the template with each placeholder replaced by "
            "the input value of that name (a value that is only a placeholder takes the input's JSON type)"
        ),
    )

    quality: QualitySettings | None = Field(
        default=None, description="control tasks mixed into every assignment (kept as published)"
    )
    requirements: list[Requirement] = Field(
        default_factory=list,
        max_length=20,
        description=(
            "conditions on your skills every worker must meet to see and claim the jobs (kept as published)"
        ),
    )
    qualityRules: list[QualityRule] = Field(
        default_factory=list,
        max_length=MAX_RULES,
        description="rules evaluated on every submission, review, release and expiry of a worker's work",
    )
    aggregation: AggregationSettings | None = Field(
        default=None, description="how results are aggregated per task as they come in (default majority)"
    )
    overlap: OverlapSettings | None = Field(
        default=None,
        description="dynamic overlap: each job collects `min` to `results` results, stopping once confident "
        "(publishing freezes the budget for `results`; what a job did not need goes back when it closes)",
    )
    autoReview: AutoReview | None = Field(default=None, description="results reviewed by policy")

    @field_validator("taskTemplate")
    @classmethod
    def _bounded_template(cls, template: dict[str, Any] | None) -> dict[str, Any] | None:
        if template is not None:
            templates.check_bounds(template)
        return template

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.startDate and self.endDate and self.endDate <= self.startDate:
            raise ValueError("endDate must be after startDate")
        return self

    @model_validator(mode="after")
    def _overlap_within_results(self) -> Self:
        if self.overlap is not None:
            if self.overlap.max is not None and self.overlap.max != self.results:
                raise ValueError(
                    "overlap.max is the campaign's results: send the same number or leave it out"
                )
            if self.overlap.min > self.results:
                raise ValueError("overlap.min must not exceed results")
        return self


class CampaignOut(OutModel):
    """The campaign object."""

    id: str = Field(description="id of the resource")
    name: str
    title: str | None = None
    description: str | None = None
    terms: str | None = None
    estDuration: str | None = None
    workerPayment: Real = Field(description="payment (in USD) per job result")
    results: int
    maxResultsPerWorker: int | None = None
    workerGroup: str | None = None
    maxWorkTime: str | None = None
    maxUploadTime: str | None = None
    maxReviewTime: str | None = None
    training: bool = False
    startDate: str | None = None
    endDate: str | None = None
    properties: dict[str, Any] | None = None
    taskTemplate: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    requirements: list[dict[str, Any]] = Field(default_factory=list)
    qualityRules: list[dict[str, Any]] = Field(default_factory=list)
    aggregation: dict[str, Any] | None = None
    overlap: dict[str, Any] | None = None
    autoReview: dict[str, Any] | None = None
    state: State = Field(description="unpublished, active, paused, finished or cancelled")
    jobCount: Whole = Field(description="how many jobs the campaign has")
    readOnly: Flag = Field(description="true once the campaign is finished or cancelled")
    lastModifiedAt: str = Field(description="the datetime of the last modification of the resource")
    createdAt: str = Field(description="the datetime of the creation of the resource")
    archived: Flag = Field(description="if the resource is archived")


class CampaignPage(OutModel):
    campaigns: list[CampaignOut] = Field(description="one page of campaigns")


class CampaignJobIds(OutModel):
    id: str = Field(description="id of the campaign")
    jobs: list[str] = Field(description="the campaign's job ids, in order")
