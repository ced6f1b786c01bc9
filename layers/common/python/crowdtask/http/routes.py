"""Routes that requester resources share in one form: copy/archive/unarchive, and ordered id lists."""

# No postponed annotations here: the route functions are made inside a factory, and Powertools
# reads their parameter types, which must therefore be objects rather than names to look up.
from collections.abc import Callable
from typing import Annotated, Any

from crowdtask.http.app import ApiApp, ItemLinks, Reply
from crowdtask.http.params import DEFAULT_LIMIT, AfterMember, Limit, deep_flag, id_param
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel

from crowdtask.models.base import IdList

Action = Callable[[str, str, bool], Any]  # (account id, resource id, deep) -> the resource


def copy_and_archive_routes(
    app: ApiApp,
    *,
    collection: str,
    noun: str,
    model: type[BaseModel],
    tags: list[str],
    links: ItemLinks,
    copy: Action,
    archive: Action,
    unarchive: Action,
    deep: str | None = None,
) -> None:
    """POST /<collection>/{id}/copy, /archive and /unarchive; `deep` documents the `deep` flag."""
    item_id = Annotated[str, id_param(noun)]
    deep_option = Annotated[bool, deep_flag(deep or "")]

    def route(action: str, summary: str, description: str, act: Action, status: int, *errs: int) -> None:
        def answer(id: str, deep: bool) -> Reply:
            item = act(app.requester().account_id, id, deep)
            if status == 201:
                return app.created(item, f"/{collection}/{item.id}", links=links(item))
            return app.reply(item, links=links(item))

        def without_deep(id: item_id) -> Reply:
            return answer(id, False)

        def with_deep(id: item_id, deep: deep_option = False) -> Reply:
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


def member_routes(
    app: ApiApp,
    *,
    collection: str,
    noun: str,
    members: str,
    page_model: type[BaseModel],
    ids_model: type[BaseModel],
    links: ItemLinks,
    page: Callable[[str, str, int, str | None], tuple[list[Any], bool]],
    change: Callable[[str, str, list[str], bool], list[str]],
) -> None:
    """GET, POST (append) and PUT (replace) /<collection>/{id}/<members>: an ordered id list."""
    item_id = Annotated[str, id_param(noun)]
    member = members.rstrip("s")
    title, plural = noun.capitalize(), members.capitalize()
    path = f"/{collection}/<id>/{members}"
    unique = {"uniqueItems": True}
    appended = Annotated[
        IdList, Body(description=f"{member} ids to append, in order", json_schema_extra=unique)
    ]
    wanted = Annotated[
        IdList, Body(description=f"the {noun}'s {member} ids, in order", json_schema_extra=unique)
    ]
    written = responses(ids_model, f"the {noun}'s {member} ids after the change", 401, 403, 404, 409)

    @app.get(
        path,
        summary=f"Get the {plural} of a {title}",
        tags=[title],
        security=TOKEN_AUTH,
        operation_id=f"{noun}_{members}_get",
        responses=responses(page_model, f"the {noun}'s {members}, in order", 401, 403, 404),
    )
    def listed(id: item_id, limit: Limit = DEFAULT_LIMIT, after: AfterMember = None) -> Reply:
        found = page(app.requester().account_id, id, limit, after)
        return app.members_reply(members, f"/{collection}/{id}/{members}", found, links)

    def answer(id: str, ids: list[str], append: bool) -> Reply:
        now = change(app.requester().account_id, id, ids, append)
        body = ids_model.model_validate({"id": id, members: now})
        return app.reply(body, links={"self": {"href": f"/{collection}/{id}/{members}"}})

    @app.post(
        path,
        summary=f"Add {plural} to a {title}",
        tags=[title],
        security=TOKEN_AUTH,
        operation_id=f"{noun}_{members}_add",
        responses=written,
    )
    def added(id: item_id, ids: appended) -> Reply:
        return answer(id, ids, True)

    @app.put(
        path,
        summary=f"Update {plural} of a {title}",
        tags=[title],
        security=TOKEN_AUTH,
        operation_id=f"{noun}_{members}_set",
        responses=written,
    )
    def replaced(id: item_id, ids: wanted) -> Reply:
        return answer(id, ids, False)
