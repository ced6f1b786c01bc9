"""Routes that requester resources share in one form: copy/archive/unarchive, and ordered id lists."""

# No postponed annotations here: the route functions are made inside a factory, and Powertools
# reads their parameter types, which must therefore be objects rather than names to look up.
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from crowdtask.http.app import ApiApp, Reply
from crowdtask.http.pagination import DEFAULT_LIMIT, AfterMember, Limit
from crowdtask.http.schemas import TOKEN_AUTH, ModelRef, resolve, responses
from crowdtask.models.base import IdList

Action = Callable[[str, str, bool], Any]  # (account id, resource id, deep) -> the resource


def copy_and_archive_routes(
    app: ApiApp,
    *,
    collection: str,
    noun: str,
    model: ModelRef,
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


def member_routes(
    app: ApiApp,
    *,
    collection: str,
    noun: str,
    members: str,
    page_model: ModelRef,
    ids_model: ModelRef,
    links: Callable[[Any], dict[str, Any]],
    page: Callable[[str, str, int, str | None], tuple[list[Any], bool]],
    change: Callable[[str, str, list[str], bool], list[str]],
) -> None:
    """GET, POST (append) and PUT (replace) /<collection>/{id}/<members>: an ordered id list."""
    item_id = Annotated[str, Path(max_length=64, description=f"id of the {noun}")]
    member = members.rstrip("s")
    title, plural = noun.capitalize(), members.capitalize()
    path = f"/{collection}/<id>/{members}"
    appended = Annotated[IdList, Body(description=f"{member} ids to append, in order")]
    wanted = Annotated[IdList, Body(description=f"the {noun}'s {member} ids, in order")]
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
        model = resolve(ids_model)  # before the change, so a bad name cannot fail after the write
        now = change(app.requester().account_id, id, ids, append)
        body = model.model_validate({"id": id, members: now})
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
