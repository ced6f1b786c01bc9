"""Preview: the HTML a worker will see for a requester's Markdown feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from crowdtask import lazy
from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.schemas import TOKEN_AUTH, responses

if TYPE_CHECKING:
    from crowdtask.models import preview as preview_models
    from crowdtask.services import markdown
else:  # services and models load with the first route that uses them (cold start)
    preview_models = lazy.load("crowdtask.models.preview")
    markdown = lazy.load("crowdtask.services.markdown")

app = ApiApp()


@app.post(
    "/preview/markdown",
    summary="HTML Markdown message Preview",
    tags=["Preview"],
    security=TOKEN_AUTH,
    responses=responses("preview:MarkdownOut", "the message as sanitised HTML", 401),
)
def preview_markdown(message: Annotated[preview_models.MarkdownIn, Body()]) -> Reply:
    app.caller()
    return app.reply(preview_models.MarkdownOut(html=markdown.render_preview(message.text)))


lambda_handler = entrypoint(app, idempotency=False)
