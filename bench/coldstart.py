"""Cold-start import cost: each function's module in a fresh interpreter, against `import boto3`."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers/common/python"
RUNS = 21

_PROBE = """
import sys, time
sys.path[:0] = {paths!r}
start = time.perf_counter()
import {module}
print((time.perf_counter() - start) * 1000)
"""


def _function_env(template: dict[str, Any], props: dict[str, Any]) -> dict[str, str]:
    """The function's environment variables from the template (intrinsics replaced by placeholders)."""
    merged: dict[str, Any] = {}
    merged.update(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    merged.update(props.get("Environment", {}).get("Variables", {}))
    return {k: v if isinstance(v, str) else f"placeholder-{k.lower()}" for k, v in merged.items()}


@dataclass(frozen=True)
class _Probe:
    module: str
    paths: list[str]
    env: dict[str, str]
    cwd: Path

    def sample_ms(self) -> float:
        script = _PROBE.format(paths=self.paths, module=self.module)
        command = [sys.executable, "-c", script]
        out = subprocess.run(command, env=self.env, cwd=self.cwd, capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])


def _median_ms(probes: dict[str, _Probe]) -> dict[str, float]:
    """Each round imports every probe once, in a shuffled order, so the machine's drift (figures here
    move 20-60% over a minute) reaches boto3 and the functions alike; then the median per probe."""
    samples: dict[str, list[float]] = {name: [] for name in probes}
    order = random.Random(RUNS)  # the same orders every run
    for _ in range(RUNS):
        names = list(probes)
        order.shuffle(names)
        for name in names:
            samples[name].append(probes[name].sample_ms())
    return {name: round(statistics.median(values), 1) for name, values in samples.items()}


def measure() -> dict[str, Any]:
    from tests.support.infra import template

    tpl = template()
    base_env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "",
        # what Lambda sets: the runtime root, so Powertools behaves as deployed
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "coldstart-probe",
    }
    probes = {
        "boto3": _Probe("boto3", [], base_env, ROOT),
        # What every API function imports before any code of ours: the event handler with OpenAPI validation.
        "floor": _Probe("aws_lambda_powertools.event_handler.openapi.params", [], base_env, ROOT),
    }
    for name, resource in sorted(tpl["Resources"].items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        code = ROOT / props["CodeUri"]
        module = props["Handler"].rsplit(".", 1)[0]
        env = {**base_env, **_function_env(tpl, props)}
        probes[name] = _Probe(module, [str(code), str(LAYER)], env, code)
    medians = _median_ms(probes)
    boto3_ms, floor_ms = medians.pop("boto3"), medians.pop("floor")
    functions = {
        name: {
            "coldstart_import_ms": import_ms,
            "boto3_import_ms": boto3_ms,
            "ratio_to_boto3": round(import_ms / boto3_ms, 2),
        }
        for name, import_ms in medians.items()
    }
    return {
        "runs_per_figure": RUNS,
        "boto3_import_ms": boto3_ms,
        "powertools_event_handler_import_ms": floor_ms,
        "powertools_event_handler_ratio_to_boto3": round(floor_ms / boto3_ms, 2),
        "goal_max_ratio": 1.3,
        "functions": functions,
    }
