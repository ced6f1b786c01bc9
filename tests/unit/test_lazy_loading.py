"""Cold start: services load with the first route that uses them; answer-only models only for the document."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crowdtask import config, lazy
from crowdtask.http import schemas
from tests.support.infra import ROOT


def test_a_lazy_module_imports_on_first_use():
    module = lazy.load("json")
    assert "lazy module json" in repr(module)
    assert module.dumps([1]) == "[1]"


def test_answer_models_are_named_and_only_imported_to_write_the_document(monkeypatch):
    monkeypatch.delenv(config.DOCUMENTING, raising=False)
    assert "content" not in schemas.responses("tasks:TaskPage", "a page")[200]
    monkeypatch.setenv(config.DOCUMENTING, "1")
    from crowdtask.models.tasks import TaskPage

    assert (
        schemas.responses("tasks:TaskPage", "a page")[200]["content"]["application/json"]["model"] is TaskPage
    )


def test_a_model_reference_must_name_module_and_class():
    from crowdtask.models.jobs import JobTaskIds

    assert schemas.resolve("jobs:JobTaskIds") is JobTaskIds
    for bad in ("jobs", "jobs:"):
        with pytest.raises(ValueError, match="<models module>:Class"):
            schemas.resolve(bad)


# What a function may import at load: the shared pieces every route uses. Services and models
# (the task catalogue above all) load with the first route that needs them.
SHARED = ["crowdtask.models.base", "crowdtask.models.listing", "crowdtask.services.lifecycle"]


@pytest.mark.parametrize(
    "function", sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py")), ids=str
)
def test_loading_a_function_imports_no_service_and_no_model_of_its_own(function):
    code = (
        f"import sys; sys.path[:0] = ['layers/common/python', 'functions/{function}']; import app; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('crowdtask.services.', "
        "'crowdtask.models.')))))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert set(done.stdout.split()) <= set(SHARED)
