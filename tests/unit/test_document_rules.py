"""Rules of free-form objects, stated by the document as the API holds them."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

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


def _valid(schema: dict, value: object) -> bool:
    import jsonschema

    resolver_schema = {**schema, "components": DOCUMENT["components"]}
    return jsonschema.Draft202012Validator(resolver_schema).is_valid(value)


def _agree(
    model: type[BaseModel], value: dict, valid: bool, refusal: str | None = None, schema: dict | None = None
) -> BaseModel | None:
    """The document (`model`'s schema, or `schema`) and the model take `value` alike (`refusal`: why
    not); the model's reading of it when taken."""
    assert _valid(schema or {"$ref": f"#/components/schemas/{model.__name__}"}, value) is valid
    if valid:
        return model.model_validate(value)
    with pytest.raises(ValidationError, match=refusal):
        model.model_validate(value)
    return None


REQUIREMENT = {"$ref": "#/components/schemas/Requirement"}


@pytest.mark.parametrize(
    ("requirement", "valid"),
    [
        ({"skill": "s", "operator": "eq", "value": 3}, True),
        ({"skill": "s", "operator": "eq", "value": None}, False),
        ({"skill": "s", "operator": "gte"}, False),
        ({"skill": "s", "operator": "exists"}, True),
        ({"skill": "s", "operator": "notExists", "value": 3}, False),
    ],
)
def test_a_requirement_takes_a_value_exactly_when_it_compares(requirement, valid):
    """The document and the model agree: comparisons need `value`, exists / notExists take none."""
    from crowdtask.models.quality import Requirement

    _agree(Requirement, requirement, valid, schema=REQUIREMENT)


@pytest.mark.parametrize(
    ("measures", "valid"),
    [({"a": 1, "b.c": 2, "d-e": 3}, True), ({"a": 1, "b": 2, "c": 3, "d": 4}, False), ({"a b": 1}, False)],
)
def test_throughput_measures_are_three_names_at_most_of_the_stated_form(measures, valid):
    from crowdtask.models.throughput import ThroughputIn

    schema = DOCUMENT["components"]["schemas"]["ThroughputIn"]["properties"]["measures"]
    assert _valid(schema, measures) is valid
    body = {
        "worker_id": "w",
        "use_case_id": "u",
        "task_definition_id": "t",
        "task_started_at": "2020-12-22T09:13:24.127Z",
        "task_completed_at": "2020-12-22T10:13:24.127Z",
        "measures": measures,
    }
    if valid:
        ThroughputIn.model_validate(body)
    else:
        with pytest.raises(ValidationError):
            ThroughputIn.model_validate(body)


def test_coordinates_are_kept_to_nine_places_so_any_documented_number_is_stored():
    """1e-168 lies within -180..180 but DynamoDB holds no number that small: it is kept as 0."""
    task = TaskIn.model_validate({"name": "t", "lat": 45.1234567891234, "lng": 2.65919694679607e-168})
    assert (task.lat, task.lng) == (45.123456789, 0.0)


RULE = {"metric": "fastSubmits", "operator": "gte", "value": 3, "action": {"type": "block"}}


@pytest.mark.parametrize(
    ("rule", "valid"),
    [
        ({**RULE, "fastSubmitThreshold": "10s"}, True),
        (RULE, False),
        ({**RULE, "fastSubmitThreshold": None}, False),
        ({**RULE, "metric": "earnings24h"}, True),
        ({**RULE, "metric": "earnings24h", "fastSubmitThreshold": "10s"}, False),
    ],
)
def test_a_fast_submit_threshold_goes_with_its_metric_only_in_the_document_too(rule, valid):
    from crowdtask.models.quality import QualityRule

    _agree(QualityRule, rule, valid)


@pytest.mark.parametrize(
    ("parameters", "valid"),
    [
        ({"dataset_id": "d", "kind": "box", "n": 3, "ok": True}, True),
        ({"kind": []}, False),
        ({"kind": None}, False),
        ({"kind": "x" * 501}, False),
        ({"k" * 65: 1}, False),
        ({f"p{n}": n for n in range(21)}, False),
    ],
)
def test_task_parameters_are_short_scalars_in_the_document_too(parameters, valid):
    from crowdtask.models.throughput import TaskParameters

    _agree(TaskParameters, parameters, valid)


