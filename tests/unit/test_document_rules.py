"""Rules of free-form objects, stated by the document as the API holds them."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from crowdtask.models.jobs import JobIn
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
