"""Media results: the upload rules of each component, the upload route's refusals, the checks at submit
and the requester's download URLs (moto in-process; the browser's POST is over the local stack)."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
import requests

from crowdtask.models.media import MAX_LIMIT_BYTES, MIN_LIMIT_BYTES, UploadIn, media_rule
from tests.support.handlers import invoke
from tests.support.infra import MEDIA_BUCKET
from tests.support.market import CHOICE, published_job

MB = 1024 * 1024
RECORDING = {"type": "AudioRecording", "maxDurationInSeconds": 60}  # 60 s x 32 KB/s: 1.875 MB
PHOTO = {"component_type": "media", "name": "photo", "required": "yes", "extra": {"max_length": 10}}


# ---------------------------------------------------------------- the rules (pure)
@pytest.mark.parametrize(
    ("component", "limits"),
    [
        (RECORDING, {"audio": 60 * 32 * 1024}),
        ({"type": "AudioRecording"}, {"audio": 600 * 32 * 1024}),  # no maximum: ten minutes
        ({"type": "AudioRecording", "maxDurationInSeconds": 2}, {"audio": MIN_LIMIT_BYTES}),
        ({"type": "VideoRecording", "maxDurationInSeconds": 20}, {"video": 20 * MB}),
        ({"type": "VideoRecording", "maxDurationInSeconds": 3600}, {"video": MAX_LIMIT_BYTES}),
        ({"type": "ImageMarker", "url": "https://example.com/a.png"}, {"image": 10 * MB}),
        (PHOTO, {"image": 20 * MB, "audio": MIN_LIMIT_BYTES}),
    ],
)
def test_each_media_component_takes_its_family_up_to_a_limit_from_its_attributes(component, limits):
    rule = media_rule(component)
    assert rule is not None
    assert rule.limits == limits


@pytest.mark.parametrize(
    "component",
    [CHOICE, {"type": "Image", "url": "https://example.com/a.png"}, {"type": "Audio"}, {"type": "Text"}],
)
def test_components_that_take_plain_values_or_show_something_take_no_media(component):
    assert media_rule(component) is None


def test_a_family_is_the_type_before_the_slash_whatever_its_case_and_parameters():
    rule = media_rule(PHOTO)
    assert rule is not None
    assert rule.family_of("Audio/webm;codecs=opus") == "audio"
    assert rule.family_of("image/png") == "image"
    assert rule.family_of("video/mp4") is None
    assert rule.family_of("text/html") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contentType": "audio"}, "contentType"),
        ({"contentType": "audio/aac\r\nX-Evil: 1"}, "contentType"),
        ({"size": 0}, "size"),
        ({"size": "10"}, "size"),
        ({"component": -1}, "component"),
        ({"component": True}, "component"),
    ],
)
def test_an_upload_request_names_its_bad_field(body, field):
    with pytest.raises(ValueError, match=field):
        UploadIn.model_validate({"task": "t", "component": 0, "contentType": "audio/aac", "size": 10, **body})


def test_a_whole_number_written_with_a_fraction_is_the_integer_the_document_allows():
    """JSON Schema's `integer` is any number with a zero fraction: 24.0 is one, 24.5 is not."""
    body = {"task": "t", "component": 1.0, "contentType": "audio/aac", "size": 24413397051140.0}
    taken = UploadIn.model_validate(body)
    assert (taken.component, taken.size) == (1, 24413397051140)
    assert isinstance(taken.size, int)
    with pytest.raises(ValueError, match="size"):
        UploadIn.model_validate({**body, "size": 10.5})


# ---------------------------------------------------------------- the route
def _claimed(requester, worker, components: list[Any] | None = None, **campaign: Any) -> Any:
    from crowdtask.services import assignments

    tasks = [{"components": components or [RECORDING, CHOICE]}]
    campaign_id, job_id = published_job(requester.id, tasks, **campaign)
    return assignments.claim(worker.id, job_id, campaign_id, None, None)


def _upload(caller, assignment_id: str, **body: Any):
    return invoke("media", "media_upload", token=caller.token, path_params={"id": assignment_id}, body=body)


def _request(assignment, **body: Any) -> dict[str, Any]:
    return {"task": assignment.tasks[0].id, "component": 0, "contentType": "audio/aac", "size": 1000, **body}


