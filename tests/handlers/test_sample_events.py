"""Every sample event of events/ reaches its route's logic and succeeds, with what it names made real."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crowdtask.services import operations
from tests.support.aggregations import run_aggregation_dead_letters, run_aggregation_worker
from tests.support.bulk import receive_sqs_event, run_bulk_worker, run_dead_letters
from tests.support.context import FakeLambdaContext
from tests.support.handlers import call, function_module, invoke, sample_event
from tests.support.infra import ROOT
from tests.support.samples import (
    BASE,
    OPERATION,
    UPLOAD,
    WORKSTREAM,
    SampleWorld,
    api_events,
    function_of_path,
)

WORKER_FUNCTIONS = {"market", "media"}  # routes for workers: the others are a requester's (or open, or admin)
DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
# pages of the docs and app functions: 200
UNDOCUMENTED = {"/openapi.json", "/swagger", "/swagger/{asset}", "/app", "/app/{asset}"}


@pytest.fixture
def world(requester, worker, queue, aggregation_queues, webhook_queue) -> SampleWorld:
    """This test's resources for the sample events, made as they are needed."""
    return SampleWorld(requester, worker, queue)


def _successes(event: dict) -> set[int]:
    """The 2xx statuses the OpenAPI document gives the event's route."""
    if event["resource"] in UNDOCUMENTED:
        return {200}
    responses = DOCUMENT["paths"][event["resource"]][event["httpMethod"].lower()]["responses"]
    return {int(status) for status in responses if status.startswith("2")}


@pytest.mark.parametrize(("function", "name"), api_events())
def test_every_sample_event_succeeds_once_what_it_names_exists(requester, worker, world, function, name):
    # Given what the event's ids name, made in the state its route acts on
    caller = worker if function in WORKER_FUNCTIONS else requester
    event = world.event(name, caller)
    # When the function is invoked with it
    reply = call(function, event)
    # Then the route did its work
    assert reply.status in _successes(event), reply.body
    assert reply.header("X-API-Version") == "1.0"
    assert len(reply.header("X-Request-ID") or "") >= 32


def _routes(function: str) -> set[tuple[str, str]]:
    """(method, path) of every route the function's resolver answers, paths written as in template.yaml."""
    app = function_module(function).app
    return {
        (route.method, route.path.replace("<", "{").replace(">", "}"))
        for route in [*app._static_routes, *app._dynamic_routes]
    }


@pytest.mark.parametrize("function", sorted(set(function_of_path().values())))
def test_every_route_of_the_template_has_a_sample_event(function):
    template_paths = {path for path, owner in function_of_path().items() if owner == function}
    routes = _routes(function)
    assert {path for _, path in routes} == template_paths  # the template routes every path the function has
    samples = {
        (sample_event(name)["httpMethod"], sample_event(name)["resource"])
        for owner, name in api_events()
        if owner == function
    }
    assert routes - samples == set(), "routes without a sample event in events/"
    assert samples - routes == set(), "sample events of no route"


def test_every_api_sample_event_is_named_after_its_function():
    assert [(f, n) for f, n in api_events() if not n.startswith(f + "_")] == []


# ---------------------------------------------------------------- the queue and schedule events
def _record(name: str, body: str) -> dict:
    """events/<name>.json (an SQS event of one record) carrying `body`."""
    event = sample_event(name)
    [record] = event["Records"]
    return {"Records": [{**record, "body": body}]}


def _accepted_and_queued(world: SampleWorld, function: str, name: str) -> tuple[dict, str]:
    """The sample upload `name` invoked and accepted (202): its answer and the one message it queued."""
    reply = call(function, world.event(name, world.requester))
    assert reply.status == 202, reply.body
    [queued] = receive_sqs_event(world.queue)["Records"]
    return reply.body, queued["body"]


def test_the_sample_chunk_is_what_the_sample_upload_queues_and_the_bulk_worker_stores_it(requester, world):
    # Given the sample asynchronous upload of a pool task, accepted
    upload, queued = _accepted_and_queued(world, "compat", "compat_tasks_create")
    # Then what it queued is the sample chunk, its ids made real
    sample = sample_event("bulk_worker_tasks_chunk")["Records"][0]["body"]
    assert json.loads(queued) == json.loads(world.fill(sample).replace(BASE, json.loads(queued)["base_id"]))
    # And the bulk worker stores it from the sample event
    assert run_bulk_worker(_record("bulk_worker_tasks_chunk", queued)) == {"batchItemFailures": []}
    stored = operations.get_operation(requester.id, upload["id"])
    assert (stored.status, stored.details.success_count) == ("SUCCESS", 1)


