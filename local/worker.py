"""Lambda-like execution environment for one function, invoked by the local runner over a pipe pair."""

# Run as a script, stdlib only: the function's sys.path must hold its code and layers, not the runner.
from __future__ import annotations

import argparse
import decimal
import importlib
import json
import logging
import os
import signal
import struct
import sys
import time
import traceback
from typing import Any

_HEADER = struct.Struct(">I")


def _die_with_parent(parent_pid: int) -> None:
    """Get SIGKILLed when the runner goes away, even if it is killed hard and cannot clean up."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    # The runner may already have died between fork and prctl: then nobody would kill us.
    if os.getppid() != parent_pid:
        os._exit(1)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int) -> Any:
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(header)[0])
    return None if body is None else json.loads(body)


def _send(fd: int, payload: bytes) -> None:
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _json_default(value: Any) -> Any:
    # The Python runtime's marshaller writes Decimals as JSON numbers (boto3 items are full of them).
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, default=_json_default, ensure_ascii=False, allow_nan=True).encode()


class CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class LambdaContext:
    """The context object of the Python runtime (awslambdaric), with the same attribute types."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string on Lambda too: the runtime copies it from the environment.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = None
        self.identity = CognitoIdentity()
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)

    def __repr__(self) -> str:
        return f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name}])"


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _configure_logging() -> _RequestIdFilter:
    """The root handler the Python runtime installs, so plain `logging` calls look as on Lambda."""
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _load_handler(handler: str) -> tuple[Any, dict[str, str] | None]:
    module_name, _, function_name = handler.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, {
            "errorType": "Runtime.ImportModuleError",
            "errorMessage": f"Unable to import module '{module_name}': {exc}",
        }
    except SyntaxError as exc:
        return None, {
            "errorType": "Runtime.UserCodeSyntaxError",
            "errorMessage": f"Syntax error in module '{module_name}': {exc}",
        }
    except Exception as exc:  # any init failure is reported, as the runtime does
        traceback.print_exc()
        return None, {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    function = getattr(module, function_name, None)
    if not callable(function):
        return None, {
            "errorType": "Runtime.HandlerNotFound",
            "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
        }
    return function, None


def _user_traceback(exc: BaseException) -> Any:
    # Skip this file's frame, as the runtime does: the trace starts in the function's code.
    return exc.__traceback__.tb_next if exc.__traceback__ is not None else None


def _error(exc: BaseException, request_id: str) -> dict[str, Any]:
    frames = traceback.extract_tb(_user_traceback(exc))
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": [line for line in traceback.format_list(frames)],
    }


def _call_log() -> Any:
    """Benchmarks only (LOCAL_AWS_CALL_LOG set): count this function's AWS calls with botocore hooks."""
    if not os.environ.get("LOCAL_AWS_CALL_LOG"):
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_local_aws_calls", os.path.join(os.path.dirname(__file__), "aws_calls.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.start(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "function")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--in-fd", type=int, required=True)
    parser.add_argument("--out-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--layer", action="append", default=[])
    parser.add_argument("--handler", required=True)
    args = parser.parse_args()

    _die_with_parent(args.parent_pid)
    # Ctrl-C reaches the whole foreground process group; the runner decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    # Like /var/task then /opt/python: the runner's own folder must not be importable.
    sys.path[0:1] = [args.code_dir, *args.layer]
    os.chdir(args.code_dir)
    request_filter = _configure_logging()

    call_log = _call_log()
    started = time.monotonic()
    handler, init_error = _load_handler(args.handler)
    _send(
        args.out_fd,
        _encode(
            {
                "type": "ready",
                "pid": os.getpid(),
                "init_error": init_error,
                "init_ms": (time.monotonic() - started) * 1000,
            }
        ),
    )
    if init_error is not None:
        return

    while True:
        message = _receive(args.in_fd)
        if message is None:  # the runner closed the pipe (or died): this environment is gone
            return
        request_id = message["request_id"]
        request_filter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = message.get("trace_id", "")
        context = LambdaContext(request_id, message["deadline_ms"], message["invoked_function_arn"])
        began = time.monotonic()
        try:
            result = handler(message["event"], context)
            try:
                reply = _encode({"ok": True, "result": result})
            except (TypeError, ValueError) as exc:
                reply = _encode(
                    {
                        "ok": False,
                        "error": {
                            "errorType": "Runtime.MarshalError",
                            "errorMessage": f"Unable to marshal response: {exc}",
                        },
                    }
                )
        except Exception as exc:  # a handler error is reported; the environment stays
            # The runtime logs the failure in this shape before answering the invocation.
            trace = "".join(traceback.format_exception(type(exc), exc, _user_traceback(exc)))
            print(f"[ERROR] {type(exc).__name__}: {exc}\n{trace}", end="")
            reply = _encode({"ok": False, "error": _error(exc, request_id)})
        duration = (time.monotonic() - began) * 1000
        try:
            import resource

            max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        except ImportError:  # pragma: no cover - not on Linux/macOS
            max_rss_mb = 0
        memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        print(
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Memory Size: {memory} MB\tMax Memory Used: {max_rss_mb} MB"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        if call_log is not None:
            call_log.invoked()
        _send(args.out_fd, reply)


if __name__ == "__main__":
    main()
