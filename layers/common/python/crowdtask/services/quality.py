"""Quality control: skills and their values, blocks, who may take a campaign's work, workers'
statistics, and the quality rules evaluated on each event that changes a statistic.

Statistics are kept on write, in the transaction of the submission, review, release or expiry
(store/results.py, store/assignments.py): nothing here scans results. A rule fires at most once
per observation of a worker's figures: its action is recorded under the worker, the rule and the
count of events the figures rest on, before anything is done, so an event evaluated twice acts
once. Taking an action may be repeated until its outcome is noted: everything it writes is named
and valued from the record alone (the block's id and end, the skill's value, each review counted
in the record in its own transaction), so an evaluation that finds the record without an outcome,
or the market sweep once the record is overdue, takes it again and nothing is lost or doubled.
Actions that review results hand back the campaigns they may have completed: finishing them is
the coordinator's (services/flows/reviewing.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from crowdtask import clock, errors, ids, parallel, store
from crowdtask.models.durations import seconds
from crowdtask.models.listing import ListQuery, Page
from crowdtask.models.quality import (
    BlockIn,
    BlockOut,
    QualityActionOut,
    QualityStats,
    SkillIn,
    SkillOut,
    SkillValueOut,
    WorkerQualityOut,
)
from crowdtask.numbers import plain_numbers
from crowdtask.services import eligibility, pricing, results
from crowdtask.services.campaigns import require_campaign
from crowdtask.store import accounts as account_store
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import outbox
from crowdtask.store import quality as quality_store
from crowdtask.store import results as result_store

# Which metrics an event can change: a rule is evaluated on the events of its metric only.
METRICS_OF = {
    "submission": {"controlAccuracy", "controlAnswers", "fastSubmits"},
    "review": {"acceptanceRate", "earnings24h"},
    "skip": {"skippedInRow"},
}
Touched = set[tuple[str, str]]
# Far beyond any function's time-out: an action still without an outcome then was cut short.
ACTION_LEASE = timedelta(minutes=5)


# ---------------------------------------------------------------- skills
def _skill_out(item: Mapping[str, Any]) -> SkillOut:
    return SkillOut.model_validate(plain_numbers(dict(item)))


def create_skill(requester_id: str, skill: SkillIn) -> SkillOut:
    data = {**skill.model_dump(exclude_none=True), "createdAt": clock.iso(clock.now())}
    return _skill_out(quality_store.put_skill(requester_id, ids.new_id(), data))


def require_skill(requester_id: str, skill_id: str) -> dict[str, Any]:
    found = quality_store.get_skill(requester_id, skill_id)
    if found is None:
        raise errors.NotFound(f"No skill {skill_id} in your account.")
    return found


def get_skill(requester_id: str, skill_id: str) -> SkillOut:
    return _skill_out(require_skill(requester_id, skill_id))


def list_skills(requester_id: str, query: ListQuery) -> tuple[list[SkillOut], Page]:
    page = quality_store.skills_page(requester_id, query)
    return [_skill_out(item) for item in page.items], page


def _require_worker(worker_id: str) -> None:
    account = account_store.get(worker_id) if worker_id and len(worker_id) <= 64 else None
    if account is None or account.get("role") != "worker":
        raise errors.NotFound(f"No worker {worker_id}.")


def set_skill_value(
    requester_id: str,
    skill_id: str,
    worker_id: str,
    value: float,
    *,
    at: str | None = None,
    events: Sequence[dict[str, Any]] = (),
) -> SkillValueOut:
    """The worker's value of the skill, as of `at` (now unless given), with `events` (outbox items)."""
    require_skill(requester_id, skill_id)
    _require_worker(worker_id)
    stored = quality_store.set_value(
        requester_id, skill_id, worker_id, Decimal(str(value)), at or clock.iso(clock.now()), events
    )
    return SkillValueOut.model_validate(plain_numbers(stored))


def delete_skill_value(requester_id: str, skill_id: str, worker_id: str) -> None:
    require_skill(requester_id, skill_id)
    if not quality_store.delete_value(skill_id, worker_id):
        raise errors.NotFound(f"Worker {worker_id} has no value of skill {skill_id}.")


