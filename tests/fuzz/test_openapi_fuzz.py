"""`make fuzz`: schemathesis over the served OpenAPI document, as a requester and as a worker.

One local stack on template.yaml (the e2e tests' launcher, on the session's DynamoDB Local) is
started for the module and stopped when it ends, passed or not. Each role runs every operation
of the document through the examples, coverage and fuzzing phases with every check
(tests/fuzz/schemathesis.toml). A failure is tolerated only when tests/fuzz/baseline.json records
it with a written `reason`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import new_account
from tests.support.stack import REPO, RUNNER_ADMIN_KEY, RunningStack, start_stack

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
BASELINE = HERE / "baseline.json"
# Both roles together must stay inside the CI budget of 10 minutes for the whole stage. The roles
# run at once: about 250 s each on two shared cores under load (2026-12-06), so this leaves room
# for a busy machine while the stage (stack start included) stays under 10 minutes.
ROLE_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, dynamodb_local: str) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("fuzz"),
        "--dynamodb-url",
        dynamodb_local,
        "--stack-name",
        "crowdtask-fuzz",
        template=REPO / "template.yaml",
    )
    try:
        yield running
    finally:
        running.stop()


def worker_token(api: RunningStack) -> tuple[str, str]:
    """A worker who signed up through the public route: its token, and spares."""
    email, password = f"fuzz-worker-{uuid.uuid4().hex[:12]}@example.com", "a long enough passphrase"
    signed_up = api.request("POST", "/workers/signup", json={"email": email, "password": password})
    assert signed_up.status_code == 201, signed_up.text
    token = api.request("POST", "/auth/token/request", json={"email": email, "password": password})
    assert token.status_code == 200, token.text
    return str(token.json()["accessToken"]), more_tokens(api, email, password)


# Tokens per role for the calls of POST /auth/token/discard (tests/fuzz/hooks.py).
DISCARD_TOKENS = 25


def more_tokens(api: RunningStack, email: str, password: str) -> str:
    tokens = []
    for _ in range(DISCARD_TOKENS):
        issued = api.request("POST", "/auth/token/request", json={"email": email, "password": password})
        assert issued.status_code == 200, issued.text
        tokens.append(issued.json()["accessToken"])
    return ",".join(tokens)


def credentials(api: RunningStack) -> dict[str, str]:
    """Tokens of both roles (and spares for the discard route), and the key of a requester's workstream."""
    requester = new_account(api, balance=1000)
    workstream = requester.call(
        "POST",
        "/workstreams",
        json={"name": "fuzz", "use_cases": [{"name": "label", "task_definitions": [{"name": "box"}]}]},
    )
    assert workstream.status_code == 201, workstream.text
    campaign = requester.call(
        "POST",
        "/campaigns",
        json={
            "name": "fuzz",
            "workerPayment": "0.01",
            "taskTemplate": {"name": "fuzz", "components": [{"type": "TextInput", "label": "answer"}]},
        },
    )
    assert campaign.status_code == 201, campaign.text
    worker, worker_spares = worker_token(api)
    return {
        "pool_id": campaign.json()["id"],
        "requester": requester.token,
        "requester_spares": more_tokens(api, requester.email, requester.password),
        "worker": worker,
        "worker_spares": worker_spares,
        "workstream_key": workstream.json()["api_key"],
    }


def operations_in_document() -> int:
    document = json.loads((REPO / "openapi.json").read_text())
    return sum(1 for methods in document["paths"].values() for method in methods if method != "parameters")


def operations_run(log: str) -> int:
    """How many operations schemathesis tested, from its summary."""
    found = re.search(r"^\s*Tested: (\d+)\s*$", log, re.M)
    return int(found.group(1)) if found else 0


# FUZZ_BASELINE_UPDATE=1 records this run's failures in baseline.json (each then needs a reason). Both
# roles run at once, so each records into its own copy and the copies are merged when both are done.
UPDATING = os.environ.get("FUZZ_BASELINE_UPDATE") == "1"


def update_flags(out: Path) -> list[str]:
    copy = out / "baseline.json"
    copy.write_text(BASELINE.read_text())
    return ["--baseline", str(copy), "--baseline-update"]


def merge_baselines(copies: list[Path]) -> None:
    document = json.loads(BASELINE.read_text())
    entries = {entry["id"]: entry for entry in document["entries"]}
    for copy in copies:
        for entry in json.loads(copy.read_text())["entries"]:
            entries.setdefault(entry["id"], entry)
    document["entries"] = sorted(entries.values(), key=lambda entry: (entry["operation"], entry["check"]))
    BASELINE.write_text(json.dumps(document, indent=2) + "\n")


def test_baseline_failures_each_carry_a_reason() -> None:
    entries = json.loads(BASELINE.read_text())["entries"]
    assert [entry for entry in entries if not str(entry.get("reason", "")).strip()] == []


def test_every_operation_conforms_for_both_roles(stack: RunningStack, tmp_path: Path) -> None:
    """Given a requester's and a worker's token, when schemathesis runs over the whole document for
    each (at the same time), then it finds no failure the baseline does not explain."""
    keys = credentials(stack)
    runs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    began = time.monotonic()
    for role in ("requester", "worker"):
        out = tmp_path / role
        out.mkdir()
        log = out / "schemathesis.log"
        env = {
            **os.environ,
            "FUZZ_AUTH_TOKEN": keys[role],
            "FUZZ_DISCARD_TOKENS": keys[f"{role}_spares"],
            "FUZZ_ADMIN_KEY": RUNNER_ADMIN_KEY,
            "FUZZ_WORKSTREAM_KEY": keys["workstream_key"],
            "FUZZ_POOL_ID": keys["pool_id"],
            "NO_COLOR": "1",
        }
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(CONFIG),
            "run",
            f"{stack.url}/openapi.json",
            "--url",
            stack.url,
            *(update_flags(out) if UPDATING else []),
        ]
        with open(log, "wb") as output:
            process = subprocess.Popen(command, cwd=HERE, env=env, stdout=output, stderr=subprocess.STDOUT)
        runs[role] = (process, log)

    failed = []
    for role, (process, log) in runs.items():
        try:
            code = process.wait(timeout=max(ROLE_TIMEOUT_S - (time.monotonic() - began), 1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        text = log.read_text(errors="replace")
        print(f"--- {role}: exit {code} after {time.monotonic() - began:.0f} s ---\n{text[-3000:]}")
        if code != 0:
            failed.append(f"--- {role}: schemathesis exit {code} ---\n{text[-12000:]}")
        elif operations_run(text) != operations_in_document():
            failed.append(
                f"--- {role}: {operations_run(text)} of {operations_in_document()} operations ran ---"
            )
    if UPDATING:
        merge_baselines([log.with_name("baseline.json") for _, log in runs.values()])
    assert not failed, "\n".join(failed)
