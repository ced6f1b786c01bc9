"""Bulk ingest, end to end: 100,000 tasks through the local stack, against plain BatchWriteItem.

The whole stack runs as `make run` runs it (`python -m local.run` on template.yaml), on an
in-memory Amazon DynamoDB Local, with LOCAL_AWS_CALL_LOG set: the runner's SQS pollers and every
function worker count their AWS calls with botocore event hooks (local/aws_calls.py), including
the write units DynamoDB Local reports for each write and the writes to each partition key.

The client sends the tasks as the command-line client does (asynchronous requests of CHUNK
tasks, PARALLEL at a time) and polls the operations; the clock runs from the first request to
the moment the last operation is seen finished. Then the same DynamoDB Local takes the same
number of task items of the same shape with plain BatchWriteItem calls (indexes included), from
as many threads as the bulk worker writes with, for the raw rate.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.stack import BenchStack

TASKS = 100_000
CHUNK = 10_000
PARALLEL = 4
TARGET_PER_MINUTE = 100_000
GOALS = {
    "ingest_vs_raw_ratio": ">= 0.7",
    "write_units_per_task": "<= 1.2 x write_units_floor_per_task",
    "sqs_requests_per_1000_tasks": "<= 10",
    "lambda_invocations_per_1000_tasks": "<= 5",
    "max_writes_per_partition_key_per_s": "<= 300",
}
TEMPLATE = {"name": "Is {{animal}} a cat?", "components": [{"type": "Image", "url": "{{image}}"}]}
# Labels of the call logs: "<stack>-<logical id>" for functions, "runner" for the runner's pollers.
_UPLOADING = ("-TasksFunction", "-CompatFunction")
_CONSUMING = ("-BulkWorkerFunction",)


# ---------------------------------------------------------------- item sizes (DynamoDB's rules)
def _value_size(value: dict[str, Any]) -> int:  # noqa: PLR0911 - one answer per DynamoDB type
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = len(data.replace("-", "").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(data)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in data.items())
    if kind in {"SS", "NS", "BS"}:
        return sum(_value_size({kind[0]: v}) for v in data)
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for an item in wire format: names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def floor_units(item: dict[str, Any], indexes: list[dict[str, Any]], table_keys: set[str]) -> int:
    """1 write unit per KB (rounded up) for the table and for each index the item is projected into."""
    units = math.ceil(item_size(item) / 1024)
    for index in indexes:
        index_keys = {k["AttributeName"] for k in index["KeySchema"]}
        if not index_keys <= set(item):
            continue  # sparse index: this item is not in it
        projection = index["Projection"]
        if projection["ProjectionType"] == "ALL":
            projected = set(item)
        else:
            projected = table_keys | index_keys | set(projection.get("NonKeyAttributes", []))
        units += math.ceil(item_size({k: v for k, v in item.items() if k in projected}) / 1024)
    return units


# ---------------------------------------------------------------- the run
def _items(pool: str, start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "pool_id": pool,
            "input_values": {"animal": f"animal {n}", "image": f"https://img.example.com/{n}.png"},
            "overlap": 3,
        }
        for n in range(start, start + count)
    ]


def _read_logs(directory: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in directory.glob("*.json"):
        label = path.name.rsplit("-", 1)[0]
        found.setdefault(label, []).append(json.loads(path.read_text()))
    return found


def _totals(logs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    calls: Counter[str] = Counter()
    partitions: Counter[str] = Counter()
    invocations: Counter[str] = Counter()
    units = 0.0
    peak: dict[str, float] = {}
    for label, entries in logs.items():
        if not (label == "runner" or label.endswith(_UPLOADING + _CONSUMING)):
            continue  # the client's status polls and the schedules are not the pipeline's work
        for entry in entries:
            calls.update(entry["calls"])
            partitions.update(entry["partition_writes"])
            invocations[label] += int(entry["invocations"])
            units += float(entry["write_units"])
            peak[label] = max(peak.get(label, 0.0), float(entry["peak_rss_mb"]))
    return {
        "calls": calls,
        "partitions": partitions,
        "invocations": invocations,
        "units": units,
        "peak": peak,
    }


def _minus(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {
        "calls": after["calls"] - before["calls"],
        "partitions": after["partitions"] - before["partitions"],
        "invocations": after["invocations"] - before["invocations"],
        "units": after["units"] - before["units"],
        "peak": after["peak"],
    }


def _wait_logs_settle(directory: Path, seconds: float = 1.5) -> dict[str, Any]:
    time.sleep(seconds)  # workers write their counts after each invocation
    return _totals(_read_logs(directory))


def measure() -> dict[str, Any]:
    with BenchStack("ingest", call_log=True) as bench:
        from crowdtask_cli.main import Client

        owner = bench.account("requester", balance=1000)
        client = Client(bench.stack.url, owner.token, timeout=120)
        pool = client.call(
            "POST", "/campaigns", json={"name": "bench", "workerPayment": 0.01, "taskTemplate": TEMPLATE}
        )["id"]
        # warm every function the run uses, so the figures are about ingest rather than cold starts
        warm = client.call("POST", "/tasks", params={"async_mode": "true"}, json=_items(pool, 0, 10))
        _finish(client, [warm["id"]])
        chunks = [_items(pool, start, CHUNK) for start in range(0, TASKS, CHUNK)]
        before = _wait_logs_settle(bench.calls_dir)

        started = time.monotonic()

        def send(chunk: list[dict[str, Any]]) -> str:
            return str(client.call("POST", "/tasks", params={"async_mode": "true"}, json=chunk)["id"])

        with ThreadPoolExecutor(max_workers=PARALLEL) as senders:
            operation_ids = list(senders.map(send, chunks))
        accepted = time.monotonic() - started
        finals = _finish(client, operation_ids)
        elapsed = time.monotonic() - started
        stored = sum(int(op["details"]["success_count"]) for op in finals)
        run = _minus(_wait_logs_settle(bench.calls_dir), before)
        bench.stop_stack()  # the raw writes have DynamoDB Local to themselves
        raw = _raw_batch_writes(bench.dynamodb_url, pool)
    return _figures(run, raw, stored, elapsed, accepted)


def _finish(client: Any, operation_ids: list[str], timeout: float = 900) -> list[dict[str, Any]]:
    finals: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(finals) < len(operation_ids):
        for operation_id in operation_ids:
            if operation_id not in finals:
                operation = client.call("GET", f"/operations/{operation_id}")
                if operation["status"] in {"SUCCESS", "FAIL"}:
                    finals[operation_id] = operation
        if time.monotonic() > deadline:
            raise SystemExit(f"operations still running after {timeout} s")
        if len(finals) < len(operation_ids):
            time.sleep(0.1)
    return [finals[o] for o in operation_ids]


def _raw_batch_writes(url: str, pool: str) -> dict[str, Any]:
    """The same number of task items, of the same shape, with plain BatchWriteItem from WRITER threads.

    They go to a fresh table of the same schema (template.yaml's MainTable, every index) on the same
    DynamoDB Local, so neither side writes into a table the other has filled.
    """
    import boto3
    from botocore.config import Config

    from bench.dynamodb import create_main_table
    from crowdtask import clock, ids, parallel
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import bulk_chunks
    from crowdtask.services.tasks import task_content
    from crowdtask.store import dynamo
    from tests.support.infra import template

    table = "bench-raw-main"
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": url,
            "TABLE_NAME": table,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    account = "01RAWBENCHACCOUNT000000000"
    base = ids.new_id()
    now = clock.now()
    contents = []
    for n, item in enumerate(_items(pool, 0, TASKS)):
        content = task_content(
            TaskIn.model_validate(
                {
                    "name": f"Is animal {n} a cat?",
                    "components": [{"type": "Image", "url": item["input_values"]["image"]}],
                }
            )
        )
        content.update(pool_id=pool, input_values=item["input_values"], overlap=3)
        contents.append((ids.derived_id(base, n), content))
    records = bulk_chunks.task_records(account, contents, now, operation_id=str(uuid.uuid4()))
    wire = [{"PutRequest": {"Item": dynamo.to_item(r)}} for r in records]
    props = template()["Resources"]["MainTable"]["Properties"]
    floor = floor_units(wire[0]["PutRequest"]["Item"], props["GlobalSecondaryIndexes"], {"pk", "sk"})
    writers = 2 * parallel.WORKERS  # the runner's pollers per queue, each writing with WORKERS threads
    client = boto3.client("dynamodb", endpoint_url=url, config=Config(max_pool_connections=writers + 4))
    create_main_table(client, table)
    consumed: list[float] = []

    def write(start: int) -> None:
        batch = wire[start : start + 25]
        while batch:
            reply = client.batch_write_item(RequestItems={table: batch}, ReturnConsumedCapacity="INDEXES")
            consumed.extend(float(c["CapacityUnits"]) for c in reply.get("ConsumedCapacity", []))
            batch = reply.get("UnprocessedItems", {}).get(table, [])

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=writers) as pool_of_writers:
        list(pool_of_writers.map(write, range(0, len(wire), 25)))
    elapsed = time.monotonic() - started
    return {
        "items_per_s": TASKS / elapsed,
        "seconds": elapsed,
        "threads": writers,
        "floor_units_per_task": floor,
        "reported_units_per_task": sum(consumed) / TASKS,
        "item_bytes": item_size(wire[0]["PutRequest"]["Item"]),
    }


def _figures(
    run: dict[str, Any], raw: dict[str, Any], stored: int, elapsed: float, accepted: float
) -> dict[str, Any]:
    calls: Counter[str] = run["calls"]
    sqs = sum(count for name, count in calls.items() if name.startswith("sqs."))
    uploads = sum(count for label, count in run["invocations"].items() if label.endswith(_UPLOADING))
    consumers = sum(count for label, count in run["invocations"].items() if label.endswith(_CONSUMING))
    per_thousand = 1000 / max(stored, 1)
    busiest, busiest_count = (run["partitions"].most_common(1) or [("", 0)])[0]
    ingest = stored / elapsed
    units = run["units"] / max(stored, 1)
    return {
        "tasks": stored,
        "ingest_tasks_per_s": round(ingest, 1),
        "ingest_seconds": round(elapsed, 2),
        "requests_accepted_after_s": round(accepted, 2),
        "raw_batch_write_items_per_s": round(raw["items_per_s"], 1),
        "raw_batch_write_threads": raw["threads"],
        "ingest_vs_raw_ratio": round(ingest / raw["items_per_s"], 3),
        "write_units_per_task": round(units, 3),
        "write_units_floor_per_task": raw["floor_units_per_task"],
        "write_units_vs_floor": round(units / raw["floor_units_per_task"], 3),
        "write_units_floor_reported_by_dynamodb_local": round(raw["reported_units_per_task"], 3),
        "task_item_bytes": raw["item_bytes"],
        "sqs_requests_per_1000_tasks": round(sqs * per_thousand, 2),
        "sqs_requests": {name: count for name, count in sorted(calls.items()) if name.startswith("sqs.")},
        "lambda_invocations_per_1000_tasks": round((uploads + consumers) * per_thousand, 2),
        "lambda_invocations": {"upload": uploads, "bulk_worker": consumers},
        "dynamodb_calls": {
            name: count for name, count in sorted(calls.items()) if name.startswith("dynamodb.")
        },
        # the busiest key's share of the writes, at the target rate of 100,000 tasks a minute
        "max_writes_per_partition_key_per_s": round(
            busiest_count / max(stored, 1) * TARGET_PER_MINUTE / 60, 1
        ),
        "max_writes_per_partition_key_per_s_at_measured_rate": round(busiest_count / elapsed, 1),
        "busiest_partition_key": busiest.split("#")[0] + "#...",
        "consumer_peak_memory_mb": max(
            (mb for label, mb in run["peak"].items() if label.endswith(_CONSUMING)), default=0
        ),
        "goals": GOALS,
        "notes": (
            "Local figures on DynamoDB Local and moto's SQS on a 2-core machine: the API, the bulk worker, "
            "Java and the client share the cores. AWS calls are counted with botocore hooks in every process "
            "(the pipeline's: the upload requests, the bulk worker and the runner's SQS pollers, not the "
            "client's status polls); write units are those DynamoDB Local reports for every write of the "
            "pipeline (tasks, chunk records, operation counters, quotas)."
        ),
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(measure(), indent=2, default=str))
