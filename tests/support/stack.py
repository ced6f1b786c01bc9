"""A running local stack (`python -m local.run`) for tests: start, wait, talk, stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
FIXTURE_DIR = REPO / "tests" / "fixtures" / "runner"
FIXTURE_TEMPLATE = FIXTURE_DIR / "template.yaml"
RUNNER_ADMIN_KEY = "runner-fixture-admin-key-0123456789"
READY = re.compile(r"^crowdtask local stack ready on (http://\S+)$")
# A JVM cold start on a busy 2-core machine; the runner itself starts in about a second.
START_TIMEOUT_S = 120.0


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until `predicate` returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (children of children included)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the fields start after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True for a running process; a zombie (dead, waiting for its parent to reap it) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class RunningStack:
    """A runner process, its stdout lines, its stderr file and the endpoints from its stack file."""

    def __init__(self, process: subprocess.Popen[str], workdir: Path):
        self.process = process
        self.workdir = workdir
        self.stderr_path = workdir / "runner.stderr"
        self.stack_file = workdir / "stack.json"
        self.lines: list[str] = []
        self.url = ""
        self.info: dict[str, Any] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self) -> None:
        def ready() -> str | None:
            if self.process.poll() is not None:
                pytest.fail(f"the runner exited ({self.process.returncode}):\n{self.output()}")
            return next((m.group(1) for line in self.lines if (m := READY.match(line))), None)

        self.url = wait_for(ready, START_TIMEOUT_S, "the ready line")
        self.info = json.loads(self.stack_file.read_text())

    def output(self) -> str:
        stderr = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return "\n".join(self.lines) + "\n--- stderr ---\n" + stderr[-6000:]

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def request(self, method: str, path: str, timeout: float = 30, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url + path, timeout=timeout, **kwargs)

    def client(self, service: str) -> Any:
        import boto3

        endpoint = self.info["dynamodb_url"] if service == "dynamodb" else self.info["moto_url"]
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def ports(self) -> list[int]:
        urls = {self.url, self.info["moto_url"], self.info["dynamodb_url"], self.info["s3_url"]}
        return [int(url.rsplit(":", 1)[1]) for url in urls]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in descendants(self.process.pid):
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the runner did not stop within {timeout} s:\n{self.output()}")


def start_stack(
    workdir: Path, *args: str, env: dict[str, str] | None = None, template: Path = FIXTURE_TEMPLATE
) -> RunningStack:
    """Start the runner on `template` (API on a free port) and wait for its ready line."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "local.run",
        "--template",
        str(template),
        "--port",
        "0",
        "--stack-file",
        str(workdir / "stack.json"),
        *args,
    ]
    with open(workdir / "runner.stderr", "wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={
                **os.environ,
                "CROWDTASK_ADMIN_KEY": RUNNER_ADMIN_KEY,
                "RUNNER_ONLY_MARKER": "x",
                **(env or {}),
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    running = RunningStack(process, workdir)
    try:
        running.wait_ready()
    except BaseException:
        running.stop(signal.SIGKILL, timeout=10)
        raise
    return running


def run_readme_session(api: RunningStack, workdir: Path, *markers: str) -> subprocess.CompletedProcess[str]:
    """The README's bash blocks that contain each marker, in that order, run against `api` as pasted."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    script = "".join(next(b for b in blocks if marker in b) for marker in markers)
    script = script.replace("http://127.0.0.1:3000", api.url).replace(
        ".local/stack.json", str(api.stack_file)
    )
    path = workdir / "readme-session.sh"
    path.write_text("set -euo pipefail\n" + script)
    return subprocess.run(
        ["bash", str(path)], capture_output=True, text=True, timeout=120, env={**os.environ}, check=False
    )
