"""Bulk task creation: validate an array of tasks, then store it at once or through the bulk queue.

An item is a task in either task form, or a task of the bulk API: `pool_id` (a campaign),
`input_values` that fill the campaign's `taskTemplate`, and `overlap`. Every item is
validated when the request arrives, so the reply (or the operation) says at once which
items are refused and why, by index and field.

Synchronous requests (up to SYNC_LIMIT items) store the tasks before answering. Asynchronous
ones answer with an operation and travel in chunks, as many tasks per SQS message as fit,
to the bulk worker. Task ids are derived from the operation and the item's index, and the
tasks of one operation carry its submission time, so a chunk delivered twice writes the same
items again and never adds any; the chunk is counted into the operation once (store/operations).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from pydantic import ValidationError

from crowdtask import clock, errors, ids
from crowdtask.http.validation import field_errors
from crowdtask.models.bulk import BulkCreateOut, BulkTaskOut, OperationOut, PoolTaskIn
from crowdtask.models.tasks import TaskIn
from crowdtask.observability import logger
from crowdtask.services import pools, quotas, templates
from crowdtask.services.tasks import TASKS, new_task_data, task_content
from crowdtask.store import dynamo, keys, queues
from crowdtask.store import operations as store

MESSAGE_KIND = "tasks.create"
SYNC_LIMIT = 5_000
ASYNC_LIMIT = 100_000
MAX_TASK_BYTES = 200_000  # one task, as sent: it must fit an SQS message and a DynamoDB item
POOLS_PER_CHUNK = 40  # a chunk's counting transaction takes up to 2 actions per campaign (limit 100)
# A request that has not put all of its chunks on the queue after this long died half way: it is
# shown as FAIL until the same request (same operation_id) is sent again, which resumes it.
QUEUEING_GRACE = timedelta(minutes=5)
# 39 digits in a row, or a 3-digit exponent: the only ways JSON can write a number DynamoDB cannot hold
_LONG_NUMBER = re.compile(r"\d{39}|[eE][+-]?\d{3}")
_INVALID_PART_BYTES = 300_000  # refused items are stored in parts below DynamoDB's 400 KB item limit


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
            from crowdtask.services.campaigns import CAMPAIGNS

            campaign = CAMPAIGNS.get(self.account_id, campaign_id)
            if campaign is not None:  # the template in plain JSON, once per request rather than per task
                campaign["taskTemplate"] = dynamo.plain_numbers(campaign.get("taskTemplate")) or {}
                campaign["placeholders"] = templates.placeholders(campaign["taskTemplate"])
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
    state = campaign.get("state", "unpublished")
    if state in {"finished", "cancelled"} or campaign.get("archived"):
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
    try:
        rendered = templates.render(campaign["taskTemplate"], item.input_values, campaign["placeholders"])
    except errors.ValidationFailed as refusal:
        raise _Refused(_by_field(refusal.errors)) from None
    if isinstance(rendered.get("task"), dict):  # a task-JSON template: the name lives inside `task`
        rendered["task"].setdefault("name", campaign.get("title") or campaign.get("name"))
    else:
        rendered.setdefault("name", campaign.get("title") or campaign.get("name"))
    try:
        task = TaskIn.model_validate(rendered)
    except ValidationError as exc:
        raise _Refused({f"taskTemplate.{k}": v for k, v in _problems(exc).items()}) from None
    content = task_content(task)
    content.update(item.model_dump(mode="json", exclude_none=True, exclude={"overlap"}))
    content["overlap"] = overlap
    _check_storable(content)  # the template may repeat an input value: the task as stored must fit too
    return content


def _plain_task(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return task_content(TaskIn.model_validate(raw))
    except ValidationError as exc:
        raise _Refused(_problems(exc)) from None


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
        field = dynamo.unstorable_number_at(raw)
        if field is not None:
            raise _refuse(field, "INVALID_VALUE", f"Expected {dynamo.NUMBER_RULE}")


def is_pool_task(raw: dict[str, Any]) -> bool:
    """A task of the bulk API (made for a campaign from input values) rather than a task of its own."""
    return "pool_id" in raw or "input_values" in raw


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


def canonical_uuid(value: str) -> str | None:
    """The UUID's canonical form (lower case, hyphens), or None if the text is not one."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def check_operation_id(operation_id: str | None) -> str | None:
    if operation_id is None:
        return None
    canonical = canonical_uuid(operation_id)
    if canonical is None:
        raise errors.ValidationFailed.one(
            "operation_id", "must be a UUID as RFC 4122 defines it", "INVALID_VALUE"
        )
    return canonical