@pytest.mark.parametrize(
    ("action", "valid"),
    [
        ({"value": 5}, True),
        ({"value": 5, "fromMetric": False}, True),
        ({"fromMetric": True}, True),
        ({"fromMetric": True, "value": 5}, False),
        ({"fromMetric": False, "value": None}, False),
        ({}, False),
    ],
)
def test_a_set_skill_action_takes_a_value_or_the_metric_in_the_document_too(action, valid):
    from crowdtask.models.quality import SetSkillAction

    action = {"type": "setSkill", "skill": "s", **action}
    _agree(SetSkillAction, action, valid)


def test_shares_and_scores_are_kept_to_six_places_so_any_documented_number_is_stored():
    """A weight of 1e-200 lies within 0..1, but the table holds no number that small: it is kept as 0."""
    from crowdtask.models.quality import KnownSolution, Requirement, SkillValueIn
    from crowdtask.numbers import storable_number

    assert not storable_number(1e-200)
    assert KnownSolution.model_validate({"components": [], "weight": 1e-200}).weight == 0.0
    assert KnownSolution.model_validate({"components": [], "weight": 0.1234567}).weight == 0.123457
    assert Requirement.model_validate({"skill": "s", "operator": "eq", "value": 1e-200}).value == 0.0
    assert SkillValueIn.model_validate({"value": 99.9999999}).value == 100.0


def test_an_overlap_confidence_is_at_least_a_millionth_as_the_document_says():
    """5e-324 is above 0 but no number the table holds; the document's bound keeps it out."""
    from crowdtask.models.answers import OverlapSettings

    schema = DOCUMENT["components"]["schemas"]["OverlapSettings"]["properties"]["confidence"]
    assert schema["minimum"] == 0.000001
    assert OverlapSettings.model_validate({"confidence": 0.000001}).confidence == 0.000001
    with pytest.raises(ValidationError, match="confidence"):
        OverlapSettings.model_validate({"confidence": 5e-324})


@pytest.mark.parametrize(
    "number",
    [
        0,
        1,
        -7,
        10**37,
        10**38 - 1,
        10**38,
        -(10**38),
        1e39,
        9.99e125,
        1.5,
        -0.25,
        1e-130,
        -1.5e-130,
        9e-131,
        5e-324,
    ],
)
def test_a_free_form_number_is_taken_exactly_when_the_document_says_so(number):
    """FreeValue's number: whole numbers below 1E+38 in size, others at least 1E-130 in size."""
    from crowdtask.models.tasks import TaskIn

    documented = _valid({"$ref": "#/components/schemas/FreeValue"}, {"n": [number]})
    try:
        TaskIn.model_validate({"name": "x", "properties": {"n": [number]}})
        taken = True
    except ValidationError:
        taken = False
    assert documented is taken
    assert taken is (abs(number) < 1e38 if float(number).is_integer() else abs(number) >= 1e-130)


@pytest.mark.parametrize(
    ("control", "valid"),
    [
        ({}, False),
        ({"approveAtLeast": None, "rejectBelow": None}, False),
        ({"approveAtLeast": 0.8}, True),
        ({"rejectBelow": 0.5}, True),
        ({"approveAtLeast": 0.8, "rejectBelow": 0.5}, True),
    ],
)
def test_a_control_policy_takes_one_bound_or_both_in_the_document_too(control, valid):
    from crowdtask.models.answers import ControlPolicy

    _agree(ControlPolicy, control, valid, "approveAtLeast, rejectBelow or both")


@pytest.mark.parametrize(
    ("aggregation", "valid"),
    [
        ({"method": "weighted", "skill": "s"}, True),
        ({"method": "weighted"}, True),
        ({"method": "majority", "skill": None}, True),
        ({"method": "majority", "skill": "s"}, False),
        ({"skill": "s"}, False),
    ],
)
def test_an_aggregations_skill_goes_with_the_weighted_method_in_the_document_too(aggregation, valid):
    from crowdtask.models.answers import AggregationSettings

    _agree(AggregationSettings, aggregation, valid, "skill goes with the weighted method")