def test_the_worker_gets_a_presigned_post_fixing_key_type_family_and_size(requester, worker):
    assignment = _claimed(requester, worker)
    reply = _upload(worker, assignment.id, **_request(assignment, contentType="audio/webm;codecs=opus"))
    assert reply.status == 200, reply.body
    form = reply.body
    key = form["fields"]["key"]
    assert key.startswith(f"media/{assignment.id}/{assignment.tasks[0].id}/0/")
    assert key.endswith(".webm")
    assert form["resultUrl"] == form["url"].rstrip("/") + "/" + key
    assert form["fields"]["Content-Type"] == "audio/webm;codecs=opus"
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert ["eq", "$key", key] in policy["conditions"]
    assert ["starts-with", "$Content-Type", "audio/"] in policy["conditions"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    # each call names a new object
    again = _upload(worker, assignment.id, **_request(assignment)).body
    assert again["fields"]["key"] != key


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contentType": "video/mp4"}, "contentType"),
        ({"size": 60 * 32 * 1024 + 1}, "size"),
        ({"component": 1}, "component"),  # a BinaryChoice
        ({"component": 2}, "component"),  # there is none
        ({"task": "01JB0000000000000000000001"}, "task"),
    ],
)
def test_the_route_refuses_what_the_component_does_not_take(requester, worker, body, field):
    assignment = _claimed(requester, worker)
    reply = _upload(worker, assignment.id, **_request(assignment, **body))
    assert reply.status == 422, reply.body
    assert field in json.dumps(reply.body)


def test_another_workers_assignment_is_not_found(requester, worker):
    from tests.support.accounts import make_account

    assignment = _claimed(requester, worker)
    assert _upload(make_account("worker"), assignment.id, **_request(assignment)).status == 404
    assert (
        _upload(requester, assignment.id, **_request(assignment)).status == 403
    )  # requesters upload nothing


def test_uploads_are_taken_until_submit_by_and_not_after_submission(requester, worker, frozen_clock):
    from crowdtask.models.market import SubmitIn
    from crowdtask.services.flows import reviewing

    assignment = _claimed(
        requester, worker, [CHOICE, RECORDING], maxWorkTime="10 min", maxUploadTime="4 hours"
    )
    # past the deadline, within maxUploadTime: still open for uploads
    frozen_clock.advance(hours=3)
    late = _upload(worker, assignment.id, **_request(assignment, component=1))
    assert late.status == 200, late.body
    assert late.body["expiresAt"] <= assignment.submitBy
    frozen_clock.advance(hours=1, minutes=11)
    assert _upload(worker, assignment.id, **_request(assignment, component=1)).status == 409
    # a submitted assignment takes no more uploads
    other = _claimed(requester, worker, [CHOICE])
    reviewing.submit(
        worker.id,
        other.id,
        SubmitIn.model_validate(
            {
                "taskResults": [
                    {"task": other.tasks[0].id, "components": [{"result": {"selectedOption": "Yes"}}]}
                ]
            }
        ),
    )
    refused = _upload(worker, other.id, **_request(other))
    assert refused.status == 409


def test_a_form_never_outlives_the_assignment_window(requester, worker, frozen_clock):
    assignment = _claimed(requester, worker, maxWorkTime="2 min")
    frozen_clock.advance(minutes=1)
    form = _upload(worker, assignment.id, **_request(assignment)).body
    assert form["expiresAt"] == assignment.submitBy


# ---------------------------------------------------------------- submit checks
def _put(key: str, size: int, content_type: str) -> None:
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=b"\0" * size, ContentType=content_type)


def _submit(worker, assignment, url: str):
    body = {
        "taskResults": [
            {
                "task": assignment.tasks[0].id,
                "components": [{"result": {"url": url}}, {"result": {"selectedOption": "Yes"}}],
            }
        ]
    }
    return invoke("market", "market_submit", token=worker.token, path_params={"id": assignment.id}, body=body)


def _form_for(worker, assignment, **body: Any) -> dict[str, Any]:
    reply = _upload(worker, assignment.id, **_request(assignment, **body))
    assert reply.status == 200, reply.body
    return dict(reply.body)


def test_a_submission_naming_its_own_upload_is_taken(requester, worker):
    assignment = _claimed(requester, worker)
    form = _form_for(worker, assignment)
    _put(form["fields"]["key"], 1000, "audio/aac")
    submitted = _submit(worker, assignment, form["resultUrl"])
    assert submitted.status == 201, submitted.body
    assert submitted.body["taskResults"][0]["components"][0]["result"] == {"url": form["resultUrl"]}
    assert "downloadUrl" not in submitted.body["taskResults"][0]["components"][0]  # requesters only


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        (None, "Nothing was uploaded"),
        ((1000, "text/html"), "takes audio/*"),
        ((60 * 32 * 1024 + 1, "audio/aac"), "at most"),
    ],
)
def test_a_submission_naming_a_missing_or_bad_object_is_refused_naming_the_component(
    requester, worker, stored, why
):
    assignment = _claimed(requester, worker)
    form = _form_for(worker, assignment)
    if stored is not None:  # put straight into the bucket, as if the form's conditions were not checked
        _put(form["fields"]["key"], *stored)
    refused = _submit(worker, assignment, form["resultUrl"])
    assert refused.status == 422, refused.body
    text = json.dumps(refused.body)
    assert "taskResults[0].components[0].result" in text
    assert why in text