def skill_workers(
    requester_id: str, skill_id: str, *, after: str | None, limit: int
) -> tuple[list[SkillValueOut], bool]:
    require_skill(requester_id, skill_id)
    found, more = quality_store.values_page(skill_id, after, limit)
    return [SkillValueOut.model_validate(plain_numbers(v)) for v in found], more


# ---------------------------------------------------------------- blocks
def _block_out(item: Mapping[str, Any]) -> BlockOut:
    return BlockOut.model_validate(plain_numbers(dict(item)))


def create_block(requester_id: str, block: BlockIn, *, source: str = "requester") -> BlockOut:
    """Block a worker from one of the requester's campaigns, or from all of them, until a time or for good."""
    _require_worker(block.worker)
    if block.campaign is not None:
        require_campaign(requester_id, block.campaign)
    block = block.model_copy(update={"until": _until(block.until)})
    return _put_block(requester_id, ids.new_id(), block, source=source, at=clock.iso(clock.now()))


def _put_block(
    requester_id: str, block_id: str, block: BlockIn, *, source: str, at: str, action_id: str | None = None
) -> BlockOut:
    """Write the block and announce it. With `action_id` (a rule's action) the id and every field
    come from the action's record, so writing it again rewrites the same block."""
    data = {
        "worker": block.worker,
        "campaign": block.campaign,
        "until": block.until,
        "reason": block.reason,
        "source": source,
        "createdAt": at,
    }
    blocked = {
        "requesterId": requester_id,
        "workerId": block.worker,
        "campaignId": block.campaign,
        "until": block.until,
        "blockId": block_id,
        "actionId": action_id,
    }
    announced = _event("worker.blocked", blocked, requester_id, block.campaign, action_id, at)
    return _block_out(
        quality_store.put_block(
            requester_id,
            block_id,
            {k: v for k, v in data.items() if v is not None},
            rewrite=action_id is not None,
            events=[announced],
        )
    )


def _event(
    kind: str,
    data: Mapping[str, Any],
    requester_id: str,
    campaign_id: str | None,
    action_id: str | None,
    at: str | None = None,
) -> dict[str, Any]:
    """A quality event's outbox item. A rule's action may run again (it is done from its record):
    its events then take their id from the action, so running it again rewrites the same event."""
    if action_id is None:
        return outbox.event_item(kind, data, requester_id, campaign_id)
    moment = clock.parse(at) or clock.now()
    event_id = outbox.derived_event_id(f"{kind}:{campaign_id}:{action_id}", moment)
    return outbox.event_item(kind, data, requester_id, campaign_id, event_id=event_id, at=moment)


def _until(value: str | None) -> str | None:
    if value is not None and value <= clock.iso(clock.now()):
        raise errors.ValidationFailed.one(
            "until", f"must be in the future (it is {clock.iso(clock.now())} now)"
        )
    return value


def list_blocks(
    requester_id: str, query: ListQuery, *, worker: str | None, campaign: str | None
) -> tuple[list[BlockOut], Page]:
    equals = {
        **query.equals,
        **({"worker": worker} if worker else {}),
        **({"campaign": campaign} if campaign else {}),
    }
    page = quality_store.blocks_page(requester_id, query._replace(equals=equals))
    return [_block_out(item) for item in page.items], page


def delete_block(requester_id: str, block_id: str) -> None:
    found = quality_store.get_block(requester_id, block_id)
    if found is None:
        raise errors.NotFound(f"No block {block_id} in your account.")
    try:
        quality_store.delete_block(requester_id, found)
    except store.Refused as exc:
        raise errors.NotFound(f"No block {block_id} in your account.") from exc


# ---------------------------------------------------------------- statistics
def _int(row: Mapping[str, Any], name: str) -> int:
    return int(row.get(name, 0) or 0)


