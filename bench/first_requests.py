"""The first request of each function's heaviest route, and the data it needs, seeded beforehand.

Run as `python -m bench.first_requests SAMPLES OUT` by bench/coldstart.py, in its own interpreter
with the environment of a function of the local stack (DynamoDB Local, moto for SQS and
EventBridge): everything a request needs (accounts, tokens, campaigns, claimed assignments,
queued chunks) is written through the services here, never inside a timed request. A route that
changes what it acts on (publish, submit, approve, a chunk, a sign-up) gets one resource per
sample, so every sample does the same work as the first one did.

The route of each function is the one importing the most of the layer (its services and models),
and every request is one the API answers with its success status.
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
PASSWORD = "a long passphrase"  # noqa: S105 - seeded test accounts only
CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}
PICTURE = {"type": "Image", "url": "https://example.com/a.png"}
POOL_TEMPLATE = {
    "name": "Is {{animal}} a cat?",
    "components": [{"type": "Image", "url": "{{image}}"}, CHOICE],
}


@dataclass
class FirstRequest:
    """What one function is asked first: the route, why it is the heaviest, one event per sample."""

    route: str
    why: str
    kind: str  # "api" (expect is the HTTP status), "sqs" (no batch item failures), "schedule"
    expect: int | None
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Seeded:
    """Accounts every scenario shares."""

    requester_id: str
    requester_token: str
    samples: int


# ---------------------------------------------------------------- events
def sample_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def api_event(
    name: str,
    *,
    body: Any = ...,
    raw_body: str | None = None,
    token: str | None = None,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """events/<name>.json with a real token, ids and body, shaped as API Gateway sends it."""
    event = copy.deepcopy(sample_event(name))
    if body is not ...:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    headers = dict(event.get("headers") or {})
    for header in ("X-Auth-Token", "Authorization"):
        if header not in headers:
            continue
        if token is None:
            del headers[header]
        else:
            headers[header] = token if header == "X-Auth-Token" else f"OAuth {token}"
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    if path_params is not None:
        event["pathParameters"] = path_params
        path = event["resource"]
        for key, value in path_params.items():
            path = path.replace("{" + key + "}", value)
        event["path"] = path
        event["requestContext"]["path"] = f"/v1{path}"
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def sqs_event(name: str, message: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(sample_event(name))
    event["Records"] = [{**event["Records"][0], "messageId": str(uuid.uuid4()), "body": json.dumps(message)}]
    return event


# ---------------------------------------------------------------- seeding helpers
def _account(role: str, balance: int | None = None) -> tuple[str, str]:
    from crowdtask.models.accounts import AccountCreateIn
    from crowdtask.services import accounts, auth

    email = f"coldstart-{role}-{uuid.uuid4().hex[:12]}@example.com"
    created = accounts.create_account(
        AccountCreateIn(email=email, password=PASSWORD, role=role, balance=balance)
    )
    return created.id, auth.request_token(email, PASSWORD).accessToken


def _task(requester_id: str, name: str) -> str:
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import tasks

    body = {"name": name, "components": [PICTURE, CHOICE]}
    return tasks.create_task(requester_id, TaskIn.model_validate(body)).id


def _campaign(requester_id: str, results: int, **fields: Any) -> tuple[str, str]:
    """An unpublished campaign of one job of one task: (campaign id, job id)."""
    from crowdtask.models.campaigns import CampaignIn
    from crowdtask.models.jobs import JobIn
    from crowdtask.services import campaigns, jobs

    job_id = jobs.create_job(requester_id, JobIn(name="job"), [_task(requester_id, "task")]).id
    body = {"name": "campaign", "workerPayment": Decimal("0.05"), "results": results, **fields}
    return campaigns.create_campaign(requester_id, CampaignIn.model_validate(body), [job_id]).id, job_id


def _answers(assignment: Any) -> dict[str, Any]:
    """Every interactive component answered, as a worker's client sends it."""
    results = []
    for task in assignment.tasks or []:
        components = [*task.components, *task.components_attributes]
        picked = [
            {"result": {"selectedOption": "Yes"} if c.get("type") == "BinaryChoice" else None}
            for c in components
        ]
        results.append({"task": task.id, "components": picked})
    return {"taskResults": results}


