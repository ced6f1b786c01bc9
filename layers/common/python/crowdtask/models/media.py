"""Media results: which components take an uploaded file, of which type family and up to what size.

The families per component type:

| component        | families        | size limit                                                          |
| ---------------- | --------------- | ------------------------------------------------------------------- |
| AudioRecording   | audio/*         | maxDurationInSeconds (else 10 min) x 32 KB/s (256 kbit/s)          |
| VideoRecording   | video/*         | maxDurationInSeconds (else 5 min) x 1 MB/s (8 Mbit/s)              |
| ImageMarker      | image/*         | 10 MB (the drawing: a PNG of the marked image)                      |
| media (task-JSON)| image/*, audio/*| image 20 MB; audio: extra.max_length (else 10 min) x 32 KB/s |

Every limit is at least 1 MB (a container's headers on a second of recording) and at most 512 MB.
The rates are twice the transfer estimates of the catalogue (SIZE_ESTIMATES): browsers record at
rates of their own choosing, and a limit must not refuse an honest recording.
"""

import math
from dataclasses import dataclass
from typing import Any, Final

from pydantic import Field, StrictStr

from crowdtask.models.base import ApiModel, OutModel, ResourceId, Whole
from crowdtask.models.components import (
    AudioRecordingComponent,
    ImageMarkerComponent,
    Integer,
    MediaComponent,
    VideoRecordingComponent,
    component_model,
)

_KB: Final = 1024
_MB: Final = 1024 * _KB
MIN_LIMIT_BYTES: Final = 1 * _MB
MAX_LIMIT_BYTES: Final = 512 * _MB
AUDIO_BYTES_PER_SECOND: Final = 32 * _KB
VIDEO_BYTES_PER_SECOND: Final = 1 * _MB
AUDIO_DEFAULT_SECONDS: Final = 600
VIDEO_DEFAULT_SECONDS: Final = 300
DRAWING_LIMIT_BYTES: Final = 10 * _MB
PHOTO_LIMIT_BYTES: Final = 20 * _MB
CONTENT_TYPE_PATTERN: Final = r"^[a-z]+/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(;[ -~]{0,120})?$"


@dataclass(frozen=True, slots=True)
class MediaRule:
    """What a component takes as an upload: the size limit per type family ("audio", "image", ...)."""

    component_type: str
    limits: dict[str, int]

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self.limits)

    def family_of(self, content_type: str) -> str | None:
        """The family of `content_type` when this component takes it ("audio/webm" -> "audio")."""
        family = content_type.split("/", 1)[0].strip().lower()
        return family if family in self.limits else None

    def describe(self) -> str:
        return " or ".join(f"{family}/*" for family in self.families)


def _bounded(n_bytes: float) -> int:
    return max(MIN_LIMIT_BYTES, min(MAX_LIMIT_BYTES, math.ceil(n_bytes)))


def media_rule(component: Any) -> MediaRule | None:
    """The upload rule of a component (model or stored mapping); None when it takes no media."""
    model = component_model(component)
    if isinstance(model, AudioRecordingComponent):
        seconds = model.maxDurationInSeconds or AUDIO_DEFAULT_SECONDS
        return MediaRule("AudioRecording", {"audio": _bounded(seconds * AUDIO_BYTES_PER_SECOND)})
    if isinstance(model, VideoRecordingComponent):
        seconds = model.maxDurationInSeconds or VIDEO_DEFAULT_SECONDS
        return MediaRule("VideoRecording", {"video": _bounded(seconds * VIDEO_BYTES_PER_SECOND)})
    if isinstance(model, ImageMarkerComponent):
        return MediaRule("ImageMarker", {"image": _bounded(DRAWING_LIMIT_BYTES)})
    if isinstance(model, MediaComponent):
        extra = model.extra
        seconds = extra.max_length if extra is not None and extra.max_length else AUDIO_DEFAULT_SECONDS
        return MediaRule(
            "media",
            {"image": _bounded(PHOTO_LIMIT_BYTES), "audio": _bounded(seconds * AUDIO_BYTES_PER_SECOND)},
        )
    return None


class UploadIn(ApiModel):
    """POST /assignments/{id}/uploads: the file the worker is about to upload."""

    task: ResourceId = Field(description="id of a task of the assignment")
    component: Integer = Field(
        ge=0,
        le=399,
        description="the component's index in the task's results: its `components`, then its "
        "`components_attributes`",
    )
    contentType: StrictStr = Field(
        max_length=255,
        pattern=CONTENT_TYPE_PATTERN,
        description="the file's MIME type, in the component's family: audio/* (AudioRecording), video/* "
        "(VideoRecording), image/* (ImageMarker), image/* or audio/* (media)",
    )
    size: Integer = Field(
        gt=0, description="the file's size in bytes; the upload may not be larger, nor the component's limit"
    )


class UploadOut(OutModel):
    """An S3 presigned POST: the browser posts a multipart form with `fields` and then the file to `url`."""

    url: str = Field(description="where to POST the multipart form (S3, never this API)")
    fields: dict[str, str] = Field(
        description="form fields to send as they are, before the `file` field (key, policy, signature, "
        "Content-Type)"
    )
    expiresAt: str = Field(description="the form is refused after this time (UTC)")
    resultUrl: str = Field(
        description="the object's URL: put it in the component's result (`{url: resultUrl}`) once uploaded"
    )
    maxSize: Whole = Field(description="the largest file the form takes, in bytes (the declared `size`)")
