"""The runner's tests: one runner per module on the fixture template, sharing the session's DynamoDB Local."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.stack import RunningStack, start_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, dynamodb_local: str) -> Iterator[RunningStack]:
    """One runner (DynamoDB Local in memory) shared by the tests of a module."""
    workdir = tmp_path_factory.mktemp("runner")
    running = start_stack(workdir, "--dynamodb-url", dynamodb_local)
    yield running
    running.stop()


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[Callable[..., RunningStack]]:
    """Start runners that a test stops itself; whatever is left is killed afterwards."""
    started: list[RunningStack] = []

    def start(name: str, *args: str, env: dict[str, str] | None = None) -> RunningStack:
        running = start_stack(tmp_path / name, *args, env=env)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.stop(signal.SIGKILL, timeout=10)
