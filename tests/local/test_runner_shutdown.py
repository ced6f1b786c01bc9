"""Stopping the runner: nothing it started outlives it, ports are freed, data dirs persist."""

from __future__ import annotations

import concurrent.futures
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.stack import RunningStack, alive, descendants, port_free, wait_for

pytestmark = pytest.mark.e2e


def warm_up(stack: RunningStack) -> set[int]:
    """Start workers in two functions (two at once in one of them); the runner's child processes."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(lambda _: stack.request("GET", "/slow?seconds=0.3").status_code, range(2)))
    assert codes == [200, 200]
    assert stack.request("GET", "/echo").status_code == 200
    children = descendants(stack.process.pid)
    assert len(children) >= 3, children  # DynamoDB Local (if any) and the workers
    return children


def assert_all_gone(children: set[int], ports: list[int]) -> None:
    wait_for(
        lambda: not [pid for pid in children if alive(pid)], 20, f"the runner's children {children} to exit"
    )
    wait_for(lambda: all(port_free(port) for port in ports), 20, f"ports {ports} to be free")


def test_sigterm_stops_everything_and_the_data_dir_survives_a_restart(
    stacks: Callable[..., RunningStack], tmp_path: Path
) -> None:
    data_dir = tmp_path / "dynamodb"
    first = stacks("first", "--data-dir", str(data_dir))
    assert any(f"data in {data_dir}" in line for line in first.lines)
    assert any("table crowdtask-local-FixtureTable created" in line for line in first.lines)
    ran = first.request("POST", "/_local/schedules/run").json()["ran"]
    marker = ran[0]["result"]["marker"]
    children, ports = warm_up(first), first.ports()
    java = [
        pid
        for pid in children
        if "java" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    ]
    assert len(java) == 1

    assert first.stop(signal.SIGTERM) == 0
    assert_all_gone(children, ports)
    assert not first.stack_file.exists()  # stale endpoints are removed

    second = stacks("second", "--data-dir", str(data_dir))
    assert any("table crowdtask-local-FixtureTable kept" in line for line in second.lines)
    item = second.client("dynamodb").get_item(
        TableName="crowdtask-local-FixtureTable", Key={"pk": {"S": "marker"}, "sk": {"S": marker}}
    )
    assert "Item" in item
    assert second.stop(signal.SIGTERM) == 0


def test_sigkill_of_the_runner_leaves_no_orphans(stacks: Callable[..., RunningStack]) -> None:
    stack = stacks("killed", "--in-memory")
    children, ports = warm_up(stack), stack.ports()
    os.kill(stack.process.pid, signal.SIGKILL)
    stack.process.wait(timeout=10)
    # No cleanup code ran: the children go because of PR_SET_PDEATHSIG.
    assert_all_gone(children, ports)


def test_without_java_moto_serves_dynamodb_and_sigint_stops_it(stacks: Callable[..., RunningStack]) -> None:
    stack = stacks("no-java", "--in-memory", env={"PATH": "/nonexistent", "JAVA_HOME": ""})
    assert any("DynamoDB: moto fallback (java is not on PATH)" in line for line in stack.lines)
    assert stack.info["dynamodb"] == "moto"
    assert stack.info["dynamodb_url"] == stack.info["moto_url"]
    ran = stack.request("POST", "/_local/schedules/run").json()["ran"]
    assert all(entry["ok"] for entry in ran), ran
    item = stack.client("dynamodb").get_item(
        TableName="crowdtask-local-FixtureTable",
        Key={"pk": {"S": "marker"}, "sk": {"S": ran[0]["result"]["marker"]}},
    )
    assert "Item" in item
    children, ports = warm_up(stack), stack.ports()
    assert stack.stop(signal.SIGINT) == 0
    assert_all_gone(children, ports)
