"""Quality control in the table: skills and workers' values of them, blocks, earnings by the hour,
and the actions quality rules took.

A block is an item of its requester's BLOCK collection (listed and deleted as such), and also an
attribute of the worker's block summary with that requester (`b_<block>`: its campaign, or `*`
for all, and its end), written in the same transaction: checking whether a worker is blocked is
one read of the summary, whatever the number of blocks. A quality action is put only if absent,
keyed by the event that triggered it and the rule: a rule fires once per event, however often
the event is evaluated. Until its outcome is noted the action also sits in the sweep index, due
when whoever took it should long have finished: a crash half way leaves it there to be completed.
Actions that review results count each review in the review's own transaction (`tally`), so
what they did is known exactly however many times they were run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from crowdtask.models.listing import ListQuery, Page
from crowdtask.store import Refused, dynamo, keys, sweeps
from crowdtask.store.changes import Change
from crowdtask.store.collections import Collection

SKILLS = Collection("SKILL", shards=1)
BLOCKS = Collection("BLOCK", shards=1)
_BLOCK_PREFIX = "b_"
ALL_CAMPAIGNS = "*"


# ---------------------------------------------------------------- skills
def put_skill(requester_id: str, skill_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return SKILLS.put_new(requester_id, skill_id, data)


def get_skill(requester_id: str, skill_id: str) -> dict[str, Any] | None:
    return SKILLS.get(requester_id, skill_id)


def skills_page(requester_id: str, query: ListQuery) -> Page:
    return SKILLS.list(requester_id, query)


def owned_skills(requester_id: str, skill_ids: Iterable[str]) -> set[str]:
    """Which of these ids name skills of the requester."""
    return set(SKILLS.get_many(requester_id, skill_ids, attributes=["name"]))


def set_value(
    requester_id: str,
    skill_id: str,
    worker_id: str,
    value: Decimal,
    now_iso: str,
    events: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The worker's value of the skill, with its `events` (outbox items) in the same write."""
    pk, sk = keys.skill_value(skill_id, worker_id)
    item = {
        "pk": pk,
        "sk": sk,
        "type": "skill_value",
        "account_id": requester_id,
        "value": value,
        "updatedAt": now_iso,
    }
    dynamo.put(item, also=events)
    return {"skill": skill_id, "worker": worker_id, "value": value, "updatedAt": now_iso}


def delete_value(skill_id: str, worker_id: str) -> bool:
    try:
        dynamo.delete(*keys.skill_value(skill_id, worker_id), condition="attribute_exists(pk)")
    except dynamo.ConditionFailed:
        return False
    return True


