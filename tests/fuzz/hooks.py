"""Schemathesis hooks of `make fuzz` (tests/fuzz/schemathesis.toml loads this file).

`POST /auth/token/discard` would discard the token every other operation runs with: each of its
calls gets a token of the same account from a pool issued before the run (logging in during the
run would meet the per-source login limit the fuzzer's own failed logins fill). Once the pool is
spent, the calls carry an already discarded token and test the 401.

An `Idempotency-Key` names one request: a client sends a fresh key with each new request, and the
same key only to retry that request. Generated cases reuse the few keys the generator draws with
other bodies (a 422 KEY_REUSED, which the header's description promises), so each call of valid
data carries a key of its own. Cases meant to be invalid keep theirs: the key may be what is wrong.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis

_POOL = [token for token in os.environ.get("FUZZ_DISCARD_TOKENS", "").split(",") if token]
_MAIN = os.environ.get("FUZZ_AUTH_TOKEN", "")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    fresh_idempotency_key(case, kwargs)
    if case.operation.path != "/auth/token/discard" or not _POOL:
        return
    token = _POOL.pop() if len(_POOL) > 1 else _POOL[0]
    for headers in (case.headers, kwargs.get("headers")):
        if headers is not None and headers.get("X-Auth-Token") == _MAIN:
            headers["X-Auth-Token"] = token


def fresh_idempotency_key(case: Any, kwargs: dict[str, Any]) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    key = f"fuzz-{uuid.uuid4()}"
    for headers in (case.headers, kwargs.get("headers")):
        for name in [name for name in headers or {} if name.lower() == "idempotency-key"]:
            headers[name] = key


# ---------------------------------------------------------------- rules no JSON Schema states
# The document states each rule below in the description of its field; JSON Schema cannot say them
# (an order between two fields, uniqueness by a field of an item, a time relative to now). As
# schemathesis' documentation advises for such constraints, the generator is taught them: each hook
# reshapes only the cases it generates as valid, so that they keep to the rule. Cases generated to
# be invalid go out untouched, and the API must still refuse them.


def _moment(value: Any) -> datetime | None:
    """A date-time as the API reads it (no offset: UTC), or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def ordered(body: dict[str, Any], first: str, then: str, *, strictly: bool) -> None:
    """`then` after `first` (or not before, unless `strictly`): the two are swapped when out of order,
    and `then` is dropped when it must be later and is the same moment."""
    start, end = _moment(body.get(first)), _moment(body.get(then))
    if start is None or end is None:
        return
    try:
        wrong = end < start
        same = end == start
    except (TypeError, OverflowError):
        return
    if wrong:
        body[first], body[then] = body[then], body[first]
    elif same and strictly:
        del body[then]


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def campaign_rules(body: Any) -> Any:
    """CampaignIn.endDate: after startDate when both are given. CampaignIn.overlap: its max is the
    campaign's `results` (the same, or left out), its min at most max and `results`.
    CampaignIn.autoReview.control: rejectBelow not above approveAtLeast."""
    if isinstance(body, dict):
        ordered(body, "startDate", "endDate", strictly=True)
        overlap, results = body.get("overlap"), body.get("results")
        if isinstance(overlap, dict) and _whole(results):
            if overlap.get("max") is not None:
                overlap["max"] = results
            if _whole(overlap.get("min")):
                overlap["min"] = min(overlap["min"], results)
        control = (
            body.get("autoReview", {}).get("control") if isinstance(body.get("autoReview"), dict) else None
        )
        if isinstance(control, dict):
            _in_order(control, ("rejectBelow", "approveAtLeast"))
    return body


def throughput_times(body: Any) -> Any:
    """ThroughputIn.task_completed_at: not before task_started_at."""
    if isinstance(body, dict):
        ordered(body, "task_started_at", "task_completed_at", strictly=False)
    return body


def _first_of_each(items: list[Any], identity: Any) -> list[Any]:
    seen: set[Any] = set()
    kept = []
    for item in items:
        key = identity(item)
        if key in seen:
            continue
        seen.add(key)
        kept.append(item)
    return kept


def _named(item: Any) -> Any:
    return item.get("name") if isinstance(item, dict) else id(item)


def workstream_names(body: Any) -> Any:
    """WorkstreamIn: use case names are unique within the workstream, and task definition names
    within their use case."""
    if isinstance(body, dict) and isinstance(body.get("use_cases"), list):
        body["use_cases"] = _first_of_each(body["use_cases"], _named)
        for use_case in body["use_cases"]:
            if isinstance(use_case, dict) and isinstance(use_case.get("task_definitions"), list):
                use_case["task_definitions"] = _first_of_each(use_case["task_definitions"], _named)
    return body


def _file_url(item: Any) -> Any:
    return item.get("url") if isinstance(item, dict) else item


def unique_files(body: Any) -> Any:
    """FilesIn.files: unique by file, and a file `{url, name}` is its url (a string and an object with
    that url, or two objects with one url, name the same file)."""
    if isinstance(body, dict) and isinstance(body.get("files"), list):
        body["files"] = _first_of_each(body["files"], _file_url)
    return body


LIST_BYTES = 80_000
MAX_DATASET_TASKS = 10_000


def _json_bytes(items: list[Any]) -> int:
    return len(json.dumps(items).encode())


