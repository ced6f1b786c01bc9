"""Answers over HTTP on DynamoDB Local, where races are real: aggregates exact under concurrent
submissions and a rejection racing an approval, dynamic overlap closing a job and giving back
exactly what it did not need, review policies deciding each result once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Session, new_account
from tests.support.stack import RunningStack, run_readme_session

pytestmark = pytest.mark.e2e

CHOICE = {"type": "BinaryChoice", "option1": "Yes", "option2": "No"}
PICTURE = {"type": "Image", "url": "https://x.io/c.png"}
PAYMENT = Decimal("0.5")


def _task(owner: Session, control: bool = False) -> str:
    body: dict[str, Any] = {"name": "Is it a cat?", "components": [PICTURE, CHOICE]}
    if control:
        body["knownSolutions"] = [{"components": [{"result": None}, {"result": {"selectedOption": "Yes"}}]}]
    made = owner.call("POST", "/tasks", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _campaign(owner: Session, results: int, **settings: Any) -> tuple[str, str, str]:
    """A published campaign of one job of one task: (campaign, job, task)."""
    task = _task(owner)
    job = owner.call("POST", "/jobs", json={"name": "cats"}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=[task]).status_code == 200
    body = {"name": "cats", "workerPayment": float(PAYMENT), "results": results, **settings}
    made = owner.call("POST", "/campaigns", json=body)
    assert made.status_code == 201, made.text
    campaign = made.json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign}/jobs", json=[job]).status_code == 200
    published = owner.call("POST", f"/campaigns/{campaign}/publish")
    assert published.status_code == 200, published.text
    return campaign, job, task


def _claim(worker: Session, job: str) -> dict[str, Any]:
    claim = worker.call("POST", f"/market/jobs/{job}/claim")
    assert claim.status_code == 201, claim.text
    return dict(claim.json())


def _answers(assignment: dict[str, Any], choice: str, control_choice: str = "Yes") -> dict[str, Any]:
    """`choice` on the campaign's task; `control_choice` on any other (a mixed-in control task)."""
    return {
        "taskResults": [
            {
                "task": t["id"],
                "components": [
                    {"result": None},
                    {
                        "result": {
                            "selectedOption": choice if t["id"] == assignment["_task"] else control_choice
                        }
                    },
                ],
            }
            for t in assignment["tasks"]
        ]
    }


def _work_together(
    workers: list[Session], job: str, task: str, choices: list[str], control_choice: str = "Yes"
) -> list[dict[str, Any]]:
    """Each worker claims the job, then all submit at once: their results."""
    claimed = [{**_claim(w, job), "_task": task} for w in workers]
    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        replies = list(
            pool.map(
                lambda n: workers[n].call(
                    "POST",
                    f"/assignments/{claimed[n]['id']}/submit",
                    json=_answers(claimed[n], choices[n], control_choice),
                ),
                range(len(workers)),
            )
        )
    assert [r.status_code for r in replies] == [201] * len(workers), [r.text for r in replies]
    return [r.json() for r in replies]


def _aggregate(owner: Session, task: str, campaign: str) -> dict[str, Any]:
    reply = owner.call("GET", f"/tasks/{task}/aggregate", params={"campaign": campaign})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _usd(text: str) -> Decimal:
    return Decimal(text.split(maxsplit=1)[0])


def _balance(owner: Session) -> tuple[Decimal, Decimal]:
    me = owner.call("GET", "/me").json()["balance"]
    return _usd(me["available"]), _usd(me["frozen"])


def test_concurrent_submissions_are_all_counted(api: RunningStack):
    owner = new_account(api, balance=100)
    campaign, job, task = _campaign(owner, results=6)
    workers = [new_account(api, "worker") for _ in range(6)]
    _work_together(workers, job, task, ["Yes", "No", "Yes", "Yes", "No", "Yes"])
    aggregate = _aggregate(owner, task, campaign)
    assert aggregate["answers"] == 6
    picture, choice = aggregate["components"]
    assert picture is None
    assert choice == {"result": {"selectedOption": "Yes"}, "confidence": pytest.approx(4 / 6), "votes": 4}
    page = owner.call("GET", f"/campaigns/{campaign}/aggregates").json()
    assert [a["task"] for a in page["aggregates"]] == [task]