def test_a_submission_naming_another_url_or_another_assignments_upload_is_refused(requester, worker):
    from tests.support.accounts import make_account

    mine = _claimed(requester, worker)
    someone = make_account("worker")
    from crowdtask.services import assignments

    theirs = assignments.claim(someone.id, mine.job, mine.campaign, None, None)
    form = _form_for(someone, theirs)
    _put(form["fields"]["key"], 1000, "audio/aac")
    other_component = form["resultUrl"].replace(f"/{theirs.tasks[0].id}/0/", f"/{theirs.tasks[0].id}/1/")
    for url in ("https://example.com/take.aac", form["resultUrl"], other_component):
        refused = _submit(worker, mine, url)
        assert refused.status == 422, (url, refused.body)
        assert "taskResults[0].components[0].result" in json.dumps(refused.body)
    assert _submit(someone, theirs, form["resultUrl"]).status == 201


# ---------------------------------------------------------------- downloads
def test_requesters_read_media_results_with_a_download_url(requester, worker):
    assignment = _claimed(requester, worker)
    form = _form_for(worker, assignment)
    _put(form["fields"]["key"], 1000, "audio/aac")
    result_id = _submit(worker, assignment, form["resultUrl"]).body["id"]
    read = invoke("results", "results_get", token=requester.token, path_params={"id": result_id})
    assert read.status == 200, read.body
    components = read.body["taskResults"][0]["components"]
    assert form["fields"]["key"] in components[0]["downloadUrl"]
    assert "X-Amz-Expires=3600" in components[0]["downloadUrl"]
    assert "downloadUrl" not in components[1]
    listed = invoke(
        "results",
        "results_campaign_results",
        token=requester.token,
        path_params={"id": assignment.campaign},
        query={},
    )
    assert (
        form["fields"]["key"] in listed.body["results"][0]["taskResults"][0]["components"][0]["downloadUrl"]
    )


def test_what_is_posted_after_the_submission_is_never_what_the_requester_reads(requester, worker):
    from crowdtask.services.flows import reviewing

    # Given a submission that checked a 1000-byte AAC upload
    assignment = _claimed(requester, worker)
    form = _form_for(worker, assignment)
    key = form["fields"]["key"]
    s3 = boto3.client("s3")
    checked = s3.put_object(Bucket=MEDIA_BUCKET, Key=key, Body=b"a" * 1000, ContentType="audio/aac")
    result_id = _submit(worker, assignment, form["resultUrl"]).body["id"]
    # When other bytes of another type are put on the same key afterwards (the form is still valid)
    later = s3.put_object(Bucket=MEDIA_BUCKET, Key=key, Body=b"<b>x</b>", ContentType="text/html")
    assert later["VersionId"] != checked["VersionId"]
    # Then the result records the version it checked, and the requester's URLs name that version
    read = invoke("results", "results_get", token=requester.token, path_params={"id": result_id})
    component = read.body["taskResults"][0]["components"][0]
    assert component["upload"] == {
        "versionId": checked["VersionId"],
        "size": 1000,
        "contentType": "audio/aac",
    }
    assert f"versionId={checked['VersionId']}" in component["downloadUrl"]
    fetched = requests.get(component["downloadUrl"], timeout=10)
    assert (fetched.status_code, fetched.content) == (200, b"a" * 1000)
    listed = invoke(
        "results", "results_campaign_results", token=requester.token, path_params={"id": assignment.campaign}
    )
    listed_url = listed.body["results"][0]["taskResults"][0]["components"][0]["downloadUrl"]
    assert f"versionId={checked['VersionId']}" in listed_url

    # and the retention tags go to the version checked, never to the later one
    def tags(version: str) -> list[dict[str, str]]:
        return list(s3.get_object_tagging(Bucket=MEDIA_BUCKET, Key=key, VersionId=version)["TagSet"])

    assert tags(checked["VersionId"]) == [{"Key": "retention", "Value": "kept"}]
    assert tags(later["VersionId"]) == []
    reviewing.reject(requester.id, result_id, "not a cat")
    assert tags(checked["VersionId"]) == [{"Key": "retention", "Value": "discard"}]
    assert tags(later["VersionId"]) == []


def test_a_result_stored_before_versions_were_recorded_reads_the_latest(requester, worker):
    from crowdtask.services import media

    stored = [{"components": [{"data": RECORDING, "result": {"url": _bucket_url() + "media/a/t/0/x.aac"}}]}]
    shown = media.with_download_urls(stored)
    url = shown[0]["components"][0]["downloadUrl"]
    assert "media/a/t/0/x.aac" in url
    assert "versionId" not in url


