"""Jobs: the unit of work a worker gets paid for, a sequence of tasks."""

from typing import Any

from pydantic import Field

from crowdtask.models.base import ApiModel, Flag, JsonObject, OutModel, Whole


class JobIn(ApiModel):
    """POST /jobs and PUT /jobs/{id}."""

    name: str = Field(min_length=1, max_length=500, description="name of the job")
    description: str | None = Field(default=None, max_length=5000, description="what this job is about")
    properties: JsonObject | None = Field(default=None, description="custom key/value pairs (optional)")


class JobOut(OutModel):
    """The job object."""

    id: str = Field(description="id of the resource")
    name: str = Field(description="name of the job")
    description: str | None = Field(default=None, description="what this job is about")
    properties: dict[str, Any] | None = Field(default=None, description="custom key/value pairs")
    resourcesSize: str = Field(description="size of the job's tasks including media files")
    estimatedUploadSize: str = Field(description="estimated upload size of the results for this job")
    taskCount: Whole = Field(description="how many tasks the job has")
    readOnly: Flag = Field(description="true while a published campaign uses the job")
    lastModifiedAt: str = Field(description="the datetime of the last modification of the resource")
    createdAt: str = Field(description="the datetime of the creation of the resource")
    archived: Flag = Field(description="if the resource is archived")


class JobPage(OutModel):
    jobs: list[JobOut] = Field(description="one page of jobs")


class JobTaskIds(OutModel):
    id: str = Field(description="id of the job")
    tasks: list[str] = Field(description="the job's task ids, in order")
