"""Workstreams: a requester's use cases and task definitions, and the x-api-key that posts throughput."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from crowdtask import clock, credentials, errors, ids, store
from crowdtask.models.throughput import WorkstreamIn, WorkstreamOut
from crowdtask.store import throughput as throughput_store


@dataclass(frozen=True)
class Workstream:
    """A workstream as the throughput routes need it: owner and configuration."""

    id: str
    account_id: str
    name: str
    use_cases: list[dict[str, Any]]

    def use_case(self, use_case_id: str) -> dict[str, Any] | None:
        return next((u for u in self.use_cases if u["id"] == use_case_id), None)

    def task_definition(self, use_case_id: str, task_definition_id: str) -> dict[str, Any] | None:
        use_case = self.use_case(use_case_id)
        if use_case is None:
            return None
        return next((d for d in use_case["task_definitions"] if d["id"] == task_definition_id), None)

    def names(self) -> dict[str, tuple[str, str | None]]:
        """id -> (name, use case id) for every use case and task definition."""
        found: dict[str, tuple[str, str | None]] = {}
        for use_case in self.use_cases:
            found[use_case["id"]] = (use_case["name"], None)
            for definition in use_case["task_definitions"]:
                found[definition["id"]] = (definition["name"], use_case["id"])
        return found


def _to_out(item: dict[str, Any], api_key: str | None = None) -> WorkstreamOut:
    return WorkstreamOut.model_validate({**item, "api_key": api_key})


def _to_workstream(item: dict[str, Any]) -> Workstream:
    return Workstream(
        id=item["id"], account_id=item["account_id"], name=item["name"], use_cases=item["use_cases"]
    )


def create_workstream(account_id: str, data: WorkstreamIn) -> WorkstreamOut:
    now = clock.iso(clock.now())
    api_key = credentials.new_secret("cws")
    workstream_id = ids.new_id()
    item: dict[str, Any] = {
        "id": workstream_id,
        "account_id": account_id,
        "name": data.name,
        "use_cases": [
            {
                "id": ids.new_id(),
                "name": use_case.name,
                "task_definitions": [{"id": ids.new_id(), "name": d.name} for d in use_case.task_definitions],
            }
            for use_case in data.use_cases
        ],
        "api_key_hash": credentials.digest(api_key),
        "api_key_created_at": now,
        "created_at": now,
        "updated_at": now,
    }
    throughput_store.put_workstream(workstream_id, item)
    return _to_out(item, api_key)


def _owned(account_id: str, workstream_id: str) -> dict[str, Any]:
    item = throughput_store.get_workstream(workstream_id)
    if item is None or item["account_id"] != account_id:
        raise errors.NotFound(f"No workstream {workstream_id} in your account.")
    return item


def get_workstream(account_id: str, workstream_id: str) -> WorkstreamOut:
    return _to_out(_owned(account_id, workstream_id))


def owned_workstream(account_id: str, workstream_id: str) -> Workstream:
    return _to_workstream(_owned(account_id, workstream_id))


def find_workstream(workstream_id: str) -> Workstream | None:
    """A workstream by id alone, for work already authorised (the bulk worker's queued rows)."""
    item = throughput_store.get_workstream(workstream_id)
    return _to_workstream(item) if item else None


def rotate_api_key(account_id: str, workstream_id: str) -> WorkstreamOut:
    """A new key replaces the old one at once; the old key is refused from then on."""
    api_key = credentials.new_secret("cws")
    try:
        digest = credentials.digest(api_key)
        item = throughput_store.set_api_key_hash(workstream_id, account_id, digest, clock.iso(clock.now()))
    except store.Refused as exc:
        raise errors.NotFound(f"No workstream {workstream_id} in your account.") from exc
    return _to_out(item, api_key)


def authenticate_key(workstream_id: str, api_key: str | None) -> Workstream:
    """The workstream whose key this is; 401 for a missing key, a wrong one or another workstream's."""
    if not api_key or not api_key.strip():
        raise errors.Unauthorized("Send the workstream's API key in the x-api-key header.")
    item = throughput_store.get_workstream(workstream_id)
    expected = item.get("api_key_hash", "") if item else ""
    given = credentials.digest(api_key.strip())
    if not hmac.compare_digest(given.encode(), expected.encode()) or item is None:
        raise errors.Unauthorized("The x-api-key is not valid for this workstream.")
    return _to_workstream(item)