def stats(row: Mapping[str, Any] | None, earned: Decimal | None = None) -> QualityStats:
    """A worker's figures from their statistics row (per campaign or per requester)."""
    row = row or {}
    weight = Decimal(str(row.get("control_weight", 0)))
    approved, rejected = _int(row, "approved"), _int(row, "rejected")
    fast = {name.removeprefix("fast_"): int(value) for name, value in row.items() if name.startswith("fast_")}
    return QualityStats(
        controlAnswers=_int(row, "control_answers"),
        controlCorrect=_int(row, "control_correct"),
        controlAccuracy=float(round(100 * Decimal(str(row.get("control_score", 0))) / weight, 2))
        if weight
        else None,
        submitted=_int(row, "submitted"),
        approved=approved,
        rejected=rejected,
        acceptanceRate=round(100 * approved / (approved + rejected), 2) if approved + rejected else None,
        fastSubmits=fast,
        skippedInRow=_int(row, "skipped_in_row"),
        earnings24h=float(earned or 0),
    )


def _last_day(requester_id: str, worker_id: str) -> Decimal:
    first = clock.now() - timedelta(hours=23)
    return quality_store.earnings_since(requester_id, worker_id, first.strftime("%Y-%m-%dT%H"))


def worker_quality(requester_id: str, worker_id: str) -> WorkerQualityOut:
    """The requester's account-level view of a worker who has worked for them (else 404)."""
    row = result_store.requester_worker(requester_id, worker_id, consistent=True)
    if row is None:
        raise errors.NotFound(f"Worker {worker_id} has not worked for you.")
    return WorkerQualityOut(worker=worker_id, quality=stats(row, _last_day(requester_id, worker_id)))


def campaign_stats(requester_id: str, rows: Sequence[Mapping[str, Any]]) -> list[QualityStats]:
    """The figures of a page of a campaign's workers (their rows), earnings with this requester."""
    earned = parallel.each(lambda row: _last_day(requester_id, str(row["worker"])), list(rows))
    return [stats(row, amount) for row, amount in zip(rows, earned, strict=True)]


# ---------------------------------------------------------------- rules
class Event(NamedTuple):
    """Something that changed a worker's statistics in a campaign: what rules are evaluated on."""

    id: str  # stable: the same event evaluated again has the same id
    kind: str  # submission, review or skip
    requester_id: str
    campaign_id: str
    worker_id: str


def _observed(
    rule: Mapping[str, Any], row: Mapping[str, Any], requester: str, worker: str
) -> tuple[float, int] | None:
    """(the metric's value, how many observations it rests on), or None when it has none yet."""
    metric = rule["metric"]
    answers, weight = _int(row, "control_answers"), Decimal(str(row.get("control_weight", 0)))
    reviewed = _int(row, "approved") + _int(row, "rejected")
    if metric == "controlAccuracy":
        return (float(100 * Decimal(str(row.get("control_score", 0))) / weight), answers) if weight else None
    if metric == "controlAnswers":
        return float(answers), answers
    if metric == "acceptanceRate":
        return (100 * _int(row, "approved") / reviewed, reviewed) if reviewed else None
    if metric == "fastSubmits":
        return float(_int(row, f"fast_{seconds(rule['fastSubmitThreshold'])}")), _int(row, "submitted")
    if metric == "skippedInRow":
        return float(_int(row, "skipped_in_row")), _int(row, "skipped_in_row")
    if metric == "earnings24h":
        return float(_last_day(requester, worker)), _int(row, "approved")
    raise ValueError(f"unknown metric {metric}")


def _observation(kind: str, row: Mapping[str, Any]) -> int:
    """How many events of this kind the worker's statistics in the campaign have seen: two events
    that leave the same figures, or one event evaluated twice, are one observation."""
    if kind == "submission":
        return _int(row, "submitted")
    if kind == "review":
        return _int(row, "approved") + _int(row, "rejected")
    return _int(row, "skipped")


