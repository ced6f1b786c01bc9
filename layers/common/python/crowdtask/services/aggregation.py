"""Votes and tallies of the live aggregates (pure: no I/O).

A task result votes once per component whose results are categorical (choices, ratings, steppers,
toggles, tag collections: answers that can be counted as equal or not). Each vote names its
answer by a key derived from the answer's canonical JSON, so the tally of a component is a set of
counters on one item that concurrent submissions add to without reading (store/aggregates.py).
The winner of a component is the answer with the most weight (then the most votes, then the
smallest JSON, so every reader picks the same); its confidence is its share of the weight.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from crowdtask.services.grading import component_tag

AGGREGATED = {"BinaryChoice", "BinaryImageChoice", "Rating", "Stepper", "Toggle", "tags_collection"}
WEIGHT_PLACES = Decimal("0.0001")
NEUTRAL_WEIGHT = Decimal("0.5")  # weighted votes of a worker with nothing to weigh them by


class Vote(NamedTuple):
    key: str  # `<component>_<digest of the answer>`: unique per component and answer
    answer: str  # the answer's canonical JSON


class Winner(NamedTuple):
    result: Any
    confidence: float
    votes: int


def _same_numbers(value: Any) -> Any:
    """Numbers as one spelling, however they arrived: 4, 4.0 and Decimal("4") are the same answer."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | float | int):
        number = Decimal(str(value))
        return int(number) if number == number.to_integral_value() else float(number)
    if isinstance(value, Mapping):
        return {str(k): _same_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_same_numbers(v) for v in value]
    return value


def canonical(component: Mapping[str, Any], result: Any) -> str | None:
    """The answer as one string equal answers share, or None when the component does not aggregate."""
    if result is None or component_tag(component) not in AGGREGATED or not isinstance(result, Mapping):
        return None
    result = _same_numbers(result)
    if component_tag(component) == "tags_collection":
        result = {**result, "values": sorted({str(v) for v in result.get("values", [])})}
    return json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def votes(components: Sequence[Mapping[str, Any]], results: Sequence[Any]) -> list[Vote]:
    """The votes of one task result: one per aggregated component answered."""
    found = []
    for n, (component, result) in enumerate(zip(components, results, strict=False)):
        answer = canonical(component, result)
        if answer is not None:
            digest = hashlib.sha256(answer.encode()).hexdigest()[:16]
            found.append(Vote(f"{n}_{digest}", answer))
    return found


def weight(method: str, value: Decimal | None) -> Decimal:
    """What one vote weighs: 1 by majority; weighted, the worker's 0..100 figure as 0..1."""
    if method != "weighted":
        return Decimal(1)
    if value is None:
        return NEUTRAL_WEIGHT
    return max(Decimal(0), min(Decimal(1), value / 100)).quantize(WEIGHT_PLACES)


def tally(item: Mapping[str, Any], count: int) -> list[Winner | None]:
    """The winners of a stored aggregate's `count` components (None where nothing was counted)."""
    weights: dict[int, dict[str, tuple[Decimal, int, str]]] = {}
    for name, value in item.items():
        if not name.startswith("w") or "_" not in name:
            continue
        key = name[1:]
        component = key.split("_", 1)[0]
        if not component.isdigit():
            continue
        votes_ = int(item.get(f"n{key}", 0))
        if votes_ <= 0:
            continue  # every vote for it was withdrawn
        answer = str(item.get(f"l{key}", "null"))
        weights.setdefault(int(component), {})[key] = (Decimal(str(value)), votes_, answer)
    winners: list[Winner | None] = []
    for n in range(count):
        found = weights.get(n)
        if not found:
            winners.append(None)
            continue
        total = sum((w for w, _, _ in found.values()), Decimal(0))
        best_w, best_n, best_answer = min(found.values(), key=lambda e: (-e[0], -e[1], e[2]))
        confidence = float(best_w / total) if total > 0 else 0.0
        winners.append(Winner(json.loads(best_answer), round(confidence, 6), best_n))
    return winners


def confident(winners: Sequence[Winner | None], threshold: float) -> bool:
    """Every aggregated component at least this confident (a task with none never is)."""
    counted = [w for w in winners if w is not None]
    return bool(counted) and all(w.confidence >= threshold for w in counted)


def agrees(
    components: Sequence[Mapping[str, Any]],
    results: Sequence[Any],
    winners: Sequence[Winner | None],
    min_confidence: float,
) -> bool | None:
    """Whether a task result gives the aggregated answer on every component confident enough to
    decide (None: no component is)."""
    decided = False
    for component, result, winner in zip(components, results, winners, strict=False):
        if winner is None or winner.confidence < min_confidence:
            continue
        decided = True
        if canonical(component, result) != canonical(component, winner.result):
            return False
    return True if decided else None
