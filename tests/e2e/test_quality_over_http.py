"""Quality control over HTTP on DynamoDB Local, where races are real: two submissions of one worker
leave exact statistics, a rule acts once however its events interleave or are retried, a block and
a requirement hide and refuse, and rejectAll gives back exactly what it rejected."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local.lambdas import lambda_environment
from local.template import load_stack
from tests.e2e.conftest import E2E_STACK, Session, new_account
from tests.support.stack import REPO, RunningStack, run_readme_session

pytestmark = pytest.mark.e2e

CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}
PICTURE = {"type": "Image", "url": "https://x.io/c.png"}


def _task(owner: Session, control: bool = False) -> str:
    body: dict[str, Any] = {"name": "Is it a cat?", "components": [PICTURE, CHOICE]}
    if control:
        body["knownSolutions"] = [{"components": [{"result": None}, {"result": {"selectedOption": "Yes"}}]}]
    made = owner.call("POST", "/tasks", json=body)
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _campaign(owner: Session, jobs: int, **settings: Any) -> tuple[str, list[str]]:
    job_ids = []
    for n in range(jobs):
        job = owner.call("POST", "/jobs", json={"name": f"cats {n}"}).json()["id"]
        assert owner.call("PUT", f"/jobs/{job}/tasks", json=[_task(owner)]).status_code == 200
        job_ids.append(job)
    body = {"name": "cats", "workerPayment": 0.5, "results": 1, "maxResultsPerWorker": jobs, **settings}
    made = owner.call("POST", "/campaigns", json=body)
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign_id}/jobs", json=job_ids).status_code == 200
    published = owner.call("POST", f"/campaigns/{campaign_id}/publish")
    assert published.status_code == 200, published.text
    return campaign_id, job_ids


def _answers(assignment: dict[str, Any], choice: str) -> dict[str, Any]:
    return {
        "taskResults": [
            {"task": t["id"], "components": [{"result": None}, {"result": {"selectedOption": choice}}]}
            for t in assignment["tasks"]
        ]
    }


def _claim(worker: Session, job_id: str) -> dict[str, Any]:
    claim = worker.call("POST", f"/market/jobs/{job_id}/claim")
    assert claim.status_code == 201, claim.text
    return claim.json()


def _submit_together(worker: Session, claimed: list[dict[str, Any]], choice: str) -> list[int]:
    with ThreadPoolExecutor(max_workers=len(claimed)) as pool:
        replies = pool.map(
            lambda a: worker.call("POST", f"/assignments/{a['id']}/submit", json=_answers(a, choice)), claimed
        )
        return [r.status_code for r in replies]


def _quality(owner: Session, campaign_id: str, worker_id: str) -> dict[str, Any]:
    page = owner.call("GET", f"/campaigns/{campaign_id}/workers").json()["workers"]
    [row] = [w for w in page if w["id"] == worker_id]
    return row["quality"]


def _actions(owner: Session, campaign_id: str) -> list[dict[str, Any]]:
    reply = owner.call("GET", f"/campaigns/{campaign_id}/quality-actions")
    assert reply.status_code == 200, reply.text
    return reply.json()["actions"]


def _usd(text: str) -> Decimal:
    return Decimal(text.split(maxsplit=1)[0])


def test_racing_submissions_of_one_worker_leave_exact_statistics_and_one_action(api: RunningStack):
    owner, worker = new_account(api, balance=50), new_account(api, "worker")
    control = _task(owner, control=True)
    rules = [{"metric": "controlAnswers", "operator": "gte", "value": 4, "action": {"type": "approveAll"}}]
    campaign_id, jobs = _campaign(owner, 4, quality={"controlTasks": [control]}, qualityRules=rules)
    claimed = [_claim(worker, job) for job in jobs]
    assert all(control in [t["id"] for t in a["tasks"]] for a in claimed)
    assert _submit_together(worker, claimed[:2], "Yes") == [201, 201]
    assert _submit_together(worker, claimed[2:], "No") == [201, 201]
    figures = _quality(owner, campaign_id, worker.id)
    assert (figures["submitted"], figures["controlAnswers"], figures["controlCorrect"]) == (4, 4, 2)
    assert figures["controlAccuracy"] == 50
    # the racing pair's evaluations both may read 4 answers: the rule acted once, on all four results
    [action] = _actions(owner, campaign_id)
    assert action["outcome"] == {"approved": 4}
    assert (figures["approved"], figures["acceptanceRate"]) == (4, 100)
    mine = owner.call("GET", f"/workers/{worker.id}/quality").json()["quality"]
    assert (mine["controlAnswers"], mine["approved"], mine["earnings24h"]) == (4, 4, 2)


def test_a_retried_submission_is_judged_once(api: RunningStack):
    owner, worker = new_account(api, balance=50), new_account(api, "worker")
    control = _task(owner, control=True)
    rules = [
        {
            "metric": "controlAccuracy",
            "operator": "lt",
            "value": 50,
            "action": {"type": "block", "reason": "x"},
        }
    ]
    campaign_id, [job, other] = _campaign(owner, 2, quality={"controlTasks": [control]}, qualityRules=rules)
    claimed = _claim(worker, job)
    headers = {"Idempotency-Key": "submit-once-f00d"}
    path, body = f"/assignments/{claimed['id']}/submit", _answers(claimed, "No")
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: worker.call("POST", path, json=body, headers=headers), range(4)))
    done = [r for r in replies if r.status_code == 201]
    assert done and {r.json()["id"] for r in done} == {done[0].json()["id"]}
    assert all(r.status_code in (201, 409) for r in replies)
    [action] = _actions(owner, campaign_id)
    assert action["outcome"]["block"]
    blocks = owner.call("GET", "/blocks", params={"worker": worker.id}).json()["blocks"]
    assert len(blocks) == 1
    assert _quality(owner, campaign_id, worker.id)["submitted"] == 1
    refused = worker.call("POST", f"/market/jobs/{other}/claim")
    assert refused.status_code == 403 and "blocked" in refused.json()["description"]


def test_a_block_and_a_requirement_hide_and_refuse(api: RunningStack):
    owner, worker = new_account(api, balance=50), new_account(api, "worker")
    skill = owner.call("POST", "/skills", json={"name": "cats", "description": "knows cats"}).json()["id"]
    wanted = [{"skill": skill, "operator": "gte", "value": 60}]
    _, [needs_skill] = _campaign(owner, 1, requirements=wanted)
    open_campaign, [open_job] = _campaign(owner, 1)

    def listed() -> set[str]:
        return {j["id"] for j in worker.call("GET", "/market/jobs", params={"limit": 100}).json()["jobs"]}

    assert needs_skill not in listed() and open_job in listed()
    refused = worker.call("POST", f"/market/jobs/{needs_skill}/claim")
    assert refused.status_code == 403 and f"requires skill {skill} gte 60" in refused.json()["description"]
    set_to = owner.call("PUT", f"/skills/{skill}/workers/{worker.id}", json={"value": 75})
    assert set_to.status_code == 200
    assert needs_skill in listed()

    block = owner.call(
        "POST", "/blocks", json={"worker": worker.id, "campaign": open_campaign, "reason": "r"}
    )
    assert block.status_code == 201, block.text
    assert open_job not in listed() and needs_skill in listed()
    refused = worker.call("POST", f"/market/jobs/{open_job}/claim")
    assert refused.status_code == 403 and "blocked" in refused.json()["description"]
    assert owner.call("DELETE", f"/blocks/{block.json()['id']}").status_code == 204
    assert worker.call("POST", f"/market/jobs/{open_job}/claim").status_code == 201


def test_reject_all_gives_back_exactly_what_it_rejected(api: RunningStack):
    owner, worker = new_account(api, balance=10), new_account(api, "worker")
    control = _task(owner, control=True)
    rules = [
        {
            "metric": "controlAccuracy",
            "operator": "lt",
            "value": 40,
            "minAnswers": 3,
            "action": {"type": "rejectAll", "reason": "failed the controls"},
        }
    ]
    before = _usd(owner.call("GET", "/me").json()["balance"]["available"])
    campaign_id, jobs = _campaign(
        owner, 3, workerPayment=0.333333, quality={"controlTasks": [control]}, qualityRules=rules
    )
    first = _claim(worker, jobs[0])
    good = worker.call("POST", f"/assignments/{first['id']}/submit", json=_answers(first, "Yes")).json()
    assert owner.call("POST", f"/results/{good['id']}/approve").status_code == 200
    rest = [_claim(worker, job) for job in jobs[1:]]
    assert _submit_together(worker, rest, "No") == [201, 201]
    [action] = _actions(owner, campaign_id)
    returned = Decimal(action["outcome"]["returned"])
    cost = returned / 2  # each rejected result cost what the approved one did
    assert action["outcome"]["rejected"] == 2 and cost == cost.quantize(Decimal("0.000001")) > 0
    results = owner.call("GET", f"/campaigns/{campaign_id}/results").json()["results"]
    assert sorted(r["state"] for r in results) == ["Approved", "Rejected", "Rejected"]
    assert worker.call("GET", "/workers/me").json()["earnings"]["pending"] == "0 USD"
    assert owner.call("POST", f"/campaigns/{campaign_id}/cancel").status_code == 200
    after = owner.call("GET", "/me").json()["balance"]
    assert (_usd(after["available"]), _usd(after["frozen"])) == (before - cost, 0)


def test_the_readme_quality_session_works_as_pasted(api: RunningStack, tmp_path: Path):
    done = run_readme_session(api, tmp_path, "auth/token/request", "knownSolutions")
    assert done.returncode == 0, done.stderr
    assert '"control":{"correct":false,"score":0.0,"weight":1.0}' in done.stdout
    assert '"metric":"controlAccuracy","observed":0.0' in done.stdout and '"outcome":{"block":' in done.stdout
    assert '"controlAccuracy":0.0' in done.stdout
    assert "cannot be claimed: you are blocked from this campaign's work" in done.stdout


SIGN = {"type": "TextInput", "hint": "What does the sign say?"}
SECRET = "zebra-41d9"  # the answer only the control task's solution holds
HAL = {"Accept": "application/hal+json"}


def test_nothing_a_worker_receives_over_http_tells_a_control_or_its_answer(api: RunningStack):
    owner, worker = new_account(api, balance=50), new_account(api, "worker")
    solution = [{"components": [{"result": None}, {"result": {"text": SECRET}}], "weight": 0.8}]
    control = owner.call(
        "POST",
        "/tasks",
        json={"name": "Read the sign", "components": [PICTURE, SIGN], "knownSolutions": solution},
    )
    assert control.status_code == 201, control.text
    control_id = control.json()["id"]
    real = owner.call("POST", "/tasks", json={"name": "Read the sign", "components": [PICTURE, SIGN]}).json()[
        "id"
    ]
    job = owner.call("POST", "/jobs", json={"name": "signs"}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=[real]).status_code == 200
    body = {"name": "signs", "workerPayment": 0.5, "results": 1, "quality": {"controlTasks": [control_id]}}
    campaign_id = owner.call("POST", "/campaigns", json=body).json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign_id}/jobs", json=[job]).status_code == 200
    assert owner.call("POST", f"/campaigns/{campaign_id}/publish").status_code == 200

    # Given everything the worker is sent, HAL links included
    seen = [worker.call("GET", "/market/jobs", params={"limit": 100}, headers=HAL)]
    claim = worker.call("POST", f"/market/jobs/{job}/claim", headers=HAL)
    assert claim.status_code == 201, claim.text
    assignment = claim.json()
    seen += [
        claim,
        worker.call("GET", f"/assignments/{assignment['id']}", headers=HAL),
        worker.call("GET", "/assignments", headers=HAL),
    ]
    answers = {
        "taskResults": [
            {"task": t["id"], "components": [{"result": None}, {"result": {"text": "my guess"}}]}
            for t in assignment["tasks"]
        ]
    }
    submitted = worker.call("POST", f"/assignments/{assignment['id']}/submit", json=answers, headers=HAL)
    assert submitted.status_code == 201, submitted.text
    seen += [submitted, worker.call("GET", "/workers/me", headers=HAL)]
    assert all(reply.status_code in (200, 201) for reply in seen), [r.text for r in seen]
    # Then no body says which task is the control, nor what its answer is
    sent = " ".join(reply.text for reply in seen)
    assert "_links" in sent and control_id in sent
    for telling in (SECRET, SECRET.upper(), "knownSolutions", "known_solutions", "control", "weight", "0.8"):
        assert telling.casefold() not in sent.casefold(), telling
    by_id = {t["id"]: t for t in assignment["tasks"]}
    assert set(by_id) == {control_id, real}
    assert {k: v for k, v in by_id[control_id].items() if k != "id"} == {
        k: v for k, v in by_id[real].items() if k != "id"
    }
    # while the requester sees the control graded
    graded = owner.call("GET", f"/results/{submitted.json()['id']}").json()["taskResults"]
    controls = {t["task"]["id"]: t.get("control") for t in graded}
    assert controls[control_id] == {"correct": False, "score": 0.0, "weight": 0.8}
    assert controls[real] is None


def _redeliver(api: RunningStack, function: str, event: tuple[str, ...], times: int) -> None:
    """Process one quality event `times` more times at once, in the function's own environment
    (its table, its bus), as a redelivered event is: each delivery runs the rules again."""
    stack = load_stack(REPO / "template.yaml", queue_url_base=api.info["moto_url"], stack_name=E2E_STACK)
    env = lambda_environment(stack.functions[function], api.info["moto_url"], api.info["dynamodb_url"])
    script = (
        "import json, sys\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from crowdtask.services import quality\n"
        "event = quality.Event(*json.loads(sys.argv[1]))\n"
        "with ThreadPoolExecutor(max_workers=int(sys.argv[2])) as pool:\n"
        "    print(list(pool.map(lambda _: sorted(quality.evaluate(event)), range(int(sys.argv[2])))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(event), str(times)],
        check=False,
        env={**env, "PYTHONPATH": str(REPO / "layers/common/python")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_a_rule_fires_once_when_its_event_is_delivered_again(api: RunningStack):
    owner, worker = new_account(api, balance=50), new_account(api, "worker")
    control = _task(owner, control=True)
    rules = [
        {
            "metric": "controlAccuracy",
            "operator": "lt",
            "value": 50,
            "action": {"type": "block", "reason": "x"},
        },
        {
            "metric": "controlAnswers",
            "operator": "gte",
            "value": 1,
            "action": {"type": "rejectAll", "reason": "y"},
        },
    ]
    campaign_id, [job, other] = _campaign(owner, 2, quality={"controlTasks": [control]}, qualityRules=rules)
    claimed = _claim(worker, job)
    result = worker.call("POST", f"/assignments/{claimed['id']}/submit", json=_answers(claimed, "No"))
    assert result.status_code == 201, result.text
    acted = _actions(owner, campaign_id)
    assert sorted(a["rule"] for a in acted) == [0, 1]
    # When the submission's event is delivered four more times, all at once
    event = (f"{result.json()['id']}:submitted", "submission", owner.id, campaign_id, worker.id)
    _redeliver(api, "MarketFunction", event, 4)
    # Then each rule has still acted once: one block, one rejection, the money back once
    assert sorted((a["rule"], a["id"]) for a in _actions(owner, campaign_id)) == sorted(
        (a["rule"], a["id"]) for a in acted
    )
    assert len(owner.call("GET", "/blocks", params={"worker": worker.id}).json()["blocks"]) == 1
    [rejected] = owner.call("GET", f"/campaigns/{campaign_id}/results").json()["results"]
    assert rejected["state"] == "Rejected"
    assert worker.call("POST", f"/market/jobs/{other}/claim").status_code == 403
    assert owner.call("POST", f"/campaigns/{campaign_id}/cancel").status_code == 200
    assert owner.call("GET", "/me").json()["balance"] == {"available": "50 USD", "frozen": "0 USD"}
