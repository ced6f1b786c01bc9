"""Answers a requester reads: the live aggregate of each task (kept on every submission and
rejection, services/votes.py) and the one the last Dawid-Skene run computed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from crowdtask import errors
from crowdtask.models.answers import AggregateComponent, AggregateOut
from crowdtask.numbers import plain_numbers
from crowdtask.services import aggregation
from crowdtask.services.campaigns import require_campaign
from crowdtask.store import aggregates as aggregate_store
from crowdtask.store import tasks as task_store

METHODS = ("live", "dawid-skene")


class TaskAnswer(NamedTuple):
    answers: int  # results counted
    winners: list[aggregation.Winner | None]  # per component


def _live_method(campaign: Mapping[str, Any] | None) -> str:
    return str(((campaign or {}).get("aggregation") or {}).get("method", "majority"))


def to_aggregate(item: Mapping[str, Any], method: str) -> AggregateOut:
    """A stored aggregate as the API shows it (`method`: the campaign's live method, or dawid-skene)."""
    plain = plain_numbers(dict(item))
    if method == "dawid-skene":
        components = [None if c is None else AggregateComponent(**c) for c in plain.get("components", [])]
    else:
        components = [
            None if w is None else AggregateComponent(result=w.result, confidence=w.confidence, votes=w.votes)
            for w in aggregation.tally(plain, int(plain.get("parts", 0)))
        ]
    return AggregateOut(
        task=str(plain["task_id"]), method=method, answers=int(plain.get("answers", 0)), components=components
    )


def campaign_aggregates(
    requester_id: str, campaign_id: str, *, method: str | None, after: str | None, limit: int
) -> tuple[list[AggregateOut], bool]:
    """A page of the campaign's aggregates by task id: live (as results come and go) unless
    `method=dawid-skene` asks for the last Dawid-Skene run's."""
    campaign = require_campaign(requester_id, campaign_id)
    stored = "dawid-skene" if method == "dawid-skene" else "live"
    shown = "dawid-skene" if stored == "dawid-skene" else _live_method(campaign)
    if method not in (None, "dawid-skene", shown):
        # well formed, but this campaign has no aggregates by that method: nothing to find
        raise errors.NotFound.of_field(
            "method", f"this campaign aggregates by {shown} as results come; dawid-skene on request"
        )
    rows, more = aggregate_store.page(campaign_id, method=stored, after=after, limit=limit)
    return [to_aggregate(row, shown) for row in rows], more


def task_aggregate(requester_id: str, task_id: str, campaign_id: str | None) -> AggregateOut:
    """The live aggregate of one of the requester's tasks: in `campaign_id`, or in the latest
    campaign that collected its results."""
    if task_store.get(requester_id, task_id) is None:
        raise errors.NotFound(f"No task {task_id} in your account.")
    found = aggregate_store.of_task(task_id)
    if campaign_id is not None:
        found = [f for f in found if f["campaign_id"] == campaign_id]
    if not found:
        where = f" in campaign {campaign_id}" if campaign_id else ""
        raise errors.NotFound(f"Task {task_id} has no aggregated results{where} yet.")
    item = found[-1]
    campaign = require_campaign(requester_id, item["campaign_id"])
    return to_aggregate(item, _live_method(campaign))


def job_answers(campaign_id: str, task_ids: Iterable[str]) -> dict[str, TaskAnswer]:
    """The live answers of a job's tasks, read consistently (a submission was just counted)."""
    found = aggregate_store.get_many(campaign_id, task_ids, consistent=True)
    answers = {}
    for task_id, item in found.items():
        plain = plain_numbers(item)
        answers[task_id] = TaskAnswer(
            int(plain.get("answers", 0)), aggregation.tally(plain, int(plain.get("parts", 0)))
        )
    return answers


def job_voters(campaign_id: str, task_id: str) -> set[str]:
    """The results counted in a task's aggregate (kept while its job collects at most VOTERS_KEPT)."""
    item = aggregate_store.get_many(campaign_id, [task_id], consistent=True).get(task_id) or {}
    return {str(v) for v in item.get("voters", ())}
