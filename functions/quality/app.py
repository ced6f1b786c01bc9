"""Quality control for requesters: skills and their values, blocks, a worker's figures, what rules did."""

from __future__ import annotations

from typing import Annotated

from crowdtask.http.app import ApiApp, Reply, entrypoint
from crowdtask.http.links import block_links, quality_action_links, skill_links, worker_quality_links
from crowdtask.http.pagination import list_query, member_links, page_links
from crowdtask.http.params import (
    DEFAULT_LIMIT,
    After,
    AfterMember,
    Before,
    CampaignId,
    Limit,
    Order,
    Search,
    WorkerId,
    id_filter,
    id_param,
)
from crowdtask.http.schemas import TOKEN_AUTH, responses

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from crowdtask.models.quality import (
    BlockIn,
    BlockOut,
    BlockPage,
    QualityActionPage,
    SkillIn,
    SkillOut,
    SkillPage,
    SkillValueIn,
    SkillValueOut,
    SkillValuePage,
    WorkerQualityOut,
)
from crowdtask.services import quality

app = ApiApp()
SkillId = Annotated[str, id_param("skill")]
BlockId = Annotated[str, id_param("block")]
SKILLS, BLOCKS, STATS = ["Skill"], ["Block"], ["Quality"]


@app.post(
    "/skills",
    summary="Create a Skill",
    description="A skill (a qualification) whose values 0..100 you give workers; campaigns may require it.",
    tags=SKILLS,
    security=TOKEN_AUTH,
    responses=responses(SkillOut, "the new skill", 401, 403, status=201),
)
def create_skill(skill: Annotated[SkillIn, Body()]) -> Reply:
    created = quality.create_skill(app.requester().account_id, skill)
    return app.created(created, f"/skills/{created.id}", links=skill_links(created))


@app.get(
    "/skills",
    summary="List your Skills",
    tags=SKILLS,
    security=TOKEN_AUTH,
    responses=responses(SkillPage, "one page of your skills", 401, 403),
)
def list_skills(
    limit: Limit = DEFAULT_LIMIT,
    order: Order = None,
    search: Search = None,
    after: After = None,
    before: Before = None,
) -> Reply:
    query = app.list_query(limit, None)
    return app.collection_reply(
        "skills", "/skills", query, quality.list_skills(app.requester().account_id, query), skill_links
    )


@app.get(
    "/skills/<id>",
    summary="Get a Skill",
    tags=SKILLS,
    security=TOKEN_AUTH,
    responses=responses(SkillOut, "the skill", 401, 403, 404),
)
def get_skill(id: SkillId) -> Reply:
    found = quality.get_skill(app.requester().account_id, id)
    return app.reply(found, links=skill_links(found))


@app.put(
    "/skills/<id>/workers/<workerId>",
    summary="Set a Worker's value of a Skill",
    tags=SKILLS,
    security=TOKEN_AUTH,
    responses=responses(SkillValueOut, "the worker's value", 401, 403, 404),
)
def set_skill_value(
    id: SkillId,
    workerId: WorkerId,  # noqa: N803 - the path's name
    value: Annotated[SkillValueIn, Body()],
) -> Reply:
    found = quality.set_skill_value(app.requester().account_id, id, workerId, value.value)
    return app.reply(
        found,
        links={"self": {"href": f"/skills/{id}/workers/{workerId}"}, "skill": {"href": f"/skills/{id}"}},
    )


@app.delete(
    "/skills/<id>/workers/<workerId>",
    summary="Remove a Worker's value of a Skill",
    tags=SKILLS,
    security=TOKEN_AUTH,
    responses=responses(None, "the worker has no value of the skill any more", 401, 403, 404, status=204),
)
def delete_skill_value(id: SkillId, workerId: WorkerId) -> Reply:  # noqa: N803 - the path's name
    quality.delete_skill_value(app.requester().account_id, id, workerId)
    return app.empty()


