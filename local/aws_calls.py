"""AWS call accounting: botocore event hooks that record what the stack asks of AWS.

Off unless LOCAL_AWS_CALL_LOG names a folder. Then the runner (its SQS pollers) and every
function worker count their calls per service and operation, the resources each call touches
(table or index, queue, bus: what the e2e suite checks against the functions' policies, see
local/iam.py), the write units DynamoDB reports (ReturnConsumedCapacity=INDEXES is added to
every write), the writes to each partition key of the table and of its indexes, invocations
and peak memory, and write them to `<folder>/<label>-<pid>.json` after each invocation (and
at exit). Stdlib and botocore only: the function worker loads this file by path.
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
RUNNER_LABEL = "runner"  # the runner's own calls (its SQS pollers); the functions' are their names
# A "touched" entry: a call to `operation` named `resource` (for a transaction item, as its `part`;
# for an S3 call naming one version of an object, VERSION_PART).
TOUCHED_FIELDS = ("service", "operation", "part", "resource")
VERSION_PART = "version"
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
        self.label = label
        self.path = os.path.join(directory, f"{label}-{os.getpid()}.json")
        self.calls: Counter[str] = Counter()
        # (service, operation, part of a transaction or "", resource): calls that touched it
        self.touched: Counter[tuple[str, str, str, str]] = Counter()
        self.write_units = 0.0
        self.partition_writes: Counter[str] = Counter()
        self.invocations = 0
        self._lock = threading.Lock()
        self._pending = threading.local()  # resources of the call this thread is about to send
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
        # Unique ids: a client attached twice (by hand and as a new client) still counts once.
        events.register("provide-client-params", self._note_resources, unique_id="aws-calls-resources")
        events.register("provide-client-params.dynamodb", self._ask_capacity, unique_id="aws-calls-capacity")
        events.register("before-call", self._before, unique_id="aws-calls-before")
        events.register("after-call", self._after, unique_id="aws-calls-after")

    def _note_resources(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        # Kept until the request is sent (before-call): presigning an S3 request builds its
        # parameters too, yet makes no call; the presigned request is authorized when it is used.
        service = model.service_model.service_name
        self._pending.touched = sorted(set(_touched(service, model.name, params)))

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """DynamoDB writes: ask for the units they consume, and note the partitions they write."""
        if model.name not in _WRITES:
            return
        params.setdefault("ReturnConsumedCapacity", "INDEXES")
        with self._lock:
            for item, key in _written(model.name, params):
                self._count_partitions(item, key)

    def _before(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        touched, self._pending.touched = getattr(self._pending, "touched", []), []
        with self._lock:
            self.calls[f"{service}.{model.name}"] += 1
            for part, resource in touched:
                self.touched[service, model.name, part, resource] += 1

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
                "label": self.label,
                "calls": dict(self.calls),
                "touched": [
                    {**dict(zip(TOUCHED_FIELDS, key, strict=True)), "count": count}
                    for key, count in sorted(self.touched.items())
                ],
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


def _s3_arn(params: dict[str, Any]) -> str:
    bucket, key = str(params.get("Bucket") or ""), params.get("Key")
    if not bucket:
        return ""
    return f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"


def _touched(  # noqa: PLR0911 - one return per service
    service: str, operation: str, params: dict[str, Any]
) -> list[tuple[str, str]]:
    """(part, resource) of each resource a call names: the part is a transaction item's kind, or "".

    DynamoDB: the table, or "table/index/name" for an index; SQS: the queue URL (or the name
    GetQueueUrl asks for); EventBridge: each entry's bus, "default" when it names none; SSM: the
    parameter's name; S3: the object's (or bucket's) ARN, part VERSION_PART when the call names a
    version of it (IAM authorizes those as other actions). A call that names no resource
    (ListTables, ...) touches "".
    """
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return [
                (kind, str(request.get("TableName", "")))
                for entry in params.get("TransactItems", [])
                for kind, request in entry.items()
            ]
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [("", str(table)) for table in params.get("RequestItems", {})]
        table = str(params.get("TableName", ""))
        index = params.get("IndexName")
        return [("", f"{table}/index/{index}" if index and table else table)]
    if service == "sqs":
        return [("", str(params.get("QueueUrl") or params.get("QueueName") or ""))]
    if service == "s3":
        return [(VERSION_PART if params.get("VersionId") else "", _s3_arn(params))]
    if service == "events" and operation == "PutEvents":
        return [("", str(entry.get("EventBusName") or "default")) for entry in params.get("Entries", [])]
    return [("", str(params.get("Name") or "") if service == "ssm" else "")]


def start(label: str) -> CallLog | None:
    """Count this process's calls if LOCAL_AWS_CALL_LOG is set: every botocore client made from now on.

    Hooking each new client rather than boto3's default session also counts the clients made
    from sessions of their own (Powertools' idempotency layer makes one).
    """
    directory = os.environ.get(ENV)
    if not directory:
        return None
    import botocore.session

    log = CallLog(directory, label)
    create_client = botocore.session.Session.create_client

    def create_counted_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        return attach_client(log, create_client(self, *args, **kwargs))

    botocore.session.Session.create_client = create_counted_client
    return log


def attach_client(log: CallLog | None, client: Any) -> Any:
    """Count the calls of one client made by hand (the runner's SQS pollers); returns the client."""
    if log is not None:
        log.attach(client.meta.events)
    return client
