"""Preview: the HTML a worker will see for a requester's Markdown feedback."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask.models.preview import MarkdownIn, MarkdownOut
from crowdtask.services import markdown

app = ApiApp()


@app.post(
    "/preview/markdown",
    summary="HTML Markdown message Preview",
    tags=["Preview"],
    security=TOKEN_AUTH,
    responses=responses(MarkdownOut, "the message as sanitised HTML", 401),
)
def preview_markdown(message: Annotated[MarkdownIn, Body()]) -> Reply:
    app.caller()
    return app.reply(MarkdownOut(html=markdown.render_preview(message.text)))


lambda_handler = entrypoint(app, idempotency=False)
