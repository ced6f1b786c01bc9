"""Operations: bulk uploads as their owner follows them (status, counts, and each item's outcome)."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.pagination import decode_cursor, encode_cursor, link_header
from crowdtask.http.params import DEFAULT_LIMIT, After, Limit, OperationId
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Query

from crowdtask.models.bulk import OperationLog, OperationOut, OperationPage
from crowdtask.services import operations

app = ApiApp()
TAGS = ["Operation"]


@app.get(
    "/operations",
    summary="List your Operations",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(OperationPage, "one page of operations, newest first", 401, 403),
)
def list_operations(
    limit: Limit = DEFAULT_LIMIT,
    after: After = None,
) -> Reply:
    before = decode_cursor(after) if after else None
    found, cursor = operations.list_operations(app.requester().account_id, limit, before)
    links: dict[str, dict[str, str]] = {"self": {"href": "/operations"}}
    if cursor:
        links["next"] = {"href": f"/operations?limit={limit}&after={encode_cursor(cursor)}"}
    return app.page_reply("operations", found, links, lambda op: {"self": {"href": f"/operations/{op.id}"}})


@app.get(
    "/operations/<id>",
    summary="Get an Operation",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(OperationOut, "the operation", 401, 403, 404),
)
def get_operation(id: OperationId) -> Reply:
    found = operations.get_operation(app.requester().account_id, id)
    links = {"self": {"href": f"/operations/{found.id}"}, "log": {"href": f"/operations/{found.id}/log"}}
    return app.reply(found, links=links)


@app.get(
    "/operations/<id>/log",
    summary="The outcome of each item of an Operation",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        OperationLog,
        "outcomes by index: the task id, or why the item was not created",
        401,
        403,
        404,
    ),
)
def operation_log(
    id: OperationId,
    limit: Annotated[int, Query(ge=1, le=operations.LOG_LIMIT, description="items per page")] = 1000,
    after: Annotated[
        int | None, Query(ge=-1, description="index of the last item of the previous page")
    ] = None,
) -> Reply:
    log = operations.operation_log(app.requester().account_id, id, after, limit)
    links: dict[str, dict[str, str]] = {"self": {"href": f"/operations/{id}/log"}}
    if log.next is not None:
        links["next"] = {"href": f"/operations/{id}/log?limit={limit}&after={log.next}"}
    return app.reply(log, links=links, headers=link_header(links))


lambda_handler = entrypoint(app)
