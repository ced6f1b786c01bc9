"""The sample events of events/ made real: what their placeholder ids name, created for one test.

A sample event names its resources with placeholder ids (below) and its credentials with
placeholder texts. `SampleWorld(...).event(name)` creates, through the services, what the route
of that event needs (a task, a published campaign, a claimed assignment, a submitted result, a
dataset, a workstream, an operation ...) in the state the route acts on, and answers the event
with the real ids and credentials in every place the placeholders stand.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from crowdtask.services.flows import publishing, reviewing, uploading
from tests.conftest import ADMIN_KEY
from tests.support.accounts import TestAccount
from tests.support.handlers import sample_body, sample_event
from tests.support.infra import ROOT, template

# Credentials
TOKEN = "replace-with-a-token"
ADMIN = "replace-with-the-admin-key"
WORKSTREAM_KEY = "replace-with-the-workstream-api-key"
# The placeholder ids of events/, one per kind of resource
ACCOUNT = "01JB0000000000000000000000"
TASK = "01JB0000000000000000000001"
JOB = "01JB0000000000000000000002"
CAMPAIGN = "01JB0000000000000000000003"
ASSIGNMENT = "01JB0000000000000000000005"
RESULT = "01JB0000000000000000000006"
WORKER = "01JB0000000000000000000007"
POOL = "01JB0000000000000000000004"
POOL_TASK = "01JB0000000000000000000008"
OPERATION = "6e3a5f0e-8d0b-4f1e-9d38-5b0a1c2d3e4f"  # chosen by the client: the real id is the same
DATASET = "01JB0000000000000000000D01"
DATASET_TASK = "01JB0000000000000000000D01-0123456789abcdef"
CLIENT = "AB12CD34"
WORKSTREAM = "01JB0000000000000000000W01"
USE_CASE = "01JB0000000000000000000U01"
TASK_DEFINITION = "01JB0000000000000000000T01"
UPLOAD = "01JB0000000000000000000P01"
SKILL = "01JB0000000000000000000S01"
BLOCK = "01JB0000000000000000000B01"
BONUS = "01JB0000000000000000000B02"
WEBHOOK = "01JB0000000000000000000H01"
DELIVERY = "01JB0000000000000000000H02"
BASE = "01JBASE0000000000000000000"  # a bulk operation's tasks have ids derived from it (chunks carry it)
# Pool tasks of the samples show a picture: `input_values.image`
POOL_TEMPLATE = {"name": "Rate {{image}}", "components": [{"type": "Image", "url": "{{image}}"}]}
# The sample event whose route creates what a placeholder names: there it is a new id, not a resource.
CREATED_BY = {OPERATION: "tasks_create_bulk_async"}


@cache
def api_events() -> list[tuple[str, str]]:
    """(function, event name) of every API sample event; its function is the one template.yaml routes to."""
    functions = function_of_path()
    found = []
    for path in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        if "httpMethod" in event:
            found.append((functions[event["resource"]], path.stem))
    return found


@cache
def function_of_path() -> dict[str, str]:
    """Every API path of template.yaml -> the folder under functions/ that answers it."""
    paths = {}
    for resource in template()["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for trigger in (resource["Properties"].get("Events") or {}).values():
            if trigger["Type"] == "Api":
                paths[trigger["Properties"]["Path"]] = (
                    resource["Properties"]["CodeUri"].strip("/").split("/")[-1]
                )
    return paths


class SampleWorld:
    """One test's resources for the sample events, each made the first time an event needs it."""

    def __init__(self, requester: TestAccount, worker: TestAccount, queue: str):
        self.requester, self.worker, self.queue = requester, worker, queue
        self._made: dict[str, str] = {}
        self._published = False
        self._makers: dict[str, Callable[[], str]] = {
            ADMIN: lambda: ADMIN_KEY,
            ACCOUNT: lambda: requester.id,
            WORKER: lambda: worker.id,
            TASK: self._task,
            JOB: self._job,
            CAMPAIGN: self._campaign,
            ASSIGNMENT: self._assignment,
            RESULT: self._result,
            POOL: self._pool,
            POOL_TASK: self._pool_task,
            OPERATION: self._operation,
            DATASET: self._dataset,
            DATASET_TASK: self._dataset_task,
            CLIENT: self._client,
            WORKSTREAM: lambda: self._workstream().id,
            WORKSTREAM_KEY: lambda: self._workstream().api_key,
            USE_CASE: lambda: self._workstream().use_case_id,
            TASK_DEFINITION: lambda: self._workstream().task_definition_id,
            UPLOAD: self._upload,
            SKILL: self._skill,
            BLOCK: self._block,
            BONUS: self._bonus,
            WEBHOOK: self._webhook,
            DELIVERY: self._delivery,
        }
        self._stream: Any = None
        self.event_name = ""  # the sample event being made real

    # ------------------------------------------------------------ the event
    def event(self, name: str, caller: TestAccount) -> dict[str, Any]:
        """events/<name>.json with what it names made, in the state its route acts on, and put in."""
        self.event_name = name
        PREPARE.get(name, lambda _world: None)(self)
        return json.loads(self.fill(json.dumps(sample_event(name)), caller))

    def fill(self, text: str, caller: TestAccount | None = None) -> str:
        """`text` with each placeholder in it replaced by what it names, made now if need be."""
        values = {TOKEN: caller.token} if caller else {}
        for placeholder in sorted(self._makers, key=len, reverse=True):  # a dataset id starts its tasks' ids
            if placeholder in text and CREATED_BY.get(placeholder) != self.event_name:
                values[placeholder] = self.real(placeholder)
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    def real(self, placeholder: str) -> str:
        if placeholder not in self._made:
            self._made[placeholder] = self._makers[placeholder]()
        return self._made[placeholder]

    # ------------------------------------------------------------ tasks, jobs and campaigns
    def _task(self) -> str:
        """The sample task: one BinaryChoice, which the sample submission answers."""
        from crowdtask.models.tasks import TaskIn
        from crowdtask.services import tasks

        return tasks.create_task(self.requester.id, TaskIn.model_validate(sample_body("tasks_create"))).id

    def _job(self) -> str:
        from crowdtask.models.jobs import JobIn
        from crowdtask.services import jobs

        task_ids = (
            [] if self.event_name == "jobs_tasks_add" else [self.real(TASK)]
        )  # adding it again is refused
        return jobs.create_job(self.requester.id, JobIn(name="sample job"), task_ids).id

    def _campaign(self) -> str:
        from crowdtask.models.campaigns import CampaignIn
        from crowdtask.services import campaigns

        job_ids = [] if self.event_name == "campaigns_jobs_add" else [self.real(JOB)]
        body = CampaignIn.model_validate({"name": "sample campaign", "workerPayment": "0.5", "results": 2})
        return campaigns.create_campaign(self.requester.id, body, job_ids).id

    def publish(self) -> str:

        campaign_id = self.real(CAMPAIGN)
        if not self._published:
            publishing.publish(self.requester.id, campaign_id)
            self._published = True
        return campaign_id

    def _assignment(self) -> str:
        from crowdtask.services import assignments

        return assignments.claim(self.worker.id, self.real(JOB), self.publish(), None, None).id

    def _result(self) -> str:
        from crowdtask.models.market import SubmitIn
        from crowdtask.services import assignments

        assignment = assignments.get_assignment(self.worker.id, self.real(ASSIGNMENT))
        submission = json.loads(self.fill(json.dumps(sample_body("market_submit"))))
        return reviewing.submit(self.worker.id, assignment.id, SubmitIn.model_validate(submission)).id

    # ------------------------------------------------------------ quality control
    def _skill(self) -> str:
        from crowdtask.models.quality import SkillIn
        from crowdtask.services import quality

        skill_id = quality.create_skill(self.requester.id, SkillIn(name="Cat expert")).id
        quality.set_skill_value(self.requester.id, skill_id, self.worker.id, 70)  # the worker has a value
        return skill_id

    def _block(self) -> str:
        from crowdtask.models.quality import BlockIn
        from crowdtask.services import quality

        return quality.create_block(self.requester.id, BlockIn(worker=self.worker.id, reason="sample")).id

    def _webhook(self) -> str:
        """A subscription to every event, at the sample's URL."""
        from crowdtask.models.webhooks import WebhookIn
        from crowdtask.services import webhooks

        body = WebhookIn.model_validate(sample_body("webhooks_create"))
        return webhooks.create(self.requester.id, body).id

    def _delivery(self) -> str:
        """A delivery of an event to the sample subscription, failed (so that it may be sent again)."""
        from crowdtask import clock
        from crowdtask.services import webhooks
        from crowdtask.store import webhooks as webhook_store

        webhook_id = self.real(WEBHOOK)
        event = webhooks.new_event("result.submitted", {"resultId": "R1"}, self.requester.id, at=clock.now())
        webhooks.fan_out(event)
        delivery_id = webhooks.delivery_id(event, webhook_id)
        webhook_store.close_delivery(self.requester.id, webhook_id, delivery_id, 0, "failed", "sample")
        return delivery_id

    def _bonus(self) -> str:
        """A bonus paid to the worker for the sample result."""
        from crowdtask.models.bonuses import BonusIn
        from crowdtask.services import bonuses

        bonus = BonusIn(worker=self.worker.id, amount="0.1", result=self.real(RESULT), reason="sample")
        return bonuses.pay(self.requester.id, bonus, "sample-bonus")[0].id

    # ------------------------------------------------------------ pools and operations
    def _pool(self) -> str:
        from tests.support import builders

        return builders.pool(self.requester.id, POOL_TEMPLATE, payment="0.05", results=3)

    def _pool_task(self) -> str:
        from crowdtask.services import bulk

        item = {
            "pool_id": self.real(POOL),
            "input_values": {"image": "https://example.com/1.png"},
            "overlap": 1,
        }
        reply, _ = uploading.create_tasks_now(self.requester.id, [item], bulk.BulkParams())
        return reply.items["0"].id

    def _operation(self) -> str:
        """The sample asynchronous upload, stored by the bulk worker: its operation is the samples' one."""
        from crowdtask.services import bulk
        from tests.support.bulk import work_off

        items = sample_body("tasks_create_bulk_async")
        uploading.submit_tasks(
            self.requester.id, items, bulk.BulkParams(async_mode=True, operation_id=OPERATION)
        )
        assert work_off(self.queue) == {"batchItemFailures": []}
        return OPERATION

    # ------------------------------------------------------------ datasets
    def _dataset(self) -> str:
        from crowdtask.models.datasets import DatasetIn
        from crowdtask.services import datasets

        return datasets.create_dataset(
            self.requester.id, DatasetIn.model_validate(sample_body("datasets_create"))
        ).id

    def _dataset_task(self) -> str:
        from crowdtask.services import datasets

        found, _ = datasets.list_dataset_tasks(self.requester.id, self.real(DATASET), limit=1000, after=None)
        return next(
            t.id for t in found if (t.stage, t.file, t.object) == ("Labelling", "frame-0001.jpg", "car")
        )

    def submit_dataset_task(self) -> None:
        from crowdtask.models.datasets import TaskUpdateIn
        from crowdtask.services import datasets

        changes = TaskUpdateIn.model_validate({"status": "submitted", "answer": {"boxes": [[1, 2, 3, 4]]}})
        datasets.update_task(self.requester.id, self.real(DATASET_TASK), changes)

    def _client(self) -> str:
        from crowdtask.services import accounts

        return accounts.get_profile(self.requester.id).customerId

    # ------------------------------------------------------------ workstreams
    def _workstream(self) -> Any:
        from tests.support.throughput import make_workstream

        if self._stream is None:
            self._stream = make_workstream(self.requester.id)
        return self._stream

    def _upload(self) -> str:
        """The sample CSV upload, its ids made real."""
        from crowdtask.services import throughput_uploads, workstreams

        stream = self._workstream()
        text = sample_event("throughput_upload_csv")["body"]
        text = text.replace(USE_CASE, stream.use_case_id).replace(TASK_DEFINITION, stream.task_definition_id)
        workstream = workstreams.authenticate_key(stream.id, stream.api_key)
        return throughput_uploads.upload_csv(workstream, text).id


