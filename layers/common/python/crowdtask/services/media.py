"""Media results: presigned uploads for a worker's own assignment, checks at submit, download URLs.

The upload window is the submit window: an assignment takes uploads while it is open and until its
`submitBy` (its deadline plus the campaign's maxUploadTime), so a worker who finishes at the
deadline still has maxUploadTime to upload and submit. Once submitted (or released, or expired) an
assignment takes no more uploads: its result already names the objects it checked.
"""

from __future__ import annotations

import mimetypes
import secrets
from datetime import timedelta
from typing import Any, NamedTuple

from crowdtask import clock, errors
from crowdtask.config import settings
from crowdtask.models.media import MediaRule, UploadIn, UploadOut, media_rule
from crowdtask.observability import logger
from crowdtask.services import assignments
from crowdtask.services.grading import component_tag, task_components
from crowdtask.store import media as media_store
from crowdtask.store import tasks as task_store

# Extensions for the types recorders produce that `mimetypes` does not know (or knows as another).
_EXTENSIONS = {"audio/aac": ".aac", "audio/webm": ".webm", "video/webm": ".webm", "audio/ogg": ".ogg"}


def _extension(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ""


def _rule_of(components: list[Any], index: int) -> MediaRule:
    if index >= len(components):
        raise errors.ValidationFailed.one(
            "component", f"The task has {len(components)} components; there is no component {index}"
        )
    rule = media_rule(components[index])
    if rule is None:
        raise errors.ValidationFailed.one(
            "component",
            f"Component {index} is a {component_tag(components[index]) or 'component'}: it takes no media",
        )
    return rule


def upload_form(worker_id: str, assignment_id: str, body: UploadIn) -> UploadOut:
    """A presigned POST for one file of one component of the worker's open assignment."""
    now = clock.now()
    item = assignments.require_open(worker_id, assignment_id, clock.iso(now), "uploads")
    if body.task not in [str(t) for t in item.get("task_ids", [])]:
        raise errors.ValidationFailed.one("task", f"Task {body.task} is not a task of this assignment")
    task = task_store.get(item["requester_id"], body.task) or {}
    rule = _rule_of(task_components(task), body.component)
    family = rule.family_of(body.contentType)
    if family is None:
        raise errors.ValidationFailed.one(
            "contentType",
            f"A {rule.component_type} component takes {rule.describe()}, not {body.contentType}",
        )
    limit = rule.limits[family]
    if body.size > limit:
        raise errors.ValidationFailed.one(
            "size", f"A {family} file of this component may be at most {limit} bytes", "OUT_OF_RANGE"
        )
    key = (
        media_store.key_prefix(assignment_id, body.task, body.component)
        + secrets.token_hex(12)
        + _extension(body.contentType)
    )
    # The form outlives neither its own lifetime nor the assignment's window.
    submit_by = clock.parse(item["submitBy"]) or now
    lifetime = min(settings().media_upload_seconds, max(1, int((submit_by - now).total_seconds())))
    url, fields = media_store.upload_form(key, body.contentType, family, body.size, lifetime)
    return UploadOut(
        url=url,
        fields=fields,
        expiresAt=clock.iso(now + timedelta(seconds=lifetime)),
        resultUrl=media_store.object_url(key),
        maxSize=body.size,
    )


class CheckedUploads(NamedTuple):
    """What a submission's check of its media found: one error per bad result, and per component
    (by index) the upload it checked, to be stored beside the result."""

    problems: list[dict[str, str]]
    uploads: dict[int, dict[str, Any]]


def check_uploads(
    assignment_id: str, task_id: str, components: list[Any], results: list[Any], field: str
) -> CheckedUploads:
    """Media results must name this assignment's uploads of their own component, of the right type
    and size; one error per bad one, at `{field}[j].result`. Each good one is recorded as the version
    checked (its `versionId`, size and type): what the requester reads later is that version, whatever
    is posted to the same key afterwards."""
    checked = CheckedUploads([], {})
    for index, (component, result) in enumerate(zip(components, results, strict=True)):
        rule = media_rule(component)
        if rule is None or not isinstance(result, dict) or not isinstance(result.get("url"), str):
            continue
        prefix = media_store.key_prefix(assignment_id, task_id, index)
        found = _checked_object(rule, prefix, result["url"])
        if isinstance(found, str):
            where = f"{field}[{index}].result"
            checked.problems.append({"field": where, "message": found, "code": "INVALID_VALUE"})
        else:
            version = {"versionId": found.version_id} if found.version_id else {}
            checked.uploads[index] = {**version, "size": found.size, "contentType": found.content_type}
    return checked


def _checked_object(rule: MediaRule, prefix: str, url: str) -> media_store.StoredObject | str:
    """The object the URL names, or why it is not one this component takes."""
    key = media_store.key_of(url)
    if key is None or not key.startswith(prefix) or "/" in key[len(prefix) :]:
        return (
            f"The {rule.component_type} result must be the resultUrl of an upload made for this "
            "component of this assignment (POST /assignments/{id}/uploads)"
        )
    found = media_store.head(key)
    if found is None:
        return f"Nothing was uploaded to {url}"
    family = rule.family_of(found.content_type)
    if family is None:
        return f"The upload is {found.content_type or 'of no type'}; this component takes {rule.describe()}"
    if found.size > rule.limits[family]:
        return f"The upload has {found.size} bytes; this component takes at most {rule.limits[family]}"
    return found


def _stored_upload(component: dict[str, Any]) -> media_store.ObjectVersion | None:
    """The bucket's object (the version its submission checked) a stored component result names."""
    result = component.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("url"), str):
        return None
    key = media_store.key_of(result["url"])
    if key is None:
        return None
    # a result stored before versions were recorded names the key's latest version
    version = (component.get("upload") or {}).get("versionId")
    return media_store.ObjectVersion(key, str(version) if version else None)


def with_download_urls(task_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task results with a time-limited `downloadUrl` beside each media result held in the bucket: a
    presigned GET of the version its submission checked."""
    seconds = settings().media_download_seconds
    shown = []
    for entry in task_results:
        components = []
        for component in entry.get("components", []):
            stored = _stored_upload(component)
            link = {} if stored is None else {"downloadUrl": media_store.download_url(stored, seconds)}
            components.append({**component, **link})
        shown.append({**entry, "components": components})
    return shown


def uploaded_objects(task_results: list[dict[str, Any]]) -> list[media_store.ObjectVersion]:
    """The bucket's objects (the versions checked) a stored result names."""
    found = (_stored_upload(c) for entry in task_results for c in entry.get("components", []))
    return [stored for stored in found if stored is not None]


def keep(task_results: list[dict[str, Any]]) -> None:
    """A submission's media are kept: their tag leaves "pending", whose lifecycle rule would delete
    them. Done before the submission is stored, so a stored result never names an object left to
    expire (an S3 failure fails the submission, which the worker retries)."""
    objects = uploaded_objects(task_results)
    if objects:
        media_store.mark_kept(objects)


def discard(task_results: list[dict[str, Any]]) -> None:
    """Tag a rejected result's media for the bucket's lifecycle rule, which deletes them after
    MediaDiscardDays. Best effort after the rejection is committed: an object left untagged costs
    storage, never correctness."""
    objects = uploaded_objects(task_results)
    if not objects:
        return
    try:
        media_store.mark_discarded(objects)
    except Exception:
        logger.exception("tagging rejected media failed", extra={"keys": [o.key for o in objects]})
