"""The votes a result casts in its tasks' live aggregates, and their withdrawal when it is rejected.

A submission's ballots (one per task it answers, control tasks aside) are written in the
submission's own transaction when they fit in it (IN_TRANSACTION of them), and are then taken
back in the rejection's transaction: both exactly once, with the result's state change. A job
of more tasks has its ballots written one by one right after the submission, each refused
if its result was counted or withdrawn before, so a retry or a late ballot counts nothing twice.
The result keeps how its ballots were written and what its votes weighed, so the rejection
takes back exactly what was added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crowdtask.services import aggregation
from crowdtask.store import aggregates as aggregate_store
from crowdtask.store import quality as quality_store
from crowdtask.store import results as result_store
from crowdtask.store.aggregates import Ballot, Vote

IN_TRANSACTION = 80  # a submission writes ~6 items besides; a transaction holds 100


def _components(entry: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    parts = entry.get("components", [])
    return [dict(c.get("data") or {}) for c in parts], [c.get("result") for c in parts]


def ballots(
    campaign_id: str,
    result_id: str,
    task_results: Sequence[Mapping[str, Any]],
    controls: set[str],
    weight: Decimal,
) -> list[Ballot]:
    """One ballot per task answered with at least one aggregated component (controls aside)."""
    found = []
    for entry in task_results:
        task_id = str(entry["task"]["id"])
        if task_id in controls:
            continue
        components, results = _components(entry)
        cast = aggregation.votes(components, results)
        if cast:
            ballot = Ballot(campaign_id, task_id, result_id, weight, len(components))
            for vote in cast:
                ballot.vote(vote.key, vote.answer)
            found.append(ballot)
    return found


def weight_of(
    settings: Mapping[str, Any] | None, campaign_id: str, worker_id: str, counts: Mapping[str, Any]
) -> Decimal:
    """What this worker's votes weigh now: 1 by majority; weighted, their skill value, or their
    control accuracy in the campaign including this submission's controls."""
    method = str((settings or {}).get("method", "majority"))
    if method != "weighted":
        return aggregation.weight(method, None)
    skill = (settings or {}).get("skill")
    if skill:
        found = quality_store.values_of([(str(skill), worker_id)])
        return aggregation.weight(method, found.get((str(skill), worker_id)))
    row = result_store.campaign_worker(campaign_id, worker_id, consistent=True) or {}
    score = Decimal(str(row.get("control_score", 0))) + Decimal(str(counts.get("control_score", 0)))
    total = Decimal(str(row.get("control_weight", 0))) + Decimal(str(counts.get("control_weight", 0)))
    return aggregation.weight(method, 100 * score / total if total else None)


def keep_voters(needed: int | None) -> bool:
    return needed is not None and int(needed) <= aggregate_store.VOTERS_KEPT


def cast_in_transaction(found: Sequence[Ballot], *, keep_voter: bool) -> list[Vote]:
    return [aggregate_store.cast(b, keep_voter=keep_voter, guarded=False) for b in found]


def cast_after(found: Sequence[Ballot], *, keep_voter: bool) -> None:
    """Ballots that did not fit the submission's transaction, each on its own (idempotent when
    the voters are kept)."""
    for ballot in found:
        aggregate_store.write(aggregate_store.cast(ballot, keep_voter=keep_voter, guarded=keep_voter))


def recorded(found: Sequence[Ballot], weight: Decimal, *, keep_voter: bool) -> dict[str, Any]:
    """What the result keeps of its ballots, so a rejection takes back exactly them."""
    return {
        "votes_weight": weight,
        "votes_in_transaction": len(found) <= IN_TRANSACTION,
        "votes_kept_voter": keep_voter,
    }


def of_result(result: Mapping[str, Any]) -> tuple[list[Ballot], bool, bool]:
    """A stored result's ballots as its submission cast them: (ballots, in transaction, voter kept)."""
    if "votes_weight" not in result:
        return [], False, False  # submitted before votes were counted
    found = ballots(
        str(result["campaign_id"]),
        str(result["id"]),
        result.get("taskResults", []),
        {str(c) for c in result.get("control_ids") or []},
        Decimal(str(result["votes_weight"])),
    )
    return found, bool(result.get("votes_in_transaction")), bool(result.get("votes_kept_voter"))


def withdraw_in_transaction(result: Mapping[str, Any]) -> list[Vote]:
    """The withdrawal of a result's ballots that were cast in its submission's transaction."""
    found, in_transaction, kept = of_result(result)
    if not in_transaction:
        return []
    return [aggregate_store.withdraw(b, kept_voter=kept, guarded=False) for b in found]


def withdraw_after(result: Mapping[str, Any]) -> None:
    """The withdrawal of ballots cast on their own (after the rejection is stored)."""
    found, in_transaction, kept = of_result(result)
    if in_transaction:
        return
    for ballot in found:
        if kept:
            aggregate_store.take_back(ballot)
        else:
            aggregate_store.write(aggregate_store.withdraw(ballot, kept_voter=False, guarded=False))