@app.get(
    "/skills/<id>/workers",
    summary="List the Workers with a value of a Skill",
    tags=SKILLS,
    security=TOKEN_AUTH,
    responses=responses(SkillValuePage, "one page of the skill's workers, by worker id", 401, 403, 404),
)
def skill_workers(id: SkillId, limit: Limit = DEFAULT_LIMIT, after: AfterMember = None) -> Reply:
    items, more = quality.skill_workers(app.requester().account_id, id, after=after, limit=limit)
    last = items[-1].worker if items else None  # paged by worker id
    return app.page_reply(
        "workers", items, member_links(f"/skills/{id}/workers", app.query_params(), last, more)
    )


@app.post(
    "/blocks",
    summary="Block a Worker",
    description=(
        "From one of your campaigns (`campaign`) or from all of them, until `until` or until the block is "
        "deleted. A blocked worker neither sees nor claims the work; work already claimed may be submitted."
    ),
    tags=BLOCKS,
    security=TOKEN_AUTH,
    responses=responses(BlockOut, "the new block", 401, 403, 404, status=201),
)
def create_block(block: Annotated[BlockIn, Body()]) -> Reply:
    created = quality.create_block(app.requester().account_id, block)
    return app.created(created, f"/blocks/{created.id}", links=block_links(created))


@app.get(
    "/blocks",
    summary="List your Blocks",
    tags=BLOCKS,
    security=TOKEN_AUTH,
    responses=responses(BlockPage, "one page of your blocks, newest first", 401, 403),
)
def list_blocks(
    limit: Limit = DEFAULT_LIMIT,
    worker: Annotated[str | None, id_filter("only the blocks of this worker")] = None,
    campaign: Annotated[str | None, id_filter("only the blocks of this campaign")] = None,
    after: After = None,
    before: Before = None,
) -> Reply:
    params = {**app.query_params(), "order": ["-id"]}
    query = list_query(params, limit=limit)
    found, page = quality.list_blocks(app.requester().account_id, query, worker=worker, campaign=campaign)
    links = page_links("/blocks", {k: v for k, v in params.items() if k != "order"}, query, page)
    return app.page_reply("blocks", found, links, block_links)


@app.delete(
    "/blocks/<id>",
    summary="Delete a Block",
    tags=BLOCKS,
    security=TOKEN_AUTH,
    responses=responses(None, "the block no longer applies", 401, 403, 404, status=204),
)
def delete_block(id: BlockId) -> Reply:
    quality.delete_block(app.requester().account_id, id)
    return app.empty()


@app.get(
    "/workers/<workerId>/quality",
    summary="A Worker's figures with you",
    description="Control answers and accuracy, results and acceptance, fast submissions, skips and earnings "
    "across your campaigns; 404 for a worker who never worked for you.",
    tags=STATS,
    security=TOKEN_AUTH,
    responses=responses(WorkerQualityOut, "the worker's figures with you", 401, 403, 404),
)
def worker_quality(workerId: WorkerId) -> Reply:  # noqa: N803 - the path's name
    found = quality.worker_quality(app.requester().account_id, workerId)
    return app.reply(found, links=worker_quality_links(workerId))


@app.get(
    "/campaigns/<id>/quality-actions",
    summary="What the quality rules of a Campaign did",
    tags=STATS,
    security=TOKEN_AUTH,
    responses=responses(
        QualityActionPage, "one page of the actions, by worker, rule and time", 401, 403, 404
    ),
)
def quality_actions(
    id: CampaignId,
    worker: Annotated[str | None, id_filter("only this worker's actions")] = None,
    limit: Limit = DEFAULT_LIMIT,
    after: Annotated[
        str | None, Query(max_length=200, description="id of the last action of the previous page")
    ] = None,
) -> Reply:
    found = quality.actions(app.requester().account_id, id, worker=worker, after=after, limit=limit)
    return app.members_reply("actions", f"/campaigns/{id}/quality-actions", found, quality_action_links)


lambda_handler = entrypoint(app)
