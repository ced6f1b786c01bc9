"""Worker processes that run the functions like Lambda: one growing pool of workers per function."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.template import REGION, Function

log = logging.getLogger("local.lambdas")

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Lambda allows 10 s of init; a cold import of boto3 + Powertools on a busy laptop can be slower.
INIT_TIMEOUT_S = 30.0
# Time for a finished handler's answer to cross the pipe before the invocation counts as timed out.
_REPLY_GRACE_S = 0.05
_HEADER = struct.Struct(">I")
_output_lock = threading.Lock()


@dataclass(frozen=True)
class Invocation:
    ok: bool
    result: Any  # the handler's return value, or a Lambda error payload (errorType, errorMessage, ...)
    request_id: str
    pid: int | None
    duration_ms: float


class Spawner:
    """Starts child processes from one long-lived thread.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, and the HTTP server's
    request threads end after every request: forking from them would kill fresh workers at once.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="spawner", daemon=True)
        self._thread.start()

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        future: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
        self._requests.put((argv, kwargs, future))
        return future.result()

    def _run(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            argv, kwargs, future = item
            try:
                future.set_result(subprocess.Popen(argv, **kwargs))
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

    def stop(self) -> None:
        self._requests.put(None)


def access_key_of(function: Function) -> str:
    """The function's local access key id (its secret is "local", like every local caller's)."""
    return f"local{function.logical_id}"  # DynamoDB Local takes letters and digits only


def lambda_environment(
    function: Function, moto_url: str, dynamodb_url: str, s3_url: str | None = None
) -> dict[str, str]:
    """The environment the function gets on AWS, pointed at the local services."""
    env = {
        # What the Lambda service sets for every function.
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        "_HANDLER": function.handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        # Local wiring: every AWS SDK call goes to moto, DynamoDB to DynamoDB Local (or moto).
        # one access key per function: the local S3 gateway authorizes what it presigned with its policy
        "AWS_ACCESS_KEY_ID": access_key_of(function),
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        # S3 through the gateway that checks presigned POSTs and CORS as S3 does (local/s3_gateway.py)
        **({"AWS_ENDPOINT_URL_S3": s3_url} if s3_url else {}),
        # The developer's ~/.aws profiles must not leak into a function (they do not exist on Lambda).
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_XRAY_SDK_ENABLED": "false",
        "CROWDTASK_LOCAL": "1",
    }
    env.update(function.environment)
    if os.environ.get("LOCAL_AWS_CALL_LOG"):  # benchmarks count the functions' AWS calls (local/aws_calls.py)
        env["LOCAL_AWS_CALL_LOG"] = os.environ["LOCAL_AWS_CALL_LOG"]
    return env


def _lambda_error(request_id: str, error_type: str, detail: str) -> dict[str, str]:
    return {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {detail}"}


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


class WorkerGone(Exception):
    """The worker process died or was killed; it cannot be reused."""


class Worker:
    """One execution environment: a child process, a request pipe, a reply pipe and an output pump."""

    def __init__(self, function: Function, env: Mapping[str, str], spawner: Spawner, python: str):
        self.function = function
        to_worker_r, self._to_worker = os.pipe()
        self._from_worker, from_worker_w = os.pipe()
        output_r, output_w = os.pipe()
        stream = f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        argv = [
            python,
            "-u",  # unbuffered, as the runtime's stdout: log lines appear when they are written
            str(WORKER_SCRIPT),
            f"--in-fd={to_worker_r}",
            f"--out-fd={from_worker_w}",
            f"--parent-pid={os.getpid()}",
            f"--code-dir={function.code_dir}",
            f"--handler={function.handler}",
            *(f"--layer={layer}" for layer in function.layer_dirs),
        ]
        try:
            self.process = spawner.popen(
                argv,
                env={**env, "AWS_LAMBDA_LOG_STREAM_NAME": stream},
                cwd=str(function.code_dir),
                stdin=subprocess.DEVNULL,
                # The function's prints and logs never share a pipe with the invocation protocol.
                stdout=output_w,
                stderr=output_w,
                pass_fds=(to_worker_r, from_worker_w),
            )
        except BaseException:
            for fd in (self._to_worker, self._from_worker, output_r):
                os.close(fd)
            raise
        finally:
            for fd in (to_worker_r, from_worker_w, output_w):
                os.close(fd)
        self.pid = self.process.pid
        self._buffer = bytearray()
        self.init_error: dict[str, Any] | None = None
        threading.Thread(target=self._pump, args=(output_r,), name=f"output-{self.pid}", daemon=True).start()

    def _pump(self, fd: int) -> None:
        """Copy the function's output to the runner's stderr, whole lines, tagged with their origin."""
        prefix = f"{self.function.logical_id}[{self.pid}] ".encode()
        with os.fdopen(fd, "rb") as output:
            for line in output:
                with _output_lock, contextlib.suppress(OSError, ValueError):
                    # Keep draining even when stderr is gone: a full pipe would block the function.
                    sys.stderr.buffer.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
                    sys.stderr.flush()

    def wait_ready(self, timeout: float) -> None:
        message = self._receive(time.monotonic() + timeout)
        if message is None:
            self.kill()
            raise WorkerGone(f"init did not finish within {timeout:.0f} s")
        self.init_error = message.get("init_error")

    def invoke(self, message: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """The worker's reply, or None when the deadline passed (the worker is then killed)."""
        payload = json.dumps(message, ensure_ascii=False).encode()
        try:
            self._write(_HEADER.pack(len(payload)) + payload)
        except OSError as exc:
            raise WorkerGone("the worker exited") from exc
        reply = self._receive(deadline)
        if reply is None:
            self.kill()
        return reply

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._to_worker, view) :]

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        header = self._read(_HEADER.size, deadline)
        if header is None:
            return None
        body = self._read(_HEADER.unpack(header)[0], deadline)
        return None if body is None else json.loads(body)

    def _read(self, size: int, deadline: float) -> bytes | None:
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # poll, not select: select cannot watch descriptors above 1024 (many keep-alive clients).
            poller = select.poll()
            poller.register(self._from_worker, select.POLLIN)
            if not poller.poll(remaining * 1000):
                continue
            chunk = os.read(self._from_worker, 1 << 20)
            if not chunk:
                raise WorkerGone(self.exit_description())
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "Runtime exited without providing a reason"
        if code < 0:
            return (
                f"Runtime exited with error: signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
            )
        return f"Runtime exited with error: exit status {code}"

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("worker %s did not exit after SIGKILL", self.pid)
        self.close()

    def close(self) -> None:
        for fd in (self._to_worker, self._from_worker):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_worker = self._from_worker = -1


class FunctionPool:
    """Execution environments of one function: reused when idle, one more started when all are busy."""

    def __init__(
        self,
        function: Function,
        env: Mapping[str, str],
        spawner: Spawner,
        max_workers: int,
        python: str = sys.executable,
    ):
        self.function = function
        self.env = dict(env)
        self.max_workers = max_workers
        self._spawner = spawner
        self._python = python
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._starting = 0
        self._closed = False
        self._cond = threading.Condition()

    @property
    def pids(self) -> list[int]:
        with self._cond:
            return [worker.pid for worker in (*self._idle, *self._busy)]

    def invoke(self, event: Any) -> Invocation:
        request_id = str(uuid.uuid4())
        if self.max_workers <= 0:  # ReservedConcurrentExecutions: 0 throttles every invocation
            error = {"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."}
            return Invocation(False, error, request_id, None, 0.0)
        try:
            worker = self._acquire()
        except WorkerGone as exc:
            error = _lambda_error(request_id, "Runtime.ExitError", str(exc))
            return Invocation(False, error, request_id, None, 0.0)
        reusable = False
        try:
            invocation, reusable = self._invoke_on(worker, request_id, event)
            return invocation
        finally:
            self._release(worker, reusable)

    def _invoke_on(self, worker: Worker, request_id: str, event: Any) -> tuple[Invocation, bool]:
        """The invocation and whether the worker may serve another one."""
        if worker.init_error is not None:
            # Lambda reports the init failure to the invocation and tries a fresh init next time.
            return Invocation(False, dict(worker.init_error), request_id, worker.pid, 0.0), False
        timeout = self.function.timeout_s
        message = {
            "request_id": request_id,
            "deadline_ms": int((time.time() + timeout) * 1000),
            "invoked_function_arn": self.function.arn,
            "trace_id": _trace_id(),
            "event": event,
        }
        began = time.monotonic()
        try:
            reply = worker.invoke(message, began + timeout + _REPLY_GRACE_S)
        except WorkerGone as exc:
            error = _lambda_error(request_id, "Runtime.ExitError", str(exc))
            return Invocation(False, error, request_id, worker.pid, (time.monotonic() - began) * 1000), False
        duration = (time.monotonic() - began) * 1000
        if reply is None:
            log.warning(
                "%s: timed out after %.2f s; worker %s killed", self.function.logical_id, timeout, worker.pid
            )
            error = _lambda_error(
                request_id, "Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds"
            )
            return Invocation(False, error, request_id, worker.pid, duration), False
        result = reply["result"] if reply["ok"] else reply["error"]
        return Invocation(bool(reply["ok"]), result, request_id, worker.pid, duration), True

    def _acquire(self) -> Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise WorkerGone("the local runner is shutting down")
                if self._idle:
                    warm = self._idle.pop()  # most recently used first: it is the warmest
                    self._busy.add(warm)
                    return warm
                if len(self._busy) + self._starting < self.max_workers:
                    self._starting += 1
                    break
                self._cond.wait()
        # Outside the lock: a cold start must not hold up invocations that find a warm worker.
        try:
            worker = Worker(self.function, self.env, self._spawner, self._python)
        except OSError as exc:  # e.g. the function's code folder does not exist (yet)
            self._start_failed()
            raise WorkerGone(f"cannot start the runtime: {exc}") from exc
        except BaseException:
            self._start_failed()
            raise
        try:
            worker.wait_ready(INIT_TIMEOUT_S)
        except BaseException:
            worker.kill()
            self._start_failed()
            raise
        with self._cond:
            self._starting -= 1
            if self._closed:
                worker.kill()
                raise WorkerGone("the local runner is shutting down")
            self._busy.add(worker)
        return worker

    def _start_failed(self) -> None:
        with self._cond:
            self._starting -= 1
            self._cond.notify()

    def _release(self, worker: Worker, reusable: bool) -> None:
        if not reusable or worker.init_error is not None:
            worker.kill()
        with self._cond:
            self._busy.discard(worker)
            if reusable and worker.init_error is None and not self._closed:
                self._idle.append(worker)
            self._cond.notify()
        if self._closed:
            worker.kill()

    def close(self) -> None:
        """Stop every worker; busy ones are killed too (their invocations report an exit error)."""
        with self._cond:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle.clear()
            self._cond.notify_all()
        for worker in workers:
            if worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.terminate()
        deadline = time.monotonic() + 2
        for worker in workers:
            try:
                worker.process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(timeout=5)


def error_text(invocation: Invocation) -> str:
    if invocation.ok:
        return ""
    result = invocation.result if isinstance(invocation.result, dict) else {}
    return f"{result.get('errorType', 'Error')}: {result.get('errorMessage', '')}"