def _queued_chunks(requester_id: str, pool_id: str, count: int) -> list[dict[str, Any]]:
    """`count` asynchronous uploads of two pool tasks each: the bulk queue message of each."""
    from crowdtask.services.bulk_items import BulkParams
    from crowdtask.services.flows import uploading
    from crowdtask.store import queues

    sent: list[dict[str, Any]] = []
    # The messages are kept for the timed invocations instead of reaching the queue.
    with mock.patch.object(queues, "send_bulk", sent.extend):
        for n in range(count):
            items = [
                {
                    "pool_id": pool_id,
                    "input_values": {"animal": f"cat {n}.{i}", "image": "https://e.x/1.png"},
                    "overlap": 1,
                }
                for i in range(2)
            ]
            operation, _ = uploading.submit_tasks(requester_id, items, BulkParams(async_mode=True))
            assert operation.status != "FAIL", operation
    assert len(sent) == count, f"expected one chunk per upload, got {len(sent)}"
    return sent


# ---------------------------------------------------------------- the functions
def auth(seed: Seeded) -> FirstRequest:
    request = FirstRequest(
        "POST /workers/signup",
        "the accounts service and models and argon2 hashing (token request loads auth only)",
        "api",
        201,
    )
    for n in range(seed.samples):
        body = {"email": f"signup-{n}-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
        request.events.append(api_event("auth_worker_signup", body={**body, "firstName": "Ada"}))
    return request


def profile(seed: Seeded) -> FirstRequest:
    event = api_event("profile_put_me", token=seed.requester_token)
    return FirstRequest(
        "PUT /me", "the accounts service and the update model", "api", 200, [event] * seed.samples
    )


def tasks(seed: Seeded) -> FirstRequest:
    event = api_event("tasks_create", token=seed.requester_token)
    return FirstRequest(
        "POST /tasks (one task)",
        "upload path: bulk, quotas and tasks services and the task model with its component catalogue",
        "api",
        201,
        [event] * seed.samples,
    )


def compat(seed: Seeded) -> FirstRequest:
    pool_id, _ = _campaign(seed.requester_id, 1, taskTemplate=POOL_TEMPLATE)
    request = FirstRequest(
        "POST /api/v1/tasks (pool tasks, synchronous)",
        "the upload path with pool tasks: campaigns and templates besides bulk, quotas, tasks and the "
        "catalogue; chunks stored in the request",
        "api",
        201,
    )
    for n in range(seed.samples):
        items = [
            {
                "pool_id": pool_id,
                "input_values": {"animal": f"cat {n}", "image": "https://e.x/1.png"},
                "overlap": 1,
            }
        ]
        request.events.append(
            api_event(
                "compat_tasks_create",
                body=items,
                token=seed.requester_token,
                query={"async_mode": "false", "operation_id": str(uuid.uuid4())},
            )
        )
    return request


def operations(seed: Seeded) -> FirstRequest:
    from crowdtask.services.bulk_items import BulkParams
    from crowdtask.services.flows import uploading

    items = [{"name": f"task {n}", "components": [PICTURE, CHOICE]} for n in range(3)]
    operation_id = str(uuid.uuid4())
    uploading.create_tasks_now(seed.requester_id, items, BulkParams(operation_id=operation_id))
    event = api_event(
        "operations_log", token=seed.requester_token, path_params={"id": operation_id}, query={"limit": "100"}
    )
    return FirstRequest(
        "GET /operations/{id}/log",
        "every route loads the operations service; the log reads the operation and its items",
        "api",
        200,
        [event] * seed.samples,
    )


def docs(seed: Seeded) -> FirstRequest:
    return FirstRequest(
        "GET /swagger",
        "reads the document and loads Powertools' Swagger UI page builder",
        "api",
        200,
        [api_event("docs_swagger")] * seed.samples,
    )


def app_page(seed: Seeded) -> FirstRequest:
    return FirstRequest(
        "GET /app/",
        "reads the worker app's page from the package and sets its Content-Security-Policy",
        "api",
        200,
        [api_event("app_page")] * seed.samples,
    )


def preview(seed: Seeded) -> FirstRequest:
    event = api_event("preview_markdown", token=seed.requester_token)
    return FirstRequest(
        "POST /preview/markdown",
        "the only route: markdown-it and nh3",
        "api",
        200,
        [event] * seed.samples,
    )


def jobs(seed: Seeded) -> FirstRequest:
    event = api_event("jobs_create", token=seed.requester_token)
    return FirstRequest(
        "POST /jobs",
        "every route loads the jobs service and models; create writes the job",
        "api",
        201,
        [event] * seed.samples,
    )


def campaigns(seed: Seeded) -> FirstRequest:
    request = FirstRequest(
        "POST /campaigns/{id}/publish",
        "publishing loads the market and pools besides the campaigns service (create does not)",
        "api",
        200,
    )
    for _ in range(seed.samples):
        campaign_id, _ = _campaign(seed.requester_id, 2)
        request.events.append(
            api_event("campaigns_publish", token=seed.requester_token, path_params={"id": campaign_id})
        )
    return request


def throughput(seed: Seeded) -> FirstRequest:
    from crowdtask.models.throughput import WorkstreamIn
    from crowdtask.services import workstreams

    stream = workstreams.create_workstream(
        seed.requester_id,
        WorkstreamIn.model_validate(
            {"name": "Invoices", "use_cases": [{"name": "Invoices", "task_definitions": [{"name": "Type"}]}]}
        ),
    )
    assert stream.api_key
    use_case = stream.use_cases[0]
    request = FirstRequest(
        "POST /workstreams/{id}/throughput/csv",
        "CSV uploads load the upload service (and the SQS client) besides workstreams and the models",
        "api",
        202,
    )
    header = "worker_id,use_case_id,task_definition_id,task_started_at,task_completed_at,task_count,unique_id"
    for n in range(seed.samples):
        rows = [
            f"w{i}@example.com,{use_case.id},{use_case.task_definitions[0].id},"
            f"2026-11-30T09:00:00Z,2026-11-30T09:30:00Z,1,sample-{n}-row-{i}"
            for i in range(2)
        ]
        event = api_event(
            "throughput_upload_csv",
            raw_body="\n".join([header, *rows]) + "\n",
            path_params={"workstream_id": stream.id},
        )
        event["headers"]["x-api-key"] = stream.api_key
        event["multiValueHeaders"]["x-api-key"] = [stream.api_key]
        request.events.append(event)
    return request


def datasets(seed: Seeded) -> FirstRequest:
    body = {**json.loads(sample_event("datasets_create")["body"]), "due_date": "2027-03-20T17:00:00Z"}
    event = api_event("datasets_create", token=seed.requester_token, body=body)
    return FirstRequest(
        "POST /datasets",
        "every route loads the datasets service and models; create writes the dataset and its tasks",
        "api",
        201,
        [event] * seed.samples,
    )


def market_and_results(seed: Seeded) -> tuple[FirstRequest, FirstRequest]:
    """Workers claim one job of a published campaign: half submit now (their results are reviewed in
    the results function's samples), half keep the assignment open (submitted in the market's)."""
    from crowdtask.models.submissions import SubmitIn
    from crowdtask.services import assignments
    from crowdtask.services.flows import publishing, reviewing

    slots = 2 * seed.samples
    campaign_id, job_id = _campaign(seed.requester_id, slots + 1)  # never completes: samples do the same
    publishing.publish(seed.requester_id, campaign_id)
    market = FirstRequest(
        "POST /assignments/{id}/submit",
        "submit loads the results service with the component catalogue (to check each answer)",
        "api",
        201,
    )
    review = FirstRequest(
        "POST /results/{id}/approve",
        "approve loads the results service and models (pays the worker in a transaction)",
        "api",
        200,
    )
    for n in range(slots):
        worker_id, token = _account("worker")
        assignment = assignments.claim(worker_id, job_id, campaign_id, None, None)
        answers = _answers(assignment)
        if n % 2:
            market.events.append(
                api_event("market_submit", token=token, path_params={"id": assignment.id}, body=answers)
            )
        else:
            result = reviewing.submit(worker_id, assignment.id, SubmitIn.model_validate(answers))
            review.events.append(
                api_event("results_approve", token=seed.requester_token, path_params={"id": result.id})
            )
    return market, review


def media(seed: Seeded) -> FirstRequest:
    """One open assignment of a recording task: every sample asks for an upload form (nothing is stored)."""
    from crowdtask.models.campaigns import CampaignIn
    from crowdtask.models.jobs import JobIn
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import assignments, campaigns, jobs, tasks
    from crowdtask.services.flows import publishing

    recording = {"type": "AudioRecording", "minDurationInSeconds": 1, "maxDurationInSeconds": 60}
    task_id = tasks.create_task(
        seed.requester_id, TaskIn.model_validate({"name": "say", "components": [recording]})
    ).id
    job_id = jobs.create_job(seed.requester_id, JobIn(name="job"), [task_id]).id
    body = {"name": "recordings", "workerPayment": Decimal("0.05"), "results": 1}
    campaign_id = campaigns.create_campaign(seed.requester_id, CampaignIn.model_validate(body), [job_id]).id
    publishing.publish(seed.requester_id, campaign_id)
    worker_id, token = _account("worker")
    assignment = assignments.claim(worker_id, job_id, campaign_id, None, None)
    upload = {"task": task_id, "component": 0, "contentType": "audio/aac", "size": 48_213}
    event = api_event("media_upload", token=token, path_params={"id": assignment.id}, body=upload)
    return FirstRequest(
        "POST /assignments/{id}/uploads",
        "its only route: reads the assignment and its task, then signs an S3 POST policy",
        "api",
        200,
        [event] * seed.samples,
    )


def webhooks(seed: Seeded) -> FirstRequest:
    return FirstRequest(
        "GET /webhooks",
        "lists the account's subscriptions (a create resolves the URL's host: no lookups offline)",
        "api",
        200,
        [api_event("webhooks_list", token=seed.requester_token)] * seed.samples,
    )


def outbox_consumers(seed: Seeded) -> tuple[FirstRequest, FirstRequest]:
    """An outbox event on the table's stream, as the forwarder and the webhook fan-out receive it."""
    record = sample_event("events_forwarder_outbox")
    forwarder = FirstRequest(
        "DynamoDB stream (outbox events)", "its only event: puts the event on the bus", "sqs", None
    )
    fanout = FirstRequest(
        "DynamoDB stream (outbox events)",
        "its only event: finds the account's subscriptions (none here) for the event",
        "sqs",
        None,
    )
    for _ in range(seed.samples):
        event = copy.deepcopy(record)
        event["Records"][0]["dynamodb"]["NewImage"]["account_id"] = {"S": seed.requester_id}
        forwarder.events.append(event)
        fanout.events.append(event)
    return forwarder, fanout


def webhook_delivery(seed: Seeded) -> FirstRequest:
    message = {
        "account": seed.requester_id,
        "webhook": "01JB0000000000000000000009",
        "delivery": "gone",
        "attempt": 1,
    }
    return FirstRequest(
        "SQS (webhook deliveries)",
        "an attempt whose delivery is gone: the import and one read (a real attempt adds an HTTP request)",
        "sqs",
        None,
        [sqs_event("aggregation_worker_run", message) for _ in range(seed.samples)],
    )


def bulk_consumers(seed: Seeded) -> tuple[FirstRequest, FirstRequest]:
    pool_id, _ = _campaign(seed.requester_id, 1, taskTemplate=POOL_TEMPLATE)
    worker = FirstRequest(
        "SQS bulk queue: a chunk of two pool tasks",
        "stores the chunk and counts it into its operation and campaign (bulk and pools)",
        "sqs",
        None,
        [
            sqs_event("bulk_worker_tasks_chunk", m)
            for m in _queued_chunks(seed.requester_id, pool_id, seed.samples)
        ],
    )
    dead = FirstRequest(
        "SQS dead-letter queue: a chunk of two pool tasks",
        "the chunk's last try, which stores it (the path every dead letter takes first)",
        "sqs",
        None,
        [
            sqs_event("bulk_worker_dead_letter", m)
            for m in _queued_chunks(seed.requester_id, pool_id, seed.samples)
        ],
    )
    return worker, dead


def quality(seed: Seeded) -> FirstRequest:
    request = FirstRequest(
        "POST /skills",
        "every route loads the quality service and models; create writes the skill",
        "api",
        201,
    )
    for n in range(seed.samples):
        body = {"name": f"cats {n} {uuid.uuid4().hex[:6]}", "description": "knows cats from dogs"}
        request.events.append(api_event("quality_create_skill", token=seed.requester_token, body=body))
    return request


def answers(seed: Seeded) -> FirstRequest:
    """A campaign's live aggregates, after two workers answered its one job."""
    from crowdtask.models.submissions import SubmitIn
    from crowdtask.services import assignments
    from crowdtask.services.flows import publishing, reviewing

    campaign_id, job_id = _campaign(seed.requester_id, 2)
    publishing.publish(seed.requester_id, campaign_id)
    for _ in range(2):
        worker_id, _ = _account("worker")
        assignment = assignments.claim(worker_id, job_id, campaign_id, None, None)
        reviewing.submit(worker_id, assignment.id, SubmitIn.model_validate(_answers(assignment)))
    event = api_event(
        "answers_campaign_aggregates", token=seed.requester_token, path_params={"id": campaign_id}
    )
    return FirstRequest(
        "GET /campaigns/{id}/aggregates",
        "reads and tallies the live aggregates (the answers service and models)",
        "api",
        200,
        [event] * seed.samples,
    )


def aggregation_runs(seed: Seeded) -> tuple[FirstRequest, FirstRequest]:
    """Dawid-Skene runs over a small campaign's results, one operation per sample, as queued."""
    from crowdtask.services import aggregations
    from crowdtask.store import queues

    campaign_id, _ = _campaign(seed.requester_id, 1)

    def queued(count: int) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        with mock.patch.object(queues, "send_aggregation", sent.append):
            for _ in range(count):
                aggregations.start(seed.requester_id, campaign_id, "dawid-skene")
        return sent

    run = FirstRequest(
        "SQS aggregation queue: one Dawid-Skene run",
        "reads the campaign's results, runs Dawid-Skene, stores the aggregates and ends the operation",
        "sqs",
        None,
        [sqs_event("bulk_worker_tasks_chunk", m) for m in queued(seed.samples)],
    )
    dead = FirstRequest(
        "SQS aggregation dead-letter queue: a run that kept failing",
        "marks its operation FAIL",
        "sqs",
        None,
        [sqs_event("bulk_worker_tasks_chunk", m) for m in queued(seed.samples)],
    )
    return run, dead


def schedule(name: str, what: str, seed: Seeded) -> FirstRequest:
    return FirstRequest(f"Schedule ({name})", what, "schedule", None, [sample_event(name)] * seed.samples)


def floor(seed: Seeded) -> FirstRequest:
    """bench/floor/app.py: one validated body, one GetItem."""
    event = api_event("profile_put_me", body={"pk": "coldstart-floor", "sk": "item"})
    event.update(resource="/floor", path="/floor", httpMethod="POST")
    event["requestContext"].update(resourcePath="/floor", httpMethod="POST", path="/v1/floor")
    return FirstRequest("POST /floor", "its only route", "api", 200, [event] * seed.samples)


def seed_all(samples: int) -> dict[str, FirstRequest]:
    requester_id, token = _account("requester", balance=1_000_000)
    seed = Seeded(requester_id, token, samples)
    market, review = market_and_results(seed)
    worker, dead = bulk_consumers(seed)
    aggregation_run, aggregation_dead = aggregation_runs(seed)
    forwarder, fanout = outbox_consumers(seed)
    scenarios: dict[str, Callable[[Seeded], FirstRequest]] = {
        "floor": floor,
        "AuthFunction": auth,
        "ProfileFunction": profile,
        "TasksFunction": tasks,
        "CompatFunction": compat,
        "OperationsFunction": operations,
        "DocsFunction": docs,
        "AppFunction": app_page,
        "PreviewFunction": preview,
        "JobsFunction": jobs,
        "CampaignsFunction": campaigns,
        "ThroughputFunction": throughput,
        "DatasetsFunction": datasets,
        "QualityFunction": quality,
        "AnswersFunction": answers,
        "MediaFunction": media,
        "WebhooksFunction": webhooks,
        "WebhookDeliveryFunction": webhook_delivery,
    }
    requests = {name: build(seed) for name, build in scenarios.items()}
    requests.update(
        {
            "MarketFunction": market,
            "ResultsFunction": review,
            "BulkWorkerFunction": worker,
            "BulkDeadLetterFunction": dead,
            "AggregationWorkerFunction": aggregation_run,
            "AggregationDeadLetterFunction": aggregation_dead,
            "MaintenanceFunction": schedule(
                "maintenance_schedule", "its only event: expired tokens and locks from the due index", seed
            ),
            "CampaignSchedulerFunction": schedule(
                "campaign_scheduler_schedule", "its only event: campaign steps due now", seed
            ),
            "EventsForwarderFunction": forwarder,
            "WebhookFanoutFunction": fanout,
            "WebhookSweepFunction": schedule(
                "market_scheduler_schedule",
                "its only event: webhook retries due now, from the due index",
                seed,
            ),
            "MarketSchedulerFunction": schedule(
                "market_scheduler_schedule", "its only event: every market sweep over the due index", seed
            ),
        }
    )
    return requests


def main(argv: list[str]) -> int:
    samples, out = int(argv[0]), Path(argv[1])
    sys.path.insert(0, str(ROOT / "layers/common/python"))
    requests = seed_all(samples)
    out.write_text(json.dumps({name: asdict(request) for name, request in requests.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
