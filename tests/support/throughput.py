"""Workstreams and throughput bodies for tests, made through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TestWorkstream:
    id: str
    api_key: str
    use_case_id: str
    task_definition_id: str
    other_use_case_id: str
    other_task_definition_id: str


def make_workstream(account_id: str, name: str = "Invoice capture") -> TestWorkstream:
    """Two use cases with one task definition each."""
    from crowdtask.models.throughput import WorkstreamIn
    from crowdtask.services import workstreams

    created = workstreams.create_workstream(
        account_id,
        WorkstreamIn.model_validate(
            {
                "name": name,
                "use_cases": [
                    {"name": "Invoices", "task_definitions": [{"name": "Transcribe"}]},
                    {"name": "Receipts", "task_definitions": [{"name": "Classify"}]},
                ],
            }
        ),
    )
    first, second = created.use_cases
    assert created.api_key
    return TestWorkstream(
        id=created.id,
        api_key=created.api_key,
        use_case_id=first.id,
        task_definition_id=first.task_definitions[0].id,
        other_use_case_id=second.id,
        other_task_definition_id=second.task_definitions[0].id,
    )


def record_body(workstream: TestWorkstream, **overrides: Any) -> dict[str, Any]:
    """A valid throughput body for the workstream's first use case; overrides replace fields."""
    body: dict[str, Any] = {
        "worker_id": "john.doe@example.com",
        "use_case_id": workstream.use_case_id,
        "task_definition_id": workstream.task_definition_id,
        "task_started_at": "2020-12-22T09:13:24.127Z",
        "task_completed_at": "2020-12-22T10:13:24.127Z",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
