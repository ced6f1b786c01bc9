"""Bulk uploads, item by item: which of an array's tasks are valid, and what each stores.

An item is a task in either task form, or a task of the bulk API: `pool_id` (a campaign),
`input_values` that fill the campaign's `taskTemplate`, and `overlap`. Every item is
validated when the request arrives, so the reply (or the operation) says at once which
items are refused and why, by index and field, in the bulk API's `validation_errors` form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard, cast

from pydantic import ValidationError

from crowdtask import errors, numbers, templates
from crowdtask.models.bulk import PoolTaskIn, Solution
from crowdtask.models.tasks import parse_task
from crowdtask.numbers import plain_numbers
from crowdtask.services import lifecycle, operations
from crowdtask.services.grading import task_components
from crowdtask.services.tasks import task_content
from crowdtask.store import campaigns as campaign_store
from crowdtask.validation import field_errors

SYNC_LIMIT = 5_000
ASYNC_LIMIT = 100_000
MAX_TASK_BYTES = 200_000  # one task, as sent: it must fit an SQS message and a DynamoDB item
_LONG_NUMBER = re.compile(r"\d{39}|[eE][+-]?\d{3}")


@dataclass(frozen=True)
class BulkParams:
    async_mode: bool = False
    allow_defaults: bool = False
    skip_invalid_items: bool = False
    open_pool: bool = False
    operation_id: str | None = None

    def stored(self) -> dict[str, bool]:
        return {
            "allow_defaults": self.allow_defaults,
            "skip_invalid_items": self.skip_invalid_items,
            "open_pool": self.open_pool,
            "async_mode": self.async_mode,
        }


@dataclass
class Prepared:
    """The request's items after validation: what to store by index, and what was refused."""

    total: int
    valid: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    invalid: dict[int, dict[str, dict[str, str]]] = field(default_factory=dict)
    pools: set[str] = field(default_factory=set)


class BulkRefused(errors.ValidationFailed):
    """Nothing was created: the refused items by index, in the bulk API's `validation_errors` form."""

    def __init__(self, invalid: dict[int, dict[str, dict[str, str]]]):
        listed = [
            {"field": f"[{index}].{name}" if name != "task" else f"[{index}]", **problem}
            for index, problems in sorted(invalid.items())
            for name, problem in problems.items()
        ]
        super().__init__(listed[:1000])
        self.description = (
            f"{len(invalid)} of the tasks are not valid, so none was created "
            "(send skip_invalid_items=true to create the valid ones)."
        )
        self.validation_errors = {str(i): p for i, p in sorted(invalid.items())}


