"""Quality control: control settings, requirements and rules of a campaign; skills, blocks, statistics."""

from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from crowdtask.models.base import ApiModel, Flag, OutModel, Real, ResourceId, Whole
from crowdtask.models.durations import Duration
from crowdtask.models.times import Timestamp

Operator = Literal["lt", "lte", "gt", "gte", "eq", "ne"]
Metric = Literal[
    "controlAccuracy", "controlAnswers", "acceptanceRate", "fastSubmits", "skippedInRow", "earnings24h"
]
MAX_CONTROL_TASKS = 1000
MAX_RULES = 20


# ---------------------------------------------------------------- a task's known answers
# A share or a score kept to 6 decimal places: 1e-200 lies within its bounds, and the table holds no
# number that small (crowdtask.numbers) until it is rounded.
Rounded = Annotated[Real, AfterValidator(lambda value: round(value, 6))]


class SolutionComponent(ApiModel):
    result: Any = Field(default=None, description="the accepted result of this component; null: not checked")


class KnownSolution(ApiModel):
    """An accepted answer of a control task, shaped like the task's entry in a submission."""

    components: list[SolutionComponent] = Field(
        max_length=400,
        description="one entry per component of the task, in order (null results are not checked)",
    )
    weight: Rounded = Field(
        default=1, ge=0, le=1, description="how correct this answer is, 0..1 (default 1; 6 decimal places)"
    )


# ---------------------------------------------------------------- a campaign's settings
class QualitySettings(ApiModel):
    """Control tasks mixed into every assignment of the campaign."""

    controlTasks: list[ResourceId] = Field(
        default_factory=list,
        max_length=MAX_CONTROL_TASKS,
        description="ids of your tasks with knownSolutions, mixed into the campaign's assignments",
    )
    controlPerAssignment: Whole | None = Field(
        default=None, ge=0, le=20, description="control tasks added to each assignment (default 1 when set)"
    )


COMPARISONS = ["lt", "lte", "gt", "gte", "eq", "ne"]
PRESENCE = ["exists", "notExists"]


def _value_rules(schema: dict[str, Any]) -> None:
    """In the document: a comparison takes a number as `value`; exists / notExists take none."""
    schema["allOf"] = [
        *schema.get("allOf", []),
        {
            "if": {"properties": {"operator": {"enum": COMPARISONS}}, "required": ["operator"]},
            "then": {"properties": {"value": {"type": "number"}}, "required": ["value"]},
            "else": {"properties": {"value": {"type": "null"}}},
        },
    ]


class Requirement(ApiModel):
    """A condition on one of the requester's skills that a worker must meet to see and claim the jobs."""

    model_config = ConfigDict(**ApiModel.model_config, json_schema_extra=_value_rules)

    skill: ResourceId = Field(description="id of one of your skills")
    operator: Literal["lt", "lte", "gt", "gte", "eq", "ne", "exists", "notExists"] = Field(
        description="how the worker's value compares with `value` (exists / notExists: whether it has one)"
    )
    value: Rounded | None = Field(
        default=None,
        ge=0,
        le=100,
        description="0..100; required by the comparisons, none for exists / notExists",
    )

    @model_validator(mode="after")
    def _value_when_compared(self) -> Self:
        if self.operator in {"exists", "notExists"}:
            if self.value is not None:
                raise ValueError(f"{self.operator} takes no value")
        elif self.value is None:
            raise ValueError(f"{self.operator} compares with a value: send value")
        return self


class BlockAction(ApiModel):
    type: Literal["block"]
    scope: Literal["campaign", "account"] = Field(
        default="campaign", description="this campaign, or all of your campaigns"
    )
    duration: Duration | None = Field(default=None, description="how long; null: until the block is deleted")
    reason: str = Field(
        default="quality rule", min_length=1, max_length=2000, description="shown in the block"
    )


def _one_source(schema: dict[str, Any]) -> None:
    """In the document: a number as `value`, or `fromMetric: true` and no value."""
    schema["allOf"] = [
        *schema.get("allOf", []),
        {
            "if": {"properties": {"fromMetric": {"const": True}}, "required": ["fromMetric"]},
            "then": {"properties": {"value": {"type": "null"}}},
            "else": {"properties": {"value": {"type": "number"}}, "required": ["value"]},
        },
    ]


class SetSkillAction(ApiModel):
    model_config = ConfigDict(**ApiModel.model_config, json_schema_extra=_one_source)

    type: Literal["setSkill"]
    skill: ResourceId = Field(description="id of one of your skills")
    value: Rounded | None = Field(
        default=None, ge=0, le=100, description="the value to set, 0..100 (or fromMetric: true)"
    )
    fromMetric: Flag = Field(default=False, description="set the metric's value itself (0..100)")

    @model_validator(mode="after")
    def _a_value(self) -> Self:
        if (self.value is not None) == self.fromMetric:
            raise ValueError("send either value or fromMetric: true")
        return self


class RejectAllAction(ApiModel):
    type: Literal["rejectAll"]
    reason: str = Field(min_length=1, max_length=10000, description="the rejection reason the worker sees")


class ApproveAllAction(ApiModel):
    type: Literal["approveAll"]


Action = Annotated[
    BlockAction | SetSkillAction | RejectAllAction | ApproveAllAction, Field(discriminator="type")
]


