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
    script = f"import sys, gc, json\nsys.path[:0] = {paths!r}\n{code}\n"
    script += "print(json.dumps({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count()}))"
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
    assert paused == {"enabled": False, "frozen": 0}
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
