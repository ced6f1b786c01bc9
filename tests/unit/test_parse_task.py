"""parse_task takes and refuses exactly what TaskIn does, and builds one component model per tag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from crowdtask.errors import ValidationFailed
from crowdtask.models.tasks import TaskIn, parse_task
from tests.support.infra import ROOT
from tests.support.samples import every_component


def _sample_tasks() -> list[Any]:
    """Every task body of the sample events (one task, arrays, campaigns' task templates)."""
    found = []
    for path in sorted((ROOT / "events").glob("*.json")):
        body = json.loads(path.read_text()).get("body")
        try:
            body = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            continue
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict) and ("components" in item or "task" in item):
                found.append(item)
            if isinstance(item, dict) and isinstance(item.get("taskTemplate"), dict):
                found.append(item["taskTemplate"])
    return found


MEDIA = {name: f"https://media.example.com/{name}" for name in ("cat.png", "dog.png", "purr.wav")}
SAMPLES = [*_sample_tasks(), every_component(MEDIA, "all sixteen")]


def _outcome(parse: Any, body: Any) -> tuple[str, Any]:
    try:
        return "taken", parse(body).model_dump(mode="json")
    except ValidationError as exc:
        return "refused", [(e["loc"], e["type"], e["msg"]) for e in exc.errors()]
    except ValidationFailed as exc:
        return "refused", exc.errors


def _alike(body: Any) -> None:
    assert _outcome(parse_task, body) == _outcome(TaskIn.model_validate, body)


def test_the_sample_events_hold_tasks_of_many_components():
    tags = {c.get("type") for task in SAMPLES for c in task.get("components", []) if isinstance(c, dict)}
    assert len(SAMPLES) >= 5 and len(tags) >= 13, (len(SAMPLES), tags)


@pytest.mark.parametrize("body", SAMPLES)
def test_every_sample_task_is_parsed_alike(body):
    _alike(body)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    st.fixed_dictionaries(
        {"name": st.just("x")},
        optional={
            "components": st.lists(
                st.dictionaries(
                    st.sampled_from(["type", "text", "url", "steps", "min", "max", "label", "options"]),
                    st.one_of(st.sampled_from(["Text", "Image", "Rating", "Nope"]), st.integers(), st.text()),
                ),
                max_size=3,
            ),
            "components_attributes": st.lists(
                st.dictionaries(
                    st.sampled_from(["component_type", "name", "label", "required"]),
                    st.one_of(st.sampled_from(["text_area", "media", "x"]), st.booleans(), st.text()),
                ),
                max_size=3,
            ),
        },
    )
)
def test_a_task_with_odd_components_is_refused_alike(body):
    _alike(body)


@pytest.mark.parametrize(
    "body",
    [
        {
            "name": "x",
            "components": [{"type": "Text", "text": "hi"}, {"type": "Image", "url": "https://e.x/1.png"}],
        },
        {"name": "x", "components": [{"type": "Rating", "steps": "five"}, {"type": "Nope"}]},
        {"task": {"name": "x", "components_attributes": [{"component_type": "text_area", "name": "n"}] * 2}},
        {
            "name": "x",
            "components": [{"type": "TextInput"}],
            "knownSolutions": [{"components": [{"result": 5}]}],
        },
    ],
)
def test_named_cases_are_parsed_alike(body):
    _alike(body)


def test_stored_tasks_are_written_without_building_the_catalogues_validator():
    """A bulk message's content defaults and a parsed task: TaskIn's own validator (every component
    model) is still unbuilt after both, in a fresh interpreter."""
    script = (
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT / 'layers' / 'common' / 'python')!r}]\n"
        "from crowdtask.models.tasks import TaskIn, parse_task\n"
        "from crowdtask.services import bulk_chunks\n"
        "task = parse_task({'name': 't', 'components': [{'type': 'Image', 'url': 'https://e.x/1.png'}]})\n"
        "assert bulk_chunks.compact({'name': 't', 'overlap': 1}) == {'name': 't', 'overlap': 1}\n"
        "print(TaskIn.__pydantic_complete__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False"]
