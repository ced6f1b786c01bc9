"""Jobs and campaigns through their handlers: id arrays, refusals, HAL by state, deep flags."""

from __future__ import annotations

import pytest

from tests.support.accounts import make_account
from tests.support.handlers import invoke


def _task(requester, name="t") -> str:
    return invoke("tasks", "tasks_create", token=requester.token, body={"name": name}).body["id"]


def _job(requester, tasks: list[str]) -> str:
    job_id = invoke("jobs", "jobs_create", token=requester.token).body["id"]
    reply = invoke("jobs", "jobs_tasks_put", token=requester.token, path_params={"id": job_id}, body=tasks)
    assert reply.status == 200, reply.body
    return job_id


def test_seed_job_and_campaign_bodies_are_accepted(requester):
    job = invoke("jobs", "jobs_create", token=requester.token)
    assert job.status == 201 and job.body["description"] == "this job differs from the others!"
    campaign = invoke("campaigns", "campaigns_create", token=requester.token)
    assert campaign.status == 201
    body = campaign.body
    assert (body["state"], body["workerGroup"], body["maxWorkTime"], body["startDate"]) == (
        "unpublished",
        "1",
        "10 min",
        "2030-01-01T10:00:00",
    )
    assert body["workerPayment"] == 0.01 and body["results"] == 3


def test_id_arrays_accept_numbers_and_name_bad_entries(requester):
    task = _task(requester)
    job_id = invoke("jobs", "jobs_create", token=requester.token).body["id"]
    bad = invoke(
        "jobs",
        "jobs_tasks_put",
        token=requester.token,
        path_params={"id": job_id},
        body=[task, 42, True, "", {"id": 1}],
    )
    assert bad.status == 422
    assert {e["field"] for e in bad.body["errors"]} >= {"[2]", "[3]", "[4]"}
    unknown = invoke(
        "jobs", "jobs_tasks_put", token=requester.token, path_params={"id": job_id}, body=[task, 42]
    )
    assert unknown.status == 404
    assert unknown.body["errors"] == [
        {"field": "[1]", "message": "no task 42 in your account", "code": "NOT_FOUND"}
    ]
    for not_a_list in ({"tasks": [task]}, "x", None):
        assert (
            invoke(
                "jobs", "jobs_tasks_put", token=requester.token, path_params={"id": job_id}, body=not_a_list
            ).status
            == 422
        )
    added = invoke("jobs", "jobs_tasks_add", token=requester.token, path_params={"id": job_id}, body=[task])
    assert added.status == 200 and added.body == {"id": job_id, "tasks": [task]}


def test_job_tasks_page_in_order_with_links(requester):
    task_ids = [_task(requester, f"t{n}") for n in range(5)]
    job_id = _job(requester, task_ids)
    seen, query = [], {"limit": ["2"]}
    while True:
        page = invoke(
            "jobs",
            "jobs_tasks_get",
            token=requester.token,
            path_params={"id": job_id},
            query=query,
            headers={"Accept": "application/hal+json"},
        )
        seen += [t["id"] for t in page.body["tasks"]]
        if "next" not in page.body["_links"]:
            break
        query = {"limit": ["2"], "after": [page.body["_links"]["next"]["href"].split("after=")[1]]}
    assert seen == task_ids


def test_job_tasks_after_an_id_not_in_the_list_is_a_404_naming_after(requester):
    job_id = _job(requester, [_task(requester)])
    page = invoke(
        "jobs",
        "jobs_tasks_get",
        token=requester.token,
        path_params={"id": job_id},
        query={"after": ["t-none"]},
    )
    assert page.status == 404
    assert page.body["errors"] == [
        {"field": "after", "message": "t-none is not (or no longer) in the list", "code": "NOT_FOUND"}
    ]