def test_a_rejection_racing_an_approval_decides_once_and_the_votes_follow(api: RunningStack):
    owner = new_account(api, balance=100)
    campaign, job, task = _campaign(owner, results=4)
    workers = [new_account(api, "worker") for _ in range(4)]
    results = _work_together(workers, job, task, ["Yes", "Yes", "No", "No"])

    def decide(pair: tuple[str, str]) -> int:
        result, how = pair
        body = {"reason": "wrong"} if how == "reject" else {}
        return owner.call("POST", f"/results/{result}/{how}", json=body).status_code

    races = [(r["id"], how) for r in results for how in ("approve", "reject")]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(decide, races))
    for n in range(0, len(codes), 2):  # per result: one of its two decisions won, the other is 409
        assert sorted(codes[n : n + 2]) == [200, 409], races[n]
    states = {r["id"]: owner.call("GET", f"/results/{r['id']}").json()["state"] for r in results}
    kept = [r for r in results if states[r["id"]] == "Approved"]
    choices = {r["id"]: c for r, c in zip(results, ["Yes", "Yes", "No", "No"], strict=True)}
    aggregate = _aggregate(owner, task, campaign)
    assert aggregate["answers"] == len(kept)
    if kept:
        yes = sum(1 for r in kept if choices[r["id"]] == "Yes")
        winner = aggregate["components"][1]
        assert winner["votes"] == max(yes, len(kept) - yes)
    else:
        assert aggregate["components"] == [None, None]


def test_dynamic_overlap_closes_the_job_and_gives_back_exactly_what_it_did_not_need(api: RunningStack):
    owner = new_account(api, balance=100)
    start_available, _ = _balance(owner)
    campaign, job, task = _campaign(
        owner,
        results=7,
        overlap={"min": 3, "confidence": 0.9},
        autoReview={"agreement": {"approve": True, "reject": True, "minConfidence": 0.9}},
    )
    published_available, _ = _balance(owner)
    per_result = (start_available - published_available) / 7
    _work_together([new_account(api, "worker") for _ in range(3)], job, task, ["Yes"] * 3)
    # three agree: the job closed, its four untaken slots' money is back, the three results approved
    late = new_account(api, "worker").call("POST", f"/market/jobs/{job}/claim")
    assert late.status_code in (404, 409), late.text
    available, frozen = _balance(owner)
    assert available == start_available - 3 * per_result
    assert frozen == 0
    page = owner.call("GET", f"/campaigns/{campaign}/results").json()["results"]
    assert (
        sorted((r["state"], r.get("reviewedBy")) for r in page) == [("Approved", "autoReview.agreement")] * 3
    )
    assert owner.call("GET", f"/campaigns/{campaign}").json()["state"] == "finished"


def test_a_policy_racing_a_requesters_approve_all_decides_each_result_once(api: RunningStack):
    owner = new_account(api, balance=100)
    control = _task(owner, control=True)
    campaign, job, task = _campaign(
        owner,
        results=6,
        quality={"controlTasks": [control]},
        autoReview={"control": {"rejectBelow": 0.5}},
    )
    workers = [new_account(api, "worker") for _ in range(6)]
    claimed = [{**_claim(w, job), "_task": task} for w in workers]

    def submit(n: int) -> int:
        answers = _answers(claimed[n], "Yes", control_choice="Yes" if n % 2 else "No")
        return workers[n].call("POST", f"/assignments/{claimed[n]['id']}/submit", json=answers).status_code

    with ThreadPoolExecutor(max_workers=7) as pool:
        submitted = [pool.submit(submit, n) for n in range(6)]
        approving = [
            pool.submit(owner.call, "POST", f"/campaigns/{campaign}/results/approve-all", json={})
            for _ in range(3)
        ]
        assert [f.result() for f in submitted] == [201] * 6
        assert all(f.result().status_code == 200 for f in approving)
    owner.call("POST", f"/campaigns/{campaign}/results/approve-all", json={})
    page = owner.call("GET", f"/campaigns/{campaign}/results", params={"limit": 10}).json()["results"]
    states = [r["state"] for r in page]
    assert len(states) == 6 and set(states) <= {"Approved", "Rejected"}
    approved = states.count("Approved")
    # each result was paid at most once: the workers' earnings are exactly the approved results'
    earned = sum(_usd(w.call("GET", "/workers/me").json()["earnings"]["paid"]) for w in workers)
    assert earned == approved * PAYMENT
    # those that failed their control and were not approved first were rejected by the policy
    assert all(r.get("reviewedBy") == "autoReview.control" for r in page if r["state"] == "Rejected")


def test_the_readme_answers_session_works_as_pasted(api: RunningStack, tmp_path: Path):
    done = run_readme_session(api, tmp_path, "auth/token/request", '"overlap"')
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"components":[null,{"result":{"selectedOption":"Yes"},"confidence":1.0,"votes":3}]' in out
    assert out.count('"reviewedBy":"autoReview.agreement"') == 3
    assert '"state":"finished"' in out
    assert out.count('"amount":"0.05 USD"') == 3  # paid once: the retry answers the same bonus; listed once
    assert '"status":"SUCCESS"' in out and '"method":"dawid-skene"' in out