def values_page(skill_id: str, after: str | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """A page of the skill's workers by worker id, and whether more follow."""
    condition, vals = "pk = :p", {":p": keys.skill_values_partition(skill_id)}
    if after:
        condition += " AND sk > :after"
        vals[":after"] = after
    rows, _ = dynamo.query(key_condition=condition, vals=vals, limit=limit + 1, consistent=True)
    found = [
        {"skill": skill_id, "worker": r["sk"], "value": r["value"], "updatedAt": r["updatedAt"]} for r in rows
    ]
    return found[:limit], len(found) > limit


def values_of(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
    """(skill, worker) -> value, for those set: one batched read."""
    wanted = {keys.skill_value(skill, worker): (skill, worker) for skill, worker in pairs}
    found = dynamo.batch_get(wanted, attributes=["value"], consistent=True)
    return {wanted[key]: Decimal(str(item["value"])) for key, item in found.items() if key in wanted}


# ---------------------------------------------------------------- blocks
def put_block(
    requester_id: str,
    block_id: str,
    data: Mapping[str, Any],
    *,
    rewrite: bool = False,
    events: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The block and its line in the worker's block summary, at once, with its `events` (outbox
    items). `rewrite`: the id is derived from what made the block, so writing it again writes the
    same block (never a second one)."""
    stored = BLOCKS.item(requester_id, block_id, data)
    entry = {"campaign": data.get("campaign") or ALL_CAMPAIGNS, "until": data.get("until")}
    dynamo.transact(
        [
            dynamo.put_op(stored, None if rewrite else "attribute_not_exists(pk)"),
            dynamo.update_op(
                *keys.worker_blocks(requester_id, str(data["worker"])),
                "SET #b = :entry, #t = :t",
                names={"#b": _BLOCK_PREFIX + block_id, "#t": "type"},
                vals={":entry": {k: v for k, v in entry.items() if v is not None}, ":t": "worker_blocks"},
            ),
            *events,
        ]
    )
    return {**stored, "id": block_id}


def get_block(requester_id: str, block_id: str) -> dict[str, Any] | None:
    return BLOCKS.get(requester_id, block_id, consistent=True)


def delete_block(requester_id: str, block: Mapping[str, Any]) -> None:
    """The block and its line in the summary; Refused when it was deleted meanwhile."""
    try:
        dynamo.transact(
            [
                dynamo.delete_op(*BLOCKS.key(requester_id, str(block["id"])), "attribute_exists(pk)"),
                dynamo.update_op(
                    *keys.worker_blocks(requester_id, str(block["worker"])),
                    "REMOVE #b",
                    names={"#b": _BLOCK_PREFIX + str(block["id"])},
                ),
            ]
        )
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise Refused(str(block["id"])) from exc
        raise


def blocks_page(requester_id: str, query: ListQuery) -> Page:
    return BLOCKS.list(requester_id, query)


def block_scopes(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(requester, worker) -> the worker's blocks by the requester, each {campaign ('*': all), until?}."""
    wanted = {keys.worker_blocks(requester, worker): (requester, worker) for requester, worker in pairs}
    found = dynamo.batch_get(wanted, consistent=True)
    return {
        wanted[key]: [value for name, value in item.items() if name.startswith(_BLOCK_PREFIX)]
        for key, item in found.items()
        if key in wanted
    }


# ---------------------------------------------------------------- earnings by the hour
def add_earnings_op(requester_id: str, worker_id: str, hour: str, amount: Decimal, expire_epoch: int) -> dict:
    """A transaction's part: what an approval paid goes to its hour's bucket."""
    return dynamo.update_op(
        *keys.earnings(requester_id, worker_id, hour),
        "ADD amount :a SET expire_at = :e, #t = :t",
        names={"#t": "type"},
        vals={":a": amount, ":e": expire_epoch, ":t": "earnings"},
    )


def earnings_since(requester_id: str, worker_id: str, first_hour: str) -> Decimal:
    """What the requester paid the worker from `first_hour` on (at most a few dozen hourly buckets)."""
    rows, _ = dynamo.query(
        key_condition="pk = :p AND sk >= :h",
        vals={":p": keys.earnings_partition(requester_id, worker_id), ":h": first_hour},
        consistent=True,
    )
    return sum((Decimal(str(r.get("amount", 0))) for r in rows), Decimal(0))


# ---------------------------------------------------------------- actions of rules
def record_action(campaign_id: str, mark: str, data: Mapping[str, Any], retry_at: str) -> bool:
    """Record that a rule acts, under `mark` (the worker, the rule and the observation it saw),
    due for completion by the sweep at `retry_at` unless its outcome is noted first; False when
    it was recorded before."""
    pk, sk = keys.quality_action(campaign_id, mark)
    due_pk, due_sk = keys.quality_action_due(campaign_id, mark, retry_at)
    try:
        dynamo.put(
            {"pk": pk, "sk": sk, "type": "quality_action", "due_pk": due_pk, "due_sk": due_sk, **data},
            condition="attribute_not_exists(pk)",
        )
    except dynamo.ConditionFailed:
        return False
    return True


def get_action(campaign_id: str, mark: str) -> dict[str, Any] | None:
    return dynamo.get(*keys.quality_action(campaign_id, mark), consistent=True)


def tally(campaign_id: str, mark: str, **amounts: int | Decimal) -> Change:
    """A review transaction's part: what one result reviewed by the action adds to its tally."""
    change = Change(*keys.quality_action(campaign_id, mark))
    for name, amount in amounts.items():
        change.add(f"tally_{name}", amount)
    return change


def tally_of(action: Mapping[str, Any]) -> dict[str, Decimal]:
    """What the action's reviews added up to (name -> total), from the action as read."""
    return {
        name.removeprefix("tally_"): Decimal(str(value))
        for name, value in action.items()
        if name.startswith("tally_")
    }


def note_outcome(campaign_id: str, mark: str, outcome: Mapping[str, Any]) -> bool:
    """The action is done: its outcome, and it leaves the sweep index. The first outcome noted
    stays (two runs of the same action agree, or the first one to finish saw all of it);
    False when one was noted before."""
    try:
        dynamo.update(
            *keys.quality_action(campaign_id, mark),
            "SET outcome = :o REMOVE due_pk, due_sk",
            condition="attribute_exists(pk) AND attribute_not_exists(outcome)",
            vals={":o": dict(outcome)},
        )
    except dynamo.ConditionFailed:
        return False
    return True


def unfinished_actions(before_iso: str, limit: int) -> list[tuple[str, str]]:
    """(campaign, mark) of actions recorded but without an outcome, due before the time."""
    found = sweeps.due_keys(keys.QUALITY_ACTION_DUE, before_iso, limit)
    return [keys.parse_quality_action(pk, sk) for pk, sk in found]


def actions_page(
    campaign_id: str, worker_id: str | None, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The campaign's recorded actions by worker, rule and observation (one worker's, when given)."""
    condition, vals = "pk = :p", {":p": keys.quality_actions_partition(campaign_id)}
    prefix = f"{worker_id}#" if worker_id else ""
    if prefix and after and after >= prefix + "\uffff":
        return [], False  # past the worker's actions
    if prefix and (not after or after < prefix):
        condition += " AND begins_with(sk, :w)"
        vals[":w"] = prefix
    elif prefix and after:
        condition += " AND sk BETWEEN :after AND :end"
        vals[":after"], vals[":end"] = after + "\x00", prefix + "\uffff"
    elif after:
        condition += " AND sk > :after"
        vals[":after"] = after
    rows, _ = dynamo.query(key_condition=condition, vals=vals, limit=limit + 1, consistent=True)
    return [{**r, "id": r["sk"]} for r in rows[:limit]], len(rows) > limit


def claim_context(
    requester_id: str, campaign_id: str, worker_id: str, skill_ids: Iterable[str]
) -> tuple[dict[tuple[str, str], Decimal], list[dict[str, Any]], set[str]]:
    """What a claim of the requester's work needs to know of the worker, in one batched read: its
    values of `skill_ids`, its blocks by the requester, and the control tasks it answered in the campaign."""
    skills = {keys.skill_value(skill, worker_id): (skill, worker_id) for skill in skill_ids}
    blocks_key = keys.worker_blocks(requester_id, worker_id)
    row_key = keys.campaign_worker(campaign_id, worker_id)
    found = dynamo.batch_get([*skills, blocks_key, row_key], consistent=True)
    values = {skills[k]: Decimal(str(v["value"])) for k, v in found.items() if k in skills}
    scopes = [value for name, value in found.get(blocks_key, {}).items() if name.startswith(_BLOCK_PREFIX)]
    answered = {str(task) for task in found.get(row_key, {}).get("controls_answered", ())}
    return values, scopes, answered
