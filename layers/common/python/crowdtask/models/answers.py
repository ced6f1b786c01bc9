"""Answers: how a campaign aggregates its results, grows its overlap and reviews by policy; aggregates."""

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from crowdtask.models.base import ApiModel, Flag, OutModel, Real, ResourceId, Whole

LiveMethod = Literal["majority", "weighted"]


# ---------------------------------------------------------------- a campaign's settings
def _skill_weighs(schema: dict[str, Any]) -> None:
    """In the document: a `skill` comes with the weighted method, sent as such."""
    schema["if"] = {"properties": {"skill": {"type": "string"}}, "required": ["skill"]}
    schema["then"] = {"properties": {"method": {"const": "weighted"}}, "required": ["method"]}


class AggregationSettings(ApiModel):
    """How each submission's votes count in the live aggregate of its tasks (kept as published)."""

    model_config = ConfigDict(**ApiModel.model_config, json_schema_extra=_skill_weighs)

    method: LiveMethod = Field(
        default="majority",
        description="majority: one vote per result; weighted: each vote weighs the worker's skill value "
        "(`skill`) or, without one, the worker's control accuracy in the campaign (0.5 before any)",
    )
    skill: ResourceId | None = Field(default=None, description="weighted: id of one of your skills")

    @model_validator(mode="after")
    def _skill_weighs(self) -> Self:
        if self.skill is not None and self.method != "weighted":
            raise ValueError("skill goes with the weighted method")
        return self


class OverlapSettings(ApiModel):
    """Dynamic overlap: a job stops collecting results once its answer is confident enough."""

    min: Whole = Field(
        default=1,
        ge=1,
        le=100000,
        description="results a job collects in any case (at most max and the campaign's `results`)",
    )
    max: Whole | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="the most results a job collects: the campaign's `results` (the same, or leave it out)",
    )
    confidence: Real = Field(
        ge=0.000001,
        le=1,
        description=(
            "a job stops once every aggregated component of its tasks is this confident (0.000001..1: "
            "smaller shares are no confidence, and the table holds no number below 1E-130)"
        ),
    )

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if self.max is not None and self.max < self.min:
            raise ValueError("max must be at least min")
        return self


def _a_bound(schema: dict[str, Any]) -> None:
    """In the document: approveAtLeast, rejectBelow or both, each a number."""
    schema["anyOf"] = [
        {"properties": {name: {"type": "number"}}, "required": [name]}
        for name in ("approveAtLeast", "rejectBelow")
    ]


class ControlPolicy(ApiModel):
    """Mechanical Turk's ScoreMyKnownAnswers: a result's score on its control tasks decides it."""

    model_config = ConfigDict(**ApiModel.model_config, json_schema_extra=_a_bound)

    approveAtLeast: Real | None = Field(
        default=None, ge=0, le=1, description="approve when the result's control score is at least this"
    )
    rejectBelow: Real | None = Field(
        default=None,
        ge=0,
        le=1,
        description="reject when the result's control score is below this (not above approveAtLeast)",
    )

    @model_validator(mode="after")
    def _a_threshold(self) -> Self:
        if self.approveAtLeast is None and self.rejectBelow is None:
            raise ValueError("send approveAtLeast, rejectBelow or both")
        if (
            self.approveAtLeast is not None
            and self.rejectBelow is not None
            and self.rejectBelow > self.approveAtLeast
        ):
            raise ValueError("rejectBelow must not be above approveAtLeast")
        return self


class AgreementPolicy(ApiModel):
    """Mechanical Turk's SimplePlurality: once a job has its results, agreeing with the answer decides."""

    approve: Flag = Field(default=True, description="approve the results that agree with the answer")
    reject: Flag = Field(default=False, description="reject the results that disagree with it")
    minConfidence: Real = Field(
        default=0.5, ge=0, le=1, description="only components at least this confident decide"
    )


class AutoReview(ApiModel):
    """Review by policy, as soon as the evidence is in."""

    control: ControlPolicy | None = Field(default=None, description="decide on the control score at submit")
    agreement: AgreementPolicy | None = Field(
        default=None, description="decide on agreement once the job's overlap is complete"
    )


# ---------------------------------------------------------------- aggregates
class AggregateComponent(OutModel):
    result: Any = Field(description="the aggregated result, shaped like a submitted one")
    confidence: Real = Field(description="0..1: the answer's share of the (weighted) votes, or its posterior")
    votes: Whole = Field(description="how many results gave this answer")


class AggregateOut(OutModel):
    task: str = Field(description="id of the task")
    method: str = Field(description="majority, weighted or dawid-skene")
    answers: Whole = Field(description="results aggregated")
    components: list[AggregateComponent | None] = Field(
        description="one per component of the task, in order; null where the component does not aggregate"
    )


class AggregatePage(OutModel):
    aggregates: list[AggregateOut] = Field(description="one page of the campaign's aggregates, by task id")


class AggregationIn(ApiModel):
    method: Literal["dawid-skene"] = Field(description="the aggregation to run over the campaign's results")
