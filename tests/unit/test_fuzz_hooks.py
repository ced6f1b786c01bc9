"""The fuzz stage's hooks (tests/fuzz/hooks.py) keep valid cases to the rules the document states in
words: each turns a body the API's model refuses into one it takes, and leaves invalid cases alone."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from crowdtask.errors import ValidationFailed
from crowdtask.models.campaigns import CampaignIn
from crowdtask.models.datasets import MAX_TASKS as MAX_DATASET_TASKS
from crowdtask.models.datasets import FilesIn
from crowdtask.models.tasks import TaskIn
from crowdtask.models.throughput import ThroughputIn, WorkstreamIn
from tests.fuzz import hooks

LATE, EARLY = "2030-05-02T10:00:00Z", "2030-05-01T10:00:00+00:00"
THROUGHPUT = {"worker_id": "w", "use_case_id": "u", "task_definition_id": "t"}
RECORDING = {"type": "AudioRecording", "minDurationInSeconds": 30, "maxDurationInSeconds": 5}
STEPPER = {"type": "Stepper", "min": 10, "max": 1, "start": 20}
CASES: list[tuple[type[BaseModel], Any, dict[str, Any]]] = [
    (CampaignIn, hooks.campaign_rules, {"name": "c", "startDate": LATE, "endDate": EARLY}),
    (CampaignIn, hooks.campaign_rules, {"name": "c", "startDate": LATE, "endDate": "2030-05-02T10:00"}),
    (
        CampaignIn,
        hooks.campaign_rules,
        {"name": "c", "results": 3, "overlap": {"min": 99999, "max": 1, "confidence": 0.9}},
    ),
    (
        CampaignIn,
        hooks.campaign_rules,
        {"name": "c", "autoReview": {"control": {"approveAtLeast": 0.0, "rejectBelow": 1.0}}},
    ),
    (
        ThroughputIn,
        hooks.throughput_times,
        {**THROUGHPUT, "task_started_at": LATE, "task_completed_at": EARLY},
    ),
    (
        WorkstreamIn,
        hooks.workstream_names,
        {
            "name": "w",
            "use_cases": [
                {"name": "a", "task_definitions": [{"name": "x"}, {"name": "x"}]},
                {"name": "a", "task_definitions": [{"name": "y"}]},
            ],
        },
    ),
    (FilesIn, hooks.unique_files, {"files": ["a.png", {"url": "a.png", "name": "A"}, {"url": "a.png"}]}),
    (TaskIn, hooks.task_rules, {"name": "t", "components": [RECORDING, STEPPER]}),
    (
        TaskIn,
        hooks.task_rules,
        {"task": {"name": "t", "components": [STEPPER], "knownSolutions": [{"components": []}]}},
    ),
]


@pytest.mark.parametrize(("model", "rule", "body"), CASES)
def test_each_rule_makes_a_refused_valid_case_one_the_api_takes(
    model: type[BaseModel], rule: Any, body: dict[str, Any]
) -> None:
    with pytest.raises((ValidationError, ValidationFailed)):
        model.model_validate(body)
    model.model_validate(rule(copy.deepcopy(body)))


def test_an_until_in_the_past_becomes_a_week_ahead() -> None:
    """The service, not the model, refuses a past `until` (results.soft_reject)."""
    until = hooks.soft_reject_until({"until": "2001-01-01T00:00:00Z"})["until"]
    assert datetime.fromisoformat(until) - datetime.now(UTC) > timedelta(days=6)
    later = {"until": "2999-01-01T00:00:00Z"}
    assert hooks.soft_reject_until(dict(later)) == later


def test_bodies_that_keep_the_rules_are_left_as_they_are() -> None:
    body = {"name": "c", "startDate": EARLY, "endDate": LATE}
    assert hooks.campaign_rules(dict(body)) == body
    files = {"files": ["a.png", {"url": "b.png", "name": "a.png"}]}
    assert hooks.unique_files(dict(files)) == files


def case_of(method: str, path: str, body: Any, *, positive: bool) -> Any:
    mode = SimpleNamespace(is_positive=positive)
    return SimpleNamespace(
        operation=SimpleNamespace(method=method, path=path),
        meta=SimpleNamespace(generation=SimpleNamespace(mode=mode)),
        body=body,
    )


def test_only_valid_cases_are_reshaped() -> None:
    body = {"name": "c", "startDate": LATE, "endDate": EARLY}
    negative = hooks.map_case(None, case_of("POST", "/campaigns", dict(body), positive=False))
    assert negative.body == body
    positive = hooks.map_case(None, case_of("PUT", "/campaigns/{id}", dict(body), positive=True))
    assert (positive.body["startDate"], positive.body["endDate"]) == (EARLY, LATE)
    other = hooks.map_case(None, case_of("POST", "/elsewhere", dict(body), positive=True))
    assert other.body == body


def test_a_dataset_is_cut_to_the_stated_list_bytes_and_task_count() -> None:
    """The service refuses lists over 80,000 bytes and datasets over 10,000 tasks (services/datasets)."""
    from crowdtask.services.datasets import MAX_LIST_BYTES, slot_count

    files = [f"{n:0400d}" for n in range(400)] + [{"url": "0" * 400}]
    body = {
        "type": "single_frame",
        "stages": ["a", "b"],
        "files": files,
        "objects": [f"o{n}" for n in range(30)],
    }
    definition = hooks.dataset_size(copy.deepcopy(body))
    assert len(json.dumps(definition["files"]).encode()) <= MAX_LIST_BYTES < len(json.dumps(files).encode())
    counted = {"dataset_attributes": [], "frame_attributes": [], **definition}
    assert (
        0 < slot_count(counted) <= MAX_DATASET_TASKS < slot_count({**counted, **body, "files": files[:200]})
    )
