"""HAL `_links` of each resource: itself and the actions its current state allows."""

from __future__ import annotations

from typing import Any

from crowdtask.services import lifecycle


def _action(href: str, method: str = "POST") -> dict[str, str]:
    return {"href": href, "method": method}


def task_links(task: Any) -> dict[str, Any]:
    base = f"/tasks/{task.id}"
    links: dict[str, Any] = {"self": {"href": base}, "copy": _action(f"{base}/copy")}
    if task.archived:
        links["unarchive"] = _action(f"{base}/unarchive")
    else:
        links["archive"] = _action(f"{base}/archive")
        if not task.readOnly:
            links["update"] = _action(base, "PUT")
    return links


def profile_links() -> dict[str, Any]:
    return {"self": {"href": "/me"}, "update": _action("/me", "PUT")}


def job_links(job: Any) -> dict[str, Any]:
    base = f"/jobs/{job.id}"
    links: dict[str, Any] = {
        "self": {"href": base},
        "tasks": {"href": f"{base}/tasks"},
        "copy": _action(f"{base}/copy?deep=false"),
    }
    if job.archived:
        links["unarchive"] = _action(f"{base}/unarchive")
    elif not job.readOnly:
        links["update"] = _action(base, "PUT")
        links["setTasks"] = _action(f"{base}/tasks", "PUT")
        links["addTasks"] = _action(f"{base}/tasks")
        links["archive"] = _action(f"{base}/archive?deep=false")
    return links


def campaign_links(campaign: Any) -> dict[str, Any]:
    base = f"/campaigns/{campaign.id}"
    links: dict[str, Any] = {
        "self": {"href": base},
        "jobs": {"href": f"{base}/jobs"},
        "copy": _action(f"{base}/copy?deep=false"),
    }
    for action in lifecycle.allowed_actions(campaign.state):
        links[action] = _action(f"{base}/{action}")
    if lifecycle.settings_editable(campaign.state):
        links["update"] = _action(base, "PUT")
    if lifecycle.jobs_editable(campaign.state):
        links["setJobs"] = _action(f"{base}/jobs", "PUT")
        links["addJobs"] = _action(f"{base}/jobs")
    if lifecycle.archivable(campaign.state):
        links["unarchive" if campaign.archived else "archive"] = _action(
            f"{base}/unarchive" if campaign.archived else f"{base}/archive?deep=false"
        )
    return links


def market_job_links(job: Any) -> dict[str, Any]:
    claim = f"/market/jobs/{job.id}/claim?campaign={job.campaign}"
    return {"claim": _action(claim)}


def assignment_links(assignment: Any) -> dict[str, Any]:
    base = f"/assignments/{assignment.id}"
    links: dict[str, Any] = {"self": {"href": base}}
    if assignment.state == "open":
        links["submit"] = _action(f"{base}/submit")
        links["release"] = _action(f"{base}/release")
    return links


def result_links(result: Any) -> dict[str, Any]:
    base = f"/results/{result.id}"
    links: dict[str, Any] = {
        "self": {"href": base},
        "campaign": {"href": f"/campaigns/{result.campaign}"},
        "worker": {"href": f"/campaigns/{result.campaign}/workers/{result.worker}/results"},
    }
    if result.state == "InReview":
        for action in ("approve", "reject", "soft-reject"):
            links[action] = _action(f"{base}/{action}")
    return links


def skill_links(skill: Any) -> dict[str, Any]:
    base = f"/skills/{skill.id}"
    return {"self": {"href": base}, "workers": {"href": f"{base}/workers"}}


def block_links(block: Any) -> dict[str, Any]:
    base = f"/blocks/{block.id}"
    return {"self": {"href": base}, "delete": _action(base, "DELETE")}


def bonus_links(bonus: Any) -> dict[str, Any]:
    links: dict[str, Any] = {
        "self": {"href": f"/bonuses/{bonus.id}"},
        "worker": {"href": f"/workers/{bonus.worker}/quality"},
        "workerBonuses": {"href": f"/bonuses?worker={bonus.worker}"},
    }
    if bonus.result:
        links["result"] = {"href": f"/results/{bonus.result}"}
    return links


def worker_quality_links(worker_id: str) -> dict[str, Any]:
    """A worker's figures with the requester: their blocks, and blocking them."""
    return {
        "self": {"href": f"/workers/{worker_id}/quality"},
        "blocks": {"href": f"/blocks?worker={worker_id}"},
        "block": _action("/blocks"),
    }


def quality_action_links(action: Any) -> dict[str, Any]:
    """What a rule did: its campaign, the worker's figures and actions, the block it made if any."""
    campaign = f"/campaigns/{action.campaign}"
    links: dict[str, Any] = {
        "campaign": {"href": campaign},
        "worker": {"href": f"/workers/{action.worker}/quality"},
        "workerActions": {"href": f"{campaign}/quality-actions?worker={action.worker}"},
    }
    if action.outcome.get("block"):
        links["block"] = {"href": f"/blocks/{action.outcome['block']}"}
    return links
