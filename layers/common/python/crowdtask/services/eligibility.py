"""Who may take a campaign's work: blocks and skill requirements, and the control tasks a claim mixes in.

Read by the market (its listing hides what a worker may not take) and by claims (which refuse it,
naming why); the requirements and control settings travel with each market item, as published.
"""

from __future__ import annotations

import operator
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from crowdtask import errors
from crowdtask.numbers import plain_numbers
from crowdtask.store import quality as quality_store
from crowdtask.store import tasks as task_store

_RANDOM = secrets.SystemRandom()
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}


def _blocked(scopes: Sequence[Mapping[str, Any]], campaign_id: str, now_iso: str) -> Mapping[str, Any] | None:
    for scope in scopes:
        if scope.get("campaign") in (quality_store.ALL_CAMPAIGNS, campaign_id) and (
            not scope.get("until") or scope["until"] > now_iso
        ):
            return scope
    return None


class Standing(NamedTuple):
    """What decides whether a worker may take work of a requester: skill values and blocks."""

    values: Mapping[tuple[str, str], Decimal]  # (skill, worker) -> value
    blocks: Mapping[tuple[str, str], list[dict[str, Any]]]  # (requester, worker) -> blocks


def standing(worker_id: str, items: Iterable[Mapping[str, Any]]) -> Standing:
    """The skill values and blocks the market items' requirements and requesters need (two batched reads)."""
    items = list(items)
    skills = {(str(r["skill"]), worker_id) for item in items for r in item.get("requirements") or []}
    requesters = {(str(item["account_id"]), worker_id) for item in items}
    return Standing(quality_store.values_of(skills) if skills else {}, quality_store.block_scopes(requesters))


def refusal(item: Mapping[str, Any], worker_id: str, known: Standing, now_iso: str) -> str | None:
    """Why the worker may not take this job (a block or an unmet requirement), or None."""
    if _blocked(
        known.blocks.get((str(item["account_id"]), worker_id), []), str(item["campaign_id"]), now_iso
    ):
        return "you are blocked from this campaign's work"
    for requirement in item.get("requirements") or []:
        value = known.values.get((str(requirement["skill"]), worker_id))
        wanted = requirement.get("value")
        met = {
            "exists": value is not None,
            "notExists": value is None,
        }.get(requirement["operator"])
        if met is None:
            met = value is not None and COMPARE[requirement["operator"]](value, Decimal(str(wanted)))
        if not met:
            shown = "none" if value is None else f"{plain_numbers(value):g}"
            target = "" if wanted is None else f" {plain_numbers(Decimal(str(wanted))):g}"
            return (
                f"it requires skill {requirement['skill']} {requirement['operator']}{target} (yours: {shown})"
            )
    return None


def mix_controls(item: Mapping[str, Any], answered: set[str]) -> tuple[list[str], list[str]]:
    """The assignment's tasks with the campaign's control tasks mixed in at unpredictable places,
    and which they are. Never one the worker has answered while there are unanswered ones."""
    tasks = list(item.get("task_ids", []))
    controls = [str(c) for c in item.get("control_ids") or [] if c not in tasks]
    wanted = min(int(item.get("controls_per_assignment", 0)), len(controls))
    if not wanted:
        return tasks, []
    fresh = [c for c in controls if c not in answered]
    _RANDOM.shuffle(fresh)
    picked = fresh[:wanted]
    if len(picked) < wanted:
        seen = [c for c in controls if c in answered]
        _RANDOM.shuffle(seen)
        picked += seen[: wanted - len(picked)]
    for control in picked:
        tasks.insert(_RANDOM.randint(0, len(tasks)), control)
    return tasks, picked


def claim_standing(worker_id: str, item: Mapping[str, Any]) -> tuple[Standing, set[str]]:
    """The worker's standing for one market item, and the item's control tasks it has answered."""
    skills = [str(r["skill"]) for r in item.get("requirements") or []]
    requester = str(item["account_id"])
    values, scopes, answered = quality_store.claim_context(
        requester, str(item["campaign_id"]), worker_id, skills
    )
    return Standing(values, {(requester, worker_id): scopes}), answered


def check_settings(requester_id: str, campaign: Mapping[str, Any]) -> None:
    """A campaign's quality settings name only the requester's own skills, and control tasks of its
    own that have knownSolutions: a 404 naming the ids that name nothing of the requester's, or a 422
    naming every problem when a control task has no knownSolutions."""
    problems: list[tuple[str, str]] = []
    skills = {
        f"requirements[{n}].skill": str(r["skill"]) for n, r in enumerate(campaign.get("requirements") or [])
    }
    weigh_by = (campaign.get("aggregation") or {}).get("skill")
    if weigh_by:
        skills["aggregation.skill"] = str(weigh_by)
    for n, rule in enumerate(campaign.get("qualityRules") or []):
        if rule["action"]["type"] == "setSkill":
            skills[f"qualityRules[{n}].action.skill"] = str(rule["action"]["skill"])
    owned = quality_store.owned_skills(requester_id, set(skills.values())) if skills else set()
    problems += [
        (field, f"no skill {skill} in your account") for field, skill in skills.items() if skill not in owned
    ]
    missing = len(problems)
    controls = list((campaign.get("quality") or {}).get("controlTasks") or [])
    found = task_store.get_many(requester_id, controls, attributes=["knownSolutions"]) if controls else {}
    for n, task_id in enumerate(controls):
        if task_id not in found:
            missing += 1
            problems.append((f"quality.controlTasks[{n}]", f"no task {task_id} in your account"))
        elif not found[task_id].get("knownSolutions"):
            problems.append(
                (f"quality.controlTasks[{n}]", f"task {task_id} has no knownSolutions: it is no control task")
            )
    listed = [{"field": f, "message": m, "code": "NOT_FOUND"} for f, m in problems]
    if len(problems) > missing:
        raise errors.ValidationFailed(listed)
    if problems:  # ids naming nothing of the requester's, and nothing else wrong: a 404 naming them
        raise errors.NotFound(f"{listed[0]['field']}: {listed[0]['message']}", errors=listed)