def _recording_task(world: SampleWorld) -> None:
    """The sample upload is a recording: its task (the one the assignment holds) records audio."""
    from crowdtask.models.tasks import TaskIn
    from crowdtask.services import tasks

    body = {"name": "Say it", "components": [{"type": "AudioRecording", "maxDurationInSeconds": 30}]}
    world._made[TASK] = tasks.create_task(world.requester.id, TaskIn.model_validate(body)).id


def _archive(kind: str) -> Callable[[SampleWorld], None]:
    def archive(world: SampleWorld) -> None:
        from crowdtask.services import campaigns, jobs, tasks

        service, placeholder = {"task": (tasks, TASK), "job": (jobs, JOB), "campaign": (campaigns, CAMPAIGN)}[
            kind
        ]
        service.set_archived(world.requester.id, world.real(placeholder), True)

    return archive


def _paused(world: SampleWorld) -> None:
    from crowdtask.services import campaigns

    campaigns.pause(world.requester.id, world.publish())


def _account_of_the_login_sample(_world: SampleWorld) -> None:
    from crowdtask.models.accounts import AccountCreateIn
    from crowdtask.services import accounts

    login = sample_body("auth_token_request")
    accounts.create_account(
        AccountCreateIn(email=login["email"], password=login["password"], role="requester")
    )