def evaluate(event: Event) -> Touched:
    """Run the campaign's rules of the metrics this event changed, on the statistics as they are now.

    A rule acts at most once per observation of the worker (recorded first, under the worker, the
    rule and the count of events its figures rest on), so an event delivered twice, or two racing
    events that both read the same figures, act once; an action recorded but cut short before its
    outcome is taken again. Returns the (requester, campaign) pairs whose results the actions
    reviewed (they may be complete).
    """
    campaign = campaign_store.get(event.requester_id, event.campaign_id, consistent=True)
    rules = [
        (n, plain_numbers(rule))
        for n, rule in enumerate((campaign or {}).get("qualityRules") or [])
        if rule.get("metric") in METRICS_OF[event.kind]
    ]
    if not rules:
        return set()
    row = result_store.campaign_worker(event.campaign_id, event.worker_id, consistent=True) or {}
    seen = _observation(event.kind, row)
    touched: Touched = set()
    for n, rule in rules:
        observed = _observed(rule, row, event.requester_id, event.worker_id)
        if observed is None or observed[1] < int(rule.get("minAnswers", 1)):
            continue
        value = observed[0]
        if not eligibility.COMPARE[rule["operator"]](value, float(rule["value"])):
            continue
        mark = f"{event.worker_id}#{n:02d}#{event.kind}#{seen:09d}"
        now = clock.now()
        record = {
            "campaign": event.campaign_id,
            "worker": event.worker_id,
            "requester": event.requester_id,
            "rule": n,
            "metric": rule["metric"],
            "observed": Decimal(str(round(value, 6))),
            "action": rule["action"],
            "event": event.id,
            "at": clock.iso(now),
        }
        if not quality_store.record_action(event.campaign_id, mark, record, clock.iso(now + ACTION_LEASE)):
            found = quality_store.get_action(event.campaign_id, mark)
            if found is None or "outcome" in found:
                continue  # this rule acted on these figures before
            record = found  # recorded, then cut short before its outcome: take it again
        if _complete(event.campaign_id, mark, record):
            touched.add((event.requester_id, event.campaign_id))
    return touched


def finish_unfinished(now_iso: str, limit: int) -> tuple[int, Touched]:
    """Take the actions that were recorded but never got an outcome (their taker was cut short and
    no evaluation came back to them), once overdue; how many, and the campaigns they reviewed."""
    finished, touched = 0, set()
    for campaign_id, mark in quality_store.unfinished_actions(now_iso, limit):
        record = quality_store.get_action(campaign_id, mark)
        if record is None or "outcome" in record:
            continue  # finished meanwhile (the index lags the table)
        if _complete(campaign_id, mark, record):
            touched.add((str(record["requester"]), campaign_id))
        finished += 1
    return finished, touched


def _complete(campaign_id: str, mark: str, record: Mapping[str, Any]) -> bool:
    """Take a recorded action, then note its outcome; whether it reviewed results. An exception
    other than a refusal leaves the outcome unnoted, for the action to be taken again."""
    try:
        outcome, reviewed = _act(campaign_id, mark, plain_numbers(dict(record)))
    except errors.CrowdtaskError as refused:  # e.g. the skill was deleted: recorded, not retried
        outcome, reviewed = {"error": refused.description}, False
    quality_store.note_outcome(campaign_id, mark, outcome)
    return reviewed


def _already_blocked(requester_id: str, worker_id: str, campaign: str | None, until: str | None) -> bool:
    """Whether a block in force already covers this one (its scope, at least as long)."""
    now_iso = clock.iso(clock.now())
    for scope in quality_store.block_scopes([(requester_id, worker_id)]).get((requester_id, worker_id), []):
        wider = scope.get("campaign") in (
            quality_store.ALL_CAMPAIGNS,
            campaign or quality_store.ALL_CAMPAIGNS,
        )
        ends = scope.get("until")
        if wider and (not ends or (until is not None and ends >= until)) and (not ends or ends > now_iso):
            return True
    return False