def test_the_sample_dead_letter_fails_the_operation_whose_chunk_kept_failing(requester, world, monkeypatch):
    from crowdtask.store import dynamo

    upload, queued = _accepted_and_queued(world, "compat", "compat_tasks_create")
    # Given a chunk that cannot be stored (its last try in the dead-letter handler fails too)
    monkeypatch.setattr(dynamo, "batch_put", lambda *_a, **_k: (_ for _ in ()).throw(RuntimeError("poison")))
    # When the sample dead letter of that chunk arrives
    assert run_dead_letters(_record("bulk_worker_dead_letter", queued)) == {"batchItemFailures": []}
    # Then the operation says FAIL, its task counted as failed
    failed = operations.get_operation(requester.id, upload["id"])
    assert (failed.status, failed.details.failed_count, failed.details.success_count) == ("FAIL", 1, 0)


def test_the_sample_rows_are_what_the_sample_csv_upload_queues_and_the_bulk_worker_stores_them(
    requester, world
):
    upload, queued = _accepted_and_queued(world, "throughput", "throughput_upload_csv")
    sample = sample_event("bulk_worker_throughput_rows")["Records"][0]["body"]
    assert json.loads(queued) == json.loads(world.fill(sample.replace(UPLOAD, upload["id"])))
    assert run_bulk_worker(_record("bulk_worker_throughput_rows", queued)) == {"batchItemFailures": []}
    path = {"workstream_id": world.real(WORKSTREAM), "upload_id": upload["id"]}
    stored = invoke("throughput", "throughput_get_upload", token=requester.token, path_params=path).body
    assert (stored["status"], stored["success_count"], stored["errors"]) == ("completed", 2, [])


def _aggregation_queued(world: SampleWorld, queues: Any) -> tuple[str, str]:
    """The sample request for a Dawid-Skene run, accepted: its operation and the message it queued,
    checked to be the sample run's (its ids made real)."""
    reply = call("answers", world.event("answers_start_aggregation", world.requester))
    assert reply.status == 202, reply.body
    [queued] = receive_sqs_event(queues.url)["Records"]
    sample = sample_event("aggregation_worker_run")["Records"][0]["body"]
    assert json.loads(queued["body"]) == json.loads(world.fill(sample.replace(OPERATION, reply.body["id"])))
    return reply.body["id"], queued["body"]


def test_the_sample_run_is_what_the_sample_request_queues_and_the_aggregation_worker_runs_it(
    requester, world, aggregation_queues
):
    operation_id, queued = _aggregation_queued(world, aggregation_queues)
    assert run_aggregation_worker(_record("aggregation_worker_run", queued)) == {"batchItemFailures": []}
    assert operations.get_operation(requester.id, operation_id).status == "SUCCESS"


def test_the_sample_dead_letter_fails_the_aggregation_run(requester, world, aggregation_queues):
    operation_id, queued = _aggregation_queued(world, aggregation_queues)
    dead = _record("aggregation_worker_dead_letter", queued)
    assert run_aggregation_dead_letters(dead) == {"batchItemFailures": []}
    assert operations.get_operation(requester.id, operation_id).status == "FAIL"


def test_the_campaign_scheduler_sample_event_publishes_a_campaign_at_its_start_date(requester, frozen_clock):
    from crowdtask.services import campaigns
    from tests.support import builders

    campaign_id = builders.campaign(requester.id, startDate="2026-03-14T04:00")
    scheduler = function_module("campaign_scheduler").lambda_handler
    event = sample_event("campaign_scheduler_schedule")
    assert scheduler(event, FakeLambdaContext("campaign_scheduler"))["start"] == 0  # not yet
    frozen_clock.advance(hours=1)
    assert scheduler(event, FakeLambdaContext("campaign_scheduler"))["start"] == 1
    assert campaigns.get_campaign(requester.id, campaign_id).state == "active"