# What a route acts on beyond what its event names: the state it moves from, the thing it reads.
PREPARE: dict[str, Callable[[SampleWorld], Any]] = {
    "auth_token_request": _account_of_the_login_sample,
    "tasks_unarchive": _archive("task"),
    "jobs_unarchive": _archive("job"),
    "campaigns_unarchive": _archive("campaign"),
    "campaigns_pause": SampleWorld.publish,
    "campaigns_cancel": SampleWorld.publish,
    "campaigns_continue": _paused,
    "datasets_accept_task": SampleWorld.submit_dataset_task,
    "datasets_reject_task": SampleWorld.submit_dataset_task,
    "market_list_jobs": SampleWorld.publish,
    "market_claim": SampleWorld.publish,
    "media_upload": _recording_task,
    "market_assignments_list": lambda world: world.real(ASSIGNMENT),
    "operations_list": lambda world: world.real(OPERATION),
    "quality_worker_quality": lambda world: world.real(RESULT),  # the worker has worked for the requester
    "quality_list_blocks": lambda world: world.real(BLOCK),
    "answers_list_bonuses": lambda world: world.real(BONUS),
    "webhooks_list": lambda world: world.real(WEBHOOK),
    "webhooks_deliveries": lambda world: world.real(DELIVERY),
    # a submitted result has counted its votes in its tasks' aggregates
    "answers_campaign_aggregates": lambda world: world.real(RESULT),
    "answers_task_aggregate": lambda world: world.real(RESULT),
    **{
        name: lambda world: world.real(RESULT)  # every review route has a result in review to act on
        for name in (
            "results_approve_all_campaign",
            "results_approve_all_worker",
            "results_campaign_results",
            "results_campaign_workers",
            "results_worker_results",
        )
    },
}