def dataset_size(body: Any) -> Any:
    """DatasetIn: each list at most 80,000 bytes as JSON (files by url); at most 10,000 tasks, per
    stage one per object and frame attribute (times the files for single_frame) and one per dataset
    attribute. Lists are cut from their end until both hold."""
    body = unique_files(body)
    if not isinstance(body, dict):
        return body
    lists = [
        name for name in ("files", "objects", "frame_attributes", "dataset_attributes") if body.get(name)
    ]
    for name in lists:
        items = body[name]
        if name == "files":
            while items and _json_bytes([_file_url(item) for item in items]) > LIST_BYTES:
                items.pop()
        while name != "files" and items and _json_bytes(items) > LIST_BYTES:
            items.pop()

    def tasks() -> int:
        per_file = len(body.get("objects") or []) + len(body.get("frame_attributes") or [])
        if body.get("type") == "single_frame":
            per_file *= len(body.get("files") or [])
        stages = body.get("stages") if isinstance(body.get("stages"), list) else []
        return len(stages) * (per_file + len(body.get("dataset_attributes") or []))

    for name in ("files", "objects", "frame_attributes", "dataset_attributes"):
        while tasks() > MAX_DATASET_TASKS and body.get(name):
            body[name].pop()
    return body


def soft_reject_until(body: Any) -> Any:
    """SoftRejectIn.until: in the future (a past one becomes a week from now)."""
    if isinstance(body, dict):
        until = _moment(body.get("until"))
        if until is not None and until <= datetime.now(UTC) + timedelta(minutes=5):
            body["until"] = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _in_order(component: dict[str, Any], names: tuple[str, ...]) -> None:
    """The numbers of `names` that are given, sorted (smallest into the first name given)."""
    given = [name for name in names if _number(component.get(name))]
    for name, value in zip(given, sorted(component[name] for name in given), strict=True):
        component[name] = value


def task_rules(body: Any) -> Any:
    """TaskIn: a recording's maxDurationInSeconds is not below its minDurationInSeconds; a Stepper's
    start lies within min..max; each of knownSolutions holds one entry per component of the task
    (components, then components_attributes), in order, null where not checked (here none is)."""
    task = body.get("task") if isinstance(body, dict) and isinstance(body.get("task"), dict) else body
    if not isinstance(task, dict):
        return body
    components = [c for key in ("components", "components_attributes") for c in task.get(key) or []]
    for component in components:
        if isinstance(component, dict):
            _in_order(component, ("minDurationInSeconds", "maxDurationInSeconds"))
            _in_order(component, ("min", "start", "max"))
    for solution in task.get("knownSolutions") or []:
        if isinstance(solution, dict) and isinstance(solution.get("components"), list):
            solution["components"] = [{"result": None} for _ in components]
    return body


# The campaign of the requester's account that pool tasks name (tests/fuzz/test_openapi_fuzz.py makes it:
# one TextInput in its template, no placeholder).
_POOL_ID = os.environ.get("FUZZ_POOL_ID", "")


def _pool_task(item: dict[str, Any], allow_defaults: bool) -> None:
    """A task of the bulk API names a campaign of the account that takes tasks; it has an `overlap`
    unless the query says allow_defaults=true; a known solution's `output_values` name the template's
    components (its one TextInput) and hold a result that component takes."""
    if _POOL_ID:
        item["pool_id"] = _POOL_ID
    if item.get("overlap") is None and not allow_defaults:
        item["overlap"] = 1
    for solution in item.get("known_solutions") or []:
        if isinstance(solution, dict):
            solution["output_values"] = {"0": "fuzz"}


def task_uploads(body: Any, query: dict[str, Any]) -> Any:
    """POST /tasks and /api/v1/tasks: each task (the body, or each item of an array) keeps to the rules
    of its form, TaskIn's (task_rules) or the bulk API's (_pool_task)."""
    allow_defaults = str(query.get("allow_defaults", "")).lower() == "true"
    for item in body if isinstance(body, list) else [body]:
        if isinstance(item, dict) and ("pool_id" in item or "input_values" in item):
            _pool_task(item, allow_defaults)
        elif isinstance(item, dict):
            task_rules(item)
    return body


TASK_UPLOADS = {("POST", "/tasks"), ("POST", "/api/v1/tasks")}
VALID_ONLY_RULES: dict[tuple[str, str], Any] = {
    ("POST", "/campaigns"): campaign_rules,
    ("PUT", "/campaigns/{id}"): campaign_rules,
    ("POST", "/workstreams/{workstream_id}/throughput"): throughput_times,
    ("POST", "/workstreams"): workstream_names,
    ("POST", "/datasets"): dataset_size,
    ("POST", "/datasets/{datasetId}/file-tasks"): dataset_size,
    ("POST", "/results/{id}/soft-reject"): soft_reject_until,
    ("PUT", "/tasks/{id}"): task_rules,
}


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    route = (case.operation.method.upper(), case.operation.path)
    rule = VALID_ONLY_RULES.get(route)
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    if route in TASK_UPLOADS and isinstance(case.body, (dict, list)):
        case.body = task_uploads(copy.deepcopy(case.body), dict(case.query or {}))
    elif rule is not None and isinstance(case.body, (dict, list)):
        case.body = rule(copy.deepcopy(case.body))
    return case
