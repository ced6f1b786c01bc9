"""The component catalogue: Swarms and task-JSON components, their results and their transfer sizes."""

import inspect
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Literal, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from crowdtask import validation
from crowdtask.errors import ValidationFailed
from crowdtask.models.base import ApiModel, JsonObject

__all__ = [
    "CATALOGUE",
    "COMPONENT_TAGS",
    "INTERACTIVE_TYPES",
    "SIZE_ESTIMATES",
    "ComponentSpec",
    "SwarmsComponent",
    "TaskJsonComponent",
    "component_model",
    "estimate_sizes",
    "format_size",
    "validate_result",
    "validate_results",
]

_KB: Final = 1024
_MB: Final = 1024 * _KB
_GB: Final = 1024 * _MB

SIZE_ESTIMATES: Final[Mapping[str, int]] = MappingProxyType(
    {
        # downloads: only media whose url the component declares is counted
        "image_bytes": 500 * _KB,  # Image, ImageMarker background, each BinaryImageChoice option
        "audio_bytes": 1 * _MB,  # Audio clip
        "video_bytes": 10 * _MB,  # Video clip
        # uploads: every interactive component counts, optional or not, so the figure is an upper estimate
        "audio_recording_bytes_per_second": 16 * _KB,  # AAC at ~128 kbit/s; also media recordings
        "audio_recording_default_seconds": 60,  # AudioRecording without maxDurationInSeconds
        "video_recording_bytes_per_second": 500 * _KB,  # ~4 Mbit/s phone video
        "video_recording_default_seconds": 30,  # VideoRecording without maxDurationInSeconds
        "drawing_bytes": 300 * _KB,  # ImageMarker PNG
        "photo_bytes": 2 * _MB,  # media photo
        "small_result_bytes": 1 * _KB,  # text, choice, number and toggle results
    }
)
_URL_MAX_LENGTH: Final = 2048

# Result errors use the codes crowdtask/validation.py gives the same pydantic error types.
_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "missing": "VALUE_REQUIRED",
        "extra_forbidden": "UNKNOWN_FIELD",
        "string_too_long": "TOO_LONG",
        "too_long": "TOO_LONG",
        "string_too_short": "TOO_SHORT",
        "too_short": "TOO_SHORT",
        "less_than_equal": "OUT_OF_RANGE",
        "greater_than_equal": "OUT_OF_RANGE",
        "less_than": "OUT_OF_RANGE",
        "greater_than": "OUT_OF_RANGE",
        "literal_error": "NOT_AN_OPTION",
    }
)


# --- scalar types -----------------------------------------------------------------------------------------


def _number(value: Any) -> Any:
    # Lax float must stay on because DynamoDB hands stored numbers back as Decimal; text and booleans are
    # still a wrong type for a number.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("float_type", "Input should be a valid number")
    return value


def _integer(value: Any) -> Any:
    # Lax int would take True as 1.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# An absolute http(s) URL of printable ASCII (a browser drops whitespace and control characters
# inside a scheme, so `java<TAB>script:` must not pass): the document states this pattern and the
# check below is the same one. JSON Schema's `$` also matches before a final line break, which
# the check strips.
HTTP_URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$"


def _http_url(value: str) -> str:
    text = value[:-1] if value.endswith("\n") else value
    if not re.fullmatch(HTTP_URL_PATTERN, text):
        raise PydanticCustomError("url_scheme", "Input should be an absolute http(s) URL")
    return text


def _printable(text: str) -> bool:
    """No whitespace and no control character: a browser drops some of them inside a scheme, so
    `java<TAB>script:` would pass a check of what it starts with."""
    return not any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def _tag_value(value: Any) -> int | str:
    # One validator rather than an int | str union, so a bad value gives one error at its own path.
    if isinstance(value, str):
        return value
    if not isinstance(value, bool) and isinstance(value, int | float | Decimal):
        try:
            whole = int(value)
        except (OverflowError, ValueError):  # inf and nan
            whole = None
        if whole is not None and whole == value:
            return whole
    raise PydanticCustomError("tag_value_type", "Input should be an integer or a string")


def _yes_no(value: Any) -> Any:
    # Some clients send JSON booleans; the stored and returned form is always "yes"/"no".
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return value


