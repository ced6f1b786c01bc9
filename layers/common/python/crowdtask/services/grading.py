"""Grading a control task's answer against its known solutions (pure: no I/O).

Per component type: choices, ratings, steppers and toggles must be equal; a tag collection is
compared as a set; text is compared trimmed and case-folded; recordings, drawings and media are
not checked (there is nothing to compare them with). An answer is correct for a solution when
every component the solution checks matches; its score is the best weight of the solutions it
matches (0 when none), out of the best weight of all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple


def _equal(key: str) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    return lambda given, expected: given.get(key) == expected.get(key)


def _text(given: dict[str, Any], expected: dict[str, Any]) -> bool:
    return str(given.get("text", "")).strip().casefold() == str(expected.get("text", "")).strip().casefold()


def _tags(given: dict[str, Any], expected: dict[str, Any]) -> bool:
    return {str(v) for v in given.get("values", [])} == {str(v) for v in expected.get("values", [])}


COMPARISONS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    "BinaryChoice": _equal("selectedOption"),
    "BinaryImageChoice": _equal("selectedOption"),
    "Rating": _equal("rating"),
    "Stepper": _equal("result"),
    "Toggle": _equal("checked"),
    "TextInput": _text,
    "text_area": _text,
    "tags_collection": _tags,
}
# Recordings, drawings and media: AudioRecording, VideoRecording, ImageMarker, media (not in COMPARISONS)


class Grade(NamedTuple):
    correct: bool
    score: float  # the weight of the best matching solution (0 when none matches)
    weight: float  # the best weight any solution has: what a correct answer could score


def task_components(task: Mapping[str, Any]) -> list[Any]:
    """A task's components in result order: its Swarms `components`, then its task-JSON ones."""
    return [*task.get("components", []), *task.get("components_attributes", [])]


def component_tag(component: Mapping[str, Any]) -> str:
    """A stored component's tag: `type` of a Swarms component, `component_type` of a task-JSON one."""
    return str(component.get("type") or component.get("component_type") or "")


def matches(components: Sequence[dict[str, Any]], answers: Sequence[Any], solution: dict[str, Any]) -> bool:
    """Whether `answers` (one result per component, in order) meet every check of `solution`."""
    entries = solution.get("components", [])
    for component, answer, entry in zip(components, answers, entries, strict=False):
        expected = (entry or {}).get("result")
        compare = COMPARISONS.get(component_tag(component))
        if expected is None or compare is None:
            continue  # not checked
        if not isinstance(answer, dict) or not compare(answer, expected):
            return False
    return True


def grade(
    components: Sequence[dict[str, Any]], answers: Sequence[Any], solutions: Sequence[dict[str, Any]]
) -> Grade:
    """The answer of a control task with these known solutions."""
    weights = [float(s.get("weight", 1)) for s in solutions]
    best = max(weights, default=0.0)
    score = max(
        (w for s, w in zip(solutions, weights, strict=True) if matches(components, answers, s)), default=None
    )
    return Grade(correct=score is not None, score=score or 0.0, weight=best)
