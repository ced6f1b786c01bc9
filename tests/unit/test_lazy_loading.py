"""Cold start: services load with the first route that uses them; answer-only models only for the document."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crowdtask import lazy
from crowdtask.http import schemas
from tests.support.infra import ROOT


def test_a_lazy_module_is_imported_at_its_first_attribute_not_before(tmp_path, monkeypatch):
    # Given a module nothing has imported yet (json, say, is imported by everything already)
    (tmp_path / "lazy_probe.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_probe", raising=False)
    # When it is loaded lazily, it is not imported
    module = lazy.load("lazy_probe")
    assert "lazy_probe" not in sys.modules
    assert repr(module) == "<lazy module lazy_probe>"
    # Then its first attribute imports it, once
    assert module.VALUE == 42
    assert sys.modules["lazy_probe"].VALUE == 42
    sys.modules["lazy_probe"].VALUE = 43
    assert module.VALUE == 43  # the same module object, not imported again
    # And a name that is no module fails at its first use, not at load
    missing = lazy.load("no_such_module_for_lazy_probe")
    with pytest.raises(ModuleNotFoundError):
        getattr(missing, "anything")  # noqa: B009


def _models_imported_after(code: str, **env: str) -> set[str]:
    """The crowdtask.models modules a fresh interpreter holds after running `code` (with `env` only)."""
    probe = (
        f"import sys; {code}; print(' '.join(m for m in sys.modules if m.startswith('crowdtask.models.')))"
    )
    inherited = {k: v for k, v in os.environ.items() if k != schemas.DOCUMENTING}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**inherited, "PYTHONPATH": str(ROOT / "layers" / "common" / "python"), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.split())


def test_answer_models_are_named_and_only_imported_to_write_the_document(monkeypatch):
    monkeypatch.delenv(schemas.DOCUMENTING, raising=False)
    assert "content" not in schemas.responses("tasks:TaskPage", "a page")[200]
    monkeypatch.setenv(schemas.DOCUMENTING, "1")
    from crowdtask.models.tasks import TaskPage

    assert (
        schemas.responses("tasks:TaskPage", "a page")[200]["content"]["application/json"]["model"] is TaskPage
    )
    # in a fresh interpreter: naming the model imports nothing, unless the document is being written
    name = "from crowdtask.http import schemas; schemas.responses('tasks:TaskPage', 'a page')"
    assert "crowdtask.models.tasks" not in _models_imported_after(name)
    assert "crowdtask.models.tasks" in _models_imported_after(name, **{schemas.DOCUMENTING: "1"})


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
