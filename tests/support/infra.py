"""Tables, queues and buses for moto tests, created from template.yaml so they cannot drift."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MEDIA_BUCKET = "crowdtask-test-media"
TABLE_NAMES = {"MainTable": "crowdtask-test-main", "IdempotencyTable": "crowdtask-test-idempotency"}
BUS_NAME = "crowdtask-test-events"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags (!Ref, !GetAtt, !Sub ...) as plain data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"!{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


@lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506


def create_tables(client: Any) -> None:
    for logical, name in TABLE_NAMES.items():
        props = template()["Resources"][logical]["Properties"]
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        stream = (props.get("StreamSpecification") or {}).get("StreamViewType")
        if stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
        client.create_table(**kwargs)


def create_media_bucket(client: Any) -> None:
    """The media bucket with the versioning template.yaml gives it."""
    client.create_bucket(Bucket=MEDIA_BUCKET)
    versioning = template()["Resources"]["MediaBucket"]["Properties"].get("VersioningConfiguration")
    if versioning:
        client.put_bucket_versioning(Bucket=MEDIA_BUCKET, VersioningConfiguration=versioning)


def one_call_at_a_time(monkeypatch: Any) -> None:
    """moto is not thread-safe for writes: the services' parallel calls run one after the other."""
    from crowdtask import parallel

    monkeypatch.setattr(parallel, "WORKERS", 1)


@contextmanager
def queue_setting(variable: str, url: str) -> Iterator[str]:
    """The functions' setting `variable` pointed at the queue `url` for the block (settings and the
    queue client read afresh), then put back as it was."""
    from crowdtask.config import settings
    from crowdtask.store import queues

    previous = os.environ.get(variable)
    os.environ[variable] = url
    settings.cache_clear()
    queues._client.cache_clear()
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous
        settings.cache_clear()
        queues._client.cache_clear()


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """The DynamoDB operations called inside the block, in order, by name (from botocore's own events)."""
    from crowdtask.store import dynamo

    made: list[str] = []

    def record(model: Any, **_: Any) -> None:
        made.append(model.name)

    events = dynamo.client().meta.events
    events.register("before-call.dynamodb", record, unique_id="tests-dynamodb-calls")
    try:
        yield made
    finally:
        events.unregister("before-call.dynamodb", unique_id="tests-dynamodb-calls")
