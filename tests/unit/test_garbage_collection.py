"""Collection is paused while an API function loads inside Lambda, and always resumed once it is loaded.

Each function of template.yaml is imported in a fresh interpreter with the environment Lambda gives
it (local/lambdas.py): a function left with the collector off would hold every cycle it ever made.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local.lambdas import lambda_environment
from local.template import load_stack
from tests.support.infra import ROOT

STACK = load_stack(ROOT / "template.yaml", {"AdminKey": "k" * 32})
NOWHERE = "http://127.0.0.1:9"  # nothing is called: the functions are only loaded


def _state_after(function_name: str, code: str) -> dict[str, object]:
    function = STACK.functions[function_name]
    paths = [str(function.code_dir), *map(str, function.layer_dirs)]
    script = f"import sys, gc, json\nsys.path[:0] = {paths!r}\n"
    script += "ran = []\ngc.callbacks.append(lambda phase, info: phase == 'start' and ran.append(1))\n"
    script += f"{code}\n"
    script += (
        "print(json.dumps({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(), 'ran': len(ran)}))"
    )
    env = lambda_environment(function, NOWHERE, NOWHERE)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    state: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return state


@pytest.mark.parametrize("name", sorted(STACK.functions), ids=str)
def test_every_function_collects_garbage_once_loaded(name):
    module = STACK.functions[name].handler.rsplit(".", 1)[0]
    state = _state_after(name, f"import {module}")
    assert state["enabled"] is True


def test_an_api_function_loads_with_collection_paused_and_freezes_what_it_loaded():
    paused = _state_after("TasksFunction", "import crowdtask.http")
    assert paused == {"enabled": False, "frozen": 0, "ran": 0}
    loaded = _state_after("TasksFunction", "import app")
    assert loaded["enabled"] is True
    assert isinstance(loaded["frozen"], int) and loaded["frozen"] > 10_000


def test_outside_lambda_nothing_is_paused():
    done = subprocess.run(
        [sys.executable, "-c", "import gc, crowdtask.http; print(gc.isenabled(), gc.get_freeze_count())"],
        env={"PYTHONPATH": str(ROOT / "layers/common/python")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["True", "0"]


API_FUNCTIONS = sorted(
    name for name, f in STACK.functions.items() if "entrypoint(" in (f.code_dir / "app.py").read_text()
)


@pytest.mark.parametrize("name", API_FUNCTIONS, ids=str)
def test_an_api_function_loads_the_http_edge_before_the_heavy_packages(name):
    """Its first import past the standard library is crowdtask.http (the isort section `edge` in
    pyproject.toml), so the pause covers Powertools, pydantic and boto3: with Powertools first, 80
    collections over a growing heap ran before it (~8 ms of a cold start)."""
    assert len(API_FUNCTIONS) >= 15
    function = STACK.functions[name]
    paths = [str(function.code_dir), *map(str, function.layer_dirs)]
    script = f"import sys, json\nsys.path[:0] = {paths!r}\nimport app\nprint(json.dumps(list(sys.modules)))"
    env = lambda_environment(function, NOWHERE, NOWHERE)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    order: list[str] = json.loads(done.stdout.splitlines()[-1])  # sys.modules keeps the order of imports
    edge = order.index("crowdtask.http")
    for heavy in ("aws_lambda_powertools", "pydantic", "boto3", "botocore"):
        assert heavy in order and order.index(heavy) > edge, f"{heavy} loads before the pause"
