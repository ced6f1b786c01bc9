"""The job market: what publishing puts on it, what a worker may take now, and what leaves it.

Publishing a campaign opens one market item per job (see store/market.py) with everything a
claim and a review need (services/market_terms.py): the results still needed, the per-worker
limit, deadlines, pay, points, region, expiry and repeat. Those settings are frozen with the
campaign, so they are computed once, here, and never again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from crowdtask import clock, errors, geo, parallel, store
from crowdtask.models.market import MarketJobOut, Region
from crowdtask.numbers import plain_numbers
from crowdtask.observability import logger
from crowdtask.services import eligibility, lifecycle, market_terms, pricing, repeats
from crowdtask.store import accounts as account_store
from crowdtask.store import campaigns as campaign_store
from crowdtask.store import jobs as job_store
from crowdtask.store import market as market_store
from crowdtask.store import outbox
from crowdtask.store import tasks as task_store


# ---------------------------------------------------------------- opening and closing
class Opened(NamedTuple):
    """A campaign whose jobs are on the market."""

    campaign: dict[str, Any]  # as its count left it, or as read (or handed in) when counted before
    counted: bool  # its results were counted in by this call: `campaign` is the item it wrote


def open_campaign(
    account_id: str,
    campaign_id: str,
    campaign: dict[str, Any] | None = None,
    jobs: Mapping[str, dict[str, Any]] | None = None,
    tasks: Mapping[str, dict[str, Any]] | None = None,
) -> Opened | None:
    """Put every job of a just-published campaign on the market; None when it is not live any more
    (nothing to open: its `market` step is done).

    `campaign`, `jobs` and their `tasks` (whole, as locking them left them): what the publish of this
    request wrote. Without them they are read here, as the scheduler's `market` step does.
    Safe to run again (after a crash, from that step): existing items and the campaign's
    `results_outstanding` are kept as they are.
    """
    if campaign is None:
        campaign = campaign_store.get(account_id, campaign_id, consistent=True)
    if campaign is None or lifecycle.state_of(campaign) not in lifecycle.LIVE:
        campaign_store.clear_due(account_id, campaign_id, "market")
        return None
    if "commission_rate" not in campaign:  # published before the rate was recorded: the account's
        account = account_store.get(account_id) or {}
        campaign["commission_rate"] = Decimal(str(account.get("commissionRate", 0)))
    published = clock.parse(campaign.get("publishedAt")) or clock.now()
    job_ids = list(dict.fromkeys(campaign.get("job_ids", [])))
    if jobs is None:
        jobs = job_store.get_many(account_id, job_ids)
    if tasks is None:
        tasks = task_store.get_many(account_id, {t for job in jobs.values() for t in job.get("task_ids", [])})
    all_terms = [
        market_terms.job_terms(
            campaign,
            jobs[job_id],
            [tasks[t] for t in jobs[job_id].get("task_ids", []) if t in tasks],
            published,
        )
        for job_id in job_ids
        if job_id in jobs
    ]
    outstanding = sum(int(t["needed"]) for t in all_terms)
    calendar = [(t, r) for t in all_terms if (r := market_terms.calendar_repeat(t)) is not None]
    outstanding += len(calendar)  # a calendar repeat keeps the campaign open until it ends
    # the pool tasks publishing paid for (tasks counted into the live campaign add their own)
    outstanding += int(campaign.get("pool_needed_published", 0))
    counted = campaign_store.start_counting(account_id, campaign_id, outstanding, campaign["commission_rate"])
    if counted is not None and lifecycle.state_of(counted) not in lifecycle.LIVE:
        campaign_store.clear_due(account_id, campaign_id, "market")  # ended since it was published
        return None
    for terms in all_terms:
        market_store.open_job(terms, market_terms.region_cell(terms))
    for terms, repeat in calendar:
        first = clock.iso(repeats.next_occurrence(repeat, published, published))
        data = market_terms.repeat_data(terms) | {"schedule": repeat.schedule}
        market_store.put_calendar_repeat(campaign_id, terms["job_id"], first, data)
    return Opened(campaign, False) if counted is None else Opened(counted, True)


def opened(account_id: str, campaign_id: str) -> None:
    """Everything of the campaign is on the market: its `market` step is done."""
    campaign_store.clear_due(account_id, campaign_id, "market")


def pending_openings(now_iso: str, limit: int) -> list[tuple[str, str]]:
    """(account, campaign) of markets a publish left to open (or still opening in steps)."""
    return campaign_store.due_steps("market", now_iso, limit)


def close_campaign(campaign: dict[str, Any]) -> None:
    """The campaign ended (as its end wrote it, which says its jobs): they leave the market (slots
    given back later are dead)."""
    job_ids = list(dict.fromkeys(campaign.get("job_ids", [])))
    parallel.each(lambda job_id: market_store.close_item(campaign["id"], job_id), job_ids)


def expire_jobs(now_iso: str, limit: int) -> tuple[int, set[tuple[str, str]]]:
    """Jobs past their task_ttl leave the market for good. Returns how many, and the (requester,
    campaign) pairs that need fewer results now (and may be complete)."""
    closed = 0
    touched: set[tuple[str, str]] = set()

    def expired(item: Mapping[str, Any]) -> list[dict[str, Any]]:
        data = {"jobId": item["job_id"], "campaignId": item["campaign_id"]}
        return [outbox.event_item("job.expired", data, item["account_id"], item["campaign_id"])]

    for job_id, campaign_id in market_store.due_to_expire(now_iso, limit):
        try:
            item = market_store.expire_job(job_id, campaign_id, expired)
        except store.Contended:
            logger.exception("closing an expired job failed; retried next time", extra={"job": job_id})
            continue
        if item is None:
            continue
        closed += 1
        touched.add((item["account_id"], item["campaign_id"]))
    return closed, touched


def job_closed(job_id: str, campaign_id: str) -> bool:
    """Whether the job takes no more claims for good (expired, confident, or its campaign ended)."""
    return bool((market_store.get_item(job_id, campaign_id) or {}).get("closed"))


def close_answered(account_id: str, campaign_id: str, job_id: str) -> Decimal | None:
    """Dynamic overlap: the job's answer is confident, it takes no more claims; what its untaken
    slots would have cost goes back to the requester at once. The money released, or None when
    the job was closed already."""
    item = market_store.get_item(job_id, campaign_id)
    if item is None:
        return None
    _, cost = pricing.result_cost(item)

    def closed_event(read: Mapping[str, Any], released: Decimal) -> list[dict[str, Any]]:
        data = {"jobId": job_id, "campaignId": campaign_id, "reason": "confident", "released": str(released)}
        return [outbox.event_item("job.closed", data, account_id, campaign_id)]

    closed = market_store.close_answered(job_id, campaign_id, cost, closed_event)
    if closed is None:
        return None
    _, released = closed
    return released


# ---------------------------------------------------------------- listing
def to_market_job(item: dict[str, Any], distance: float | None = None) -> MarketJobOut:
    plain = plain_numbers(item)
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
    that are not open for claims (one batched read) and jobs the worker has taken as often as
    allowed (another). At most `limit`; fewer when the worker's limits hide many of the oldest jobs.
    """
    if (lat is None) != (lng is None):
        raise errors.ValidationFailed.one(
            "lng" if lng is None else "lat", "give both lat and lng, or neither"
        )
    now = clock.iso(clock.now())
    groups = worker_groups(worker_id)
    cells = geo.cells_near(lat, lng) if lat is not None and lng is not None else []
    wanted = 2 * limit + 5

    def read(partition: str) -> list[dict[str, Any]]:
        return market_store.listed_items(partition, now_iso=now, groups=groups, wanted=wanted)

    listed = parallel.each(read, market_store.listing_partitions(cells))
    rows = sorted(
        {(r["job_id"], r["campaign_id"]): r for rows in listed for r in rows}.values(),
        key=market_store.listing_order,
    )
    candidates: list[tuple[dict[str, Any], float | None]] = []
    for row in rows:
        inside, distance = market_terms.within(row, lat, lng)
        if inside and market_terms.offered_to(row, worker_id):
            candidates.append((row, distance))
    campaigns = campaign_store.progress({(r["account_id"], r["campaign_id"]) for r, _ in candidates})
    taken = market_store.taken_counts(worker_id, [(r["campaign_id"], r["job_id"]) for r, _ in candidates])
    known = eligibility.standing(worker_id, [row for row, _ in candidates])
    found: list[MarketJobOut] = []
    for row, distance in candidates:
        campaign = campaigns.get((row["account_id"], row["campaign_id"]), {})
        if not lifecycle.open_for_claims(campaign, now) or eligibility.refusal(row, worker_id, known, now):
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
    if not market_terms.offered_to(item, worker_id):
        raise errors.Forbidden(f"Job {job_id} is offered to other workers (reserved_for / unavailable_for).")
    if "region_radius" in item:
        if lat is None or lng is None:
            raise errors.ValidationFailed.one(
                "lat" if lat is None else "lng",
                f"job {job_id} is region-based: send your position as lat and lng",
            )
        inside, distance = market_terms.within(item, lat, lng)
        if not inside:
            raise errors.Conflict(
                f"Job {job_id} is for workers within {float(item['region_radius']):g} m of its region's "
                f"centre; you are {distance:.0f} m away."
            )


