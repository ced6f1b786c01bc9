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
from typing import Any

from crowdtask import clock, errors
from crowdtask.config import settings
from crowdtask.models.media import MediaRule, UploadIn, UploadOut, component_type, media_rule
from crowdtask.observability import logger
from crowdtask.services import assignments
from crowdtask.store import media as media_store
from crowdtask.store import tasks as task_store

# Extensions for the types recorders produce that `mimetypes` does not know (or knows as another).
_EXTENSIONS = {"audio/aac": ".aac", "audio/webm": ".webm", "video/webm": ".webm", "audio/ogg": ".ogg"}


def task_components(task: dict[str, Any]) -> list[Any]:
    """A task's components in result order: its Swarms `components`, then its task-JSON ones."""
    return [*task.get("components", []), *task.get("components_attributes", [])]


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
            "component", f"Component {index} is a {component_type(components[index])}: it takes no media"
        )
    return rule


def upload_form(worker_id: str, assignment_id: str, body: UploadIn) -> UploadOut:
    """A presigned POST for one file of one component of the worker's open assignment."""
    item = assignments.require_assignment(worker_id, assignment_id)
    now = clock.now()
    if item["state"] != "open":
        raise errors.Conflict(
            f"Assignment {assignment_id} is {item['state']}; only an open one takes uploads."
        )
    if item["submitBy"] < clock.iso(now):
        raise errors.Conflict(
            f"Assignment {assignment_id} took uploads until {item['submitBy']} (its deadline plus the "
            "campaign's maxUploadTime)."
        )
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


def result_errors(
    assignment_id: str, task_id: str, components: list[Any], results: list[Any], field: str
) -> list[dict[str, str]]:
    """Media results must name this assignment's uploads of their own component, of the right type
    and size; one error per bad one, at `{field}[j].result`."""
    problems = []
    for index, (component, result) in enumerate(zip(components, results, strict=True)):
        rule = media_rule(component)
        if rule is None or not isinstance(result, dict) or not isinstance(result.get("url"), str):
            continue
        where = f"{field}[{index}].result"
        why = _object_problem(rule, media_store.key_prefix(assignment_id, task_id, index), result["url"])
        if why is not None:
            problems.append({"field": where, "message": why, "code": "INVALID_VALUE"})
    return problems


def _object_problem(rule: MediaRule, prefix: str, url: str) -> str | None:
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
    return None


def with_download_urls(task_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task results with a time-limited `downloadUrl` beside each media result held in the bucket."""
    seconds = settings().media_download_seconds
    shown = []
    for entry in task_results:
        components = []
        for component in entry.get("components", []):
            result = component.get("result")
            key = None
            if isinstance(result, dict) and isinstance(result.get("url"), str):
                key = media_store.key_of(result["url"])
            link = {} if key is None else {"downloadUrl": media_store.download_url(key, seconds)}
            components.append({**component, **link})
        shown.append({**entry, "components": components})
    return shown


def uploaded_keys(task_results: list[dict[str, Any]]) -> list[str]:
    """The bucket's objects a stored result names."""
    keys = []
    for entry in task_results:
        for component in entry.get("components", []):
            result = component.get("result")
            if isinstance(result, dict) and isinstance(result.get("url"), str):
                key = media_store.key_of(result["url"])
                if key is not None:
                    keys.append(key)
    return keys


def keep(task_results: list[dict[str, Any]]) -> None:
    """A submission's media are kept: their tag leaves "pending", whose lifecycle rule would delete
    them. Done before the submission is stored, so a stored result never names an object left to
    expire (an S3 failure fails the submission, which the worker retries)."""
    keys = uploaded_keys(task_results)
    if keys:
        media_store.mark_kept(keys)


def discard(task_results: list[dict[str, Any]]) -> None:
    """Tag a rejected result's media for the bucket's lifecycle rule, which deletes them after
    MediaDiscardDays. Best effort after the rejection is committed: an object left untagged costs
    storage, never correctness."""
    keys = uploaded_keys(task_results)
    if not keys:
        return
    try:
        media_store.mark_discarded(keys)
    except Exception:
        logger.exception("tagging rejected media failed", extra={"keys": keys})
