"""Webhooks end to end on the local stack (as `make run` runs it, on an in-memory DynamoDB Local).

Latency: EVENTS events are committed to the outbox (one PutItem each, as a state change's transaction
writes them), RATE a second; each one's time from the commit returning to a receiver on the loopback
getting its signed request goes through the table's stream, the fan-out, the delivery queue and the
delivery worker. p50 and p99 are reported.

Lost or doubled: another account's subscription points at a receiver that fails the first two
attempts of every webhook-id; EVENTS more events are committed, and once a third of them are in, every
worker process of the fan-out and of the delivery function is killed (SIGKILL: the crash of a Lambda
mid-batch). The run waits until every event has been answered 2xx or TIMEOUT passes; an event never
answered 2xx is lost, a second 2xx for a webhook-id is a duplicate (allowed: the receiver can drop it
by the id), and a webhook-id that is no committed event's would be a duplicate under another id.

`python -m bench.run webhooks`; WEBHOOK_BENCH_EVENTS sets the count (default 1,000) for a short run.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.stack import BenchAccount, BenchStack

EVENTS = int(os.environ.get("WEBHOOK_BENCH_EVENTS", "1000"))
RATE = float(os.environ.get("WEBHOOK_BENCH_RATE", "25"))  # events committed per second
TIMEOUT = 900.0  # a killed batch comes back after the queue's 360 s visibility timeout
GOALS = {"webhook_lost_or_doubled": "0 lost; duplicates only with the same webhook-id"}
_KILLED = ("functions/webhook_fanout", "functions/webhook_delivery")


def measure() -> dict[str, Any]:
    with BenchStack(
        "webhooks",
        "AllowLoopbackWebhooks=true",
        # retries a second apart: the failing receiver's third attempts come within the run
        "WebhookRetrySchedule=1,1,1,1,1,1,1,1,1",
    ) as bench:
        latency = _latency(bench)
        crash = _lost_or_doubled(bench)
    return {
        "events": EVENTS,
        "commit_rate_per_s": RATE,
        "webhook_delivery_p50_ms": latency["p50_ms"],
        "webhook_delivery_p99_ms": latency["p99_ms"],
        "latency": latency,
        "webhook_lost_or_doubled": crash,
    }


def _subscribe(bench: BenchStack, account: BenchAccount, url: str) -> None:
    body = {"url": url, "events": ["result.submitted"]}
    bench.stack.request("POST", "/webhooks", json=body, headers=account.headers).raise_for_status()


def _commit_events(bench: BenchStack, account_id: str, count: int, during: Any = None) -> dict[str, float]:
    """Commit `count` events at RATE a second: event id -> when its commit returned (epoch seconds).
    `during(n)` runs after the n-th commit."""
    from crowdtask.store import dynamo, outbox

    table = f"{bench.name}-MainTable"
    client = bench.stack.client("dynamodb")
    committed: dict[str, float] = {}
    started = time.monotonic()
    for n in range(count):
        pause = started + n / RATE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        event = outbox.event_record(
            "result.submitted", {"resultId": f"R{n}", "state": "InReview"}, account_id
        )
        client.put_item(TableName=table, Item=dynamo.to_item(event))
        committed[event["id"]] = time.time()
        if during is not None:
            during(n)
    return committed


def _latency(bench: BenchStack) -> dict[str, Any]:
    from tests.support.webhooks import receiver, wait_for

    account = bench.account("requester")
    with receiver() as endpoint:
        _subscribe(bench, account, endpoint.url)
        # one event first, so that the figures are about delivery rather than cold starts
        warm = _commit_events(bench, account.id, 1)
        wait_for(lambda: len(endpoint.received) >= 1, 120)
        committed = _commit_events(bench, account.id, EVENTS)
        wait_for(lambda: len(endpoint.received) >= EVENTS + len(warm), TIMEOUT)
        arrived = {r.headers["webhook-id"]: r.at for r in endpoint.received}
    waits = sorted((arrived[i] - at) * 1000 for i, at in committed.items() if i in arrived)
    if not waits:
        raise SystemExit("no webhook arrived: see bench/.work/webhooks/stack/runner.stderr")
    return {
        "p50_ms": round(statistics.median(waits), 1),
        "p99_ms": round(waits[min(len(waits) - 1, int(len(waits) * 0.99))], 1),
        "max_ms": round(waits[-1], 1),
        "arrived": len(waits),
        "missing": len(committed) - len(waits),
    }


def _worker_pids(runner_pid: int) -> list[int]:
    """The runner's worker processes of the fan-out and the delivery function."""
    from tests.support.stack import descendants

    found = []
    for pid in descendants(runner_pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(part in command for part in _KILLED):
            found.append(pid)
    return found


def _lost_or_doubled(bench: BenchStack) -> dict[str, Any]:
    from tests.support.webhooks import receiver, wait_for

    account = bench.account("requester")
    attempts: Counter[str] = Counter()
    killed: list[int] = []

    def crash(n: int) -> None:
        if n == EVENTS // 3:
            for pid in _worker_pids(bench.stack.process.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass

    statuses: list[tuple[str, int]] = []

    def fail_twice(request: Any) -> tuple[int, dict[str, str]]:
        """The first two attempts of each webhook-id fail (called under the receiver's lock)."""
        event_id = request.headers["webhook-id"]
        attempts[event_id] += 1
        status = 500 if attempts[event_id] <= 2 else 200
        statuses.append((event_id, status))
        return status, {}

    with receiver() as endpoint:
        endpoint.responder = fail_twice
        _subscribe(bench, account, endpoint.url)
        committed = _commit_events(bench, account.id, EVENTS, during=crash)

        def answered() -> set[str]:
            with endpoint.lock:
                return {i for i, status in statuses if status == 200}

        wait_for(lambda: set(committed) <= answered(), TIMEOUT)
        with endpoint.lock:
            successes = Counter(i for i, status in statuses if status == 200)
            requests = len(statuses)
    lost = [i for i in committed if successes[i] == 0]
    return {
        "events": len(committed),
        "lost": len(lost),
        "duplicates_same_id": sum(n - 1 for i, n in successes.items() if n > 1),
        "duplicates_other_id": len(set(successes) - set(committed)),
        "requests": requests,
        "workers_killed": len(killed),
    }
