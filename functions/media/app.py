"""Media: presigned uploads of a worker's recordings, drawings and photos straight to S3."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.params import AssignmentId
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask.models.media import UploadIn, UploadOut
from crowdtask.services import media

app = ApiApp()


@app.post(
    "/assignments/<id>/uploads",
    summary="Upload a media result",
    description="An S3 presigned POST for one file of one component of the worker's open assignment (until "
    "its `submitBy`): POST a multipart form to `url` with `fields`, then the file as `file`; then put "
    "`resultUrl` in the component's result. The form fixes the object's key, the type family the component "
    "takes (audio/* AudioRecording, video/* VideoRecording, image/* ImageMarker, image/* or audio/* media) "
    "and the size (at most the declared `size`, itself within the component's limit). Nothing is stored "
    "by this call, so it answers 200 and needs no Idempotency-Key; each call names a new object. 404 for "
    "another worker's assignment; 409 once the assignment is submitted, ended or past `submitBy`.",
    tags=["Job Market"],
    security=TOKEN_AUTH,
    responses=responses(UploadOut, "the upload form", 401, 403, 404, 409),
)
def create_upload(id: AssignmentId, upload: Annotated[UploadIn, Body()]) -> Reply:
    return app.reply(media.upload_form(app.worker().account_id, id, upload))


lambda_handler = entrypoint(app, idempotency=False, needs=("media_bucket_name",))
