"""The job market: what publishing puts on it, what a worker may take now, and slots given back.

Publishing a campaign opens one market item per job (see store/market.py) with everything a
claim and a review need: the results still needed, the per-worker limit, deadlines, pay,
points, region, expiry and repeat. Those settings are frozen with the campaign, so they are
computed once here and never again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from crowdtask import clock, errors, geo, money
from crowdtask.models.durations import seconds
from crowdtask.observability import logger
from crowdtask.services import repeats
from crowdtask.services.campaigns import CAMPAIGNS, require_campaign
from crowdtask.services.jobs import JOBS
from crowdtask.services.tasks import TASKS
from crowdtask.store import accounts as account_store
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import dynamo, keys
from crowdtask.store import market as market_store
from crowdtask.store.changes import Change

if TYPE_CHECKING:  # pragma: no cover - response models load where replies are built, not at import
    from crowdtask.models.market import MarketJobOut

_POOL = ThreadPoolExecutor(max_workers=16)
DEFAULT_WORK_SECONDS = 3600  # a claim's work time when neither user_ttl nor maxWorkTime is set
DEFAULT_REVIEW_SECONDS = 3 * 86400  # the review window when the campaign sets no maxReviewTime
_MICRO = Decimal("0.000001")
LIVE_STATES = ("active", "paused")
ENDED_STATES = ("finished", "cancelled")


# ---------------------------------------------------------------- transaction outcomes
def failed(exc: dynamo.TransactionConflict, index: int) -> bool:
    """Did the operation at `index` fail its condition?"""
    return len(exc.reasons) > index and exc.reasons[index] == "ConditionalCheckFailed"


# ---------------------------------------------------------------- market terms of a job
def commission_of(payment: Decimal, rate: Decimal) -> Decimal:
    """The platform's commission on one payment, rounded down to the micro-dollar.

    Rounding down keeps every result's cost within what publishing froze (which rounds the total
    once): the fraction left over is released to the requester when the campaign ends.
    """
    return (payment * rate).quantize(_MICRO, rounding=ROUND_DOWN)


def job_terms(
    campaign: dict[str, Any], job: dict[str, Any], tasks: Sequence[dict[str, Any]], published: datetime
) -> dict[str, Any]:
    """The market item data of one job: campaign settings narrowed by the task-JSON rules of its tasks."""
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
        "campaign_id": campaign["sk"],
        "job_id": job["sk"],
        "published_precise": clock.iso_precise(published),
        "publishedAt": clock.iso(published),
        "remaining": needed,
        "needed": needed,
        "max_per_worker": per_worker,
        "task_ids": list(job.get("task_ids", [])),
        "points": sum(int(t.get("points", 1)) for t in tasks),
        "payment": payment,
        "commission": commission_of(payment, rate),
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


def region_cell(terms: dict[str, Any]) -> str | None:
    if "region_radius" not in terms:
        return None
    return geo.cell_for(float(terms["region_lat"]), float(terms["region_lng"]), float(terms["region_radius"]))


# ---------------------------------------------------------------- opening and closing
def open_campaign(account_id: str, campaign_id: str) -> int:
    """Put every job of a just-published campaign on the market; returns the number of market items.

    Safe to run again (after a crash, from the scheduler's `market` step): existing items and the
    campaign's `results_outstanding` are kept as they are.
    """
    campaign = require_campaign(account_id, campaign_id, consistent=True)
    if campaign.get("state") not in LIVE_STATES:
        campaign_store.clear_due(account_id, campaign_id, "market")
        return 0
    if "commission_rate" not in campaign:  # published before the rate was recorded: the account's
        account = account_store.get(account_id) or {}
        campaign["commission_rate"] = Decimal(str(account.get("commissionRate", 0)))
    published = parse_time(campaign.get("publishedAt")) or clock.now()
    job_ids = list(dict.fromkeys(campaign.get("job_ids", [])))
    jobs = dynamo.batch_get((JOBS.pk(account_id, j), j) for j in job_ids)
    by_job = {sk: item for (_, sk), item in jobs.items()}
    task_ids = {t for item in by_job.values() for t in item.get("task_ids", [])}
    found = dynamo.batch_get((TASKS.pk(account_id, t), t) for t in task_ids)
    tasks = {sk: item for (_, sk), item in found.items()}
    all_terms = []
    for job_id in job_ids:
        job = by_job.get(job_id)
        if job is None:
            continue
        job_tasks = [tasks[t] for t in job.get("task_ids", []) if t in tasks]
        all_terms.append(job_terms(campaign, job, job_tasks, published))
    outstanding = sum(int(t["needed"]) for t in all_terms)
    calendar = [t for t in all_terms if t.get("repeat") and "repeat_after" not in t]
    outstanding += len(calendar)  # a calendar repeat keeps the campaign open until it ends
    # the pool tasks publishing paid for (tasks counted into the live campaign add their own)
    outstanding += int(campaign.get("pool_needed_published", 0))
    with contextlib.suppress(dynamo.ConditionFailed):  # opened before: the counter already runs
        dynamo.update(
            CAMPAIGNS.pk(account_id, campaign_id),
            campaign_id,
            "SET market_opened = :true, commission_rate = if_not_exists(commission_rate, :rate) "
            "ADD results_outstanding :n",
            condition="attribute_not_exists(market_opened)",
            vals={":n": outstanding, ":rate": campaign["commission_rate"], ":true": True},
        )
    for terms in all_terms:
        market_store.put_new(market_store.market_item(terms, region_cell(terms)))
    for terms in calendar:
        repeat = repeats.parse(terms["repeat"], None)
        assert repeat is not None
        first = clock.iso(repeats.next_occurrence(repeat, published, published))
        item = market_store.calendar_repeat_item(
            campaign_id, terms["job_id"], first, _repeat_data(terms) | {"schedule": repeat.schedule}
        )
        market_store.put_new(item)
    from crowdtask.services import pools

    try:
        if not pools.open_pool(account_id, campaign):
            return len(all_terms)  # a big pool opens in steps: the market step stays due for the scheduler
    except Exception:
        logger.exception(
            "opening the pool tasks failed; the market scheduler carries on", extra={"campaign": campaign_id}
        )
        return len(all_terms)
    campaign_store.clear_due(account_id, campaign_id, "market")
    return len(all_terms)


def _repeat_data(terms: dict[str, Any]) -> dict[str, Any]:
    """What a repeat needs to open slots again without reading the market item."""
    fields = ("account_id", "campaign_id", "job_id", "payment", "commission", "needed", "publishedAt")
    return {k: terms[k] for k in fields if k in terms}


def close_campaign(account_id: str, campaign_id: str) -> None:
    """The campaign ended: its jobs leave the market (slots given back later are dead)."""
    campaign = require_campaign(account_id, campaign_id, consistent=True)
    job_ids = list(dict.fromkeys(campaign.get("job_ids", [])))
    list(_POOL.map(lambda job_id: close_item(campaign_id, job_id), job_ids))


def close_item(campaign_id: str, job_id: str) -> None:
    """The campaign's market item of this job (or pool task) is closed for good, if it exists."""
    change = market_store.close_change(market_store.market_change(job_id, campaign_id))
    with contextlib.suppress(dynamo.TransactionConflict):  # never on the market: nothing to close
        market_store.transact([change])


def parse_time(value: str | None) -> datetime | None:
    """A stored UTC time (`2026-03-14T03:14:15`, offset optional) as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value + "+00:00") if "+" not in value else datetime.fromisoformat(value)


# ---------------------------------------------------------------- slots given back
def slot_back(
    *, open_path: bool, requester_id: str, campaign_id: str, job_id: str, campaign: Change | None = None
) -> list[Change]:
    """The changes that give one slot of a job back.

    On an open item the slot is listed again. On a closed one (expired, campaign ended) it can
    never be filled: the campaign needs one result fewer, so it can still finish. Pass the
    campaign's Change when the caller already changes the campaign in the same transaction.
    """
    market = market_store.market_change(job_id, campaign_id)
    if open_path:
        return [market_store.give_back_slot(market)]
    market_store.require_closed(market)
    own = campaign is None
    campaign = campaign or market_store.campaign_change(CAMPAIGNS.pk(requester_id, campaign_id), campaign_id)
    campaign.add("results_outstanding", -1)
    return [market, campaign] if own else [market]


# ---------------------------------------------------------------- listing
def _within(item: dict[str, Any], lat: float | None, lng: float | None) -> tuple[bool, float | None]:
    """(may this position take the job, distance to its region's centre)."""
    if "region_radius" not in item:
        return True, None
    if lat is None or lng is None:
        return False, None
    distance = geo.distance_m(lat, lng, float(item["region_lat"]), float(item["region_lng"]))
    return distance <= float(item["region_radius"]), distance


def to_market_job(item: dict[str, Any], distance: float | None = None) -> MarketJobOut:
    from crowdtask.models.market import MarketJobOut, Region

    plain = dynamo.plain_numbers(item)
    region = None
    if "region_radius" in plain:
        region = Region(lat=plain["region_lat"], lng=plain["region_lng"], radius=plain["region_radius"])
    return MarketJobOut(
        id=plain["job_id"],
        campaign=plain["campaign_id"],
        name=plain.get("job_name", ""),
        description=plain.get("job_description"),
        title=plain.get("title"),
        campaignDescription=plain.get("campaign_description"),
        terms=plain.get("terms"),
        estDuration=plain.get("est_duration"),
        workerPayment=float(plain.get("payment", 0)),
        points=int(plain.get("points", 0)),
        taskCount=len(plain.get("task_ids", [])),
        remaining=int(plain.get("remaining", 0)),
        workTime=int(plain["work_seconds"]),
        uploadTime=int(plain.get("upload_seconds", 0)),
        expiresAt=plain.get("expires_at"),
        region=region,
        distance=round(distance, 1) if distance is not None else None,
    )


def worker_groups(worker_id: str) -> list[str]:
    account = account_store.get(worker_id) or {}
    return list(account.get("workerGroups") or [])


def list_jobs(worker_id: str, limit: int, lat: float | None, lng: float | None) -> list[MarketJobOut]:
    """The jobs this worker may take now, longest on the market first.

    Reads the market shards (and, given a position, the geohash cells around it), keeps what the
    index filter lets through (open, unexpired, the worker's groups), then drops jobs of campaigns
    that are not active (one batched read) and jobs the worker has taken as often as allowed
    (another). At most `limit`; fewer when the worker's limits hide many of the oldest jobs.
    """
    if (lat is None) != (lng is None):
        raise errors.ValidationFailed.one(
            "lng" if lng is None else "lat", "give both lat and lng, or neither"
        )
    now = clock.iso(clock.now())
    groups = worker_groups(worker_id)
    partitions = keys.market_partitions()
    if lat is not None and lng is not None:
        partitions += [keys.geo_partition(cell) for cell in geo.cells_near(lat, lng)]
    wanted = 2 * limit + 5

    def read(partition: str) -> list[dict[str, Any]]:
        return market_store.listed_items(partition, now_iso=now, groups=groups, wanted=wanted)

    rows = sorted(
        {(r["pk"], r["sk"]): r for rows in _POOL.map(read, partitions) for r in rows}.values(),
        key=lambda r: r["gsi1sk"],
    )
    candidates: list[tuple[dict[str, Any], float | None]] = []
    for row in rows:
        inside, distance = _within(row, lat, lng)
        if inside:
            candidates.append((row, distance))
    campaigns = market_store.campaign_states(
        {(CAMPAIGNS.pk(r["account_id"], r["campaign_id"]), r["campaign_id"]) for r, _ in candidates}
    )
    taken = market_store.taken_counts(worker_id, [(r["campaign_id"], r["job_id"]) for r, _ in candidates])
    found: list[MarketJobOut] = []
    for row, distance in candidates:
        campaign = campaigns.get(
            (CAMPAIGNS.pk(row["account_id"], row["campaign_id"]), row["campaign_id"]), {}
        )
        if campaign.get("state") != "active" or (campaign.get("endDate") and campaign["endDate"] <= now):
            continue
        limit_per_worker = row.get("max_per_worker")
        if (
            limit_per_worker is not None
            and taken.get((row["campaign_id"], row["job_id"]), 0) >= limit_per_worker
        ):
            continue
        found.append(to_market_job(row, distance))
        if len(found) == limit:
            break
    return found


def require_may_take(
    item: dict[str, Any], worker_id: str, lat: float | None, lng: float | None, now_iso: str
) -> None:
    """Refusals a claim can give before writing anything: closed, full, expired, group, distance."""
    job_id, campaign_id = item["job_id"], item["campaign_id"]
    if item.get("closed"):
        raise errors.Conflict(f"Job {job_id} is no longer on the market (its campaign ended or it expired).")
    if item.get("expires_at") and item["expires_at"] <= now_iso:
        raise errors.Conflict(f"Job {job_id} expired at {item['expires_at']} (task_ttl).")
    if int(item.get("remaining", 0)) <= 0:
        raise errors.Conflict(
            f"Job {job_id} of campaign {campaign_id} has no open slot: every result it needs is claimed "
            "or submitted. It may open again when an assignment is released or times out."
        )
    group = item.get("worker_group")
    if group and group not in worker_groups(worker_id):
        raise errors.Forbidden(f"Job {job_id} is offered to the members of worker group {group} only.")
    if "region_radius" in item:
        if lat is None or lng is None:
            raise errors.ValidationFailed.one(
                "lat" if lat is None else "lng",
                f"job {job_id} is region-based: send your position as lat and lng",
            )
        inside, distance = _within(item, lat, lng)
        if not inside:
            raise errors.Conflict(
                f"Job {job_id} is for workers within {float(item['region_radius']):g} m of its region's "
                f"centre; you are {distance:.0f} m away."
            )


def pick_item(job_id: str, campaign_id: str | None, now_iso: str) -> dict[str, Any]:
    """The market item a claim means: the one of `campaign_id`, or the open one published first."""
    items = market_store.market_items_of_job(job_id)
    if campaign_id is not None:
        items = [i for i in items if i["sk"] == campaign_id]
    if not items:
        raise errors.NotFound(
            f"No job {job_id} on the market" + (f" in campaign {campaign_id}." if campaign_id else ".")
        )

    def openness(item: dict[str, Any]) -> tuple[bool, str]:
        open_now = (
            not item.get("closed")
            and int(item.get("remaining", 0)) > 0
            and not (item.get("expires_at") and item["expires_at"] <= now_iso)
        )
        return not open_now, str(item.get("published_precise", ""))

    return sorted(items, key=openness)[0]


def campaign_state(account_id: str, campaign_id: str) -> str:
    item = dynamo.get(CAMPAIGNS.pk(account_id, campaign_id), campaign_id, consistent=True) or {}
    return str(item.get("state", "gone"))


def campaign_state_text(account_id: str, campaign_id: str) -> str:
    """The campaign's state as a refusal should name it."""
    item = dynamo.get(CAMPAIGNS.pk(account_id, campaign_id), campaign_id, consistent=True) or {}
    now = clock.iso(clock.now())
    if item.get("state") == "active" and item.get("endDate") and item["endDate"] <= now:
        return f"past its endDate ({item['endDate']})"
    return str(item.get("state", "gone"))