def _threshold_rules(schema: dict[str, Any]) -> None:
    """In the document: fastSubmitThreshold with the fastSubmits metric, and only with it."""
    schema["allOf"] = [
        *schema.get("allOf", []),
        {
            "if": {"properties": {"metric": {"const": "fastSubmits"}}, "required": ["metric"]},
            "then": {
                "required": ["fastSubmitThreshold"],
                "not": {"properties": {"fastSubmitThreshold": {"type": "null"}}},
            },
            "else": {"properties": {"fastSubmitThreshold": {"type": "null"}}},
        },
    ]


class QualityRule(ApiModel):
    """When a worker's metric in this campaign meets the condition (over at least `minAnswers`), act."""

    model_config = ConfigDict(**ApiModel.model_config, json_schema_extra=_threshold_rules)

    metric: Metric = Field(
        description=(
            "controlAccuracy (weighted, 0..100), controlAnswers, acceptanceRate (0..100), fastSubmits, "
            "skippedInRow (assignments released or expired in a row), earnings24h (USD from you)"
        )
    )
    operator: Operator
    value: Rounded = Field(
        ge=-1_000_000_000,
        le=1_000_000_000,
        description="the threshold the metric is compared with (6 decimal places)",
    )
    minAnswers: Whole = Field(
        default=1, ge=1, le=100000, description="observations the metric needs before the rule applies"
    )
    fastSubmitThreshold: Duration | None = Field(
        default=None,
        description=(
            "fastSubmits (required there, none with another metric): an assignment submitted sooner than "
            "this after its claim is fast"
        ),
    )
    action: Action

    @model_validator(mode="after")
    def _threshold_for_fast_submits(self) -> Self:
        if (self.metric == "fastSubmits") != (self.fastSubmitThreshold is not None):
            raise ValueError("fastSubmitThreshold goes with the fastSubmits metric, and only with it")
        return self


# ---------------------------------------------------------------- skills and blocks
class SkillIn(ApiModel):
    name: str = Field(min_length=1, max_length=200, description="name of the skill")
    description: str | None = Field(default=None, max_length=2000, description="what it measures")


class SkillOut(OutModel):
    id: str = Field(description="id of the skill")
    name: str
    description: str | None = None
    createdAt: str = Field(description="when it was created")


class SkillPage(OutModel):
    skills: list[SkillOut] = Field(description="one page of your skills")


class SkillValueIn(ApiModel):
    value: Rounded = Field(ge=0, le=100, description="the worker's value of the skill, 0..100")


class SkillValueOut(OutModel):
    skill: str = Field(description="id of the skill")
    worker: str = Field(description="id of the worker")
    value: Real = Field(description="0..100")
    updatedAt: str = Field(description="when it was set")


class SkillValuePage(OutModel):
    workers: list[SkillValueOut] = Field(description="one page of the skill's workers, by worker id")


class BlockIn(ApiModel):
    worker: ResourceId = Field(description="id of the worker")
    campaign: ResourceId | None = Field(default=None, description="one of your campaigns; none: all of them")
    until: Timestamp | None = Field(
        default=None, description="UTC date and time the block ends; none: until it is deleted"
    )
    reason: str = Field(min_length=1, max_length=2000, description="why")


class BlockOut(OutModel):
    id: str = Field(description="id of the block")
    worker: str
    campaign: str | None = None
    until: str | None = None
    reason: str
    createdAt: str
    source: str = Field(default="requester", description="requester, or rule (a quality rule of a campaign)")


class BlockPage(OutModel):
    blocks: list[BlockOut] = Field(description="one page of your blocks, newest first")


# ---------------------------------------------------------------- statistics and actions
class QualityStats(OutModel):
    """A worker's figures, kept as the work happens (in one campaign, or with one requester)."""

    controlAnswers: Whole = Field(description="control tasks answered")
    controlCorrect: Whole = Field(description="control tasks answered correctly")
    controlAccuracy: Real | None = Field(description="weighted accuracy on control tasks, 0..100")
    submitted: Whole = Field(description="results submitted")
    approved: int
    rejected: int
    acceptanceRate: Real | None = Field(description="100 x approved / (approved + rejected)")
    fastSubmits: dict[str, int] = Field(
        default_factory=dict, description="submissions faster than each threshold a rule names (seconds)"
    )
    skippedInRow: Whole = Field(description="assignments released or expired since the last submission")
    earnings24h: Real = Field(description="USD approved in the last 24 hours")


class WorkerQualityOut(OutModel):
    worker: str = Field(description="id of the worker")
    quality: QualityStats


class QualityActionOut(OutModel):
    id: str = Field(
        description="id of the action: the worker, the rule, the event kind and the count it fired at"
    )
    campaign: str
    worker: str
    rule: Whole = Field(description="index of the rule in the campaign's qualityRules")
    metric: str
    observed: Real = Field(description="the metric's value when the rule fired")
    action: dict[str, Any] = Field(description="what was done")
    outcome: dict[str, Any] = Field(default_factory=dict, description="e.g. the block made, results rejected")
    event: str = Field(description="the event that set it off, e.g. `<result id>:submitted`")
    at: str


class QualityActionPage(OutModel):
    actions: list[QualityActionOut] = Field(
        description="one page of the campaign's quality actions, by worker, rule and time"
    )
