"""The component catalogue: definitions, results, sizes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from crowdtask.errors import ValidationFailed
from crowdtask.models import components
from crowdtask.models.base import ApiModel
from crowdtask.models.components import (
    CATALOGUE,
    COMPONENT_TAGS,
    INTERACTIVE_TYPES,
    SIZE_ESTIMATES,
    ComponentSpec,
    SwarmsComponent,
    TaskJsonComponent,
    component_model,
    estimate_sizes,
    format_size,
    validate_result,
    validate_results,
)

KB, MB = 1024, 1024 * 1024
WHERE = "taskResults[0].components[1].result"
COMMON = {
    "sticky": True,
    "optionalResult": True,
    "landscape": True,
    "properties": {"key": "key", "value": "v"},
}

MINIMAL: dict[str, dict[str, Any]] = {
    **{tag: {"type": tag} for tag in CATALOGUE if tag[0].isupper()},
    "media": {"component_type": "media", "name": "interview"},
    "tags_collection": {"component_type": "tags_collection", "name": "tags"},
    "text_area": {"component_type": "text_area", "name": "my_feelings"},
}
FULL: dict[str, dict[str, Any]] = {
    "AudioRecording": {
        "type": "AudioRecording",
        **COMMON,
        "minDurationInSeconds": 1,
        "maxDurationInSeconds": 10,
    },
    "BinaryChoice": {"type": "BinaryChoice", **COMMON, "option1": "Yes", "option2": "No"},
    "BinaryImageChoice": {
        "type": "BinaryImageChoice",
        **COMMON,
        "option1": {"id": "a", "url": "https://x.test/a.jpg", "label": "A"},
        "option2": {"id": "b", "url": "https://x.test/b.jpg", "label": "B"},
    },
    "ImageMarker": {"type": "ImageMarker", **COMMON, "url": "https://x.test/i.jpg"},
    "Rating": {"type": "Rating", **COMMON, "steps": 5, "halfSteps": True},
    "Stepper": {"type": "Stepper", **COMMON, "min": 0, "max": 10, "step": 0.5, "start": 2},
    "TextInput": {"type": "TextInput", **COMMON, "hint": "Your name"},
    "Toggle": {"type": "Toggle", **COMMON, "label": "Ok?", "checkedByDefault": True, "explanation": "Why"},
    "VideoRecording": {
        "type": "VideoRecording",
        **COMMON,
        "orientation": "portrait",
        "minDurationInSeconds": 0,
        "maxDurationInSeconds": 20,
    },
    "Audio": {
        "type": "Audio",
        **COMMON,
        "url": "https://x.test/a.aac",
        "autoplay": True,
        "repeat": False,
        "mustListen": True,
    },
    "Image": {"type": "Image", **COMMON, "url": "https://x.test/i.png"},
    "Text": {"type": "Text", **COMMON, "text": "Hello", "style": "Question"},
    "Video": {
        "type": "Video",
        **COMMON,
        "url": "https://x.test/v.mp4",
        "autoplay": True,
        "repeat": True,
        "mustWatch": False,
        "playAudio": True,
    },
    "media": {
        "component_type": "media",
        "label": "Take a picture",
        "name": "interview",
        "required": "yes",
        "extra": {"instructions": "", "max_length": 120},
    },
    "tags_collection": {
        "component_type": "tags_collection",
        "label": "Select tags",
        "name": "tags",
        "required": "yes",
        "extra": {
            "instructions": "",
            "values": [{"value": 1, "text": "Wow"}, {"value": 2, "text": "Glitch"}],
        },
    },
    "text_area": {
        "component_type": "text_area",
        "label": "Tell us how you are feeling?",
        "name": "my_feelings",
        "required": "no",
        "extra": {"instructions": "", "character_limit": 140},
    },
}


class SwarmsTask(ApiModel):
    components: list[SwarmsComponent]


class JsonTask(ApiModel):
    components: list[TaskJsonComponent]


def parse(data: dict[str, Any]) -> Any:
    task = JsonTask if "component_type" in data else SwarmsTask
    return task.model_validate({"components": [data]}).components[0]


def errors_of(data: dict[str, Any]) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        parse(data)
    return caught.value.errors()


def failures(component: dict[str, Any], result: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        validate_result(parse(component), result, WHERE)
    return caught.value.errors


# --- definitions ------------------------------------------------------------------------------------------


def test_the_catalogue_covers_every_component_of_both_documents() -> None:
    # Given the catalogue, when its tags are listed, then they are every component of both documents
    assert set(FULL) == set(MINIMAL) == COMPONENT_TAGS == set(CATALOGUE)
    assert COMPONENT_TAGS - {"Audio", "Image", "Text", "Video"} == INTERACTIVE_TYPES
    for tag, spec in CATALOGUE.items():
        assert isinstance(spec, ComponentSpec) and spec.tag == tag and spec.description
        assert spec.interactive == (spec.result_model is not None) == (tag in INTERACTIVE_TYPES)


def test_every_field_is_described() -> None:
    # Given every model reachable from the catalogue, then each field has a description
    schema = TypeAdapter(list[SwarmsComponent | TaskJsonComponent]).json_schema()
    results = [spec.result_model.model_json_schema() for spec in CATALOGUE.values() if spec.result_model]
    defs = {**schema["$defs"], **{s["title"]: s for s in results}}
    for name, definition in defs.items():
        for field, prop in definition.get("properties", {}).items():  # FreeValue: a type, no fields
            assert prop.get("description"), f"{name}.{field}"


def test_openapi_shows_each_component_under_its_discriminator() -> None:
    schema = TypeAdapter(list[SwarmsComponent]).json_schema()
    mapping = schema["items"]["discriminator"]["mapping"]
    assert set(mapping) == {tag for tag in COMPONENT_TAGS if tag[0].isupper()}
    assert schema["items"]["discriminator"]["propertyName"] == "type"


@pytest.mark.parametrize("tag", sorted(COMPONENT_TAGS))
def test_minimal_and_full_examples_validate(tag: str) -> None:
    # Given a minimal and a full definition, when parsed, then both give the catalogue model
    minimal, full = parse(MINIMAL[tag]), parse(FULL[tag])
    assert type(minimal) is type(full) is CATALOGUE[tag].model
    # and the full one round-trips unchanged
    assert full.model_dump(exclude_none=True) == FULL[tag]


def test_swarms_defaults() -> None:
    component = parse({"type": "Rating"})
    assert (component.sticky, component.optionalResult, component.landscape, component.properties) == (
        False,
        False,
        False,
        None,
    )
    assert next(iter(component.model_dump())) == "type"


def test_the_seed_binary_choice_validates() -> None:
    # Given the example a client sends with no options, then it validates as is
    seed = {
        "type": "BinaryChoice",
        "sticky": False,
        "optionalResult": False,
        "landscape": True,
        "properties": {"key": "key", "value": "value"},
    }
    component = parse(seed)
    assert component.landscape is True and component.option1 is None
    assert component.model_dump(exclude_none=True) == seed


@pytest.mark.parametrize(
    ("data", "kind", "loc"),
    [
        ({"type": "Slider"}, "union_tag_invalid", ("components", 0)),
        ({"sticky": True}, "union_tag_not_found", ("components", 0)),
        ({"type": "BinaryChoice", "option1": 1}, "string_type", ("components", 0, "BinaryChoice", "option1")),
        ({"component_type": "survey", "name": "x"}, "union_tag_invalid", ("components", 0)),
        ({"component_type": "media"}, "missing", ("components", 0, "media", "name")),
    ],
)
def test_tagged_union_errors_carry_the_tag_path(
    data: dict[str, Any], kind: str, loc: tuple[Any, ...]
) -> None:
    # Given a bad component, when parsed, then pydantic names it by position and tag
    (error,) = errors_of(data)
    assert (error["type"], error["loc"]) == (kind, loc)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "BinaryChoice", "option2": ["No"]}, "option2"),
        ({"type": "BinaryChoice", "sticky": "false"}, "sticky"),
        ({"type": "Image", "optionalResult": 0}, "optionalResult"),
        ({"type": "Image", "properties": ["key", "value"]}, "properties"),
        ({"type": "Toggle", "checkedByDefault": "true"}, "checkedByDefault"),
        ({"type": "Rating", "steps": True}, "steps"),
        ({"type": "Rating", "steps": "5"}, "steps"),
        ({"type": "Rating", "steps": 2.5}, "steps"),
        ({"type": "Stepper", "min": "1"}, "min"),
        ({"type": "Stepper", "max": False}, "max"),
        ({"type": "AudioRecording", "maxDurationInSeconds": float("inf")}, "maxDurationInSeconds"),
        ({"type": "Audio", "autoplay": 1}, "autoplay"),
        ({"type": "Text", "style": "Bold"}, "style"),
        ({"type": "VideoRecording", "orientation": "sideways"}, "orientation"),
        ({"type": "BinaryImageChoice", "option1": "a"}, "option1"),
        ({"type": "BinaryImageChoice", "option1": {"id": 1}}, "option1.id"),
        (
            {"component_type": "text_area", "name": "t", "extra": {"character_limit": "140"}},
            "extra.character_limit",
        ),
        ({"component_type": "media", "name": "m", "required": "maybe"}, "required"),
        ({"component_type": "media", "name": 7}, "name"),
        (
            {
                "component_type": "tags_collection",
                "name": "t",
                "extra": {"values": [{"value": 1, "text": 2}]},
            },
            "extra",
        ),
    ],
)
def test_a_wrong_attribute_type_is_refused(data: dict[str, Any], field: str) -> None:
    errors = errors_of(data)
    assert any(".".join(map(str, e["loc"][3:])).startswith(field) for e in errors), errors


@pytest.mark.parametrize(
    "data",
    [
        {"type": "BinaryChoice", "option3": "Maybe"},
        {"type": "BinaryChoice", "optional_result": True},
        {"type": "BinaryImageChoice", "option1": {"id": "a", "colour": "red"}},
        {"component_type": "media", "name": "m", "extra": {"max_seconds": 3}},
        {"component_type": "media", "name": "m", "hint": "x"},
    ],
)
def test_an_unknown_attribute_is_refused(data: dict[str, Any]) -> None:
    assert [e["type"] for e in errors_of(data)] == ["extra_forbidden"]


@pytest.mark.parametrize(
    ("data", "field", "kind"),
    [
        ({"type": "Stepper", "min": 5, "max": 1}, "max", "greater_than_equal"),
        ({"type": "Stepper", "min": 0, "max": 10, "start": 11}, "start", "less_than_equal"),
        ({"type": "Stepper", "min": 0, "start": -1}, "start", "greater_than_equal"),
        ({"type": "Stepper", "step": 0}, "step", "greater_than"),
        (
            {"type": "AudioRecording", "minDurationInSeconds": -1},
            "minDurationInSeconds",
            "greater_than_equal",
        ),
        (
            {"type": "VideoRecording", "minDurationInSeconds": 10, "maxDurationInSeconds": 5},
            "maxDurationInSeconds",
            "greater_than_equal",
        ),
        ({"type": "Rating", "steps": 0}, "steps", "greater_than_equal"),
        (
            {"component_type": "text_area", "name": "t", "extra": {"character_limit": 0}},
            "extra",
            "greater_than_equal",
        ),
        ({"component_type": "media", "name": "m", "extra": {"max_length": 0}}, "extra", "greater_than"),
        ({"component_type": "media", "name": ""}, "name", "string_too_short"),
        (
            {
                "component_type": "tags_collection",
                "name": "t",
                "extra": {"values": [{"value": 1, "text": "a"}] * 2},
            },
            "extra",
            "duplicate_value",
        ),
    ],
)
def test_inconsistent_definitions_are_refused(data: dict[str, Any], field: str, kind: str) -> None:
    (error,) = errors_of(data)
    assert error["loc"][3] == field and error["type"] == kind


def test_a_stepper_bounds_message_names_the_other_attribute() -> None:
    (error,) = errors_of({"type": "Stepper", "min": 5, "max": 1})
    assert error["msg"] == "Input should be greater than or equal to min (5.0)"


@pytest.mark.parametrize(("sent", "stored"), [("yes", "yes"), ("no", "no"), (True, "yes"), (False, "no")])
def test_required_is_normalised_to_yes_or_no(sent: Any, stored: str) -> None:
    assert parse({"component_type": "media", "name": "m", "required": sent}).required == stored


def test_required_defaults_to_yes() -> None:
    assert parse(MINIMAL["text_area"]).required == "yes"


def test_stored_components_with_decimal_numbers_validate() -> None:
    # Given a component read back from DynamoDB, whose numbers are Decimal, then it still validates
    stepper = parse({"type": "Stepper", "min": Decimal(0), "max": Decimal("2.5"), "step": Decimal("0.5")})
    assert (stepper.min, stepper.max, stepper.step) == (0.0, 2.5, 0.5)
    tags = parse(
        {
            "component_type": "tags_collection",
            "name": "t",
            "extra": {"values": [{"value": Decimal(1), "text": "a"}]},
        }
    )
    assert tags.extra.values[0].value == 1


# --- results ----------------------------------------------------------------------------------------------

TAGS = FULL["tags_collection"]
OPTIONAL_TAGS = {**TAGS, "required": "no"}


@pytest.mark.parametrize(
    ("component", "result", "normalised"),
    [
        (MINIMAL["AudioRecording"], {"url": "https://s3.test/a.aac"}, None),
        (FULL["BinaryChoice"], {"selectedOption": "No"}, None),
        (MINIMAL["BinaryChoice"], {"selectedOption": "Anything"}, None),
        ({"type": "BinaryChoice", "option1": "Yes"}, {"selectedOption": "Other"}, None),
        (FULL["BinaryImageChoice"], {"selectedOption": "b"}, None),
        (MINIMAL["BinaryImageChoice"], {"selectedOption": "z"}, None),
        (MINIMAL["ImageMarker"], {"url": "http://s3.test/d.png"}, None),
        (MINIMAL["Rating"], {"rating": 3}, {"rating": 3.0}),
        (MINIMAL["Rating"], {"rating": 1}, {"rating": 1.0}),
        (FULL["Rating"], {"rating": 4.5}, None),
        (FULL["Rating"], {"rating": 5}, {"rating": 5.0}),
        (FULL["Stepper"], {"result": 9.5}, None),
        (FULL["Stepper"], {"result": 0}, {"result": 0.0}),
        ({"type": "Stepper", "step": 0.1}, {"result": 0.3}, None),
        ({"type": "Stepper", "start": 1, "step": 2}, {"result": -3}, {"result": -3.0}),
        (MINIMAL["Stepper"], {"result": -7.25}, None),
        (MINIMAL["TextInput"], {"text": ""}, None),
        (MINIMAL["Toggle"], {"checked": False}, None),
        (MINIMAL["VideoRecording"], {"url": "https://s3.test/v.mp4"}, None),
        (FULL["media"], {"url": "https://s3.test/photo.jpg"}, None),
        (TAGS, {"values": [2, 1]}, None),
        (OPTIONAL_TAGS, {"values": []}, None),
        (MINIMAL["tags_collection"], {"values": ["free", 3]}, None),
        (FULL["text_area"], {"text": "x" * 140}, None),
        (MINIMAL["text_area"], {"text": "x" * 10_000}, None),
    ],
)
def test_a_valid_result_is_returned_normalised(
    component: dict[str, Any], result: dict[str, Any], normalised: dict[str, Any] | None
) -> None:
    # Given a component and a valid result, when checked, then the normalised result comes back
    assert validate_result(parse(component), result, WHERE) == (normalised or result)


@pytest.mark.parametrize(
    ("component", "result", "field", "code"),
    [
        (MINIMAL["AudioRecording"], {"url": "ftp://s3.test/a.aac"}, ".url", "INVALID_VALUE"),
        (MINIMAL["AudioRecording"], {"url": "/a.aac"}, ".url", "INVALID_VALUE"),
        (MINIMAL["AudioRecording"], {"url": "https://s3.test/" + "a" * 2048}, ".url", "TOO_LONG"),
        (MINIMAL["AudioRecording"], {}, ".url", "VALUE_REQUIRED"),
        (FULL["BinaryChoice"], {"selectedOption": "Maybe"}, ".selectedOption", "NOT_AN_OPTION"),
        (FULL["BinaryChoice"], {"selectedOption": 1}, ".selectedOption", "INVALID_VALUE"),
        (FULL["BinaryChoice"], {"selectedOption": "Yes", "extra": 1}, ".extra", "UNKNOWN_FIELD"),
        (FULL["BinaryChoice"], "Yes", "", "INVALID_VALUE"),
        (FULL["BinaryImageChoice"], {"selectedOption": "A"}, ".selectedOption", "NOT_AN_OPTION"),
        (MINIMAL["ImageMarker"], {"url": "https:///nohost.png"}, ".url", "INVALID_VALUE"),
        (MINIMAL["ImageMarker"], {"url": "https://s3.test/a b.png"}, ".url", "INVALID_VALUE"),
        (MINIMAL["Rating"], {"rating": 0}, ".rating", "OUT_OF_RANGE"),
        (FULL["Rating"], {"rating": 0.5}, ".rating", "OUT_OF_RANGE"),
        (FULL["Rating"], {"rating": 5.5}, ".rating", "OUT_OF_RANGE"),
        (MINIMAL["Rating"], {"rating": 2.5}, ".rating", "INVALID_VALUE"),
        (FULL["Rating"], {"rating": 2.25}, ".rating", "INVALID_VALUE"),
        (MINIMAL["Rating"], {"rating": "3"}, ".rating", "INVALID_VALUE"),
        (FULL["Stepper"], {"result": -0.5}, ".result", "OUT_OF_RANGE"),
        (FULL["Stepper"], {"result": 10.5}, ".result", "OUT_OF_RANGE"),
        (FULL["Stepper"], {"result": 0.3}, ".result", "INVALID_VALUE"),
        ({"type": "Stepper", "start": 1, "step": 2}, {"result": 2}, ".result", "INVALID_VALUE"),
        (MINIMAL["Stepper"], {"result": True}, ".result", "INVALID_VALUE"),
        (MINIMAL["TextInput"], {"text": None}, ".text", "INVALID_VALUE"),
        (MINIMAL["Toggle"], {"checked": "true"}, ".checked", "INVALID_VALUE"),
        (MINIMAL["Toggle"], {"checked": 1}, ".checked", "INVALID_VALUE"),
        (MINIMAL["VideoRecording"], {"url": "javascript:alert(1)"}, ".url", "INVALID_VALUE"),
        (FULL["media"], {"url": "s3.test/photo.jpg"}, ".url", "INVALID_VALUE"),
        (TAGS, {"values": []}, ".values", "VALUE_REQUIRED"),
        (TAGS, {"values": [1, 3]}, ".values[1]", "NOT_AN_OPTION"),
        (TAGS, {"values": [1, "1"]}, ".values[1]", "NOT_AN_OPTION"),
        (TAGS, {"values": [2, 2]}, ".values[1]", "INVALID_VALUE"),
        (TAGS, {"values": [True]}, ".values[0]", "INVALID_VALUE"),
        (TAGS, {"values": [1.5]}, ".values[0]", "INVALID_VALUE"),
        (TAGS, {"values": [float("inf")]}, ".values[0]", "INVALID_VALUE"),
        (TAGS, {"values": 1}, ".values", "INVALID_VALUE"),
        (FULL["text_area"], {"text": "x" * 141}, ".text", "TOO_LONG"),
    ],
)
def test_an_invalid_result_is_refused_naming_its_field(
    component: dict[str, Any], result: Any, field: str, code: str
) -> None:
    # Given a result breaking a rule, when checked, then ValidationFailed names the field and the code
    errors = failures(component, result)
    assert (errors[0]["field"], errors[0]["code"]) == (WHERE + field, code), errors
    assert errors[0]["message"]


def test_every_problem_of_a_result_is_reported() -> None:
    errors = failures(TAGS, {"values": [3, 1, 1]})
    assert [(e["field"], e["code"]) for e in errors] == [
        (f"{WHERE}.values[0]", "NOT_AN_OPTION"),
        (f"{WHERE}.values[2]", "INVALID_VALUE"),
    ]


def test_the_worker_must_select_at_least_one_star() -> None:
    (error,) = failures(FULL["Rating"], {"rating": 0})
    assert error["message"] == "The worker must select at least one star"


@pytest.mark.parametrize("tag", ["Audio", "Image", "Text", "Video"])
def test_a_non_interactive_component_takes_no_result(tag: str) -> None:
    (error,) = failures(FULL[tag], {"url": "https://s3.test/x"})
    assert error["field"] == WHERE and "no result" in error["message"]


def test_a_missing_result_is_required_by_validate_result() -> None:
    (error,) = failures(MINIMAL["Toggle"], None)
    assert (error["field"], error["code"]) == (WHERE, "VALUE_REQUIRED")


def test_components_may_be_given_as_stored_dicts() -> None:
    stored = {"type": "Stepper", "min": Decimal(0), "step": Decimal("0.5")}
    assert validate_result(stored, {"result": 1.5}, WHERE) == {"result": 1.5}
    assert validate_results([FULL["text_area"]], [{"text": "ok"}], "results") == [{"text": "ok"}]
    with pytest.raises(TypeError):
        validate_result("Stepper", {"result": 1}, WHERE)


@pytest.mark.parametrize(
    "stored", [*FULL.values(), *MINIMAL.values()], ids=lambda c: str(sorted(c.items()))[:60]
)
def test_a_stored_component_is_parsed_as_its_union_parses_it(stored: dict[str, Any]) -> None:
    union = TypeAdapter(TaskJsonComponent if "component_type" in stored else SwarmsComponent)
    expected = union.validate_python(stored)
    parsed = component_model(stored)
    assert type(parsed) is type(expected) and parsed == expected


def test_a_stored_component_is_parsed_without_building_the_union() -> None:
    # Given no union validator built yet, when stored components are parsed (as a first request does)
    components._adapter.cache_clear()
    for stored in FULL.values():
        component_model(stored)
    # Then only their own models were built: the union's validator costs a cold start 12 ms
    assert components._adapter.cache_info().currsize == 0


@pytest.mark.parametrize(
    "stored",
    [
        {"type": "Nope"},
        {"type": ["Image"]},
        {},
        {"type": "Rating", "steps": "many"},
        {"type": "Stepper", "step": "x"},
    ],
    ids=str,
)
def test_a_stored_component_the_union_refuses_is_refused_in_its_words(stored: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as by_union:
        TypeAdapter(SwarmsComponent).validate_python(stored)
    with pytest.raises(ValidationError) as by_tag:
        component_model(stored)
    assert by_tag.value.errors() == by_union.value.errors()


# --- validate_results -------------------------------------------------------------------------------------


def test_results_are_validated_by_position() -> None:
    # Given a text, a required choice, an optional toggle and a task-json text area
    components = [
        parse(FULL["Text"]),
        parse(FULL["BinaryChoice"] | {"optionalResult": False}),
        parse({"type": "Toggle", "optionalResult": True}),
        parse(FULL["text_area"]),
    ]
    # When the results are checked, then each is normalised and the absent optional ones stay None
    assert validate_results(components, [None, {"selectedOption": "Yes"}, None, None], "results") == [
        None,
        {"selectedOption": "Yes"},
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("components", "results", "expected"),
    [
        ([MINIMAL["Rating"]], [None], [("results[0]", "VALUE_REQUIRED")]),
        ([FULL["media"]], [None], [("results[0]", "VALUE_REQUIRED")]),
        ([FULL["Image"]], [{"url": "https://s3.test/x"}], [("results[0]", "INVALID_VALUE")]),
        ([MINIMAL["Rating"]], [], [("results", "INVALID_VALUE")]),
        ([MINIMAL["Rating"]], [None, None], [("results", "INVALID_VALUE")]),
        ([MINIMAL["Rating"]], {"rating": 1}, [("results", "INVALID_VALUE")]),
        (
            [MINIMAL["Rating"], FULL["Text"], MINIMAL["BinaryChoice"]],
            [{"rating": 0}, None, None],
            [("results[0].rating", "OUT_OF_RANGE"), ("results[2]", "VALUE_REQUIRED")],
        ),
    ],
)
def test_results_problems_are_reported_together(
    components: list[dict[str, Any]], results: Any, expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_results([parse(c) for c in components], results, "results")
    assert [(e["field"], e["code"]) for e in caught.value.errors] == expected


def test_results_paths_take_a_suffix() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_results(
            [parse(FULL["Rating"])], [{"rating": 9}], "taskResults[0].components", suffix=".result"
        )
    assert caught.value.errors[0]["field"] == "taskResults[0].components[0].result.rating"


# --- sizes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "sizes"),
    [
        (MINIMAL["AudioRecording"], (0, 60 * 16 * KB)),
        (FULL["AudioRecording"], (0, 10 * 16 * KB)),
        ({"type": "AudioRecording", "maxDurationInSeconds": 0.5}, (0, 8 * KB)),
        (FULL["BinaryChoice"], (0, KB)),
        (FULL["BinaryImageChoice"], (1000 * KB, KB)),
        ({"type": "BinaryImageChoice", "option1": {"url": "https://x.test/a.jpg"}}, (500 * KB, KB)),
        (MINIMAL["ImageMarker"], (0, 300 * KB)),
        (FULL["ImageMarker"], (500 * KB, 300 * KB)),
        (FULL["Rating"], (0, KB)),
        (FULL["Stepper"], (0, KB)),
        (FULL["TextInput"], (0, KB)),
        (FULL["Toggle"], (0, KB)),
        (MINIMAL["VideoRecording"], (0, 30 * 500 * KB)),
        (FULL["VideoRecording"], (0, 20 * 500 * KB)),
        (FULL["Audio"], (MB, 0)),
        (MINIMAL["Audio"], (0, 0)),
        (FULL["Image"], (500 * KB, 0)),
        (FULL["Text"], (0, 0)),
        (FULL["Video"], (10 * MB, 0)),
        (MINIMAL["media"], (0, 2 * MB)),
        ({"component_type": "media", "name": "m", "extra": {"max_length": 300}}, (0, 300 * 16 * KB)),
        (FULL["tags_collection"], (0, KB)),
        (FULL["text_area"], (0, KB)),
    ],
)
def test_each_component_has_its_estimated_sizes(component: dict[str, Any], sizes: tuple[int, int]) -> None:
    assert estimate_sizes([parse(component)]) == sizes


def test_sizes_add_up_and_match_the_documented_figures() -> None:
    components = [parse(FULL["Image"]), parse(FULL["Video"]), parse(MINIMAL["AudioRecording"])]
    down, up = estimate_sizes(components)
    assert down == SIZE_ESTIMATES["image_bytes"] + SIZE_ESTIMATES["video_bytes"]
    assert (
        up
        == SIZE_ESTIMATES["audio_recording_default_seconds"]
        * SIZE_ESTIMATES["audio_recording_bytes_per_second"]
    )
    assert estimate_sizes([]) == (0, 0)


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [
        (0, "0KB"),
        (1, "1KB"),
        (1024, "1KB"),
        (1025, "2KB"),
        (512 * KB, "512KB"),
        (MB - 1, "1MB"),
        (3 * MB, "3MB"),
        (3 * MB + 1, "4MB"),
        (1024 * MB, "1GB"),
        (5 * 1024 * MB + 1, "6GB"),
    ],
)
def test_format_size_rounds_up_in_1024_units(n_bytes: int, text: str) -> None:
    assert format_size(n_bytes) == text


def test_format_size_refuses_a_negative_size() -> None:
    with pytest.raises(ValueError):
        format_size(-1)
