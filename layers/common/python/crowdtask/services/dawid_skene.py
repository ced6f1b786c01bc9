"""Dawid-Skene (1979) over (task, worker, answer) observations (pure: no I/O).

Each worker has a confusion matrix, P(answer given | true answer), and the answers have priors; EM
estimates both, starting from the majority vote's shares, then alternates the tasks' posteriors
(E-step) with the matrices and priors they imply (M-step) until the evidence lower bound per
observation gains less than `tolerance`. The semantics follow crowd-kit's `DawidSkene` (the
reference the tests compare with): probabilities floored at 1e-10 before they are normalised or
logged, priors the mean posterior. A tie goes to the smallest answer (crowd-kit's goes to the
first its data frame holds).

numpy is not in the layer, so the loops are pure Python arranged to run in C: observations are
numbered once and grouped by task and by (worker, answer) pair, and every step is a `map` over
flat lists of floats (a lookup per observation, then one `sum` per group through precomputed
slices). 100,000 observations take seconds, in memory proportional to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat
from operator import add, mul, sub, truediv
from typing import NamedTuple

EPSILON = 1e-10  # crowd-kit's floor for a probability before it is normalised or logged
MAX_ITERATIONS = 100
TOLERANCE = 1e-5

Observation = tuple[str, str, str]  # (task, worker, answer)


class Label(NamedTuple):
    answer: str
    confidence: float  # the answer's posterior probability
    votes: int  # observations of the task that gave it


class Fitted(NamedTuple):
    labels: dict[str, Label]  # by task
    priors: dict[str, float]  # by answer
    iterations: int  # EM iterations run


class _Crowd:
    """The observations numbered and grouped once: by task, and by (worker, answer) pair, with a
    worker's pairs side by side so that they are one slice too."""

    def __init__(self, observations: Sequence[Observation]) -> None:
        self.answers = sorted({answer for _, _, answer in observations})
        answer_index = {answer: n for n, answer in enumerate(self.answers)}
        self.tasks: list[str] = []
        task_index: dict[str, int] = {}
        given: dict[str, dict[int, list[int]]] = {}  # worker -> answer -> tasks
        for task, worker, answer in observations:
            t = task_index.get(task)
            if t is None:
                t = task_index[task] = len(self.tasks)
                self.tasks.append(task)
            given.setdefault(worker, {}).setdefault(answer_index[answer], []).append(t)
        self.count = len(observations)

        # by pair: each observation's task, each pair's slice of them, each worker's slice of pairs
        self.pair_answer: list[int] = []
        self.pair_worker: list[int] = []
        self.task_by_pair: list[int] = []
        self.pair_slices: list[slice] = []
        self.worker_slices: list[slice] = []
        for w, by_answer in enumerate(given.values()):
            first = len(self.pair_answer)
            for k, tasks in sorted(by_answer.items()):
                self.pair_answer.append(k)
                self.pair_worker.append(w)
                start = len(self.task_by_pair)
                self.task_by_pair.extend(tasks)
                self.pair_slices.append(slice(start, len(self.task_by_pair)))
            self.worker_slices.append(slice(first, len(self.pair_answer)))

        # by task: each observation's pair, each task's slice of them; and the votes per answer
        of_task: list[list[int]] = [[] for _ in self.tasks]
        self.votes = [[0] * len(self.tasks) for _ in self.answers]
        for p, group in enumerate(self.pair_slices):
            votes = self.votes[self.pair_answer[p]]
            for t in self.task_by_pair[group]:
                of_task[t].append(p)
                votes[t] += 1
        self.pair_by_task: list[int] = []
        self.task_slices: list[slice] = []
        for pairs in of_task:
            start = len(self.pair_by_task)
            self.pair_by_task.extend(pairs)
            self.task_slices.append(slice(start, len(self.pair_by_task)))

    def group_sums(self, values: list[float], slices: list[slice]) -> list[float]:
        return list(map(sum, map(values.__getitem__, slices)))


def _majority(crowd: _Crowd) -> list[list[float]]:
    """Each answer's share of each task's votes: EM's starting posteriors."""
    totals = list(map(sum, zip(*crowd.votes, strict=True)))
    return [list(map(truediv, votes, totals)) for votes in crowd.votes]