Number = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
Integer = Annotated[int, BeforeValidator(_integer)]
HttpUrlText = Annotated[
    StrictStr,
    Field(max_length=_URL_MAX_LENGTH, json_schema_extra={"pattern": HTTP_URL_PATTERN}),
    AfterValidator(_http_url),
]
YesNo = Annotated[
    Literal["yes", "no"],
    BeforeValidator(_yes_no),
    WithJsonSchema({"anyOf": [{"type": "string", "enum": ["yes", "no"]}, {"type": "boolean"}]}),
]
TagValue = Annotated[int | str, PlainValidator(_tag_value, json_schema_input_type=int | str)]


def _error(field: str, message: str, code: str = "INVALID_VALUE") -> dict[str, str]:
    return {"field": field, "message": message, "code": code}


def _dec(value: float | Decimal) -> Decimal:
    # Through str so 0.1 stays 0.1 rather than its binary expansion.
    return Decimal(str(value))


# A recording is at most a day long: its size estimate multiplies the seconds into bytes, and a
# duration near the largest float made that infinite (a 500).
MAX_RECORDING_SECONDS = 86_400


def _not_below(value: float | None, lower: float | None, lower_name: str) -> float | None:
    if value is not None and lower is not None and value < lower:
        raise PydanticCustomError(
            "greater_than_equal",
            "Input should be greater than or equal to {name} ({ge})",
            {"ge": lower, "name": lower_name},
        )
    return value


def _not_above(value: float | None, upper: float | None, upper_name: str) -> float | None:
    if value is not None and upper is not None and value > upper:
        raise PydanticCustomError(
            "less_than_equal",
            "Input should be less than or equal to {name} ({le})",
            {"le": upper, "name": upper_name},
        )
    return value


# --- shared bases -----------------------------------------------------------------------------------------


class _Component(ApiModel):
    """What the catalogue needs from every component model."""

    result_model: ClassVar[type[ApiModel] | None] = None

    def _result_required(self) -> bool:
        raise NotImplementedError

    def _result_errors(self, result: Any, field: str) -> list[dict[str, str]]:
        """Checks of a parsed result against this component's attributes."""
        return []

    def _sizes(self) -> tuple[int, int]:
        """(bytes the worker downloads, bytes the worker uploads)."""
        return 0, 0


class _SwarmsComponent(_Component):
    """Attributes every Swarms component has."""

    type: str = Field(description="Component type")
    sticky: StrictBool = Field(False, description="Sticky component (default false)")
    optionalResult: StrictBool = Field(
        False,
        description="When false the worker must produce a result for an interactive component",
    )
    landscape: StrictBool = Field(False, description="Show the component in landscape (default false)")
    properties: JsonObject | None = Field(None, description="Custom key/value pairs (a JSON object)")

    def _result_required(self) -> bool:
        return not self.optionalResult


class _TaskJsonComponent(_Component):
    """Attributes every task-JSON component has."""

    component_type: str = Field(description="Component type")
    label: StrictStr | None = Field(None, description="Label shown to the worker")
    name: StrictStr = Field(min_length=1, description="Name of the result this component produces")
    required: YesNo = Field(
        "yes",
        description='Whether the worker must produce a result: "yes" or "no" (JSON true/false are accepted)',
    )

    def _result_required(self) -> bool:
        return self.required == "yes"


class _SmallResult(_Component):
    def _sizes(self) -> tuple[int, int]:
        return 0, SIZE_ESTIMATES["small_result_bytes"]


# --- Swarms: results --------------------------------------------------------------------------------------


class RecordingResult(ApiModel):
    """Result of an AudioRecording or a VideoRecording."""

    url: HttpUrlText = Field(description="url of the recording (.aac for audio)")


class SelectedOptionResult(ApiModel):
    """Result of a BinaryChoice or a BinaryImageChoice."""

    selectedOption: StrictStr = Field(
        description="The selected option: its label (BinaryChoice) or its id (BinaryImageChoice)"
    )


class ImageMarkerResult(ApiModel):
    """Result of an ImageMarker."""

    url: HttpUrlText = Field(description="url of the drawing (.png)")


