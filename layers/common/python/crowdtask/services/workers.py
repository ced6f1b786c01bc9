"""Workers' records: points, earnings, reputation and experience, overall and as one requester sees them.

Reputation = 100 x approved / (approved + rejected) results, 100 before any review; experience =
approved results. "global" figures come from the worker's account, "me" figures from the
worker's reviews by the calling requester, result counts from the campaign in question.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crowdtask import errors, money
from crowdtask.models.market import Earnings, WorkerMeOut
from crowdtask.models.results import ResultCounts, Score, WorkerStatsOut
from crowdtask.services import quality
from crowdtask.services.campaigns import require_campaign
from crowdtask.store import accounts as account_store
from crowdtask.store import bonuses as bonus_store
from crowdtask.store import results as result_store


def reputation(approved: int, rejected: int) -> float:
    reviewed = approved + rejected
    return 100.0 if reviewed == 0 else round(100 * approved / reviewed, 2)


def _int(item: dict[str, Any], name: str) -> int:
    return int(item.get(name, 0) or 0)


def _earnings(account: dict[str, Any]) -> Earnings:
    """Rewards and bonuses apart, as Mechanical Turk shows them; `total` what has been paid."""
    paid = Decimal(str(account.get("earnings_paid", 0)))
    bonuses = Decimal(str(account.get(bonus_store.EARNINGS, 0)))
    return Earnings(
        pending=money.usd(account.get("earnings_pending", 0)),
        paid=money.usd(paid),
        bonuses=money.usd(bonuses),
        total=money.usd(paid + bonuses),
    )


def me(worker_id: str) -> WorkerMeOut:
    account = account_store.get(worker_id)
    if account is None:
        raise errors.NotFound("The account of this token no longer exists.")
    approved, rejected = _int(account, "results_approved"), _int(account, "results_rejected")
    return WorkerMeOut(
        id=worker_id,
        email=account["email"],
        points=_int(account, "points"),
        earnings=_earnings(account),
        reputation=reputation(approved, rejected),
        experience=approved,
        results=ResultCounts(
            inReview=_int(account, "results_in_review"), approved=approved, rejected=rejected
        ),
        workerGroups=list(account.get("workerGroups") or []),
    )


def _stats(requester_id: str, rows: list[dict[str, Any]]) -> list[WorkerStatsOut]:
    """Campaign rows (`CW#` items) joined with the requester's and the platform's figures: 2 batch reads."""
    worker_ids = [row["worker"] for row in rows]
    mine = result_store.requester_worker_stats(requester_id, worker_ids)
    overall = result_store.worker_totals(worker_ids)
    figures = quality.campaign_stats(requester_id, rows)
    found = []
    for row, quality_stats in zip(rows, figures, strict=True):
        worker_id = row["worker"]
        with_me, everywhere = mine.get(worker_id, {}), overall.get(worker_id, {})
        me_approved, me_rejected = _int(with_me, "approved"), _int(with_me, "rejected")
        all_approved, all_rejected = (
            _int(everywhere, "results_approved"),
            _int(everywhere, "results_rejected"),
        )
        found.append(
            WorkerStatsOut(
                id=worker_id,
                reputation=Score(
                    me=reputation(me_approved, me_rejected),
                    **{"global": reputation(all_approved, all_rejected)},
                ),
                experience=Score(me=me_approved, **{"global": all_approved}),
                results=ResultCounts(
                    inReview=_int(row, "in_review"),
                    approved=_int(row, "approved"),
                    rejected=_int(row, "rejected"),
                ),
                quality=quality_stats,
            )
        )
    return found


def campaign_workers(
    requester_id: str, campaign_id: str, *, limit: int, after: str | None, in_review_only: bool
) -> tuple[list[WorkerStatsOut], bool]:
    require_campaign(requester_id, campaign_id)
    rows, more = result_store.campaign_workers(
        campaign_id, after=after, in_review_only=in_review_only, limit=limit
    )
    return _stats(requester_id, rows), more


def campaign_worker(requester_id: str, campaign_id: str, worker_id: str) -> WorkerStatsOut:
    """One worker in a campaign of the requester; a worker without results there is a 404."""
    require_campaign(requester_id, campaign_id)
    row = result_store.campaign_worker(campaign_id, worker_id)
    if row is None or "in_review" not in row:  # a row of skipped assignments only: no results there
        raise errors.NotFound(f"Worker {worker_id} has no results in campaign {campaign_id}.")
    return _stats(requester_id, [row])[0]