@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("user_ttl", True, "not a boolean"),
        ("user_ttl", "12", "not text"),
        ("lat", False, "not a boolean"),
        ("radius", "300", "not text"),
        ("user_multi_process", 0, "true or false"),
        ("show_name", "yes", "true or false"),
    ],
)
def test_numbers_and_flags_are_json_numbers_and_booleans(field, value, refusal):
    """pydantic would read true as 1, "12" as 12 and 0 or "yes" as a flag: the document says otherwise."""
    from crowdtask.models.tasks import TaskIn

    assert not _valid({"$ref": "#/components/schemas/TaskIn"}, {"name": "x", field: value})
    with pytest.raises(ValidationError, match=refusal):
        TaskIn.model_validate({"name": "x", field: value})
    assert _valid({"$ref": "#/components/schemas/TaskIn"}, {"name": "x", "user_ttl": 5.0, "lat": 1})
    assert TaskIn.model_validate({"name": "x", "user_ttl": 5.0, "lat": 1}).user_ttl == 5


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"name": "one"}, True),
        ({"pool_id": "c1", "input_values": {"a": 1}, "overlap": 2}, True),
        ([{"name": "one"}, {"pool_id": "c1", "input_values": {}}], True),
        ([], False),
        ({"pool_id": "c1"}, False),
        ({"name": "one", "pool_id": "c1"}, False),
        ({"pool_id": "c1", "input_values": {"": 1}}, False),
        ({"pool_id": "c1", "input_values": {"a": 5e-324}}, False),
    ],
)
def test_a_task_upload_body_is_a_task_a_pool_task_or_an_array_of_either(body, valid):
    for path in ("/tasks", "/api/v1/tasks"):
        schema = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert _valid(schema, body) is valid, path


WEBHOOK_URLS = [
    "https://hooks.example.com/in",
    "https://a.bc",
    "https://hooks.example.com:8443/in?x=1#f",
    "http://127.0.0.1:45123/hooks",
    "https://[::1]:8443/x",
    "http://hooks.example.com/in",  # http to a name
    "https://93.184.215.14/in",  # a literal address other than loopback
    "https://hooks.example.com:10443/in",  # a port of five digits
    "https://hooks.example.com:65535/in",
    "https://hooks.example.com:65536/in",
    "https://hooks.example.com:99999/in",
    "https://hooks.example.com:0/in",
    "https://hooks.example.com/\u00e4",  # not ASCII
    "https://hooks.example.com/a b",
    "https://user@hooks.example.com/in",
    "https://localhost/in",
    "hooks.example.com/in",
]


@pytest.mark.parametrize("model", ["WebhookIn", "WebhookUpdate"])
def test_a_webhook_url_is_taken_exactly_when_the_document_allows_it(model):
    """The document's pattern, or the loopback form its description allows where the deployment
    does (the service refuses that form elsewhere: tests/handlers/test_webhooks_api.py)."""
    from crowdtask.models import webhooks

    schema = DOCUMENT["components"]["schemas"][model]["properties"]["url"]
    assert schema["pattern"] == webhooks.URL_PATTERN  # one pattern for both
    assert "loopback" in schema["description"]
    loopback = {"pattern": webhooks.LOOPBACK_URL_PATTERN}
    for url in WEBHOOK_URLS:
        allowed = _valid(schema, url) or _valid({**schema, **loopback}, url)
        try:
            getattr(webhooks, model).model_validate({"url": url, "events": ["*"]})
            taken = True
        except ValidationError as exc:
            assert [e["loc"] for e in exc.errors()] == [("url",)], url
            taken = False
        assert taken == allowed, url
    assert all(_valid(schema, f"https://hooks.example.com:{port}/in") for port in (10443, 65535))
    # each kind occurs: the corpus tells them apart
    assert {(_valid(schema, url), _valid({**schema, **loopback}, url)) for url in WEBHOOK_URLS} == {
        (True, False),
        (False, True),
        (False, False),
    }
    # The document's `$` is ECMA-262's: it never matches before a trailing newline (Python's `re.search`,
    # which jsonschema uses, would), so a URL ending with one is refused too.
    with pytest.raises(ValidationError, match="url"):
        getattr(webhooks, model).model_validate({"url": "https://hooks.example.com/in\n", "events": ["*"]})


@pytest.mark.parametrize(
    ("required", "valid"), [("yes", True), ("no", True), (True, True), (False, True), (0, False)]
)
def test_a_task_json_components_required_is_yes_no_or_a_boolean_in_the_document_too(required, valid):
    from crowdtask.models.components import TextAreaComponent

    component = {"component_type": "text_area", "name": "n", "required": required}
    taken = _agree(TextAreaComponent, component, valid)
    assert taken is None or taken.model_dump()["required"] in ("yes", "no")
