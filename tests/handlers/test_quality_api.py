"""The quality function through its handler: shapes, links, refusals by field, roles and ownership."""

from __future__ import annotations

from crowdtask.services.flows import reviewing
from tests.support.accounts import make_account
from tests.support.handlers import invoke
from tests.support.market import claim_and_submit, published_job

HAL = {"Accept": "application/hal+json"}


def _skill(token: str, name: str = "accuracy") -> dict:
    made = invoke("quality", "quality_create_skill", token=token, body={"name": name}, headers=HAL)
    assert made.status == 201, made.body
    return made.body


def test_a_skill_is_created_with_its_location_and_links(requester):
    skill = _skill(requester.token)
    assert skill["_links"] == {
        "self": {"href": f"/skills/{skill['id']}"},
        "workers": {"href": f"/skills/{skill['id']}/workers"},
    }
    listed = invoke("quality", "quality_list_skills", token=requester.token, query={})
    assert [s["id"] for s in listed.body["skills"]] == [skill["id"]]


def test_skill_values_are_checked_by_field(requester, worker):
    skill = _skill(requester.token)
    path = {"id": skill["id"], "workerId": worker.id}
    for value in (101, -1, "high"):
        reply = invoke(
            "quality",
            "quality_set_skill_value",
            token=requester.token,
            path_params=path,
            body={"value": value},
        )
        assert reply.status == 422 and reply.body["errors"][0]["field"] == "value"
    ok = invoke(
        "quality", "quality_set_skill_value", token=requester.token, path_params=path, body={"value": 42.5}
    )
    assert ok.status == 200 and ok.body["value"] == 42.5
    gone = invoke("quality", "quality_delete_skill_value", token=requester.token, path_params=path)
    assert gone.status == 204 and not gone.raw.get("body")
    again = invoke("quality", "quality_delete_skill_value", token=requester.token, path_params=path)
    assert again.status == 404


def test_workers_may_not_use_the_quality_routes(worker):
    reply = invoke("quality", "quality_create_skill", token=worker.token, body={"name": "x"})
    assert reply.status == 403


def test_another_requesters_skill_campaign_and_worker_are_404(requester, worker):
    other = make_account(balance=1)
    skill = _skill(requester.token)
    campaign_id, job_id = published_job(requester.id)
    claim_and_submit(worker.id, job_id)
    mine = invoke(
        "quality", "quality_worker_quality", token=requester.token, path_params={"workerId": worker.id}
    )
    assert mine.status == 200 and mine.body["quality"]["submitted"] == 1
    for name, params in (
        ("quality_get_skill", {"id": skill["id"]}),
        ("quality_worker_quality", {"workerId": worker.id}),
        ("quality_campaign_actions", {"id": campaign_id}),
    ):
        reply = invoke("quality", name, token=other.token, path_params=params, query={})
        assert reply.status == 404, (name, reply.body)


def test_a_block_is_made_listed_and_deleted(requester, worker):
    made = invoke(
        "quality",
        "quality_create_block",
        token=requester.token,
        body={"worker": worker.id, "reason": "spam"},
        headers=HAL,
    )
    assert made.status == 201 and made.header("Location") == f"/blocks/{made.body['id']}"
    assert made.body["_links"]["delete"]["method"] == "DELETE"
    listed = invoke("quality", "quality_list_blocks", token=requester.token, query={"worker": [worker.id]})
    assert [b["id"] for b in listed.body["blocks"]] == [made.body["id"]]
    gone = invoke(
        "quality", "quality_delete_block", token=requester.token, path_params={"id": made.body["id"]}
    )
    assert gone.status == 204


def test_a_block_names_its_bad_fields(requester, worker):
    reply = invoke(
        "quality",
        "quality_create_block",
        token=requester.token,
        body={"worker": worker.id, "reason": "", "until": "tomorrow"},
    )
    assert reply.status == 422
    assert {e["field"] for e in reply.body["errors"]} == {"reason", "until"}
    nobody = invoke(
        "quality",
        "quality_create_block",
        token=requester.token,
        body={"worker": "01AAAAAAAAAAAAAAAAAAAAAAAA", "reason": "r"},
    )
    assert nobody.status == 404


def test_campaign_quality_fields_are_checked_by_field(requester):
    body = {
        "name": "c",
        "workerPayment": 1,
        "results": 1,
        "qualityRules": [
            {"metric": "fastSubmits", "operator": "gte", "value": 3, "action": {"type": "approveAll"}},
            {"metric": "controlAccuracy", "operator": "lt", "value": 50, "action": {"type": "ban"}},
        ],
        "requirements": [{"skill": "01AAAAAAAAAAAAAAAAAAAAAAAA", "operator": "exists", "value": 3}],
        "quality": {"controlPerAssignment": 50},
    }
    reply = invoke("campaigns", "campaigns_create", token=requester.token, body=body)
    assert reply.status == 422
    fields = {e["field"] for e in reply.body["errors"]}
    assert "qualityRules[0]" in fields and "requirements[0]" in fields
    assert "quality.controlPerAssignment" in fields
    assert any(f.startswith("qualityRules[1].action") for f in fields)


def test_a_workers_figures_and_the_rules_actions_carry_their_links(requester, worker):

    rule = {
        "metric": "acceptanceRate",
        "operator": "lt",
        "value": 50,
        "action": {"type": "block", "reason": "r"},
    }
    campaign_id, job_id = published_job(requester.id, qualityRules=[rule])
    reviewing.reject(requester.id, claim_and_submit(worker.id, job_id).id, "wrong")
    figures = invoke(
        "quality",
        "quality_worker_quality",
        token=requester.token,
        path_params={"workerId": worker.id},
        headers=HAL,
    )
    assert figures.status == 200 and figures.body["_links"] == {
        "self": {"href": f"/workers/{worker.id}/quality"},
        "blocks": {"href": f"/blocks?worker={worker.id}"},
        "block": {"href": "/blocks", "method": "POST"},
    }
    page = invoke(
        "quality",
        "quality_campaign_actions",
        token=requester.token,
        path_params={"id": campaign_id},
        query={},
        headers=HAL,
    )
    [action] = page.body["actions"]
    assert action["_links"] == {
        "campaign": {"href": f"/campaigns/{campaign_id}"},
        "worker": {"href": f"/workers/{worker.id}/quality"},
        "workerActions": {"href": f"/campaigns/{campaign_id}/quality-actions?worker={worker.id}"},
        "block": {"href": f"/blocks/{action['outcome']['block']}"},
    }
    assert page.body["_links"]["self"]["href"].startswith(f"/campaigns/{campaign_id}/quality-actions")