# ---------------------------------------------------------------- stored form
@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    """A task's content when nothing is set but its name: what a message can leave out."""
    defaults = task_content(TaskIn(name="-"))
    defaults.pop("name")
    return defaults


def compact(content: dict[str, Any]) -> dict[str, Any]:
    defaults = _defaults()
    return {k: v for k, v in content.items() if k not in defaults or defaults[k] != v}


def expand(compacted: dict[str, Any]) -> dict[str, Any]:
    return {**_defaults(), **compacted}


def task_records(
    account_id: str,
    entries: list[tuple[str, dict[str, Any]]],
    created: datetime,
    operation_id: str | None = None,
) -> list[dict[str, Any]]:
    """The stored items of new tasks (id, content); pool tasks are also listed by their campaign."""
    records = []
    for task_id, content in entries:
        data = new_task_data(content, created)
        if operation_id:
            data["operation_id"] = operation_id
        if "pool_id" in content:
            data["gsi2pk"] = keys.pool_tasks_partition(content["pool_id"], task_id)
            data["gsi2sk"] = task_id
        records.append(TASKS.item(account_id, task_id, data))
    return records


def _bulk_out(task_id: str, content: dict[str, Any], created: str) -> BulkTaskOut:
    return BulkTaskOut(
        id=task_id,
        pool_id=content.get("pool_id"),
        input_values=content.get("input_values"),
        overlap=content.get("overlap"),
        name=content.get("name"),
        created=created,
    )


# ---------------------------------------------------------------- synchronous
def create_now(
    account_id: str, raw_items: list[Any], params: BulkParams
) -> tuple[BulkCreateOut, quotas.Reservation]:
    """Store the tasks before answering. It is an operation too (GET /operations lists it), whose
    chunks this request stores itself instead of queueing them; a chunk it could not store goes
    to the bulk queue, so the bulk worker finishes it."""
    check_size(raw_items, params)
    operation_id = check_operation_id(params.operation_id) or str(uuid.uuid4())
    digest = _digest(raw_items, params)
    prepared = prepare(account_id, raw_items, params)
    if prepared.invalid and not params.skip_invalid_items:
        raise BulkRefused(prepared.invalid)
    existing = store.get(account_id, operation_id, consistent=True) if params.operation_id else None
    if existing is not None:  # sent before: finish what is left of it and answer the same
        if existing.get("digest") != digest:
            raise _other_upload(operation_id)
        item, messages = existing, _messages_again(existing, prepared)
        reservation = quotas.reserve(account_id, 0)
    else:
        started = _start(account_id, operation_id, raw_items, params, prepared, digest=digest)
        if started is None:
            raise errors.Conflict(f"Operation {operation_id} is being created by another request right now.")
        item, reservation, messages = started
    for n, message in enumerate(messages):
        try:
            store_chunk(message)
        except Exception as exc:
            logger.exception("a chunk of a synchronous upload failed; the bulk worker finishes it")
            _queue(account_id, operation_id, messages[n:])
            raise Deferred(
                to_operation(store.get(account_id, operation_id, consistent=True) or item)
            ) from exc
    if messages:
        store.mark_queued(account_id, operation_id, clock.iso(clock.now()))
    created = clock.iso(datetime.fromisoformat(item["submitted_precise"]))
    reply = BulkCreateOut(
        items={
            str(index): _bulk_out(ids.derived_id(item["base_id"], index), content, created)
            for index, content in prepared.valid
        },
        validation_errors={str(i): p for i, p in sorted(prepared.invalid.items())}
        if prepared.invalid
        else None,
    )
    return reply, reservation


class Deferred(Exception):
    """A synchronous upload that could not finish in the request: the bulk worker finishes it."""

    def __init__(self, operation: OperationOut):
        super().__init__(operation.id)
        self.operation = operation


def _other_upload(operation_id: str) -> errors.Conflict:
    return errors.Conflict(
        f"operation_id {operation_id} belongs to another upload (other tasks or parameters); "
        "use a new operation_id for new tasks."
    )


