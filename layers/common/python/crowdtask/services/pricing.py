"""What work costs: a result's commission, what a number of results freezes, what a pool task needs.

Pure arithmetic on exact decimals, rounded to the micro-dollar; no I/O.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from crowdtask import money

_MICRO = Decimal("0.000001")


def commission_of(payment: Decimal, rate: Decimal) -> Decimal:
    """The platform's commission on one payment, rounded down to the micro-dollar.

    Rounding down keeps every result's cost within what publishing froze (which rounds the total
    once): the fraction left over is released to the requester when the campaign ends.
    """
    return (payment * rate).quantize(_MICRO, rounding=ROUND_DOWN)


def cost(campaign: dict[str, Any], results: int, rate: Decimal) -> Decimal:
    """What `results` results of the campaign cost with the commission: what is frozen for them."""
    payment = Decimal(str(campaign.get("workerPayment", 0)))
    return money.amount(payment * results * (1 + rate))


def budget(campaign: dict[str, Any], commission_rate: Decimal) -> Decimal:
    """What publishing freezes: workerPayment x (results x jobs + pool tasks' results), plus commission."""
    results = int(campaign.get("results", 1)) * len(campaign.get("job_ids", []))
    results += int(campaign.get("pool_needed", 0))  # its pool tasks' results (services/pools.py)
    return cost(campaign, results, commission_rate)


def needed(content: dict[str, Any]) -> int:
    """Results one pool task needs: its overlap, narrowed by its process_count."""
    overlap = int(content.get("overlap") or 1)
    process_count = int(content.get("process_count") or 0)
    return min(overlap, process_count) if process_count > 0 else overlap


def result_cost(settlement: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(payment, payment + commission) of one result, as fixed when its job was published."""
    payment = Decimal(str(settlement.get("payment", 0)))
    return payment, payment + Decimal(str(settlement.get("commission", 0)))
