"""Media results over HTTP: a worker uploads straight to the local S3 with a presigned POST, submits,
and the requester downloads the same bytes; uploads outside their conditions are refused as S3 would."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Session, new_account
from tests.support.stack import RunningStack

pytestmark = pytest.mark.e2e

RECORDING = {"type": "AudioRecording", "maxDurationInSeconds": 30}  # limit: 1 MB (the floor)
CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}
SOUND = b"\xff\xf1" + bytes(range(256)) * 40  # an ADTS header and some bytes


def _published_job(owner: Session, **campaign: Any) -> str:
    task = owner.call("POST", "/tasks", json={"name": "Say cat", "components": [RECORDING, CHOICE]})
    assert task.status_code == 201, task.text
    job = owner.call("POST", "/jobs", json={"name": "voices"}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=[task.json()["id"]]).status_code == 200
    body = {"name": "voices", "workerPayment": 0.5, "results": 3, **campaign}
    campaign_id = owner.call("POST", "/campaigns", json=body).json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign_id}/jobs", json=[job]).status_code == 200
    published = owner.call("POST", f"/campaigns/{campaign_id}/publish")
    assert published.status_code == 200, published.text
    return job


def _claim(worker: Session, job: str) -> dict[str, Any]:
    claim = worker.call("POST", f"/market/jobs/{job}/claim")
    assert claim.status_code == 201, claim.text
    return dict(claim.json())


def _form(worker: Session, assignment: dict[str, Any], **body: Any) -> requests.Response:
    request = {
        "task": assignment["tasks"][0]["id"],
        "component": 0,
        "contentType": "audio/aac",
        "size": len(SOUND),
        **body,
    }
    return worker.call("POST", f"/assignments/{assignment['id']}/uploads", json=request)


def _post(form: dict[str, Any], data: bytes, **fields: str) -> requests.Response:
    """The browser's part: a multipart POST of the fields, then the file, to the form's URL."""
    return requests.post(
        form["url"], data={**form["fields"], **fields}, files={"file": ("take.aac", data)}, timeout=30
    )


def _submission(assignment: dict[str, Any], url: str) -> dict[str, Any]:
    task = assignment["tasks"][0]["id"]
    return {
        "taskResults": [
            {"task": task, "components": [{"result": {"url": url}}, {"result": {"selectedOption": "Yes"}}]}
        ]
    }


@pytest.fixture
def worker(api: RunningStack) -> Session:
    return new_account(api, role="worker")


def test_a_recording_goes_to_the_bucket_and_back_to_the_requester(api, requester, worker):
    # Given a worker's assignment of a task with a recording
    assignment = _claim(worker, _published_job(requester))
    # When the worker asks for an upload form and posts the file to S3 with it
    form = _form(worker, assignment)
    assert form.status_code == 200, form.text
    upload = form.json()
    assert upload["url"].startswith(api.info["s3_url"])  # the browser talks to S3, never to the API
    assert upload["maxSize"] == len(SOUND)
    stored = _post(upload, SOUND)
    assert stored.status_code == 204, stored.text
    bucket, key = upload["url"].rstrip("/").rsplit("/", 1)[1], upload["fields"]["key"]
    s3 = api.client("s3")
    assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [
        {"Key": "retention", "Value": "pending"}
    ]
    # and submits the result URL
    submitted = worker.call(
        "POST", f"/assignments/{assignment['id']}/submit", json=_submission(assignment, upload["resultUrl"])
    )
    assert submitted.status_code == 201, submitted.text
    assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [{"Key": "retention", "Value": "kept"}]
    # Then the requester reads the result with a download URL that gives the same bytes
    result = requester.call("GET", f"/results/{submitted.json()['id']}").json()
    component = result["taskResults"][0]["components"][0]
    assert component["result"] == {"url": upload["resultUrl"]}
    downloaded = requests.get(component["downloadUrl"], timeout=30)
    assert downloaded.status_code == 200
    assert downloaded.content == SOUND
    assert "downloadUrl" not in result["taskResults"][0]["components"][1]  # a choice is no media
    # and in the campaign's results list too
    listed = requester.call("GET", f"/campaigns/{result['campaign']}/results").json()["results"]
    assert (
        requests.get(listed[0]["taskResults"][0]["components"][0]["downloadUrl"], timeout=30).content == SOUND
    )


def test_bytes_posted_after_the_submission_never_reach_the_requester(api, requester, worker):
    # Given a submission that checked a recording uploaded with a form
    assignment = _claim(worker, _published_job(requester))
    upload = _form(worker, assignment).json()
    first = _post(upload, SOUND)
    assert first.status_code == 204, first.text
    submitted = worker.call(
        "POST", f"/assignments/{assignment['id']}/submit", json=_submission(assignment, upload["resultUrl"])
    )
    assert submitted.status_code == 201, submitted.text
    # When the worker posts other bytes to the same key with the same form (it has not expired)
    other = b"\xff\xf1" + b"something else" * 10
    again = _post(upload, other)
    assert again.status_code == 204, again.text
    assert again.headers["x-amz-version-id"] != first.headers["x-amz-version-id"]
    assert requests.get(upload["resultUrl"], timeout=30).status_code in (403, 404)  # never public
    # Then the result records the version its submission checked
    result = requester.call("GET", f"/results/{submitted.json()['id']}").json()
    component = result["taskResults"][0]["components"][0]
    assert component["upload"] == {
        "versionId": first.headers["x-amz-version-id"],
        "size": len(SOUND),
        "contentType": "audio/aac",
    }
    # and the requester downloads the checked bytes, from the result, the list and the worker's results
    downloaded = requests.get(component["downloadUrl"], timeout=30)
    assert (downloaded.status_code, downloaded.content) == (200, SOUND)
    listed = requester.call("GET", f"/campaigns/{result['campaign']}/results").json()["results"]
    assert (
        requests.get(listed[0]["taskResults"][0]["components"][0]["downloadUrl"], timeout=30).content == SOUND
    )
    by_worker = requester.call(
        "GET", f"/campaigns/{result['campaign']}/workers/{result['worker']}/results"
    ).json()["results"]
    assert (
        requests.get(by_worker[0]["taskResults"][0]["components"][0]["downloadUrl"], timeout=30).content
        == SOUND
    )
    # while the later bytes are there, as the pending latest version, for the lifecycle rule to expire
    bucket, key = upload["url"].rstrip("/").rsplit("/", 1)[1], upload["fields"]["key"]
    s3 = api.client("s3")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == other
    assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [
        {"Key": "retention", "Value": "pending"}
    ]
    checked = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=first.headers["x-amz-version-id"])
    assert checked["TagSet"] == [{"Key": "retention", "Value": "kept"}]


def test_s3_refuses_a_file_outside_the_form_conditions(api, requester, worker):
    # Given a form for a 10 KB audio file
    assignment = _claim(worker, _published_job(requester))
    upload = _form(worker, assignment).json()
    # When the browser posts something else than the form allows
    other_type = _post(upload, SOUND, **{"Content-Type": "text/html"})
    too_big = _post(upload, SOUND + b"x")
    other_key = _post(upload, SOUND, key=upload["fields"]["key"].rsplit("/", 1)[0] + "/other.aac")
    unsigned = _post(upload, SOUND, **{"x-amz-signature": "0" * 64})
    # Then S3 refuses each with its status and XML error, and stores nothing
    assert (other_type.status_code, "<Code>AccessDenied</Code>" in other_type.text) == (403, True)
    assert "Content-Type" in other_type.text
    assert (too_big.status_code, "<Code>EntityTooLarge</Code>" in too_big.text) == (400, True)
    assert (other_key.status_code, "<Code>AccessDenied</Code>" in other_key.text) == (403, True)
    assert (unsigned.status_code, "<Code>SignatureDoesNotMatch</Code>" in unsigned.text) == (403, True)
    assert requests.head(upload["resultUrl"], timeout=30).status_code in (403, 404)


def test_the_route_refuses_what_the_component_does_not_take(api, requester, worker):
    assignment = _claim(worker, _published_job(requester))
    # a video for an audio recording, a file over the limit, a component that takes no media
    wrong_type = _form(worker, assignment, contentType="video/mp4")
    too_big = _form(worker, assignment, size=1024 * 1024 + 1)
    no_media = _form(worker, assignment, component=1)
    unknown = _form(worker, assignment, component=2)
    not_its_task = _form(worker, assignment, task="01JB0000000000000000000001")
    for reply, field in [
        (wrong_type, "contentType"),
        (too_big, "size"),
        (no_media, "component"),
        (unknown, "component"),
        (not_its_task, "task"),
    ]:
        assert reply.status_code == 422, reply.text
        assert [error["field"] for error in reply.json()["errors"]] == [field], reply.text
    # another worker's assignment is not found
    other = new_account(api, role="worker")
    assert _form(other, assignment).status_code == 404


def test_a_submission_must_name_its_own_upload(api, requester, worker):
    job = _published_job(requester)
    assignment = _claim(worker, job)
    # a URL elsewhere, and an upload form never used
    never_uploaded = _form(worker, assignment).json()["resultUrl"]
    for url in ("https://example.com/take.aac", never_uploaded):
        refused = worker.call(
            "POST", f"/assignments/{assignment['id']}/submit", json=_submission(assignment, url)
        )
        assert refused.status_code == 422, refused.text
        assert "taskResults[0].components[0].result" in refused.text
    # another assignment's upload, made and posted
    someone = new_account(api, role="worker")
    other = _claim(someone, job)
    mine = _form(worker, assignment).json()
    assert _post(mine, SOUND).status_code == 204
    refused = someone.call(
        "POST", f"/assignments/{other['id']}/submit", json=_submission(other, mine["resultUrl"])
    )
    assert refused.status_code == 422, refused.text
    assert "taskResults[0].components[0].result" in refused.text
    # while its own worker may submit it
    accepted = worker.call(
        "POST", f"/assignments/{assignment['id']}/submit", json=_submission(assignment, mine["resultUrl"])
    )
    assert accepted.status_code == 201, accepted.text


def test_uploads_end_with_the_assignment_window(api, requester, worker):
    # Given an assignment whose work and upload time are over
    assignment = _claim(worker, _published_job(requester, maxWorkTime="1 sec", maxUploadTime="1 sec"))
    upload = _form(worker, assignment)
    assert upload.status_code == 200, upload.text
    form = upload.json()
    # timestamps are whole seconds: wait until the window's last second has passed
    over = datetime.fromisoformat(assignment["submitBy"]).replace(tzinfo=UTC) + timedelta(seconds=1.2)
    time.sleep(max(0.0, (over - datetime.now(UTC)).total_seconds()))
    # When the worker asks for another form, or posts with the one that has expired
    late = _form(worker, assignment)
    expired = _post(form, SOUND)
    # Then both are refused
    assert late.status_code == 409, late.text
    assert (expired.status_code, "Policy expired" in expired.text) == (403, True)


def test_the_bucket_answers_browser_preflights_from_its_cors_rules(api, requester, worker):
    assignment = _claim(worker, _published_job(requester))
    url = _form(worker, assignment).json()["url"]
    origin = api.info["api_url"]
    allowed = requests.options(
        url, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}, timeout=30
    )
    refused = requests.options(
        url, headers={"Origin": origin, "Access-Control-Request-Method": "DELETE"}, timeout=30
    )
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] in ("*", origin)
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert refused.status_code == 403


def test_the_readme_media_session_works_as_pasted(api, tmp_path):
    from tests.support.stack import run_readme_session

    done = run_readme_session(api, tmp_path, "auth/token/request", "/uploads")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "204\n" in done.stdout
    assert done.stdout.rstrip().endswith("same bytes")


def test_racing_submissions_of_one_upload_store_one_result(api, requester, worker):
    from concurrent.futures import ThreadPoolExecutor

    # Given an uploaded recording, and the same submission sent four times at once (a client's retries)
    assignment = _claim(worker, _published_job(requester))
    forms = [_form(worker, assignment).json() for _ in range(3)]
    assert len({form["fields"]["key"] for form in forms}) == 3  # every form names its own object
    assert _post(forms[0], SOUND).status_code == 204
    body = _submission(assignment, forms[0]["resultUrl"])
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(
                lambda _: worker.call("POST", f"/assignments/{assignment['id']}/submit", json=body), range(4)
            )
        )
    # Then exactly one result is stored, and the others are told the assignment is submitted
    assert sorted(reply.status_code for reply in replies) == [201, 409, 409, 409], [r.text for r in replies]
    campaign = replies[[r.status_code for r in replies].index(201)].json()["campaign"]
    listed = requester.call("GET", f"/campaigns/{campaign}/results").json()["results"]
    assert len(listed) == 1


@pytest.mark.parametrize("length", ["many", "-5"])
def test_the_local_s3_answers_a_content_length_that_is_no_length_with_a_400(api, length):
    import socket
    from urllib.parse import urlsplit

    endpoint = urlsplit(api.info["s3_url"])
    request = f"PUT /any/key HTTP/1.1\r\nHost: {endpoint.netloc}\r\nContent-Length: {length}\r\n\r\n"
    with socket.create_connection((endpoint.hostname, endpoint.port), timeout=10) as conn:
        conn.sendall(request.encode())
        answer = ""
        while "</Error>" not in answer and (chunk := conn.recv(4096)):
            answer += chunk.decode(errors="replace")
    assert answer.startswith("HTTP/1.") and " 400 " in answer.split("\r\n", 1)[0], answer
    assert "<Code>InvalidArgument</Code>" in answer
