"""Dawid-Skene against crowd-kit's `DawidSkene` and the truth, on simulated crowds (pure: no AWS)."""

from __future__ import annotations

import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from crowdtask.services import dawid_skene
from tests.support.crowds import accuracy, majority, simulate

CROWDS = {
    # name: (tasks, overlap, workers, classes, seed, mix)
    "binary, three answers a task": (1500, 3, 60, 2, 11, None),
    "three answers, five a task": (1200, 5, 120, 3, 12, None),
    "four answers, many spammers and adversaries": (
        1000,
        5,
        150,
        4,
        13,
        {"diligent": 0.3, "sloppy": 0.2, "spammer": 0.2, "constant": 0.1, "adversary": 0.2},
    ),
}


def _crowd_kit(observations: list[tuple[str, str, str]]) -> dict[str, str]:
    data = pd.DataFrame(observations, columns=["task", "worker", "label"])
    return dict(DawidSkene(n_iter=dawid_skene.MAX_ITERATIONS, tol=dawid_skene.TOLERANCE).fit_predict(data))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
@pytest.mark.parametrize("name", CROWDS)
def test_labels_agree_with_crowd_kit_and_both_beat_majority(name):
    # Given a crowd of known truth with spammers and adversaries among its workers
    tasks, overlap, workers, classes, seed, mix = CROWDS[name]
    crowd = simulate(tasks=tasks, overlap=overlap, workers=workers, classes=classes, seed=seed, mix=mix)
    # When both aggregate it
    ours = {task: label.answer for task, label in dawid_skene.fit(crowd.observations).labels.items()}
    theirs = _crowd_kit(crowd.observations)
    # Then they agree on at least 99% of the tasks
    assert ours.keys() == theirs.keys() == crowd.truth.keys()
    agreed = sum(ours[task] == theirs[task] for task in ours) / len(ours)
    assert agreed >= 0.99
    # and both are right more often than the majority vote
    by_majority = accuracy(majority(crowd.observations), crowd.truth)
    assert accuracy(ours, crowd.truth) > by_majority
    assert accuracy(theirs, crowd.truth) > by_majority


def test_an_adversary_outvotes_nobody_once_found_out():
    # Given two reliable workers who agree on every task and one who always says the other answer
    observations = []
    for n in range(40):
        truth, other = ("yes", "no") if n % 3 else ("no", "yes")
        task = f"t{n:02d}"
        observations += [(task, "ann", truth), (task, "bob", truth), (task, "eve", other)]
    # and a task only ann and eve answered, where a majority vote is a coin toss
    observations += [("tie", "ann", "yes"), ("tie", "eve", "no")]
    # When Dawid-Skene aggregates
    fitted = dawid_skene.fit(observations)
    # Then eve's answer counts as evidence of its opposite: ann wins the tie, with confidence
    assert fitted.labels["tie"].answer == "yes"
    assert fitted.labels["tie"].confidence > 0.99
    assert fitted.labels["tie"].votes == 1
    assert fitted.labels["t01"] == dawid_skene.Label("yes", pytest.approx(1.0), 2)


def test_confidences_are_posteriors_and_votes_count_the_winning_answer():
    crowd = simulate(tasks=300, overlap=4, workers=30, classes=3, seed=5)
    fitted = dawid_skene.fit(crowd.observations)
    given: dict[tuple[str, str], int] = {}
    for task, _, answer in crowd.observations:
        given[task, answer] = given.get((task, answer), 0) + 1
    for task, label in fitted.labels.items():
        assert 1 / 3 <= label.confidence <= 1.0
        assert label.votes == given.get((task, label.answer), 0)
    assert sum(fitted.priors.values()) == pytest.approx(1.0)
    assert 1 <= fitted.iterations <= dawid_skene.MAX_ITERATIONS


def test_one_answer_only_and_nothing_at_all():
    fitted = dawid_skene.fit([("a", "w1", "x"), ("a", "w2", "x"), ("b", "w1", "x")])
    assert fitted.labels == {"a": ("x", 1.0, 2), "b": ("x", 1.0, 1)}
    assert dawid_skene.fit([]).labels == {}


def test_a_tie_goes_to_the_smallest_answer():
    # one task, two workers seen nowhere else: nothing tells them apart (crowd-kit picks by the
    # order its data frame happens to hold the answers in; we pick the same whatever the order)
    one_way = [("only", "w1", "b"), ("only", "w2", "a")]
    for observations in (one_way, one_way[::-1]):
        fitted = dawid_skene.fit(observations)
        assert fitted.labels["only"].answer == "a"
        assert fitted.labels["only"].confidence == pytest.approx(0.5)