def pick_item(job_id: str, campaign_id: str | None, now_iso: str) -> dict[str, Any]:
    """The market item a claim means: the one of `campaign_id`, or the open one published first."""
    items = market_store.items_of_job(job_id)
    if campaign_id is not None:
        items = [i for i in items if i["campaign_id"] == campaign_id]
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
    """The campaign's stored state ("gone" when it is not there)."""
    campaign = campaign_store.get(account_id, campaign_id, consistent=True)
    return "gone" if campaign is None else lifecycle.state_of(campaign)


def campaign_state_text(account_id: str, campaign_id: str) -> str:
    """The campaign's state as a refusal should name it."""
    return lifecycle.describe(campaign_store.get(account_id, campaign_id, consistent=True))


# ---------------------------------------------------------------- repeats
def run_repeats(now: datetime, limit: int) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Open the slots that repeats make due now: after_completion opens one; daily/weekly/monthly/yearly
    top the job up to its needed results and wait for their next day. Each pays for what it opens
    when it opens; one that cannot (campaign ended, job closed, no money) is skipped.

    Returns the counts and the (requester, campaign) pairs whose needed results may have dropped.
    """
    done = {"reopened": 0, "skipped": 0}
    touched: set[tuple[str, str]] = set()
    for repeat in market_store.due_repeats(clock.iso(now), limit):
        if repeat.get("kind") == "after_completion":
            reason = "the campaign ended, the job closed or the balance cannot pay for another result"
            outcome = market_store.reopen_once(
                repeat, lifecycle.LIVE, _repeat_events(repeat, "dropped", reason)
            )
        else:
            schedule = repeats.parse(str(repeat["schedule"]), None)
            assert schedule is not None
            anchor = clock.parse(str(repeat.get("publishedAt") or clock.iso(now))) or now
            next_iso = clock.iso(repeats.next_occurrence(schedule, now, anchor))
            reason = "the job changed, the campaign ended or the balance cannot pay for another round"
            outcome, _ = market_store.reopen_calendar(
                repeat, next_iso, lifecycle.LIVE, _repeat_events(repeat, "skipped", reason)
            )
        if outcome == "reopened":
            done["reopened"] += 1
            continue
        done["skipped"] += 1
        touched.add((repeat["account_id"], repeat["campaign_id"]))
    return done, touched


def _repeat_events(
    repeat: Mapping[str, Any], explained: str, reason: str
) -> Callable[[str, int], list[dict[str, Any]]]:
    """The events a repeat's outcome commits with: job.reopened when it opened slots, job.repeat_skipped
    when it could not (the `explained` outcome, with its reason)."""
    job = {"jobId": repeat["job_id"], "campaignId": repeat["campaign_id"]}
    account_id, campaign_id = str(repeat["account_id"]), str(repeat["campaign_id"])

    def announce(outcome: str, slots: int) -> list[dict[str, Any]]:
        if outcome == "reopened" and slots:
            return [outbox.event_item("job.reopened", {**job, "slots": slots}, account_id, campaign_id)]
        if outcome == explained:
            return [
                outbox.event_item("job.repeat_skipped", {**job, "reason": reason}, account_id, campaign_id)
            ]
        return []

    return announce
