"""A job's terms on the market: the campaign's settings narrowed by the task-JSON rules of its tasks.

Computed once, when the job goes on the market (its campaign's settings are frozen from then on),
and carried by its market item so that claims and reviews read nothing else. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from crowdtask import clock, geo, money
from crowdtask.models.durations import seconds
from crowdtask.services import pricing, repeats

DEFAULT_WORK_SECONDS = 3600  # a claim's work time when neither user_ttl nor maxWorkTime is set
DEFAULT_REVIEW_SECONDS = 3 * 86400  # the review window when the campaign sets no maxReviewTime
# What a repeat needs to open slots again without reading the market item.
REPEAT_FIELDS = ("account_id", "campaign_id", "job_id", "payment", "commission", "needed", "publishedAt")


def job_terms(
    campaign: dict[str, Any], job: dict[str, Any], tasks: Sequence[dict[str, Any]], published: datetime
) -> dict[str, Any]:
    """The market item data of one job (`job`: its id, account, task ids and texts)."""
    needed = int(campaign.get("results", 1))
    process_counts = [int(t.get("process_count", 0)) for t in tasks if int(t.get("process_count", 0)) > 0]
    if process_counts:
        needed = min(needed, *process_counts)
    limit = campaign.get("maxResultsPerWorker")
    per_worker = int(limit) if limit is not None else None
    if any(not t.get("user_multi_process", True) for t in tasks):
        per_worker = 1
    user_ttls = [int(t.get("user_ttl", 0)) for t in tasks if int(t.get("user_ttl", 0)) > 0]
    if user_ttls:
        work = min(user_ttls)
    elif campaign.get("maxWorkTime"):
        work = seconds(campaign["maxWorkTime"])
    else:
        work = DEFAULT_WORK_SECONDS
    upload = seconds(campaign["maxUploadTime"]) if campaign.get("maxUploadTime") else 0
    review = seconds(campaign["maxReviewTime"]) if campaign.get("maxReviewTime") else DEFAULT_REVIEW_SECONDS
    rate = Decimal(str(campaign.get("commission_rate", 0)))
    payment = money.amount(campaign.get("workerPayment", 0))
    data: dict[str, Any] = {
        "account_id": job["account_id"],
        "campaign_id": campaign["id"],
        "job_id": job["id"],
        "published_precise": clock.iso_precise(published),
        "publishedAt": clock.iso(published),
        "remaining": needed,
        "needed": needed,
        "max_per_worker": per_worker,
        "task_ids": list(job.get("task_ids", [])),
        "points": sum(int(t.get("points", 1)) for t in tasks),
        "payment": payment,
        "commission": pricing.commission_of(payment, rate),
        "work_seconds": work,
        "upload_seconds": upload,
        "review_seconds": review,
        "worker_group": campaign.get("workerGroup"),
        "job_name": job.get("name", ""),
        "job_description": job.get("description"),
        "title": campaign.get("title"),
        "campaign_description": campaign.get("description"),
        "terms": campaign.get("terms"),
        "est_duration": campaign.get("estDuration"),
        # who may take it, and the control tasks mixed into its assignments (services/eligibility.py)
        "requirements": list(campaign.get("requirements") or []) or None,
        **_controls(campaign),
    }
    task_ttls = [int(t.get("task_ttl", 0)) for t in tasks if int(t.get("task_ttl", 0)) > 0]
    if task_ttls:
        data["expires_at"] = clock.iso(published + timedelta(minutes=min(task_ttls)))
    region = next((t for t in tasks if t.get("region_based")), None)
    if region is not None:
        data.update(
            region_lat=Decimal(str(region.get("lat", 0))),
            region_lng=Decimal(str(region.get("lng", 0))),
            region_radius=Decimal(str(region.get("radius", 300))),
        )
    repeating = next((t for t in tasks if t.get("repeat") or t.get("repeat_schedule")), None)
    if repeating is not None:
        repeat = repeats.parse(repeating.get("repeat"), repeating.get("repeat_schedule"))
        assert repeat is not None
        data["repeat"] = repeat.schedule
        if not repeat.calendar:
            data["repeat_after"] = repeat.after_seconds
    return {k: v for k, v in data.items() if v is not None}


def _controls(campaign: dict[str, Any]) -> dict[str, Any]:
    quality = campaign.get("quality") or {}
    controls = list(quality.get("controlTasks") or [])
    if not controls:
        return {}
    per = quality.get("controlPerAssignment")
    return {"control_ids": controls, "controls_per_assignment": 1 if per is None else int(per)}


def pool_task_terms(campaign: dict[str, Any], task: dict[str, Any], published: datetime) -> dict[str, Any]:
    """A pool task is worked like a job of one task, needing its own overlap, by the workers its
    `reserved_for` names (anyone when it names none) and not by those of its `unavailable_for`."""
    job = {
        "id": task["id"],
        "account_id": task["account_id"],
        "task_ids": [task["id"]],
        "name": task.get("name"),
    }
    terms = job_terms(campaign, job, [task], published)
    terms["remaining"] = terms["needed"] = pricing.needed(task)
    for audience in ("reserved_for", "unavailable_for"):
        if task.get(audience):
            terms[audience] = sorted(set(task[audience]))
    return terms


def region_cell(terms: dict[str, Any]) -> str | None:
    """The geohash cell a region-based job is listed under (None: listed for everyone)."""
    if "region_radius" not in terms:
        return None
    return geo.cell_for(float(terms["region_lat"]), float(terms["region_lng"]), float(terms["region_radius"]))


def calendar_repeat(terms: dict[str, Any]) -> repeats.Repeat | None:
    """The job's calendar repeat (daily, weekly, ...), if it has one."""
    if not terms.get("repeat") or "repeat_after" in terms:
        return None
    return repeats.parse(terms["repeat"], None)


def repeat_data(terms: dict[str, Any]) -> dict[str, Any]:
    return {k: terms[k] for k in REPEAT_FIELDS if k in terms}


def offered_to(item: dict[str, Any], worker_id: str) -> bool:
    """Whether the job is for this worker: named by its reservation (if any) and not excluded."""
    reserved = item.get("reserved_for")
    if reserved and worker_id not in reserved:
        return False
    return worker_id not in (item.get("unavailable_for") or ())


def within(item: dict[str, Any], lat: float | None, lng: float | None) -> tuple[bool, float | None]:
    """(may this position take the job, distance to its region's centre)."""
    if "region_radius" not in item:
        return True, None
    if lat is None or lng is None:
        return False, None
    distance = geo.distance_m(lat, lng, float(item["region_lat"]), float(item["region_lng"]))
    return distance <= float(item["region_radius"]), distance