def _act(campaign_id: str, mark: str, record: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Do what a recorded rule's action says, from the record alone (so doing it again does the same);
    (what it did, whether it reviewed results). Its events carry the action's id (`actionId`)."""
    action, requester_id, worker_id = record["action"], str(record["requester"]), str(record["worker"])
    kind = action["type"]
    if kind == "block":
        return _block_by_rule(campaign_id, mark, record), False
    if kind == "setSkill":
        observed = float(record["observed"])
        level = max(0.0, min(100.0, observed)) if action.get("fromMetric") else float(action["value"])
        skill_set = {
            "requesterId": requester_id,
            "workerId": worker_id,
            "skillId": action["skill"],
            "value": level,
            "actionId": mark,
        }
        announced = _event("worker.skill_set", skill_set, requester_id, campaign_id, mark, str(record["at"]))
        set_skill_value(
            requester_id, action["skill"], worker_id, level, at=str(record["at"]), events=[announced]
        )
        return {"skill": action["skill"], "value": level}, False
    if kind == "rejectAll":
        results.reject_all(
            requester_id,
            campaign_id,
            worker_id,
            str(action["reason"]),
            also=lambda item: [
                quality_store.tally(
                    campaign_id, mark, rejected=1, returned=pricing.result_cost(dict(item))[1]
                )
            ],
        )
        rejected, returned = _tally(campaign_id, mark, "rejected", "returned")
        done = {"rejected": int(rejected), "returned": str(returned)}
        summary = {"requesterId": requester_id, "campaignId": campaign_id, "workerId": worker_id, **done}
        # The rejections committed one by one (each with its result.rejected); this sums them up, and
        # a second run rewrites the same summary.
        outbox.write(
            [
                _event(
                    "worker.results_rejected",
                    {**summary, "actionId": mark},
                    requester_id,
                    campaign_id,
                    mark,
                    str(record["at"]),
                )
            ]
        )
        return done, True
    if kind == "approveAll":
        results.approve_all(
            requester_id,
            campaign_id,
            worker_id,
            None,
            also=lambda item: [quality_store.tally(campaign_id, mark, approved=1)],
        )
        [approved] = _tally(campaign_id, mark, "approved")
        summary = {
            "requesterId": requester_id,
            "campaignId": campaign_id,
            "workerId": worker_id,
            "approved": int(approved),
            "actionId": mark,
        }
        outbox.write(
            [_event("worker.results_approved", summary, requester_id, campaign_id, mark, str(record["at"]))]
        )
        return {"approved": int(approved)}, True
    raise ValueError(f"unknown action {kind}")


def _tally(campaign_id: str, mark: str, *names: str) -> list[Decimal]:
    """What the action's reviews added up to, however many runs made them (each counted in its review's
    own transaction)."""
    counted = quality_store.tally_of(quality_store.get_action(campaign_id, mark) or {})
    return [counted.get(name, Decimal(0)) for name in names]


def _block_by_rule(campaign_id: str, mark: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's block: its id is drawn from the action and its end counted from when the action was
    recorded, so a second run rewrites the block the first one made (and the block it made is not
    mistaken for another block covering the worker)."""
    action, requester_id, worker_id = record["action"], str(record["requester"]), str(record["worker"])
    recorded_at = clock.parse(str(record["at"]))
    assert recorded_at is not None
    block_id = ids.named_id(int(recorded_at.timestamp() * 1000), f"{campaign_id}#{mark}")
    until = None
    if action.get("duration"):
        until = clock.iso(recorded_at + timedelta(seconds=seconds(action["duration"])))
    scope = campaign_id if action.get("scope", "campaign") == "campaign" else None
    made_before = quality_store.get_block(requester_id, block_id) is not None
    if not made_before and _already_blocked(requester_id, worker_id, scope, until):
        return {"alreadyBlocked": True}
    block = BlockIn(
        worker=worker_id, campaign=scope, until=until, reason=action.get("reason") or "quality rule"
    )
    _put_block(requester_id, block_id, block, source="rule", at=str(record["at"]), action_id=mark)
    return {"block": block_id}


def actions(
    requester_id: str, campaign_id: str, *, worker: str | None, after: str | None, limit: int
) -> tuple[list[QualityActionOut], bool]:
    require_campaign(requester_id, campaign_id)
    found, more = quality_store.actions_page(campaign_id, worker, after, limit)
    return [QualityActionOut.model_validate(plain_numbers(item)) for item in found], more
