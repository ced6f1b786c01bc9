"""Routes every requester resource has in the same form: copy, archive and unarchive."""

# No postponed annotations here: the route functions are made inside a factory, and Powertools
# reads their parameter types, which must therefore be objects rather than names to look up.
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from crowdtask.http.app import ApiApp, Reply
from crowdtask.http.schemas import TOKEN_AUTH, responses

Action = Callable[[str, str, bool], Any]  # (account id, resource id, deep) -> the resource


def copy_and_archive_routes(
    app: ApiApp,
    *,
    collection: str,
    noun: str,
    model: type[BaseModel],
    tags: list[str],
    links: Callable[[Any], dict[str, Any]],
    copy: Action,
    archive: Action,
    unarchive: Action,
    deep: str | None = None,
) -> None:
    """POST /<collection>/{id}/copy, /archive and /unarchive; `deep` documents the `deep` flag."""
    item_id = Annotated[str, Path(max_length=64, description=f"id of the {noun}")]
    deep_flag = Annotated[bool, Query(description=deep or "")]

    def route(action: str, summary: str, description: str, act: Action, status: int, *errs: int) -> None:
        def answer(id: str, deep: bool) -> Reply:
            item = act(app.requester().account_id, id, deep)
            headers = {"Location": f"/{collection}/{item.id}"} if status == 201 else None
            return app.reply(item, status=status, links=links(item), headers=headers)

        def without_deep(id: item_id) -> Reply:
            return answer(id, False)

        def with_deep(id: item_id, deep: deep_flag = False) -> Reply:
            return answer(id, deep)

        app.post(
            f"/{collection}/<id>/{action}",
            summary=summary,
            tags=tags,
            security=TOKEN_AUTH,
            operation_id=f"{noun}_{action}",
            responses=responses(model, description, 401, 403, 404, *errs, status=status),
        )(without_deep if deep is None else with_deep)

    title = noun.capitalize()
    route("copy", f"Copy a {title}", f"the copy of the {noun}", copy, 201)
    route("archive", f"Archive a {title}", f"the archived {noun}", archive, 200, 409)
    route("unarchive", f"Unarchive a {title}", f"the {noun}, live again", unarchive, 200)