class RatingResult(ApiModel):
    """Result of a Rating."""

    rating: Number = Field(description="Number of stars selected (at least 1)")


class StepperResult(ApiModel):
    """Result of a Stepper."""

    result: Number = Field(description="The selected number")


class TextInputResult(ApiModel):
    """Result of a TextInput."""

    text: StrictStr = Field(description="The text entered")


class ToggleResult(ApiModel):
    """Result of a Toggle."""

    checked: StrictBool = Field(description="Whether the toggle is checked")


# --- Swarms: interactive components -----------------------------------------------------------------------


class _Recording(_SwarmsComponent):
    minDurationInSeconds: Number | None = Field(
        None, ge=0, le=MAX_RECORDING_SECONDS, description="Minimum duration in seconds (at most a day)"
    )
    maxDurationInSeconds: Number | None = Field(
        None,
        ge=0,
        le=MAX_RECORDING_SECONDS,
        description="Maximum duration in seconds (at most a day); not below minDurationInSeconds",
    )

    @field_validator("maxDurationInSeconds")
    @classmethod
    def _max_not_below_min(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _not_below(value, info.data.get("minDurationInSeconds"), "minDurationInSeconds")

    def _upload(self, rate: str, default_seconds: str) -> int:
        seconds = self.maxDurationInSeconds
        if seconds is None:
            seconds = SIZE_ESTIMATES[default_seconds]
        return math.ceil(seconds * SIZE_ESTIMATES[rate])


class AudioRecordingComponent(_Recording):
    """The worker records audio."""

    result_model = RecordingResult
    type: Literal["AudioRecording"] = Field(description="Component type")

    def _sizes(self) -> tuple[int, int]:
        return 0, self._upload("audio_recording_bytes_per_second", "audio_recording_default_seconds")


class BinaryChoiceComponent(_SmallResult, _SwarmsComponent):
    """The worker picks one of two labelled options."""

    result_model = SelectedOptionResult
    type: Literal["BinaryChoice"] = Field(description="Component type")
    option1: StrictStr | None = Field(None, description="Label of the 1st option")
    option2: StrictStr | None = Field(None, description="Label of the 2nd option")

    def _result_errors(self, result: SelectedOptionResult, field: str) -> list[dict[str, str]]:
        # With only one label declared the other option's label is unknown, so nothing can be refused.
        if self.option1 is None or self.option2 is None:
            return []
        if result.selectedOption in (self.option1, self.option2):
            return []
        return [_error(f"{field}.selectedOption", "Input should be option1 or option2", "NOT_AN_OPTION")]


class ImageOption(ApiModel):
    """An option of a BinaryImageChoice."""

    id: StrictStr | None = Field(None, description="Option id, returned as selectedOption")
    url: HttpUrlText | None = Field(None, description="url of the option's image")
    label: StrictStr | None = Field(None, description="Option label")


class BinaryImageChoiceComponent(_SwarmsComponent):
    """The worker picks one of two images."""

    result_model = SelectedOptionResult
    type: Literal["BinaryImageChoice"] = Field(description="Component type")
    option1: ImageOption | None = Field(None, description="1st option")
    option2: ImageOption | None = Field(None, description="2nd option")

    def _result_errors(self, result: SelectedOptionResult, field: str) -> list[dict[str, str]]:
        ids = [option.id for option in (self.option1, self.option2) if option is not None]
        # Same reasoning as BinaryChoice: an undeclared id cannot be checked against.
        if len(ids) < 2 or None in ids or result.selectedOption in ids:
            return []
        return [
            _error(f"{field}.selectedOption", "Input should be the id of option1 or option2", "NOT_AN_OPTION")
        ]

    def _sizes(self) -> tuple[int, int]:
        images = sum(1 for option in (self.option1, self.option2) if option is not None and option.url)
        return images * SIZE_ESTIMATES["image_bytes"], SIZE_ESTIMATES["small_result_bytes"]


class ImageMarkerComponent(_SwarmsComponent):
    """The worker draws on an image."""

    result_model = ImageMarkerResult
    type: Literal["ImageMarker"] = Field(description="Component type")
    url: HttpUrlText | None = Field(None, description="url of the image")

    def _sizes(self) -> tuple[int, int]:
        return (SIZE_ESTIMATES["image_bytes"] if self.url else 0), SIZE_ESTIMATES["drawing_bytes"]


class RatingComponent(_SmallResult, _SwarmsComponent):
    """The worker gives a star rating."""

    result_model = RatingResult
    type: Literal["Rating"] = Field(description="Component type")
    steps: Integer | None = Field(None, ge=1, description="Number of stars")
    halfSteps: StrictBool | None = Field(None, description="Whether half stars can be selected")

    def _result_errors(self, result: RatingResult, field: str) -> list[dict[str, str]]:
        where = f"{field}.rating"
        rating = _dec(result.rating)
        if rating < 1:
            return [_error(where, "The worker must select at least one star", "OUT_OF_RANGE")]
        if self.steps is not None and rating > self.steps:
            return [_error(where, f"Input should be at most {self.steps} stars", "OUT_OF_RANGE")]
        if self.halfSteps and rating % Decimal("0.5"):
            return [_error(where, "Input should be a multiple of 0.5 stars")]
        if not self.halfSteps and rating % 1:
            return [_error(where, "Input should be a whole number of stars")]
        return []


class StepperComponent(_SmallResult, _SwarmsComponent):
    """The worker picks a number with - and + buttons."""

    result_model = StepperResult
    type: Literal["Stepper"] = Field(description="Component type")
    min: Number | None = Field(None, description="Smallest value")
    max: Number | None = Field(None, description="Largest value; not below min")
    step: Number | None = Field(None, gt=0, description="Increment of each step")
    start: Number | None = Field(None, description="Initial value, within min..max")

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _not_below(value, info.data.get("min"), "min")

    @field_validator("start")
    @classmethod
    def _start_within_bounds(cls, value: float | None, info: ValidationInfo) -> float | None:
        _not_below(value, info.data.get("min"), "min")
        return _not_above(value, info.data.get("max"), "max")

    def _result_errors(self, result: StepperResult, field: str) -> list[dict[str, str]]:
        where = f"{field}.result"
        value = _dec(result.result)
        if self.min is not None and value < _dec(self.min):
            return [_error(where, f"Input should be greater than or equal to {self.min}", "OUT_OF_RANGE")]
        if self.max is not None and value > _dec(self.max):
            return [_error(where, f"Input should be less than or equal to {self.max}", "OUT_OF_RANGE")]
        if self.step is not None:
            origin = next((v for v in (self.min, self.start) if v is not None), 0)
            if (value - _dec(origin)) % _dec(self.step):
                return [_error(where, f"Input should be {origin} plus a multiple of {self.step}")]
        return []


class TextInputComponent(_SmallResult, _SwarmsComponent):
    """The worker types a text."""

    result_model = TextInputResult
    type: Literal["TextInput"] = Field(description="Component type")
    hint: StrictStr | None = Field(None, description="Hint shown in the empty input")


class ToggleComponent(_SmallResult, _SwarmsComponent):
    """The worker switches a toggle on or off."""

    result_model = ToggleResult
    type: Literal["Toggle"] = Field(description="Component type")
    label: StrictStr | None = Field(None, description="Label of the toggle")
    checkedByDefault: StrictBool | None = Field(None, description="Whether the toggle starts checked")
    explanation: StrictStr | None = Field(None, description="Explanation shown with the toggle")


class VideoRecordingComponent(_Recording):
    """The worker records a video."""

    result_model = RecordingResult
    type: Literal["VideoRecording"] = Field(description="Component type")
    orientation: Literal["any", "portrait", "landscape"] | None = Field(
        None, description='Orientation of the recording: "any", "portrait" or "landscape"'
    )

    def _sizes(self) -> tuple[int, int]:
        return 0, self._upload("video_recording_bytes_per_second", "video_recording_default_seconds")


# --- Swarms: non-interactive components -------------------------------------------------------------------


class AudioComponent(_SwarmsComponent):
    """Plays an audio clip to the worker."""

    type: Literal["Audio"] = Field(description="Component type")
    url: HttpUrlText | None = Field(None, description="url of the audio")
    autoplay: StrictBool | None = Field(None, description="Start playing when shown")
    repeat: StrictBool | None = Field(None, description="Play in a loop")
    mustListen: StrictBool | None = Field(None, description="The worker must listen to the whole clip")

    def _sizes(self) -> tuple[int, int]:
        return (SIZE_ESTIMATES["audio_bytes"] if self.url else 0), 0


class ImageComponent(_SwarmsComponent):
    """Shows an image to the worker."""

    type: Literal["Image"] = Field(description="Component type")
    url: HttpUrlText | None = Field(None, description="url of the image")

    def _sizes(self) -> tuple[int, int]:
        return (SIZE_ESTIMATES["image_bytes"] if self.url else 0), 0


class TextComponent(_SwarmsComponent):
    """Shows a text to the worker."""

    type: Literal["Text"] = Field(description="Component type")
    text: StrictStr | None = Field(None, description="The text")
    style: Literal["Question", "Instruction", "H1", "H2", "PlainText", "Html", "Quote"] | None = Field(
        None, description="Style: Question, Instruction, H1, H2, PlainText, Html or Quote"
    )


class VideoComponent(_SwarmsComponent):
    """Plays a video to the worker."""

    type: Literal["Video"] = Field(description="Component type")
    url: HttpUrlText | None = Field(None, description="url of the video")
    autoplay: StrictBool | None = Field(None, description="Start playing when shown")
    repeat: StrictBool | None = Field(None, description="Play in a loop")
    mustWatch: StrictBool | None = Field(None, description="The worker must watch the whole video")
    playAudio: StrictBool | None = Field(None, description="Play the video's sound")

    def _sizes(self) -> tuple[int, int]:
        return (SIZE_ESTIMATES["video_bytes"] if self.url else 0), 0


# --- task-JSON components ---------------------------------------------------------------------------------


class MediaResult(ApiModel):
    """Result of a media component."""

    url: HttpUrlText = Field(description="url of the photo or recording")


class TagsCollectionResult(ApiModel):
    """Result of a tags_collection component."""

    values: list[TagValue] = Field(description="The `value` of each selected tag")


class TextAreaResult(ApiModel):
    """Result of a text_area component."""

    text: StrictStr = Field(description="The text entered")


class MediaExtra(ApiModel):
    """Settings of a media component."""

    instructions: StrictStr | None = Field(None, description="Instructions shown to the worker")
    max_length: Number | None = Field(
        None, gt=0, le=MAX_RECORDING_SECONDS, description="Maximum audio length in seconds (at most a day)"
    )


class TagOption(ApiModel):
    """A tag the worker can select."""

    value: TagValue = Field(description="Value put in the result when the tag is selected")
    text: StrictStr = Field(description="Text of the tag")


class TagsCollectionExtra(ApiModel):
    """Settings of a tags_collection component."""

    instructions: StrictStr | None = Field(None, description="Instructions shown to the worker")
    values: list[TagOption] | None = Field(None, description="The tags the worker can select")

    @field_validator("values")
    @classmethod
    def _distinct_values(cls, values: list[TagOption] | None) -> list[TagOption] | None:
        seen = [option.value for option in values or ()]
        if len(set(seen)) != len(seen):
            raise PydanticCustomError("duplicate_value", "Tag values should be distinct")
        return values


class TextAreaExtra(ApiModel):
    """Settings of a text_area component."""

    instructions: StrictStr | None = Field(None, description="Instructions shown to the worker")
    character_limit: Integer | None = Field(None, ge=1, description="Maximum number of characters")


class MediaComponent(_TaskJsonComponent):
    """The worker takes photos or records audio."""

    result_model = MediaResult
    component_type: Literal["media"] = Field(description="Component type")
    extra: MediaExtra | None = Field(None, description="Settings of the component")

    def _sizes(self) -> tuple[int, int]:
        seconds = self.extra.max_length if self.extra and self.extra.max_length is not None else 0
        recording = math.ceil(seconds * SIZE_ESTIMATES["audio_recording_bytes_per_second"])
        # The worker may answer with a photo or a recording: count the larger.
        return 0, max(SIZE_ESTIMATES["photo_bytes"], recording)


class TagsCollectionComponent(_SmallResult, _TaskJsonComponent):
    """The worker selects tags."""

    result_model = TagsCollectionResult
    component_type: Literal["tags_collection"] = Field(description="Component type")
    extra: TagsCollectionExtra | None = Field(None, description="Settings of the component")

    def _result_errors(self, result: TagsCollectionResult, field: str) -> list[dict[str, str]]:
        if self.required == "yes" and not result.values:
            return [_error(f"{field}.values", "Select at least one tag", "VALUE_REQUIRED")]
        declared = None if self.extra is None or self.extra.values is None else self.extra.values
        allowed = None if declared is None else {option.value for option in declared}
        errors, seen = [], set()
        for i, value in enumerate(result.values):
            if value in seen:
                errors.append(_error(f"{field}.values[{i}]", f"Tag {value!r} is selected twice"))
            elif allowed is not None and value not in allowed:
                errors.append(
                    _error(f"{field}.values[{i}]", f"{value!r} is not a declared tag", "NOT_AN_OPTION")
                )
            seen.add(value)
        return errors


class TextAreaComponent(_SmallResult, _TaskJsonComponent):
    """The worker writes a text."""

    result_model = TextAreaResult
    component_type: Literal["text_area"] = Field(description="Component type")
    extra: TextAreaExtra | None = Field(None, description="Settings of the component")

    def _result_errors(self, result: TextAreaResult, field: str) -> list[dict[str, str]]:
        limit = self.extra.character_limit if self.extra else None
        if limit is not None and len(result.text) > limit:
            return [_error(f"{field}.text", f"Text should have at most {limit} characters", "TOO_LONG")]
        return []


# --- the catalogue ----------------------------------------------------------------------------------------

SwarmsComponent: TypeAlias = Annotated[
    AudioRecordingComponent
    | BinaryChoiceComponent
    | BinaryImageChoiceComponent
    | ImageMarkerComponent
    | RatingComponent
    | StepperComponent
    | TextInputComponent
    | ToggleComponent
    | VideoRecordingComponent
    | AudioComponent
    | ImageComponent
    | TextComponent
    | VideoComponent,
    Field(discriminator="type"),
]

TaskJsonComponent: TypeAlias = Annotated[
    MediaComponent | TagsCollectionComponent | TextAreaComponent,
    Field(discriminator="component_type"),
]


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    """One catalogue entry: a component tag, its models and whether it produces a result."""

    tag: str
    interactive: bool
    model: type[_Component]
    result_model: type[ApiModel] | None
    description: str


def _specs(union: Any, discriminator: str) -> dict[str, ComponentSpec]:
    specs = {}
    for model in get_args(get_args(union)[0]):
        (tag,) = get_args(model.model_fields[discriminator].annotation)
        specs[tag] = ComponentSpec(
            tag=tag,
            interactive=model.result_model is not None,
            model=model,
            result_model=model.result_model,
            description=inspect.cleandoc(model.__doc__ or ""),
        )
    return specs


# each union's models by their tag: (task_json?) -> tag -> spec
_BY_TAG: Final[Mapping[bool, Mapping[str, ComponentSpec]]] = {
    False: _specs(SwarmsComponent, "type"),
    True: _specs(TaskJsonComponent, "component_type"),
}
CATALOGUE: Final[Mapping[str, ComponentSpec]] = MappingProxyType(dict(_BY_TAG[False]) | dict(_BY_TAG[True]))
COMPONENT_TAGS: Final[frozenset[str]] = frozenset(CATALOGUE)
validation.UNION_TAGS.update(COMPONENT_TAGS)  # error locations name a component's tag after its index
INTERACTIVE_TYPES: Final[frozenset[str]] = frozenset(
    tag for tag, spec in CATALOGUE.items() if spec.interactive
)


@cache
def _adapter(task_json: bool) -> TypeAdapter[Any]:
    """Built on first use: building a union's validator at import would cost every cold start."""
    return TypeAdapter(TaskJsonComponent if task_json else SwarmsComponent)


def by_its_tag(component: Any, *, task_json: bool) -> _Component | None:
    """The component as the model its tag names parses it, as the union would pick that model; None
    when there is no such tag or the model refuses it (the union then says why, in its own words).

    The union's validator costs a first request 12 ms to build (every model of the catalogue), one
    model's under 1 ms (measured on POST /assignments/{id}/submit)."""
    if not isinstance(component, Mapping):
        return None
    tag = component.get("component_type" if task_json else "type")
    spec = _BY_TAG[task_json].get(tag) if isinstance(tag, str) else None
    if spec is None:
        return None
    try:
        return spec.model.model_validate(component)
    except ValidationError:
        return None


def _component(component: Any) -> _Component:
    # Stored tasks may hand components back as plain dicts (numbers as Decimal).
    if isinstance(component, _Component):
        return component
    if isinstance(component, Mapping):
        task_json = "component_type" in component
        found = by_its_tag(component, task_json=task_json)
        if found is not None:
            return found
        parsed: _Component = _adapter(task_json).validate_python(component)
        return parsed
    raise TypeError(f"expected a component model or mapping, got {type(component).__name__}")


def component_model(component: Any) -> Any:
    """A stored or given component as its catalogue model (a 422-free parse: stored tasks are valid)."""
    return _component(component)


def _spec(component: _Component) -> ComponentSpec:
    if isinstance(component, _SwarmsComponent):
        return CATALOGUE[component.type]
    assert isinstance(component, _TaskJsonComponent)
    return CATALOGUE[component.component_type]


def _path(field: str, loc: Sequence[Any]) -> str:
    path = field
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _pydantic_errors(exc: ValidationError, field: str) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors(include_url=False):
        message = (
            "Field required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
        )
        errors.append(_error(_path(field, error["loc"]), message, _CODES.get(error["type"], "INVALID_VALUE")))
    return errors


def validate_result(component: Any, result: Any, field: str) -> dict[str, Any]:
    """Check one result object against its component; return it normalised or raise ValidationFailed."""
    model = _component(component)
    spec = _spec(model)
    if spec.result_model is None:
        raise ValidationFailed.one(field, f"A {spec.tag} component produces no result")
    if result is None:
        raise ValidationFailed.one(
            field, f"A result is required for this {spec.tag} component", "VALUE_REQUIRED"
        )
    try:
        parsed = spec.result_model.model_validate(result)
    except ValidationError as exc:
        raise ValidationFailed(_pydantic_errors(exc, field)) from None
    errors = model._result_errors(parsed, field)
    if errors:
        raise ValidationFailed(errors)
    return parsed.model_dump(mode="json")


def validate_results(
    components: Sequence[Any], results: Any, field: str, *, suffix: str = ""
) -> list[dict[str, Any] | None]:
    """Check results aligned by position with components; each error names `{field}[i]{suffix}`.

    Every problem of every result is reported in one ValidationFailed.
    """
    if not isinstance(results, list | tuple):
        raise ValidationFailed.one(field, "Input should be a list with one result per component")
    if len(results) != len(components):
        raise ValidationFailed.one(
            field, f"Expected {len(components)} results (one per component), got {len(results)}"
        )
    normalised: list[dict[str, Any] | None] = []
    errors: list[dict[str, str]] = []
    for i, (component, result) in enumerate(zip(components, results, strict=True)):
        model = _component(component)
        if result is None and not (_spec(model).interactive and model._result_required()):
            normalised.append(None)
            continue
        try:
            normalised.append(validate_result(model, result, f"{field}[{i}]{suffix}"))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            normalised.append(None)
    if errors:
        raise ValidationFailed(errors)
    return normalised


def estimate_sizes(components: Sequence[Any]) -> tuple[int, int]:
    """(bytes the worker downloads, estimated bytes of results uploaded); see SIZE_ESTIMATES."""
    download = upload = 0
    for component in components:
        down, up = _component(component)._sizes()
        download += down
        upload += up
    return download, upload


def format_size(n_bytes: int) -> str:
    """Whole KB, MB or GB, 1024-based and rounded up: 0 -> "0KB", 524288 -> "512KB", 3145729 -> "4MB".

    KB is the smallest unit shown, so a few bytes read "1KB" rather than a byte count.
    """
    if n_bytes < 0:
        raise ValueError(f"a size cannot be negative: {n_bytes}")
    for unit, size in (("KB", _KB), ("MB", _MB)):
        amount = -(-n_bytes // size)
        if amount < 1024:
            return f"{amount}{unit}"
    return f"{-(-n_bytes // _GB)}GB"
