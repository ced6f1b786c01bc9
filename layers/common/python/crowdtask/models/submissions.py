"""What a worker submits for an assignment, apart from the market answers (those load the task models)."""

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from crowdtask.models.base import ApiModel, ResourceId, id_text
from crowdtask.models.times import Timestamp


def _task_ref(value: Any) -> Any:
    """`task` may be the task's id (string or number) or the task object `{id, ...}` of the assignment."""
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    return id_text(value)


class ComponentResultIn(ApiModel):
    result: Any = Field(
        default=None,
        description="the result of this component as the catalogue defines it; null for components that "
        "produce none (Image, Text, ...) and for optional ones left out",
    )


class TaskResultIn(ApiModel):
    task: Annotated[ResourceId, BeforeValidator(_task_ref)] = Field(
        description="id of the task (or the task object); tasks come in the job's order"
    )
    startedAt: Timestamp | None = Field(default=None, description="when work on the task started (UTC)")
    completedAt: Timestamp | None = Field(default=None, description="when the task was completed (UTC)")
    components: list[ComponentResultIn] = Field(
        max_length=400,
        description="one entry per component of the task, in order: its `components`, then its "
        "`components_attributes`",
    )


class SubmitIn(ApiModel):
    """POST /assignments/{id}/submit."""

    taskResults: list[TaskResultIn] = Field(
        max_length=1000, description="one entry per task of the job, in the job's order"
    )
