"""AWS call accounting for benchmarks: botocore event hooks that count what the stack asks of AWS.

Off unless LOCAL_AWS_CALL_LOG names a folder. Then the runner (its SQS pollers) and every
function worker count their calls per service and operation, the write units DynamoDB reports
(ReturnConsumedCapacity=INDEXES is added to every write), the writes to each partition key of
the table and of its indexes, invocations and peak memory, and write them to
`<folder>/<label>-<pid>.json` after each invocation (and at exit). Stdlib and botocore only:
the function worker loads this file by path.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections import Counter
from typing import Any

ENV = "LOCAL_AWS_CALL_LOG"
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
# Index key attributes of the table (template.yaml): an item that has one is written to that index too.
_INDEX_KEYS = {
    "name_key": ("by_name", "pk"),
    "modified_key": ("by_modified", "pk"),
    "gsi1pk": ("gsi1", "gsi1pk"),
    "gsi2pk": ("gsi2", "gsi2pk"),
    "due_pk": ("by_due", "due_pk"),
}


def _text(value: Any) -> str | None:
    return value.get("S") if isinstance(value, dict) else None


class CallLog:
    def __init__(self, directory: str, label: str):
        self.path = os.path.join(directory, f"{label}-{os.getpid()}.json")
        self.calls: Counter[str] = Counter()
        self.write_units = 0.0
        self.partition_writes: Counter[str] = Counter()
        self.invocations = 0
        self._lock = threading.Lock()
        self._dump_lock = threading.Lock()  # the ticker and an invocation must not share the temporary file
        atexit.register(self.dump)
        # long-lived processes (the runner) are stopped by a signal: keep the file fresh meanwhile
        threading.Thread(target=self._dump_every_second, daemon=True).start()

    def _dump_every_second(self) -> None:
        while True:
            time.sleep(1.0)
            self.dump()

    # ------------------------------------------------------------ hooks
    def attach(self, events: Any) -> None:
        events.register("provide-client-params.dynamodb", self._ask_capacity)
        events.register("before-call", self._before)
        events.register("after-call", self._after)

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """DynamoDB writes: ask for the units they consume, and note the partitions they write."""
        if model.name not in _WRITES:
            return
        params.setdefault("ReturnConsumedCapacity", "INDEXES")
        with self._lock:
            for item, key in _written(model.name, params):
                self._count_partitions(item, key)

    def _before(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _count_partitions(self, item: dict[str, Any] | None, key: dict[str, Any]) -> None:
        table_pk = _text(key.get("pk"))
        if table_pk:
            self.partition_writes[f"table:{table_pk}"] += 1
        for attribute, (index, hash_attribute) in _INDEX_KEYS.items():
            if item is not None and attribute in item:
                partition = _text(item.get(hash_attribute))
                if partition:
                    self.partition_writes[f"{index}:{partition}"] += 1

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name not in _WRITES:
            return
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        with self._lock:
            self.write_units += sum(float(entry.get("CapacityUnits", 0)) for entry in entries)

    # ------------------------------------------------------------ output
    def invoked(self) -> None:
        with self._lock:
            self.invocations += 1
        self.dump()

    def dump(self) -> None:
        try:
            import resource

            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        except ImportError:  # pragma: no cover - not on Linux/macOS
            peak_mb = 0.0
        with self._lock:
            data = {
                "calls": dict(self.calls),
                "write_units": self.write_units,
                "partition_writes": dict(self.partition_writes),
                "invocations": self.invocations,
                "peak_rss_mb": round(peak_mb, 1),
            }
        temporary = self.path + ".tmp"
        try:
            with self._dump_lock:
                with open(temporary, "w") as out:
                    json.dump(data, out)
                os.replace(temporary, self.path)
        except OSError:
            pass  # the folder is gone: nobody is reading any more


def _written(operation: str, params: dict[str, Any]) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(item or None, key) of every item a write call writes."""
    found: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
    if operation == "PutItem":
        found.append((params.get("Item", {}), params.get("Item", {})))
    elif operation in {"UpdateItem", "DeleteItem"}:
        found.append((None, params.get("Key", {})))
    elif operation == "BatchWriteItem":
        for requests in params.get("RequestItems", {}).values():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    found.append((item, item))
                else:
                    found.append((None, request.get("DeleteRequest", {}).get("Key", {})))
    elif operation == "TransactWriteItems":
        for entry in params.get("TransactItems", []):
            if "Put" in entry:
                found.append((entry["Put"]["Item"], entry["Put"]["Item"]))
            for kind in ("Update", "Delete"):
                if kind in entry:
                    found.append((None, entry[kind].get("Key", {})))
    return found


def start(label: str) -> CallLog | None:
    """Count this process's calls if LOCAL_AWS_CALL_LOG is set (hooks on boto3's default session)."""
    directory = os.environ.get(ENV)
    if not directory:
        return None
    import boto3

    log = CallLog(directory, label)
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    log.attach(boto3.DEFAULT_SESSION.events)
    return log


def attach_client(log: CallLog | None, client: Any) -> Any:
    """Count the calls of one client made by hand (the runner's SQS pollers); returns the client."""
    if log is not None:
        log.attach(client.meta.events)
    return client