# ---------------------------------------------------------------- validation
def _by_field(problems: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for problem in problems:
        found.setdefault(problem["field"], {"code": problem["code"], "message": problem["message"]})
    return found


def _problems(exc: ValidationError) -> dict[str, dict[str, str]]:
    return _by_field(field_errors(cast("list[dict[str, Any]]", exc.errors())))


class _Campaigns:
    """The campaigns items name, read once per request."""

    def __init__(self, account_id: str):
        self.account_id = account_id
        self._found: dict[str, dict[str, Any] | None] = {}

    def get(self, campaign_id: str) -> dict[str, Any] | None:
        if campaign_id not in self._found:
            campaign = campaign_store.get(self.account_id, campaign_id)
            if campaign is not None:  # the template in plain JSON, once per request rather than per task
                campaign["taskTemplate"] = plain_numbers(campaign.get("taskTemplate")) or {}
                campaign["placeholders"] = templates.placeholders(campaign["taskTemplate"])
                campaign["occurrences"] = templates.occurrences(campaign["taskTemplate"])
                campaign["template_bytes"] = templates.template_size(campaign["taskTemplate"])
            self._found[campaign_id] = campaign
        return self._found[campaign_id]


class _Refused(Exception):
    def __init__(self, problems: dict[str, dict[str, str]]):
        super().__init__("refused")
        self.problems = problems


def _refuse(field_name: str, code: str, message: str) -> _Refused:
    return _Refused({field_name: {"code": code, "message": message}})


def _pool_campaign(item: PoolTaskIn, campaigns: _Campaigns) -> dict[str, Any]:
    campaign = campaigns.get(item.pool_id)
    if campaign is None:
        raise _refuse("pool_id", "DOES_NOT_EXIST", f"no campaign {item.pool_id} in your account")
    state = lifecycle.state_of(campaign)
    if not lifecycle.takes_tasks(state) or campaign.get("archived"):
        why = "archived" if campaign.get("archived") else state
        raise _refuse("pool_id", "INVALID_STATE", f"campaign {item.pool_id} is {why}: it takes no tasks")
    return campaign


def _pool_task(raw: dict[str, Any], params: BulkParams, campaigns: _Campaigns) -> dict[str, Any]:
    """The stored content of a bulk-API task: the campaign's template filled from its input values."""
    try:
        item = PoolTaskIn.model_validate(raw)
    except ValidationError as exc:
        raise _Refused(_problems(exc)) from None
    campaign = _pool_campaign(item, campaigns)
    overlap = item.overlap
    if overlap is None:
        if not params.allow_defaults:
            raise _refuse(
                "overlap",
                "VALUE_REQUIRED",
                "Value must be present and not equal to null (or send allow_defaults=true)",
            )
        overlap = int(campaign.get("results", 1))
    bound = templates.rendered_size(campaign["template_bytes"], campaign["occurrences"], item.input_values)
    if bound > MAX_TASK_BYTES:  # judged before it is made: a big input in a much repeated placeholder
        raise _refuse(
            "task",
            "TOO_LONG",
            f"the campaign's template filled with these input values would have up to {bound} bytes; "
            f"at most {MAX_TASK_BYTES}",
        )
    try:
        rendered = templates.render(campaign["taskTemplate"], item.input_values, campaign["placeholders"])
    except errors.ValidationFailed as refusal:
        raise _Refused(_by_field(refusal.errors)) from None
    body = rendered["task"] if isinstance(rendered.get("task"), dict) else rendered  # a task-JSON template
    body.setdefault("name", campaign.get("title") or campaign.get("name"))
    if item.known_solutions:
        body["knownSolutions"] = _known_solutions(body, item.known_solutions)
    try:
        task = parse_task(rendered)
    except ValidationError as exc:
        raise _Refused({f"taskTemplate.{k}": v for k, v in _problems(exc).items()}) from None
    except errors.ValidationFailed as refusal:  # the known solutions do not fit the task's components
        raise _Refused(_by_field(refusal.errors)) from None
    content = task_content(task)
    content.update(item.model_dump(mode="json", exclude_none=True, exclude={"overlap"}))
    content["overlap"] = overlap
    _check_storable(content)  # the template may repeat an input value: the task as stored must fit too
    return content


def _known_solutions(task: dict[str, Any], solutions: list[Solution]) -> list[dict[str, Any]]:
    """The bulk API's known_solutions as the task's knownSolutions: each `output_values` key names a
    component by its position (0, 1, ...) or a task-JSON component by its name; its value is the result.
    A task of one component takes a single output of any name (Toloka's usual `{"result": ...}`)."""
    components = task_components(task)
    named = {
        c["name"]: i
        for i, c in enumerate(components)
        if isinstance(c, dict) and isinstance(c.get("name"), str)
    }
    known = []
    for n, solution in enumerate(solutions):
        entries: list[dict[str, Any]] = [{"result": None} for _ in components]
        for key, value in solution.output_values.items():
            index = int(key) if key.isdigit() else named.get(key)
            if index is None and len(components) == 1 and len(solution.output_values) == 1:
                index = 0
            if index is None or index >= len(components):
                raise _refuse(
                    f"known_solutions[{n}].output_values.{key}",
                    "UNKNOWN_FIELD",
                    "names no component of the task: give its position (0, 1, ...) or its task-JSON name",
                )
            entries[index] = {"result": value}
        weight = 1.0 if solution.correctness_weight is None else solution.correctness_weight
        known.append({"components": entries, "weight": weight})
    return known


def _plain_task(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return task_content(parse_task(raw))
    except ValidationError as exc:
        raise _Refused(_problems(exc)) from None
    except errors.ValidationFailed as refusal:  # a model's own check naming its fields (knownSolutions)
        raise _Refused(_by_field(refusal.errors)) from None


def _check_storable(raw: dict[str, Any]) -> None:
    """JSON that parses but cannot be stored or queued: lone surrogates, NaN and infinities, > 250 KB,
    numbers beyond DynamoDB's (refused by field, like any other invalid value)."""
    try:
        encoded = json.dumps(raw, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
        size = len(encoded.encode())
    except (ValueError, UnicodeEncodeError):
        raise _refuse(
            "task", "INVALID_VALUE", "holds text that is not valid Unicode, or NaN / Infinity"
        ) from None
    if size > MAX_TASK_BYTES:
        raise _refuse("task", "TOO_LONG", f"the task has {size} bytes; at most {MAX_TASK_BYTES}")
    if _LONG_NUMBER.search(encoded):  # only then can a number be one the table cannot hold
        field_name = numbers.unstorable_number_at(raw)
        if field_name is not None:
            raise _refuse(field_name, "INVALID_VALUE", f"Expected {numbers.NUMBER_RULE}")


def is_pool_task(raw: dict[str, Any]) -> bool:
    """A task of the bulk API (made for a campaign from input values) rather than a task of its own."""
    return "pool_id" in raw or "input_values" in raw


def is_one_task(body: Any, params: BulkParams) -> TypeGuard[dict[str, Any]]:
    """An upload of one task of its own, created at once (a JSON object, not a pool task, not async,
    and with no operation_id: one that names an operation goes through it, so that sending it again
    creates nothing more)."""
    plain = isinstance(body, dict) and not is_pool_task(body)
    return plain and not params.async_mode and params.operation_id is None


def prepare(account_id: str, raw_items: list[Any], params: BulkParams) -> Prepared:
    """Validate every item; an item's problems are keyed by field, as the bulk API reports them."""
    prepared = Prepared(total=len(raw_items))
    campaigns = _Campaigns(account_id)
    for index, raw in enumerate(raw_items):
        try:
            if not isinstance(raw, dict):
                raise _refuse("task", "INVALID_VALUE", "a task is a JSON object")
            _check_storable(raw)
            content = _pool_task(raw, params, campaigns) if is_pool_task(raw) else _plain_task(raw)
        except _Refused as refused:
            prepared.invalid[index] = refused.problems
            continue
        prepared.valid.append((index, content))
        if "pool_id" in content:
            prepared.pools.add(content["pool_id"])
    return prepared


def check_size(raw_items: list[Any], params: BulkParams) -> None:
    if not raw_items:
        raise errors.ValidationFailed.one("body", "send at least one task", "VALUE_REQUIRED")
    limit = ASYNC_LIMIT if params.async_mode else SYNC_LIMIT
    if len(raw_items) > limit:
        advice = "use async_mode=true" if not params.async_mode else "split the upload"
        raise errors.ValidationFailed.one(
            "body", f"{len(raw_items)} tasks; at most {limit} per request in this mode ({advice})", "TOO_LONG"
        )


def check_operation_id(operation_id: str | None) -> str | None:
    if operation_id is None:
        return None
    canonical = operations.canonical_uuid(operation_id)
    if canonical is None:
        raise errors.ValidationFailed.one(
            "operation_id", "must be a UUID as RFC 4122 defines it", "INVALID_VALUE"
        )
    return canonical