def every_component(media: dict[str, str], title: str) -> dict[str, Any]:
    """A task with each of the sixteen components of the catalogue."""
    return {
        "name": title,
        "details": "<p>Every component of the catalogue, <i>once</i>.</p>",
        "components": [
            {"type": "Text", "text": "Record, mark and answer", "style": "H2"},
            {"type": "Image", "url": media["cat.png"]},
            {"type": "Audio", "url": media["purr.wav"]},
            # a sound is a video without pictures to a <video> element: the test needs no video file
            {"type": "Video", "url": media["purr.wav"], "playAudio": False},
            {"type": "AudioRecording", "minDurationInSeconds": 1, "maxDurationInSeconds": 6},
            {"type": "VideoRecording", "maxDurationInSeconds": 6, "orientation": "any"},
            {"type": "ImageMarker", "url": media["cat.png"]},
            {
                "type": "BinaryImageChoice",
                "option1": {"id": "cat", "url": media["cat.png"], "label": "Cat"},
                "option2": {"id": "dog", "url": media["dog.png"], "label": "Dog"},
            },
            {"type": "BinaryChoice", "option1": "Inside", "option2": "Outside"},
            {"type": "Rating", "steps": 4, "halfSteps": True},
            {"type": "Stepper", "min": 1, "max": 3, "step": 0.5},
            {"type": "TextInput", "hint": "A word", "optionalResult": True},
            {"type": "Toggle", "label": "Noisy", "checkedByDefault": True},
        ],
        "components_attributes": [
            {
                "component_type": "media",
                "name": "photo",
                "label": "A photo",
                "extra": {"instructions": "Any photo"},
            },
            {
                "component_type": "tags_collection",
                "name": "mood",
                "label": "Mood",
                "extra": {"values": [{"value": "calm", "text": "Calm"}, {"value": "busy", "text": "Busy"}]},
            },
            {"component_type": "text_area", "name": "story", "label": "Story", "required": "no"},
        ],
    }
