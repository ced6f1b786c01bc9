"""Media never pass through a function: bytes of function invocations while a recording is uploaded
and downloaded, on the local stack (its API gateway counts every event and answer; GET /_local/traffic).

A worker claims a task with a VideoRecording, asks for an upload form, posts a file of MEDIA_BYTES to
S3, submits; the requester reads the result and downloads the file. `upload_bytes_through_lambda` is
what the functions received and answered while the file went up and came down (goal 0); the whole
flow's function bytes are given beside the file's size, and the S3 gateway's bytes show where it went.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from bench.stack import BenchAccount, BenchStack

MEDIA_BYTES = 4 * 1024 * 1024
GOAL = 0


def _traffic(stack: Any) -> dict[str, Any]:
    found = stack.request("GET", "/_local/traffic")
    found.raise_for_status()
    return dict(found.json())


def _function_bytes(traffic: dict[str, Any]) -> int:
    return sum(int(n) for n in traffic["functionPayloadBytes"].values())


def _flow(bench: BenchStack) -> dict[str, Any]:
    stack = bench.stack
    requester, worker = bench.account("requester", balance=100), bench.account("worker")

    def call(who: BenchAccount, method: str, path: str, **kwargs: Any) -> Any:
        reply = stack.request(method, path, headers=who.headers, **kwargs)
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
    with BenchStack("uploads") as bench:
        return _flow(bench)
