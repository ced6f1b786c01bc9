"""Entry point (`python -m local.run`): start the local stack from template.yaml, stop it on a signal."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from local.http_gateway import Gateway, GatewayServer
from local.lambdas import FunctionPool, Spawner, access_key_of, lambda_environment
from local.pollers import Scheduler, SqsPoller
from local.s3_gateway import S3Gateway
from local.services import (
    DynamoDBLocal,
    MotoServer,
    boto_client,
    create_buckets,
    create_event_buses,
    create_queues,
    create_secure_strings,
    create_tables,
    find_dynamodb_local_jar,
    java_executable,
)
from local.template import ACCOUNT_ID, REGION, STACK_NAME, Stack, TemplateError, load_stack, load_yaml

log = logging.getLogger("local.run")

READY_LINE = "crowdtask local stack ready on {url}"
ADMIN_KEY_ENV = "CROWDTASK_ADMIN_KEY"
# The template parameter naming the SSM SecureString that holds the admin key. On AWS the operator
# creates it before deploying (README, "Deploy"); locally the runner does, in moto, from $ADMIN_KEY_ENV.
ADMIN_KEY_PARAMETER = "AdminKeyParameterName"
DEFAULT_MAX_WORKERS = 4  # per function; the machine has few cores, the tests need real concurrency


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.run", description=__doc__)
    parser.add_argument("--template", default="template.yaml", help="SAM template (default: template.yaml)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the API (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "3000")),
        help="port of the API (default: $PORT or 3000; 0 picks a free one)",
    )
    parser.add_argument("--in-memory", action="store_true", help="DynamoDB Local keeps nothing on disk")
    parser.add_argument(
        "--data-dir",
        default=".local/dynamodb",
        help="DynamoDB Local data, kept between runs (default: %(default)s)",
    )
    parser.add_argument("--moto-dynamodb", action="store_true", help="use moto for DynamoDB instead of Java")
    parser.add_argument(
        "--dynamodb-url",
        help="use a DynamoDB (Local) that is already running instead of starting one (e.g. a test session's)",
    )
    parser.add_argument(
        "--stack-name",
        default=STACK_NAME,
        help="names the resources (tables become <stack>-<LogicalId>; default: %(default)s)",
    )
    parser.add_argument(
        "--stack-file",
        default=".local/stack.json",
        help="where to write the endpoints (default: %(default)s)",
    )
    parser.add_argument(
        "--max-workers",
        type=int,
        default=DEFAULT_MAX_WORKERS,
        help="worker processes per function at most (ReservedConcurrentExecutions lowers it)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override (repeatable); the admin key itself comes from $" + ADMIN_KEY_ENV,
    )
    parser.add_argument("--log-level", default="INFO", help="runner log level on stderr (default: INFO)")
    return parser.parse_args(argv)


def _say(line: str = "") -> None:
    print(line, flush=True)


class Runner:
    """Owns every process, thread and server of the local stack, and stops them all."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.stop = threading.Event()
        self.dynamodb: DynamoDBLocal | None = None
        self.moto: MotoServer | None = None
        self.s3: S3Gateway | None = None
        self.spawner: Spawner | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.pollers: list[SqsPoller] = []
        self.scheduler: Scheduler | None = None
        self.server: GatewayServer | None = None
        self.stack_file: Path | None = None
        self._stopped = False
        self._serving = False
        self.started = False

    # ------------------------------------------------------------ start

    def start(self) -> None:
        args = self.args
        template = Path(args.template)
        parameters = self._parameters()
        # a bad template fails before anything starts
        load_stack(template, parameters, stack_name=args.stack_name)
        admin_key, generated = self._admin_key(template)
        try:  # and on a taken port: bind first, serve once everything is up
            self.server = GatewayServer((args.host, args.port))
        except OSError as exc:
            raise StartError(f"cannot serve on {args.host}:{args.port}: {exc.strerror}") from exc

        dynamodb_url = self._start_dynamodb()
        self.spawner = Spawner()
        self.moto = MotoServer("127.0.0.1")  # only the runner and its workers talk to it
        self.moto.start()
        _say(f"moto server: {self.moto.url} (SQS, EventBridge and any other AWS API)")
        if dynamodb_url is None:
            dynamodb_url = self.moto.url

        stack = load_stack(template, parameters, queue_url_base=self.moto.url, stack_name=args.stack_name)
        for warning in stack.warnings:
            _say(f"warning: {warning}")
        resources = self._create_resources(stack, dynamodb_url, admin_key)
        signers = {access_key_of(function): function.policy for function in stack.functions.values()}
        self.s3 = S3Gateway(self.moto.url, stack.buckets, signers)
        self.s3.start()
        _say(f"S3 for browsers and functions: {self.s3.url} (moto, with S3's POST policy and CORS checks)")

        for function in stack.functions.values():
            if not function.code_dir.is_dir():
                _say(f"warning: {function.logical_id}: {function.code_dir} does not exist (yet)")
            limit = args.max_workers
            if function.reserved_concurrency is not None:
                limit = min(limit, function.reserved_concurrency)
            env = lambda_environment(function, self.moto.url, dynamodb_url, self.s3.url)
            self.pools[function.logical_id] = FunctionPool(function, env, self.spawner, limit)

        self.scheduler = Scheduler(stack.functions, self.pools, self.stop)
        gateway = Gateway(
            stack.api,
            stack.routes,
            self.pools,
            local_routes={
                ("POST", "/_local/schedules/run"): lambda: {"ran": self._scheduler().run_all()},
                ("GET", "/_local/traffic"): self._traffic,
            },
        )
        self.server.gateway = gateway
        reachable = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
        api_url = f"http://{reachable}:{self.server.server_address[1]}"

        self._start_pollers(stack, resources["queues"])
        self.scheduler.start()
        self.server.serve_in_thread()
        self._serving = True

        self._print_summary(stack, gateway, admin_key, generated)
        self._write_stack_file(stack, api_url, dynamodb_url, resources, admin_key)
        self.started = True
        _say(READY_LINE.format(url=api_url))

    def _traffic(self) -> dict[str, Any]:
        """Bytes so far: of each function's events and answers, and through the S3 gateway (benchmarks)."""
        gateway = self.server.gateway if self.server is not None else None
        return {
            "functionPayloadBytes": dict(gateway.payload_bytes) if gateway is not None else {},
            "s3BytesIn": self.s3.bytes_in if self.s3 is not None else 0,
            "s3BytesOut": self.s3.bytes_out if self.s3 is not None else 0,
        }

    def _scheduler(self) -> Scheduler:
        assert self.scheduler is not None
        return self.scheduler

    def _parameters(self) -> dict[str, str]:
        parameters = {}
        for item in self.args.parameter:
            name, sep, value = item.partition("=")
            if not sep:
                raise TemplateError(f"--parameter {item!r}: expected NAME=VALUE")
            parameters[name] = value
        return parameters

    def _admin_key(self, template: Path) -> tuple[str | None, bool]:
        """The admin key to put in SSM (None: the template names no parameter for it), and if it was made."""
        if ADMIN_KEY_PARAMETER not in (load_yaml(template).get("Parameters") or {}):
            return None, False
        key = os.environ.get(ADMIN_KEY_ENV)
        if key:
            return key, False
        return secrets.token_urlsafe(32), True

    def _start_dynamodb(self) -> str | None:
        """DynamoDB Local's URL, or None when moto serves DynamoDB (no Java, or asked to)."""
        args = self.args
        if args.dynamodb_url:
            _say(f"DynamoDB: {args.dynamodb_url} (already running; not started or stopped here)")
            return str(args.dynamodb_url)
        if args.moto_dynamodb:
            _say("DynamoDB: moto fallback (--moto-dynamodb); data is not kept between runs")
            return None
        java, jar = java_executable(), find_dynamodb_local_jar()
        if java is None or jar is None:
            missing = (
                "java is not on PATH"
                if java is None
                else "DynamoDB Local is not installed (npm ci in local/)"
            )
            _say(f"DynamoDB: moto fallback ({missing}); data is not kept between runs")
            return None
        data_dir = None
        if not args.in_memory:
            data_dir = Path(args.data_dir).resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
        self.dynamodb = DynamoDBLocal(jar, java, args.in_memory, data_dir, "127.0.0.1")
        try:
            self.dynamodb.start()
        except RuntimeError as exc:
            self.dynamodb = None
            _say(f"DynamoDB: moto fallback (DynamoDB Local failed to start: {exc})")
            return None
        where = "in memory" if args.in_memory else f"data in {data_dir}"
        _say(f"DynamoDB Local {jar.parent.name}: {self.dynamodb.url} ({where})")
        return self.dynamodb.url

    def _create_resources(self, stack: Stack, dynamodb_url: str, admin_key: str | None) -> dict[str, Any]:
        assert self.moto is not None
        if admin_key is not None:
            name = stack.parameters[ADMIN_KEY_PARAMETER]
            create_secure_strings({name: admin_key}, self.moto.url)
            _say(f"  SSM parameter {name} (SecureString, the admin key) created")
        for line in create_tables(stack.tables.values(), dynamodb_url):
            _say(f"  {line}")
        queue_urls = create_queues(stack.queues.values(), self.moto.url)
        for logical, url in queue_urls.items():
            if url != stack.queues[logical].url:
                _say(f"warning: moto named {logical} {url}, functions were given {stack.queues[logical].url}")
            _say(f"  queue {url} created")
        create_event_buses(stack, self.moto.url)
        for bus in stack.buses.values():
            _say(f"  event bus {bus.name} created")
        for name in create_buckets(stack.buckets.values(), self.moto.url):
            _say(f"  bucket {name} created")
        return {"queues": queue_urls}

    def _start_pollers(self, stack: Stack, queue_urls: dict[str, str]) -> None:
        assert self.moto is not None
        moto_url = self.moto.url
        from local import aws_calls

        call_log = aws_calls.start(aws_calls.RUNNER_LABEL)
        for function in stack.functions.values():
            for source in function.sqs:
                if not source.enabled:
                    continue
                poller = SqsPoller(
                    function,
                    source,
                    stack.queues[source.queue],
                    queue_urls[source.queue],
                    self.pools[function.logical_id],
                    lambda: aws_calls.attach_client(call_log, boto_client("sqs", moto_url)),
                    self.stop,
                )
                poller.start()
                self.pollers.append(poller)

    def _print_summary(self, stack: Stack, gateway: Gateway, admin_key: str | None, generated: bool) -> None:
        _say(f"functions ({len(stack.functions)}), {len(gateway.routes)} routes on stage {stack.api.stage}:")
        for function in stack.functions.values():
            parts = [f"{len(function.routes)} routes"]
            parts += [f"SQS {stack.queues[s.queue].name} (batch {s.batch_size})" for s in function.sqs]
            parts += [f"{s.kind} {s.expression}" for s in function.schedules]
            workers = self.pools[function.logical_id].max_workers
            _say(f"  {function.logical_id}: {', '.join(parts)}; up to {workers} workers")
        for poller in self.pollers:
            _say(f"  poller {poller.function.logical_id} <- {poller.queue.name} x{poller.concurrency}")
        for line in self._scheduler().describe():
            _say(f"  schedule {line}")
        _say("  POST /_local/schedules/run fires every scheduled function now")
        if admin_key is not None:
            origin = f"generated; set {ADMIN_KEY_ENV} to choose it" if generated else f"from ${ADMIN_KEY_ENV}"
            _say(f"admin key (X-Admin-Key): {admin_key} ({origin})")

    def _write_stack_file(
        self, stack: Stack, api_url: str, dynamodb_url: str, resources: dict[str, Any], admin_key: str | None
    ) -> None:
        assert self.moto is not None
        path = Path(self.args.stack_file).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        content = {
            "pid": os.getpid(),
            "api_url": api_url,
            "stage": stack.api.stage,
            "moto_url": self.moto.url,
            "s3_url": self.s3.url if self.s3 is not None else None,
            "buckets": {logical: bucket.name for logical, bucket in stack.buckets.items()},
            "dynamodb_url": dynamodb_url,
            "dynamodb": "moto" if self.moto and dynamodb_url == self.moto.url else "dynamodb-local",
            "region": REGION,
            "account_id": ACCOUNT_ID,
            "stack_name": stack.stack_name,
            "tables": {logical: table.name for logical, table in stack.tables.items()},
            "queues": resources["queues"],
            "buses": {logical: bus.name for logical, bus in stack.buses.items()},
            "functions": {
                logical: {"name": function.name, "routes": [f"{r.method} {r.path}" for r in function.routes]}
                for logical, function in stack.functions.items()
            },
            "admin_key": admin_key,
        }
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)  # readers never see half a file
        self.stack_file = path

    # ------------------------------------------------------------ stop

    def wait(self) -> None:
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not self.stop.wait(0.5):
            pass

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.stop.set()
        if self.server is not None:
            if self._serving:  # shutdown() waits for serve_forever, forever if it never ran
                self.server.shutdown()
            self.server.server_close()
        for pool in self.pools.values():
            pool.close()
        for poller in self.pollers:
            poller.join(3.0)
        if self.scheduler is not None:
            self.scheduler.join(1.0)
        if self.s3 is not None:
            self.s3.stop()
        if self.moto is not None:
            self.moto.stop()
        if self.dynamodb is not None:
            self.dynamodb.stop()
        if self.spawner is not None:
            self.spawner.stop()
        if self.stack_file is not None:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(self.stack_file.read_text()).get("pid") == os.getpid():
                    self.stack_file.unlink()  # stale endpoints would mislead tools

    def kill_now(self) -> None:
        """Second Ctrl-C: no more waiting, kill the children and go."""
        for pool in self.pools.values():
            for pid in pool.pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        if self.dynamodb is not None and self.dynamodb.process is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.dynamodb.process.pid, signal.SIGKILL)


class StartError(Exception):
    """The stack cannot start for a reason the user can fix (the message says which)."""


class _Interrupted(BaseException):
    """A stop signal arrived before the stack was up."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s local %(levelname)s %(message)s"
    )
    runner = Runner(args)
    signals_seen = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            print("second signal: killing the local stack's processes", file=sys.stderr, flush=True)
            runner.kill_now()
            os._exit(130)
        log.info("%s: stopping", signal.Signals(signum).name)
        runner.stop.set()
        if not runner.started:
            raise _Interrupted  # abort a start-up that may wait for Java for a while

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    code = 0
    try:
        runner.start()
        runner.wait()
    except _Interrupted:
        pass
    except TemplateError as exc:
        print(f"template error: {exc}", file=sys.stderr)
        code = 2
    except StartError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        code = 1
    except Exception:
        log.exception("the local stack failed")
        code = 1
    finally:
        runner.shutdown()
    if runner.started:
        _say("crowdtask local stack stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
