"""Rules of free-form objects, stated by the document as the API holds them."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import TypeAdapter, ValidationError

from crowdtask.models.components import HttpUrlText, estimate_sizes
from crowdtask.models.jobs import JobIn
from crowdtask.models.tasks import TaskIn
from tests.support.infra import ROOT

DOCUMENT = json.loads((ROOT / "layers/common/python/crowdtask/openapi.json").read_text())


def test_free_form_objects_have_no_empty_key_at_any_depth_in_the_document():
    free = DOCUMENT["components"]["schemas"]["FreeValue"]
    objects = [branch for branch in free["anyOf"] if branch.get("type") == "object"]
    arrays = [branch for branch in free["anyOf"] if branch.get("type") == "array"]
    assert objects == [
        {
            "type": "object",
            "propertyNames": {"minLength": 1},
            "additionalProperties": {"$ref": "#/components/schemas/FreeValue"},
        }
    ]
    assert arrays == [{"type": "array", "items": {"$ref": "#/components/schemas/FreeValue"}}]


@pytest.mark.parametrize("properties", [{"": 1}, {"a": {"b": [{"": None}]}}])
def test_an_empty_key_at_any_depth_is_refused(properties):
    with pytest.raises(ValidationError):
        JobIn.model_validate({"name": "j", "properties": properties})
    assert JobIn.model_validate({"name": "j", "properties": {"a": {"b": [{"c": 1.5, "d": [True, "x"]}]}}})


def test_component_bounds_and_urls_are_stated_as_checked():
    recording = DOCUMENT["components"]["schemas"]["AudioRecordingComponent"]["properties"]
    assert {"type": "number", "minimum": 0, "maximum": 86400} in recording["maxDurationInSeconds"]["anyOf"]
    image = DOCUMENT["components"]["schemas"]["ImageComponent"]["properties"]["url"]
    pattern = (
        image["pattern"]
        if "pattern" in image
        else next(b["pattern"] for b in image["anyOf"] if "pattern" in b)
    )
    for url in [
        "https://example.com/a.png",
        "HTTP://h:8080/x?y#z",
        "javascript:alert(1)",
        "https://a b",
        "ftp://x",
    ]:
        allowed = bool(re.fullmatch(pattern, url))
        try:
            TypeAdapter(HttpUrlText).validate_python(url)
            taken = True
        except ValidationError:
            taken = False
        assert taken == allowed, url
    assert not re.fullmatch(pattern, "java\tscript://x")


@pytest.mark.parametrize("component", ["AudioRecording", "VideoRecording"])
def test_a_recording_longer_than_a_day_is_refused_not_an_overflow(component):
    """A duration near the largest float made the size estimate infinite (a 500); a day is the limit."""
    schema = DOCUMENT["components"]["schemas"][f"{component}Component"]["properties"]["maxDurationInSeconds"]
    assert {"type": "number", "minimum": 0, "maximum": 86400} in schema["anyOf"]
    for seconds in (86_401, 1.7e308):
        with pytest.raises(ValidationError):
            TaskIn.model_validate(
                {"name": "t", "components": [{"type": component, "maxDurationInSeconds": seconds}]}
            )
    task = TaskIn.model_validate(
        {"name": "t", "components": [{"type": component, "maxDurationInSeconds": 86_400}]}
    )
    assert estimate_sizes(task.components)[1] > 0