def _m_step(
    crowd: _Crowd, posteriors: list[list[float]]
) -> tuple[list[list[float]], list[float], list[list[float]]]:
    """Per true answer k, P(pair's answer | k) for every (worker, answer) pair; the priors; and per
    k, each pair's expected count (the posteriors of its observations summed, the lower bound's
    weights)."""
    errors, counts = [], []
    for posterior in posteriors:
        weights = list(map(posterior.__getitem__, crowd.task_by_pair))
        counted = crowd.group_sums(weights, crowd.pair_slices)
        floored = list(map(max, counted, repeat(EPSILON)))
        per_worker = crowd.group_sums(floored, crowd.worker_slices)
        errors.append(list(map(truediv, floored, map(per_worker.__getitem__, crowd.pair_worker))))
        counts.append(counted)
    tasks = len(crowd.tasks)
    priors = [max(sum(posterior) / tasks, EPSILON) for posterior in posteriors]
    return errors, priors, counts


def _e_step(crowd: _Crowd, log_errors: list[list[float]], priors: list[float]) -> list[list[float]]:
    """Each task's posterior over the true answers, given the matrices and priors."""
    likelihoods = []
    for log_error, prior in zip(log_errors, priors, strict=True):
        per_observation = list(map(log_error.__getitem__, crowd.pair_by_task))
        sums = crowd.group_sums(per_observation, crowd.task_slices)
        likelihoods.append(list(map(add, sums, repeat(math.log(prior)))))
    if len(likelihoods) == 1:
        return [[1.0] * len(crowd.tasks)]
    # shifted so that each task's largest is 0: exp never underflows them all
    top = list(map(max, *likelihoods))
    scaled = [list(map(math.exp, map(sub, likelihood, top))) for likelihood in likelihoods]
    totals = list(map(sum, zip(*scaled, strict=True)))
    return [list(map(truediv, values, totals)) for values in scaled]


def _lower_bound(
    crowd: _Crowd,
    posteriors: list[list[float]],
    counts: list[list[float]],
    log_errors: list[list[float]],
    priors: list[float],
) -> float:
    """The evidence lower bound per observation, as crowd-kit computes it: the expected log joint of
    every observation (its error and its prior) plus the posteriors' entropy. The joint's sum over
    observations is taken pair by pair: the observations of a pair share their log error."""
    joint = 0.0
    entropy = 0.0
    for posterior, count, log_error, prior in zip(posteriors, counts, log_errors, priors, strict=True):
        joint += sum(map(mul, count, map(add, log_error, repeat(math.log(prior)))))
        floored = list(map(max, posterior, repeat(EPSILON)))
        entropy -= sum(map(mul, floored, map(math.log, floored)))
    return (joint + entropy) / crowd.count


def _logs(errors: list[list[float]]) -> list[list[float]]:
    return [list(map(math.log, error)) for error in errors]


def fit(
    observations: Sequence[Observation],
    *,
    max_iterations: int = MAX_ITERATIONS,
    tolerance: float = TOLERANCE,
) -> Fitted:
    """Each task's most probable answer, its probability and the votes it got."""
    if not observations:
        return Fitted({}, {}, 0)
    crowd = _Crowd(observations)
    posteriors = _majority(crowd)
    errors, priors, _ = _m_step(crowd, posteriors)
    log_errors = _logs(errors)
    bound = -math.inf
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        posteriors = _e_step(crowd, log_errors, priors)
        errors, priors, counts = _m_step(crowd, posteriors)
        log_errors = _logs(errors)
        gained = _lower_bound(crowd, posteriors, counts, log_errors, priors)
        if gained - bound < tolerance:
            break
        bound = gained
    labels = {}
    for t, task in enumerate(crowd.tasks):
        best = max(range(len(crowd.answers)), key=lambda k: (posteriors[k][t], -k))
        labels[task] = Label(crowd.answers[best], posteriors[best][t], crowd.votes[best][t])
    return Fitted(labels, dict(zip(crowd.answers, priors, strict=True)), iterations)
