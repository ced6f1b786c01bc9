"""Each function loads the flows it serves and no other: what a cold start imports is what it pays.

Every function of template.yaml is imported in a fresh interpreter with the environment Lambda gives
it (local/lambdas.py); the coordinator's modules it then holds are those its routes call at once.
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
FLOWS = "crowdtask.services.flows."
# The flows each function imports with its code; every other function imports none. The task
# functions (POST /tasks, the bulk API) load the upload flow with the first upload that takes it.
LOADED = {
    "CampaignsFunction": {"publishing"},
    "MarketFunction": {"publishing", "reviewing"},
    "ResultsFunction": {"publishing", "reviewing"},
    "BulkWorkerFunction": {"publishing", "storing", "uploading"},
    "BulkDeadLetterFunction": {"publishing", "storing", "uploading"},
    "CampaignSchedulerFunction": {"publishing", "reviewing", "sweeping"},
    "MarketSchedulerFunction": {"publishing", "reviewing", "sweeping"},
}


def _flows_loaded(function_name: str) -> set[str]:
    function = STACK.functions[function_name]
    paths = [str(function.code_dir), *map(str, function.layer_dirs)]
    module = function.handler.rsplit(".", 1)[0]
    script = (
        f"import sys, json\nsys.path[:0] = {paths!r}\nimport {module}\nprint(json.dumps(sorted(sys.modules)))"
    )
    env = lambda_environment(function, NOWHERE, NOWHERE)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return {name.removeprefix(FLOWS) for name in modules if name.startswith(FLOWS)}


def test_every_function_named_here_is_in_the_template():
    assert set(LOADED) <= set(STACK.functions)


@pytest.mark.parametrize("name", sorted(STACK.functions), ids=str)
def test_a_function_loads_only_the_flows_it_serves(name):
    assert _flows_loaded(name) == LOADED.get(name, set())
