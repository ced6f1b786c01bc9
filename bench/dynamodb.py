"""An in-memory Amazon DynamoDB Local holding template.yaml's main table, for the benchmarks that
measure what DynamoDB reads and writes (the same emulator the e2e tests use)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.stack import dynamodb_local

TABLE = "bench-main"


def _environment(url: str) -> None:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "TABLE_NAME": TABLE,
            "IDEMPOTENCY_TABLE_NAME": "bench-idempotency",  # not created: no route runs here
            "EVENT_BUS_NAME": "bench-bus",  # not created: nothing is published (see local_table)
            "API_VERSION": "1.0",
            "PASSWORD_HASH_COST": "cheapest",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )


def create_main_table(client: Any, name: str = TABLE) -> None:
    """template.yaml's main table, its keys and indexes, under `name`."""
    from tests.support.infra import template

    props = template()["Resources"]["MainTable"]["Properties"]
    client.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )


@contextmanager
def local_table() -> Iterator[str]:
    """A fresh DynamoDB Local with the main table, the services pointed at it (no event bus: what
    would be published is dropped, publishing is not what is measured); yields its URL."""
    with dynamodb_local() as server:
        try:
            _environment(server.url)
            import boto3

            create_main_table(boto3.client("dynamodb", endpoint_url=server.url))
            yield server.url
        finally:
            from crowdtask import clock

            clock.set_clock(None)