def _bucket_url() -> str:
    from crowdtask.store import media as media_store

    return media_store.bucket_url()


def test_a_rejection_tags_the_results_media_for_the_lifecycle_rule(requester, worker):
    from crowdtask.services.flows import reviewing

    assignment = _claimed(requester, worker)
    form = _form_for(worker, assignment)
    _put(form["fields"]["key"], 1000, "audio/aac")
    result_id = _submit(worker, assignment, form["resultUrl"]).body["id"]
    s3 = boto3.client("s3")
    kept = s3.get_object_tagging(Bucket=MEDIA_BUCKET, Key=form["fields"]["key"])["TagSet"]
    assert kept == [{"Key": "retention", "Value": "kept"}]
    reviewing.reject(requester.id, result_id, "not a cat")
    tags = s3.get_object_tagging(Bucket=MEDIA_BUCKET, Key=form["fields"]["key"])["TagSet"]
    assert tags == [{"Key": "retention", "Value": "discard"}]


def test_the_bucket_expires_discarded_and_unsubmitted_uploads_and_aborts_stale_ones():
    from crowdtask.store import media as media_store
    from tests.support.infra import template

    bucket = template()["Resources"]["MediaBucket"]["Properties"]
    rules = bucket["LifecycleConfiguration"]["Rules"]
    expired = {(f["Key"], f["Value"]) for rule in rules for f in rule.get("TagFilters", [])}
    assert expired == {
        (media_store.RETENTION_KEY, media_store.DISCARD),
        (media_store.RETENTION_KEY, media_store.PENDING),
    }
    # versions kept: a noncurrent version of an expiring tag goes after the same days; a kept one never
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    for rule in rules:
        if rule.get("TagFilters"):
            assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == rule["ExpirationInDays"]
        else:  # no rule without a tag filter deletes a version
            assert not {"ExpirationInDays", "NoncurrentVersionExpiration"} & set(rule)
    assert any(rule.get("ExpiredObjectDeleteMarker") for rule in rules)
    assert any(rule.get("AbortIncompleteMultipartUpload") for rule in rules)
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_an_upload_is_pending_until_a_submission_keeps_it(requester, worker):
    from crowdtask.store import media as media_store

    assignment = _claimed(requester, worker)
    form = _form_for(worker, assignment)
    # the form tags the object pending, and its policy holds the tag
    assert form["fields"]["tagging"] == media_store.tagging_xml(media_store.PENDING)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert {"tagging": form["fields"]["tagging"]} in policy["conditions"]
    _put(form["fields"]["key"], 1000, "audio/aac")
    assert _submit(worker, assignment, form["resultUrl"]).status == 201
    tags = boto3.client("s3").get_object_tagging(Bucket=MEDIA_BUCKET, Key=form["fields"]["key"])["TagSet"]
    assert tags == [{"Key": "retention", "Value": "kept"}]


def test_a_submission_fails_whole_when_its_media_cannot_be_kept(requester, worker, monkeypatch):
    from crowdtask.services import assignments
    from crowdtask.store import media as media_store

    assignment = _claimed(requester, worker)
    form = _form_for(worker, assignment)
    _put(form["fields"]["key"], 1000, "audio/aac")

    def s3_down(objects: list[Any]) -> None:
        raise ConnectionError("S3 is unreachable")

    working = media_store.mark_kept
    monkeypatch.setattr(media_store, "mark_kept", s3_down)
    assert _submit(worker, assignment, form["resultUrl"]).status == 500
    assert assignments.get_assignment(worker.id, assignment.id).state == "open"  # nothing stored
    monkeypatch.setattr(media_store, "mark_kept", working)
    assert _submit(worker, assignment, form["resultUrl"]).status == 201  # the retry goes through


def test_a_rejection_stands_when_tagging_its_media_fails(requester, worker, monkeypatch):
    from crowdtask.services.flows import reviewing
    from crowdtask.store import media as media_store

    assignment = _claimed(requester, worker)
    form = _form_for(worker, assignment)
    _put(form["fields"]["key"], 1000, "audio/aac")
    result_id = _submit(worker, assignment, form["resultUrl"]).body["id"]

    def s3_down(objects: list[Any]) -> None:
        raise ConnectionError("S3 is unreachable")

    monkeypatch.setattr(media_store, "mark_discarded", s3_down)
    rejected = reviewing.reject(requester.id, result_id, "not a cat")
    assert rejected.state == "Rejected"
    again = invoke("results", "results_get", token=requester.token, path_params={"id": result_id})
    assert again.body["state"] == "Rejected"