@pytest.mark.balance(50)
def test_lifecycle_over_the_handlers_with_hal(requester):
    hal = {"Accept": "application/hal+json"}
    job_id = _job(requester, [_task(requester)])
    campaign = invoke(
        "campaigns",
        "campaigns_create",
        token=requester.token,
        headers=hal,
        body={"name": "c", "workerPayment": 1, "results": 2},
    )
    campaign_id = campaign.body["id"]
    assert "publish" in campaign.body["_links"] and "pause" not in campaign.body["_links"]
    invoke(
        "campaigns",
        "campaigns_jobs_put",
        token=requester.token,
        path_params={"id": campaign_id},
        body=[job_id],
    )
    published = invoke(
        "campaigns", "campaigns_publish", token=requester.token, path_params={"id": campaign_id}, headers=hal
    )
    assert published.status == 200 and published.body["state"] == "active"
    assert {"pause", "cancel"} <= set(published.body["_links"]) and "publish" not in published.body["_links"]
    paused = invoke(
        "campaigns", "campaigns_pause", token=requester.token, path_params={"id": campaign_id}, headers=hal
    )
    assert {"continue", "cancel"} <= set(paused.body["_links"])
    assert not {"pause", "publish"} & set(paused.body["_links"])
    again = invoke("campaigns", "campaigns_publish", token=requester.token, path_params={"id": campaign_id})
    assert again.status == 409
    assert again.body["description"].startswith(
        "Cannot publish a campaign that is paused; only a campaign that is"
    )
    profile = invoke("profile", "profile_get_me", token=requester.token).body
    assert profile["balance"] == {"available": "47.6 USD", "frozen": "2.4 USD"}
    job = invoke("jobs", "jobs_get", token=requester.token, path_params={"id": job_id}, headers=hal)
    assert job.body["readOnly"] is True and "update" not in job.body["_links"]
    cancelled = invoke(
        "campaigns", "campaigns_cancel", token=requester.token, path_params={"id": campaign_id}
    )
    assert cancelled.body["state"] == "cancelled" and cancelled.body["readOnly"] is True
    assert invoke("profile", "profile_get_me", token=requester.token).body["balance"]["frozen"] == "0 USD"


def test_deep_flag_and_bad_flag_values(requester):
    job_id = _job(requester, [_task(requester)])
    copy = invoke(
        "jobs", "jobs_copy", token=requester.token, path_params={"id": job_id}, query={"deep": ["true"]}
    )
    assert copy.status == 201 and copy.header("Location") == f"/jobs/{copy.body['id']}"
    bad = invoke(
        "jobs", "jobs_copy", token=requester.token, path_params={"id": job_id}, query={"deep": ["maybe"]}
    )
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "deep"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "c", "maxWorkTime": "ten"}, "maxWorkTime"),
        ({"name": "c", "results": "many"}, "results"),
        ({"name": "c", "workerPayment": "free"}, "workerPayment"),
        ({"name": "c", "startDate": "soon"}, "startDate"),
        ({"name": "c", "state": "active"}, "state"),
        ({"title": "no name"}, "name"),
    ],
)
def test_bad_campaign_bodies_name_the_field(requester, body, field):
    reply = invoke("campaigns", "campaigns_create", token=requester.token, body=body)
    assert reply.status == 422 and reply.body["errors"][0]["field"] == field


def test_other_accounts_cannot_reach_jobs_or_campaigns(requester):
    job_id = _job(requester, [_task(requester)])
    campaign_id = invoke("campaigns", "campaigns_create", token=requester.token).body["id"]
    stranger = make_account(balance=50)
    for group, name, item in [
        ("jobs", "jobs_get", job_id),
        ("jobs", "jobs_tasks_get", job_id),
        ("jobs", "jobs_archive", job_id),
        ("campaigns", "campaigns_get", campaign_id),
        ("campaigns", "campaigns_publish", campaign_id),
        ("campaigns", "campaigns_jobs_get", campaign_id),
    ]:
        assert invoke(group, name, token=stranger.token, path_params={"id": item}).status == 404, name


@pytest.mark.parametrize(
    ("route", "body"),
    [
        (("jobs", "jobs_create"), {"name": "j", "properties": {"": 1}}),
        (("campaigns", "campaigns_create"), {"name": "c", "properties": {"a": [{"": None}]}}),
        (
            ("campaigns", "campaigns_create"),
            {"name": "c", "taskTemplate": {"name": "t", "properties": {"": "x"}}},
        ),
        (("tasks", "tasks_create"), {"name": "t", "properties": {"a": {"": 0}}}),
    ],
)
def test_an_empty_key_in_a_free_form_object_is_refused_not_a_server_error(requester, route, body):
    """DynamoDB refuses an empty map key at any depth (moto does not): the API says so with a 422."""
    reply = invoke(*route, token=requester.token, body=body)
    assert reply.status == 422, reply.body
