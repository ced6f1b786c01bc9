"""Throughput: workstreams, the records of completed work posted with their x-api-key, and totals."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Any, Literal

from crowdtask.http.app import TEXT_BODY_TYPES, ApiApp, Reply, entrypoint
from crowdtask.http.auth import bearer_token
from crowdtask.http.params import UploadId, WorkstreamId
from crowdtask.http.schemas import TOKEN_AUTH, WORKSTREAM_KEY_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BeforeValidator

from crowdtask import errors
from crowdtask.models.throughput import (
    RECEIVED,
    GroupBy,
    ReceivedOut,
    ThroughputIn,
    ThroughputTotalsOut,
    UploadOut,
    WorkstreamIn,
    WorkstreamOut,
)
from crowdtask.models.times import calendar_day
from crowdtask.services import throughput, throughput_uploads, workstreams

app = ApiApp()
TAGS = ["Throughput"]


def _links(workstream_id: str) -> dict[str, Any]:
    base = f"/workstreams/{workstream_id}"
    return {
        "self": {"href": base},
        "rotate-api-key": {"href": f"{base}/api-key", "method": "POST"},
        "throughput": {"href": f"{base}/throughput", "method": "POST"},
        "totals": {"href": f"{base}/throughput"},
        "csv-upload": {"href": f"{base}/throughput/csv", "method": "POST"},
    }


def _api_key() -> str | None:
    key: str | None = app.current_event.headers.get("x-api-key")
    return key


def _csv_text() -> str:
    """The request body as text: CSV, UTF-8 (a byte-order mark is allowed)."""
    event = app.current_event
    media_type = (event.headers.get("content-type") or "").partition(";")[0].strip().lower()
    if media_type not in TEXT_BODY_TYPES:
        raise errors.UnsupportedMediaType("Send the file as the body with Content-Type: text/csv.")
    raw = event.body or ""
    try:
        data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
        return data.decode("utf-8-sig")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise errors.ValidationFailed.one("body", "the CSV must be UTF-8 text", "INVALID_VALUE") from exc


@app.post(
    "/workstreams",
    summary="Create a Workstream",
    description="Use case and task definition ids are generated. The `api_key` is shown only in this answer.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(
        WorkstreamOut,
        "the new workstream, with its api_key",
        401,
        403,
        status=201,
    ),
)
def create_workstream(workstream: Annotated[WorkstreamIn, Body()]) -> Reply:
    created = workstreams.create_workstream(app.requester().account_id, workstream)
    return app.created(created, f"/workstreams/{created.id}", links=_links(created.id))


@app.get(
    "/workstreams/<workstream_id>",
    summary="Get a Workstream",
    description="The configuration; the api_key is never shown again.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(WorkstreamOut, "the workstream", 401, 403, 404),
)
def get_workstream(workstream_id: WorkstreamId) -> Reply:
    found = workstreams.get_workstream(app.requester().account_id, workstream_id)
    return app.reply(found, links=_links(found.id))


@app.post(
    "/workstreams/<workstream_id>/api-key",
    summary="Rotate the API key of a Workstream",
    description="A new key replaces the current one at once; it is shown only in this answer.",
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(WorkstreamOut, "the workstream with its new api_key", 401, 403, 404),
)
def rotate_api_key(workstream_id: WorkstreamId) -> Reply:
    rotated = workstreams.rotate_api_key(app.requester().account_id, workstream_id)
    return app.reply(rotated, links=_links(rotated.id))


@app.post(
    "/workstreams/<workstream_id>/throughput",
    summary="Submit completed work (Throughput)",
    description=(
        "API to be used by the clients to submit task completed info which is used to capture task "
        "attributes of completed unit of work across different workstreams. Authenticated by the "
        "workstream's `x-api-key`. A record with a `unique_id` already seen for the same use case and "
        "task definition is ignored, or replaces the earlier one when `replace` is true."
    ),
    tags=TAGS,
    security=WORKSTREAM_KEY_AUTH,
    responses=responses(ReceivedOut, "Successful", 401),
)
def submit_throughput(workstream_id: WorkstreamId, record: Annotated[ThroughputIn, Body()]) -> Reply:
    workstream = workstreams.authenticate_key(workstream_id, _api_key())
    throughput.receive(workstream, record)
    return app.reply(ReceivedOut(message=RECEIVED))


@app.get(
    "/workstreams/<workstream_id>/throughput",
    summary="Throughput totals of a Workstream",
    description=(
        "Totals of tasks, subtasks, duration and measures over UTC days (by `task_completed_at`), "
        "optionally grouped by worker, use case, task definition or day."
    ),
    tags=TAGS,
    security=TOKEN_AUTH,
    responses=responses(ThroughputTotalsOut, "the totals", 401, 403, 404),
)
def get_totals(
    workstream_id: WorkstreamId,
    first_day: Annotated[
        date | None,
        BeforeValidator(calendar_day),
        Query(alias="from", description="first UTC day counted, YYYY-MM-DD (inclusive)"),
    ] = None,
    last_day: Annotated[
        date | None,
        BeforeValidator(calendar_day),
        Query(alias="to", description="last UTC day counted, YYYY-MM-DD (inclusive); before `from`: no day"),
    ] = None,
    group_by: Annotated[GroupBy | None, Query(description="worker, use_case, task_definition or day")] = None,
) -> Reply:
    workstream = workstreams.owned_workstream(app.requester().account_id, workstream_id)
    return app.reply(throughput.totals(workstream, first_day, last_day, group_by))


@app.post(
    "/workstreams/<workstream_id>/throughput/csv",
    summary="Upload throughput records as CSV",
    description=(
        "The body is a CSV file (Content-Type: text/csv, UTF-8) whose header row names the fields of a "
        "throughput record; `measures.<name>` columns are measures, `dataset_id`, `parent_asset_id` and "
        "`task_parameters.<key>` columns are task parameters, an empty cell is an absent field. Every row "
        "is validated at once (a bad header refuses the file); valid rows are stored shortly after, "
        "through the bulk queue. Follow `errors_url` for the counts and the per-row errors."
    ),
    tags=TAGS,
    security=WORKSTREAM_KEY_AUTH,
    responses=responses(UploadOut, "the upload, accepted", 401, 415, status=202),
)
def upload_csv(
    workstream_id: WorkstreamId,
    data_source: Annotated[
        Literal["csv_manual", "csv_automated"],
        Query(description="data_source of rows that leave it empty"),
    ] = "csv_manual",
) -> Reply:
    workstream = workstreams.authenticate_key(workstream_id, _api_key())
    upload = throughput_uploads.upload_csv(workstream, _csv_text(), data_source)
    return app.created(upload, upload.errors_url, status=202)


@app.get(
    "/workstreams/<workstream_id>/throughput/uploads/<upload_id>",
    summary="Get a CSV upload",
    description="Its counts and per-row errors, for the workstream's owner (token) or its x-api-key.",
    tags=TAGS,
    security=[*WORKSTREAM_KEY_AUTH, *TOKEN_AUTH],
    responses=responses(UploadOut, "the upload", 401, 403, 404),
)
def get_upload(
    workstream_id: WorkstreamId,
    upload_id: UploadId,
) -> Reply:
    if bearer_token(app.current_event.headers) is not None:
        workstream = workstreams.owned_workstream(app.requester().account_id, workstream_id)
    else:
        workstream = workstreams.authenticate_key(workstream_id, _api_key())
    return app.reply(throughput_uploads.get_upload(workstream, upload_id))


lambda_handler = entrypoint(
    app, needs=("bulk_queue_url",), secret_routes=("/workstreams", "/workstreams/{workstream_id}/api-key")
)
