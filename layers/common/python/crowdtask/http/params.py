"""Request parameters declared once, for every route: ids in the path, list and paging parameters.

A route names its parameters with these (`id: TaskId`, `limit: Limit = DEFAULT_LIMIT`), so the
same parameter reads, validates and is documented the same way everywhere.
"""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from crowdtask.ids import MAX_ID

MAX_LIMIT = 100
DEFAULT_LIMIT = 10


def id_param(noun: str, *, description: str | None = None, max_length: int = MAX_ID) -> Path:
    """The path parameter holding the id of a `noun`."""
    return Path(max_length=max_length, description=description or f"id of the {noun}")


AccountId = Annotated[str, id_param("account")]
AssignmentId = Annotated[str, id_param("assignment")]
CampaignId = Annotated[str, id_param("campaign")]
JobId = Annotated[str, id_param("job")]
OperationId = Annotated[str, id_param("operation")]
ResultId = Annotated[str, id_param("result")]
TaskId = Annotated[str, id_param("task")]
UploadId = Annotated[str, id_param("upload")]
WorkerId = Annotated[str, id_param("worker")]
WorkstreamId = Annotated[str, id_param("workstream")]
# The dataset seed's own names and lengths: its task ids name their dataset, so they are longer.
DatasetId = Annotated[str, id_param("dataset", description="Dataset Id of the dataset")]
DatasetTaskId = Annotated[str, id_param("task", description="Task Id of the dataset", max_length=100)]
ClientId = Annotated[str, id_param("client", description="client Id of the client (your customerId)")]

# ---------------------------------------------------------------- lists
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="elements per page, 1..100 (default 10)")]
Order = Annotated[
    str | None,
    Query(
        pattern=r"^[-+]?(?:id|name|lastModifiedAt|createdAt)(?:,[-+]?(?:id|createdAt))?$",
        description="id, name, lastModifiedAt or createdAt; -field descends; `,id` may follow",
    ),
]
Search = Annotated[
    str | None, Query(max_length=500, description="every word must match a whole word of the name")
]
After = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="a position in the list's order (the `next` link carries one): the items after it",
    ),
]
Before = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="a position (the `previous` link carries one): the items before it (after `after`)",
    ),
]
ArchivedFilter = Annotated[bool | None, Query(description="only archived (true) or only live (false) ones")]
AfterMember = Annotated[
    str | None, Query(max_length=MAX_ID, description="id of the last element of the previous page")
]


def id_filter(description: str) -> Query:
    """An optional query parameter naming one resource by its id (a filter, or which one of several)."""
    return Query(max_length=MAX_ID, description=description)


def deep_flag(description: str) -> Query:
    """`deep`: apply an action to what a resource holds too."""
    return Query(description=description)
