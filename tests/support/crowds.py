"""Simulated crowds with a known truth: workers with confusion matrices of their own (diligent,
sloppy, spammers that answer at random or always the same, adversaries that pick a wrong answer on
purpose), each task answered by a few of them. Seeded: the same seed makes the same crowd."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

Observation = tuple[str, str, str]  # (task, worker, answer)


@dataclass
class Crowd:
    answers: list[str]
    truth: dict[str, str]  # by task
    observations: list[Observation] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # by worker: diligent, sloppy, spammer, ...


def _row(k: int, classes: int, right: float, rng: random.Random) -> list[float]:
    """P(answer | true answer k): `right` on k, the rest spread unevenly over the others."""
    if classes == 1:
        return [1.0]
    spread = [rng.random() + 0.2 for _ in range(classes - 1)]
    total = sum(spread)
    rest = iter(s / total * (1 - right) for s in spread)
    return [right if n == k else next(rest) for n in range(classes)]


def confusion(kind: str, classes: int, rng: random.Random) -> list[list[float]]:
    """A worker's confusion matrix, row k = P(answer | true answer k)."""
    if kind == "diligent":
        return [_row(k, classes, rng.uniform(0.75, 0.95), rng) for k in range(classes)]
    if kind == "sloppy":
        return [_row(k, classes, rng.uniform(0.45, 0.7), rng) for k in range(classes)]
    if kind == "spammer":  # answers at random, whatever the truth
        return [[1 / classes] * classes for _ in range(classes)]
    if kind == "constant":  # always the same answer
        favourite = rng.randrange(classes)
        return [[1.0 if n == favourite else 0.0 for n in range(classes)] for _ in range(classes)]
    if kind == "adversary":  # mostly a wrong answer: the next one
        return [
            [0.8 if n == (k + 1) % classes else 0.2 / (classes - 1) for n in range(classes)]
            for k in range(classes)
        ]
    raise ValueError(kind)


MIX = {"diligent": 0.35, "sloppy": 0.3, "spammer": 0.15, "constant": 0.1, "adversary": 0.1}


def simulate(
    *,
    tasks: int,
    overlap: int,
    workers: int,
    classes: int = 3,
    seed: int = 7,
    mix: dict[str, float] | None = None,
) -> Crowd:
    """`tasks` tasks answered by `overlap` distinct workers each, out of `workers` of the `mix` kinds."""
    rng = random.Random(seed)
    answers = [f"answer-{n}" for n in range(classes)]
    priors = [rng.random() + 0.5 for _ in range(classes)]
    kinds_mix = mix or MIX
    names = list(kinds_mix)
    crowd = Crowd(answers, {})
    matrices: dict[str, list[list[float]]] = {}
    for n in range(workers):
        worker = f"worker-{n:05d}"
        kind = rng.choices(names, weights=[kinds_mix[k] for k in names])[0]
        crowd.kinds[worker] = kind
        matrices[worker] = confusion(kind, classes, rng)
    pool = list(matrices)
    activity = [rng.paretovariate(1.5) for _ in pool]  # a few workers do much of the work
    for t in range(tasks):
        task = f"task-{t:07d}"
        k = rng.choices(range(classes), weights=priors)[0]
        crowd.truth[task] = answers[k]
        chosen: set[str] = set()
        while len(chosen) < overlap:
            chosen.add(rng.choices(pool, weights=activity)[0])
        for worker in sorted(chosen):
            given = rng.choices(range(classes), weights=matrices[worker][k])[0]
            crowd.observations.append((task, worker, answers[given]))
    return crowd


def majority(observations: Sequence[Observation]) -> dict[str, str]:
    """Each task's most frequent answer (ties to the smallest)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for task, _, answer in observations:
        counts[task][answer] += 1
    return {task: min(found, key=lambda a: (-found[a], a)) for task, found in counts.items()}


def accuracy(labels: dict[str, str], truth: dict[str, str]) -> float:
    return sum(labels.get(task) == answer for task, answer in truth.items()) / len(truth)