def after_pool_tasks(account_id: str, pools: set[str], open_pool: bool) -> list[str]:
    """New tasks reached their campaigns: open the campaigns if asked. Returns what could not be opened."""
    if not open_pool:
        return []
    from crowdtask.services import campaigns

    problems = []
    for campaign_id in sorted(pools):
        try:
            state = campaigns.require_campaign(account_id, campaign_id, consistent=True).get("state")
            if state == "unpublished":
                campaigns.publish(account_id, campaign_id)
            elif state == "paused":
                campaigns.resume(account_id, campaign_id)
        except errors.CrowdtaskError as refused:
            problems.append(f"campaign {campaign_id}: {refused.description}")
        except Exception:
            logger.exception("opening a campaign after an upload failed", extra={"campaign": campaign_id})
            problems.append(
                f"campaign {campaign_id}: could not be opened now; publish or continue it yourself"
            )
    return problems


# ---------------------------------------------------------------- asynchronous: the API's side
def _digest(raw_items: list[Any], params: BulkParams) -> str:
    text = json.dumps([raw_items, params.stored()], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def chunk_messages(
    account_id: str,
    operation_id: str,
    base_id: str,
    created_precise: str,
    valid: list[tuple[int, dict[str, Any]]],
    sizes: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Queue messages carrying as many items as fit under the SQS size limit, in index order.

    A chunk names at most POOLS_PER_CHUNK campaigns. `sizes` (items per chunk, as stored with the
    operation) cuts the same chunks again when an interrupted request is resumed.
    """
    head = {
        "kind": MESSAGE_KIND,
        "account_id": account_id,
        "operation_id": operation_id,
        "base_id": base_id,
        "created": created_precise,
        "chunk": 999999,
        "items": [],
    }
    base_size = queues.message_size(head) + 16
    messages: list[dict[str, Any]] = []
    current: list[list[Any]] = []
    campaigns: set[str] = set()
    size = base_size

    def full(entry_size: int, pool: str | None) -> bool:
        if sizes is not None:
            return len(current) >= sizes[len(messages)]
        too_many = pool is not None and pool not in campaigns and len(campaigns) >= POOLS_PER_CHUNK
        return size + entry_size > queues.MAX_MESSAGE_BYTES or too_many

    for index, content in valid:
        entry = [index, compact(content)]
        entry_size = queues.message_size({"e": entry}) - 5
        if current and full(entry_size, content.get("pool_id")):
            messages.append({**head, "chunk": len(messages), "items": current})
            current, size, campaigns = [], base_size, set()
        current.append(entry)
        size += entry_size + 1
        if content.get("pool_id"):
            campaigns.add(content["pool_id"])
    if current:
        messages.append({**head, "chunk": len(messages), "items": current})
    return messages


def _invalid_parts(
    raw_items: list[Any], invalid: dict[int, dict[str, dict[str, str]]]
) -> list[dict[str, Any]]:
    parts: list[list[str]] = [[]]
    size = 0
    for index, problems in sorted(invalid.items()):
        entry = {"index": index, "input": raw_items[index], "errors": problems}
        encoded = json.dumps(entry, default=str)
        if len(encoded) > _INVALID_PART_BYTES:
            entry["input"] = None  # too large to keep: the errors still say what is wrong
            encoded = json.dumps(entry, default=str)
        if parts[-1] and size + len(encoded) > _INVALID_PART_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(encoded)
        size += len(encoded)
    # each entry encoded once: joined as json.dumps would write the list
    return [{"entries_json": "[" + ", ".join(part) + "]"} for part in parts if part]


def submit(
    account_id: str, raw_items: list[Any], params: BulkParams
) -> tuple[OperationOut, quotas.Reservation | None]:
    """Start an asynchronous upload; with an operation_id already used, the same operation again."""
    check_size(raw_items, params)
    operation_id = check_operation_id(params.operation_id) or str(uuid.uuid4())
    digest = _digest(raw_items, params)
    existing = store.get(account_id, operation_id, consistent=True)
    if existing is not None:
        return _again(account_id, existing, raw_items, params, digest), None
    prepared = prepare(account_id, raw_items, params)
    started = _start(account_id, operation_id, raw_items, params, prepared, digest=digest)
    if started is None:  # the same operation_id, sent twice at the same moment: the other one won
        winner = store.get(account_id, operation_id, consistent=True)
        assert winner is not None
        return _again(account_id, winner, raw_items, params, digest), None
    item, reservation, messages = started
    _queue(account_id, operation_id, messages)
    return to_operation(store.get(account_id, operation_id, consistent=True) or item), reservation


def _start(
    account_id: str,
    operation_id: str,
    raw_items: list[Any],
    params: BulkParams,
    prepared: Prepared,
    *,
    digest: str = "",
) -> tuple[dict[str, Any], quotas.Reservation, list[dict[str, Any]]] | None:
    """Reserve the quota and store the operation with its refused items; its chunks, not sent yet.

    None if an operation of this id exists already (its quota is given back).
    """
    refuse_all = bool(prepared.invalid) and not params.skip_invalid_items
    to_store = [] if refuse_all else prepared.valid
    reservation = quotas.reserve(account_id, len(to_store))
    with reservation.given_back_on_failure():  # nothing of it was stored
        started = _put_operation(account_id, operation_id, raw_items, params, prepared, refuse_all, digest)
    if started is None:
        reservation.give_back()
        return None
    item, messages = started
    return item, reservation, messages


def _put_operation(
    account_id: str,
    operation_id: str,
    raw_items: list[Any],
    params: BulkParams,
    prepared: Prepared,
    refuse_all: bool,
    digest: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    to_store = [] if refuse_all else prepared.valid
    now = clock.now()
    submitted_precise = clock.iso_precise(now)
    base_id = ids.new_id()
    messages = chunk_messages(account_id, operation_id, base_id, submitted_precise, to_store)
    item = store.operation_item(
        account_id,
        operation_id,
        submitted_precise,
        {
            "account_id": account_id,
            "operation_id": operation_id,
            "base_id": base_id,
            "digest": digest,
            "parameters": params.stored(),
            "submitted": clock.iso(now),
            "submitted_precise": submitted_precise,
            "total_count": prepared.total,
            "valid_count": len(prepared.valid),
            "not_valid_count": len(prepared.invalid),
            "to_store_count": len(to_store),
            "success_count": 0,
            "failed_count": prepared.total if refuse_all else len(prepared.invalid),
            "chunk_count": len(messages),
            "chunks_done": 0,
            "pools": sorted(prepared.pools),
            "refused_all": refuse_all,
            # the chunks as cut: a resumed request cuts exactly these again
            "valid_ranges": _ranges([index for index, _ in to_store]),
            "chunk_sizes": [len(message["items"]) for message in messages],
        },
    )
    if not messages:  # nothing to store: the operation ends as it starts
        item.update(
            final_status="FAIL" if refuse_all else "SUCCESS",
            finished=item["submitted"],
            started=item["submitted"],
            queued_at=item["submitted"],
        )
    if not store.put_new(item):
        return None
    if prepared.invalid:
        store.put_invalid(account_id, operation_id, _invalid_parts(raw_items, prepared.invalid))
    if not messages:
        _maybe_finish(account_id, operation_id)
    return item, messages


def _queue(account_id: str, operation_id: str, messages: list[dict[str, Any]]) -> None:
    queues.send_bulk(messages)
    if messages:
        store.mark_queued(account_id, operation_id, clock.iso(clock.now()))


def _again(
    account_id: str, existing: dict[str, Any], raw_items: list[Any], params: BulkParams, digest: str
) -> OperationOut:
    """The same operation_id again: the same operation; it resumes queueing if the first try died."""
    if existing.get("digest") != digest:
        raise _other_upload(existing["operation_id"])
    if not existing.get("queued_at"):
        messages = _messages_again(existing, prepare(account_id, raw_items, params))
        _queue(account_id, existing["operation_id"], messages)
        existing = store.get(account_id, existing["operation_id"], consistent=True) or existing
    return to_operation(existing)


def _messages_again(existing: dict[str, Any], prepared: Prepared) -> list[dict[str, Any]]:
    """The operation's chunks, cut as they were the first time (same items, same numbers)."""
    to_store = [] if existing.get("refused_all") else prepared.valid
    if _ranges([index for index, _ in to_store]) != [
        list(map(int, r)) for r in existing.get("valid_ranges", [])
    ]:
        raise errors.Conflict(
            f"The tasks of operation {existing['operation_id']} validate differently now (a campaign "
            "changed); send them with a new operation_id."
        )
    sizes = [int(n) for n in existing.get("chunk_sizes", [])]
    return chunk_messages(
        existing["account_id"],
        existing["operation_id"],
        existing["base_id"],
        existing["submitted_precise"],
        to_store,
        sizes,
    )


# ---------------------------------------------------------------- asynchronous: the bulk worker's side
def _ranges(indexes: list[int]) -> list[list[int]]:
    """[0, 1, 2, 5, 6] -> [[0, 3], [5, 7]] (half-open): a chunk's indexes, stored small."""
    found: list[list[int]] = []
    for index in indexes:
        if found and found[-1][1] == index:
            found[-1][1] += 1
        else:
            found.append([index, index + 1])
    return found


def store_chunk(message: dict[str, Any]) -> None:
    """Store one chunk of an operation (a bulk queue message of kind `tasks.create`); safe to run again."""
    account_id, operation_id, chunk = message["account_id"], message["operation_id"], int(message["chunk"])
    exists, counted_before = store.operation_and_chunk(account_id, operation_id, chunk)
    if counted_before:
        _maybe_finish(account_id, operation_id)  # counted before: the end may still be to do
        return
    if not exists:
        raise store.OperationGone(f"chunk {chunk} names operation {operation_id}, which does not exist")
    created = datetime.fromisoformat(message["created"])
    entries = [
        (ids.derived_id(message["base_id"], int(index)), expand(content))
        for index, content in message["items"]
    ]
    records = task_records(account_id, entries, created, operation_id)
    dynamo.batch_put_parallel(records)
    indexes = [int(index) for index, _ in message["items"]]
    record = {"ranges": _ranges(indexes), "stored": len(indexes), "base_id": message["base_id"]}
    per_pool: dict[str, tuple[int, int]] = {}
    for _, content in entries:
        if "pool_id" in content:
            count, results = per_pool.get(content["pool_id"], (0, 0))
            per_pool[content["pool_id"]] = (count + 1, results + pools.needed(content))
    where = pools.Chunk(operation_id, chunk, message["base_id"], record["ranges"])
    counted, live = _count(account_id, where, record, len(indexes), per_pool)
    if counted and live:
        pools.open_chunk(account_id, live, records)
        store.clear_market_pending(*keys.operation_chunk(account_id, operation_id, chunk))
    if counted:
        _maybe_finish(account_id, operation_id)


def _count(
    account_id: str,
    where: pools.Chunk,
    record: dict[str, Any],
    stored: int,
    per_pool: dict[str, tuple[int, int]],
) -> tuple[bool, list[str]]:
    """Count the chunk into its operation and its tasks into their campaigns, in one transaction.

    A campaign that changed state meanwhile is read again; when the balance cannot pay for tasks
    of a live campaign, they are counted as stored but not funded (they stay off the market).
    """
    fund = True
    for _ in range(8):
        changes = pools.chunk_changes(account_id, where, per_pool, fund=fund)

        def count(changes: pools.Changes = changes) -> bool:
            return store.count_chunk(
                account_id,
                where.operation_id,
                where.number,
                {**record, **({"unfunded": changes.unfunded} if changes.unfunded else {})},
                success=stored,
                failed=0,
                unfunded=changes.unfunded,
                now_iso=clock.iso(clock.now()),
                extra=changes.operations,
                market_pending=changes.live or None,
            )

        try:
            counted = dynamo.retry_contended(count)  # other chunks counted into the same items meanwhile
        except store.Refused as refused:
            if changes.pays and refused.index == len(changes.operations) - 1:
                fund = False  # the account's available balance cannot pay for them
            continue  # a campaign moved (published, paused, ended): decide again on what it is now
        return counted, changes.live if counted else []
    raise RuntimeError(
        f"chunk {where.number} of operation {where.operation_id}: its campaigns keep changing; retried later"
    )


def dead_chunk(message: dict[str, Any]) -> None:
    """A chunk the bulk worker kept failing on reached the dead-letter queue.

    It gets one last try (what failed may have been passing). If that fails too, the tasks it
    wrote are removed and all of them count as failed, so the log's NOT_STORED is true and
    sending them again cannot double any.
    """
    account_id, operation_id, chunk = message["account_id"], message["operation_id"], int(message["chunk"])
    try:
        store_chunk(message)
        return
    except store.OperationGone:
        logger.error(
            "dead-lettered chunk of an unknown operation; dropped", extra={"operation": operation_id}
        )
        return
    except Exception:
        logger.exception("dead-lettered chunk failed its last try", extra={"operation": operation_id})
    if store.chunk_done(account_id, operation_id, chunk):
        return  # counted after all
    indexes = [int(index) for index, _ in message["items"]]
    dynamo.batch_delete(
        (TASKS.pk(account_id, t), t) for t in (ids.derived_id(message["base_id"], i) for i in indexes)
    )
    record = {
        "ranges": _ranges(indexes),
        "stored": 0,
        "dead_json": json.dumps([[index, content] for index, content in message["items"]], default=str),
    }
    # the operation exists: store_chunk would have said OperationGone otherwise
    counted = dynamo.retry_contended(  # other chunks counted into the operation meanwhile
        lambda: store.count_chunk(
            account_id,
            operation_id,
            chunk,
            record,
            success=0,
            failed=len(indexes),
            now_iso=clock.iso(clock.now()),
        )
    )
    if counted:
        logger.warning("bulk chunk dead-lettered", extra={"operation": operation_id, "chunk": chunk})
        _maybe_finish(account_id, operation_id)


def _maybe_finish(account_id: str, operation_id: str) -> None:
    """End the operation once every chunk is counted, then do what its end asks (once it succeeds)."""
    item = store.get(account_id, operation_id, consistent=True)
    if item is None or item.get("ended"):
        return
    if not item.get("final_status"):
        if int(item.get("chunks_done", 0)) < int(item.get("chunk_count", 0)):
            return
        # Refused items were skipped as asked; a valid task that could not be stored fails the operation.
        status = "FAIL" if _store_failures(item) > 0 else "SUCCESS"
        item = (
            store.finish(account_id, operation_id, status, clock.iso(clock.now()))
            or store.get(account_id, operation_id, consistent=True)
            or item
        )
    # Opening the campaigns and the event: done again if a crash came first (both are safe twice).
    _ended(item)
    store.mark_ended(account_id, operation_id)


def _store_failures(item: dict[str, Any]) -> int:
    """Valid tasks that could not be stored (dead-lettered chunks)."""
    return int(item.get("failed_count", 0)) - int(item.get("not_valid_count", 0))


def _ended(item: dict[str, Any]) -> None:
    from crowdtask.store import events

    account_id, operation_id = item["account_id"], item["operation_id"]
    problems = after_pool_tasks(
        account_id,
        set(item.get("pools", [])),
        bool(item["parameters"].get("open_pool")) and not item.get("refused_all"),
    )
    if problems:
        store.note_open_pool_errors(account_id, operation_id, problems)
    events.publish(
        "operation.finished",
        {
            "accountId": account_id,
            "operationId": operation_id,
            "status": item.get("final_status"),
            "successCount": int(item.get("success_count", 0)),
            "failedCount": int(item.get("failed_count", 0)),
        },
    )


# ---------------------------------------------------------------- reading
def status_of(item: dict[str, Any]) -> str:
    if item.get("final_status"):
        return str(item["final_status"])
    if not item.get("queued_at"):
        submitted = datetime.fromisoformat(item["submitted_precise"])
        if clock.now() - submitted > QUEUEING_GRACE:
            return "FAIL"  # the request died before its chunks were queued; sending it again resumes it
    return "RUNNING" if int(item.get("chunks_done", 0)) else "PENDING"


def to_operation(item: dict[str, Any]) -> OperationOut:
    to_store = int(item.get("to_store_count", 0))
    handled = int(item.get("success_count", 0)) + _store_failures(item) if not item.get("refused_all") else 0
    progress = 100 if item.get("final_status") else (int(100 * handled / to_store) if to_store else 0)
    return OperationOut.model_validate(
        {
            "id": item["operation_id"],
            "status": status_of(item),
            "submitted": item["submitted"],
            "started": item.get("started"),
            "finished": item.get("finished"),
            "progress": min(progress, 100),
            "parameters": item["parameters"],
            "details": {
                "total_count": int(item["total_count"]),
                "valid_count": int(item["valid_count"]),
                "not_valid_count": int(item["not_valid_count"]),
                "success_count": int(item.get("success_count", 0)),
                "failed_count": int(item.get("failed_count", 0)),
            },
            "pools": list(item.get("pools", [])),
            "openPoolErrors": item.get("open_pool_errors"),
            "unfundedCount": int(item.get("unfunded_count", 0)) or None,
        }
    )
