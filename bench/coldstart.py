"""Cold-start import cost: each function's module in a fresh interpreter, against `import boto3`."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers/common/python"
RUNS = 9

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


def _median_import_ms(module: str, paths: list[str], env: dict[str, str], cwd: Path) -> float:
    script = _PROBE.format(paths=paths, module=module)
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return round(statistics.median(samples), 1)


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
    boto3_ms = _median_import_ms("boto3", [], base_env, ROOT)
    # What every API function imports before any code of ours: the event handler with OpenAPI validation.
    floor_ms = _median_import_ms("aws_lambda_powertools.event_handler.openapi.params", [], base_env, ROOT)
    functions: dict[str, Any] = {}
    for name, resource in sorted(tpl["Resources"].items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        code = ROOT / props["CodeUri"]
        module = props["Handler"].rsplit(".", 1)[0]
        env = {**base_env, **_function_env(tpl, props)}
        import_ms = _median_import_ms(module, [str(code), str(LAYER)], env, code)
        functions[name] = {
            "coldstart_import_ms": import_ms,
            "boto3_import_ms": boto3_ms,
            "ratio_to_boto3": round(import_ms / boto3_ms, 2),
        }
    return {
        "runs_per_figure": RUNS,
        "boto3_import_ms": boto3_ms,
        "powertools_event_handler_import_ms": floor_ms,
        "powertools_event_handler_ratio_to_boto3": round(floor_ms / boto3_ms, 2),
        "goal_max_ratio": 1.3,
        "functions": functions,
    }
