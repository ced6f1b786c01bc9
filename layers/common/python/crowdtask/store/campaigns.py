"""Campaigns in the table: the CAMPAIGN collection, state changes that move money, scheduled steps,
and the counters the market and the pool keep on the campaign item.

Every transition is one transaction: the campaign's state (conditioned on the state and version
it was read in) and the requester's balance move together or not at all, so two concurrent
requests can never both win, and money is never frozen or released twice.

A campaign's scheduled steps (start, end, locks, market, pool-close) are marker items whose key
says whose and what, listed in the sweep index by due time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from crowdtask.models.listing import ListQuery, Page
from crowdtask.store import Refused, accounts, dynamo, jobs, keys, sweeps
from crowdtask.store.changes import Change
from crowdtask.store.collections import Collection, with_id

CAMPAIGNS = Collection("CAMPAIGN", shards=1)
STEPS = ("start", "end", "locks", "market", "pool-close")


class InsufficientBalance(Refused):
    """The requester's available balance cannot cover what the transition freezes."""


class StateChanged(Refused):
    """The campaign was not in the state (or version) the caller read: someone else won."""


# ---------------------------------------------------------------- reads and plain writes
def get(account_id: str, campaign_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    return CAMPAIGNS.get(account_id, campaign_id, consistent=consistent)


def get_many(
    account_id: str, campaign_ids: Iterable[str], *, consistent: bool = False
) -> dict[str, dict[str, Any]]:
    return CAMPAIGNS.get_many(account_id, campaign_ids, consistent=consistent)


def progress(pairs: Iterable[tuple[str, str]], *, consistent: bool = False) -> dict[tuple[str, str], dict]:
    """(account, campaign) -> its state, endDate and results_outstanding: one batched, projected read
    over any number of accounts."""
    wanted = {
        CAMPAIGNS.key(account_id, campaign_id): (account_id, campaign_id) for account_id, campaign_id in pairs
    }
    found = dynamo.batch_get(
        wanted, attributes=["state", "endDate", "results_outstanding"], consistent=consistent
    )
    return {wanted[key]: item for key, item in found.items() if key in wanted}


def list_page(account_id: str, query: ListQuery) -> Page:
    return CAMPAIGNS.list(account_id, query)


def put_new(account_id: str, campaign_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return CAMPAIGNS.put_new(account_id, campaign_id, data)


def replace(
    account_id: str, campaign_id: str, fields: Mapping[str, Any], *, state: str, version: int
) -> dict[str, Any]:
    """Set fields while the campaign is still in `state` at `version`; Refused otherwise."""
    return CAMPAIGNS.update(
        account_id,
        campaign_id,
        fields,
        condition="#state = :state AND #v = :v",
        names={"#state": "state", "#v": "version"},
        vals={":state": state, ":v": version},
    )


def set_archived(
    account_id: str, campaign_id: str, archived: bool, fields: Mapping[str, Any], *, state: str
) -> dict[str, Any]:
    """(Un)archive while the campaign is still in `state`; Refused otherwise."""
    return CAMPAIGNS.update(
        account_id,
        campaign_id,
        {"archived": archived, **fields},
        condition="attribute_exists(pk) AND #state = :state",
        names={"#state": "state"},
        vals={":state": state},
    )


def update_if_version(
    account_id: str, campaign_id: str, fields: Mapping[str, Any], version: int
) -> dict[str, Any]:
    """Set fields while the campaign is still at `version` (it moves on by one); Refused if not."""
    return CAMPAIGNS.update_if_version(account_id, campaign_id, fields, version)


def publish_inputs(
    account_id: str, job_ids: Iterable[str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """What a publish decides on besides the campaign, in one batched read: the account (its
    commissionRate and balance_available) and id -> task_ids and archived of each job that exists."""
    account_key = keys.account(account_id)
    job_keys = jobs.JOBS.keys_of(account_id, job_ids)
    found = dynamo.batch_get(
        [account_key, *job_keys], attributes=["commissionRate", "balance_available", "task_ids", "archived"]
    )
    by_id = {job_keys[key]: {**item, "id": job_keys[key]} for key, item in found.items() if key in job_keys}
    return found.get(account_key, {}), by_id


# ---------------------------------------------------------------- transitions
def _due_item(account_id: str, campaign_id: str, kind: str, at_iso: str) -> dict[str, Any]:
    pk, sk = keys.campaign_due_marker(account_id, campaign_id, kind)
    due_pk, due_sk = keys.due(f"campaign-{kind}", at_iso, pk)
    return {"pk": pk, "sk": sk, "type": "due", "due_pk": due_pk, "due_sk": due_sk, "at": at_iso}


def _due_put(account_id: str, campaign_id: str, kind: str, at_iso: str) -> dict[str, Any]:
    return dynamo.put_op(_due_item(account_id, campaign_id, kind, at_iso))


def _steps(account_id: str, campaign_id: str, steps: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """Operations that schedule (a time) or unschedule (None) the campaign's steps."""
    return [
        _due_put(account_id, campaign_id, kind, at)
        if at is not None
        else dynamo.delete_op(*keys.campaign_due_marker(account_id, campaign_id, kind))
        for kind, at in steps.items()
    ]


def transition(
    account_id: str,
    campaign_id: str,
    *,
    from_states: Iterable[str],
    version: int,
    fields: Mapping[str, Any],
    freeze: Decimal = Decimal(0),
    release: Decimal = Decimal(0),
    steps: Mapping[str, str | None] | None = None,
    events: Sequence[dict[str, Any]] = (),
) -> None:
    """Move the campaign to new `fields` (state included), freezing or releasing money with it and
    (un)scheduling its `steps`, all at once with its `events` (outbox items).

    StateChanged when the campaign left `from_states` or `version`; InsufficientBalance when the
    available balance cannot cover `freeze`.
    """
    names = {"#state": "state", "#version": "version"}
    vals: dict[str, Any] = {":version": version}
    sets = []
    for n, (name, value) in enumerate(sorted(_written(fields, version).items())):
        names[f"#f{n}"] = name
        vals[f":f{n}"] = value
        sets.append(f"#f{n} = :f{n}")
    allowed = []
    for n, state in enumerate(sorted(from_states)):
        vals[f":s{n}"] = state
        allowed.append(f":s{n}")
    condition = f"#state IN ({', '.join(allowed)}) AND #version = :version"
    operations = [
        dynamo.update_op(
            *CAMPAIGNS.key(account_id, campaign_id),
            "SET " + ", ".join(sets),
            condition,
            names=names,
            vals=vals,
        )
    ]
    if freeze:
        operations.append(accounts.freeze(accounts.balance_change(account_id), freeze).op())
    if release:
        operations.append(accounts.unfreeze(accounts.balance_change(account_id), release).op())
    operations.extend(_steps(account_id, campaign_id, steps or {}))
    operations.extend(events)
    try:
        dynamo.transact(operations)
    except dynamo.TransactionConflict as exc:
        if exc.failed(0):
            raise StateChanged(campaign_id) from exc
        if freeze and exc.failed(1):
            raise InsufficientBalance(campaign_id) from exc
        raise


def _written(fields: Mapping[str, Any], version: int) -> dict[str, Any]:
    """What `transition` sets on the campaign item: its fields and the next version."""
    return {**fields, "version": version + 1}


def after_transition(item: Mapping[str, Any], fields: Mapping[str, Any], version: int) -> dict[str, Any]:
    """The campaign `item` (read at `version`) as `transition` to `fields` leaves it: what a consistent
    read would answer right after it, for the same request to go on without reading it again."""
    return dynamo.as_read({**item, **_written(fields, version)})


# ---------------------------------------------------------------- scheduled steps
def set_due(account_id: str, campaign_id: str, kind: str, at_iso: str | None) -> None:
    """Schedule (or with None, unschedule) a step of the campaign."""
    if at_iso is None:
        clear_due(account_id, campaign_id, kind)
        return
    dynamo.put(_due_item(account_id, campaign_id, kind, at_iso))


def clear_due(account_id: str, campaign_id: str, kind: str) -> None:
    dynamo.delete(*keys.campaign_due_marker(account_id, campaign_id, kind))


def clear_due_as_scheduled(account_id: str, campaign_id: str, kind: str, at_iso: str) -> None:
    """Unschedule the step as it was scheduled at `at_iso` (or before): one scheduled later since,
    by another request, is kept."""
    pk, sk = keys.campaign_due_marker(account_id, campaign_id, kind)
    _, latest = keys.due(f"campaign-{kind}", at_iso, pk)
    with contextlib.suppress(dynamo.ConditionFailed):  # gone already, or scheduled later
        dynamo.delete(pk, sk, condition="due_sk <= :latest", vals={":latest": latest})


def due_steps(kind: str, before_iso: str, limit: int = 200) -> list[tuple[str, str]]:
    """(account, campaign) of the steps of `kind` due before the time, from the due index only."""
    found = []
    for pk, sk in sweeps.due_keys(f"campaign-{kind}", before_iso, limit):
        account_id, campaign_id, _ = keys.parse_campaign_due_marker(pk, sk)
        found.append((account_id, campaign_id))
    return found


def clear_due_step(account_id: str, campaign_id: str, kind: str, before_iso: str) -> None:
    """Unschedule a step that was due before the time (one scheduled again since is kept)."""
    sweeps.delete_if_due(*keys.campaign_due_marker(account_id, campaign_id, kind), before_iso)


# ---------------------------------------------------------------- what the market keeps on the campaign
def start_counting(
    account_id: str, campaign_id: str, outstanding: int, commission_rate: Decimal
) -> dict[str, Any] | None:
    """The campaign's market opened: it needs `outstanding` results. Once only: the campaign as this
    left it, or None when it was opened before (nothing written)."""
    try:
        item = dynamo.update(
            *CAMPAIGNS.key(account_id, campaign_id),
            "SET market_opened = :true, commission_rate = if_not_exists(commission_rate, :rate) "
            "ADD results_outstanding :n",
            condition="attribute_not_exists(market_opened)",
            vals={":n": outstanding, ":rate": commission_rate, ":true": True},
        )
    except dynamo.ConditionFailed:
        return None
    return with_id(item)


def change(account_id: str, campaign_id: str) -> Change:
    """The campaign's part of a transaction other aggregates write (store modules only)."""
    return Change(*CAMPAIGNS.key(account_id, campaign_id))


def require_open_for_claims(campaign: Change, now_iso: str, active: str) -> Change:
    """Claims need an active campaign whose endDate (if any) is still ahead."""
    return campaign.require(
        "{state} = :active AND (attribute_not_exists({endDate}) OR {endDate} > :now)",
        active=active,
        now=now_iso,
    )


def require_state_in(campaign: Change, states: Iterable[str]) -> Change:
    allowed = sorted(states)
    placeholders = ", ".join(f":s{n}" for n in range(len(allowed)))
    return campaign.require(f"{{state}} IN ({placeholders})", **{f"s{n}": s for n, s in enumerate(allowed)})


def fewer_outstanding(campaign: Change, results: int = 1) -> Change:
    """The campaign needs `results` results fewer (approved, or a slot that can never be filled)."""
    return campaign.add("results_outstanding", -results)


def pay_from_budget(campaign: Change, cost: Decimal) -> Change:
    """A result's cost leaves the campaign's frozen budget (approved, or given back after its end)."""
    return campaign.add("frozen_remaining", -cost).require("{frozen_remaining} >= :cost", cost=cost)


def owe(campaign: Change, cost: Decimal) -> Change:
    """Results in review may cost this much more (less, when negative); moves the version, so an
    end that read the campaign before sees the same figure or is refused."""
    return campaign.add("owed", cost).add("version", 1)


def add_to_budget(campaign: Change, cost: Decimal, live_states: Iterable[str]) -> Change:
    """More results are paid for (a repeat opened), while the campaign is live."""
    campaign.add("frozen_remaining", cost).add("frozen_total", cost).add("version", 1)
    return require_state_in(campaign, live_states)


# ---------------------------------------------------------------- the pool (tasks made with pool_id)
def count_pool_op(
    account_id: str,
    campaign_id: str,
    *,
    seen_state: str,
    tasks: int,
    results: int,
    cost: Decimal | None,
    funded: bool = True,
) -> dict[str, Any]:
    """The campaign's part of counting a chunk of its pool tasks, while it is still in `seen_state`.

    Unpublished (cost None): the tasks and their results count into what publishing will pay for.
    Live and funded: they also count as outstanding and their cost joins the frozen budget.
    Live and not funded: they are only counted as stored without their cost.
    """
    vals: dict[str, Any] = {":n": tasks, ":r": results, ":one": 1, ":state": seen_state}
    expression = "ADD pool_tasks :n, pool_needed :r, version :one"
    if cost is not None and not funded:
        expression = "ADD pool_tasks :n, pool_unfunded :n, version :one"
        vals.pop(":r")
    elif cost is not None:
        expression += ", results_outstanding :r, frozen_total :c, frozen_remaining :c"
        vals[":c"] = cost
    return dynamo.update_op(
        *CAMPAIGNS.key(account_id, campaign_id),
        expression,
        "#state = :state",
        names={"#state": "state"},
        vals=vals,
    )


def pool_chunk_op(campaign_id: str, operation_id: str, chunk: int, base_id: str, ranges: Sequence) -> dict:
    """A chunk of pool tasks counted while the campaign was unpublished: publishing opens exactly these."""
    pk, sk = keys.pool_chunk(campaign_id, operation_id, chunk)
    return dynamo.put_op(
        {"pk": pk, "sk": sk, "type": "pool-chunk", "base_id": base_id, "ranges": [list(r) for r in ranges]}
    )


def pool_chunks(campaign_id: str, after: str | None) -> Iterator[tuple[list[dict[str, Any]], bool]]:
    """Pages (of up to 25) of the campaign's unpublished-time pool chunks in order, after cursor
    `after`, each with whether more pages follow. A page is read when the caller asks for it.

    Each chunk has `cursor` (to pass as `after`), `base_id` and `ranges`.
    """
    condition, vals = "pk = :p", {":p": keys.pool_chunks_partition(campaign_id)}
    if after:
        condition += " AND sk > :c"
        vals[":c"] = after
    start: dict[str, Any] | None = None
    while True:
        rows, start = dynamo.query(
            key_condition=condition, vals=vals, limit=25, start_key=start, consistent=True
        )
        chunks = [{"cursor": row["sk"], "base_id": row["base_id"], "ranges": row["ranges"]} for row in rows]
        yield chunks, start is not None
        if start is None:
            return


def set_pool_opened(account_id: str, campaign_id: str, cursor: str) -> None:
    """Opening the pool got as far as the chunk at `cursor`."""
    dynamo.update(*CAMPAIGNS.key(account_id, campaign_id), "SET pool_opened = :c", vals={":c": cursor})


def set_pool_closed(account_id: str, campaign_id: str, cursors: Mapping[str, str]) -> None:
    """Closing the pool got as far as `cursors` (store.tasks.pool_task_ids)."""
    dynamo.update(*CAMPAIGNS.key(account_id, campaign_id), "SET pool_closed = :c", vals={":c": dict(cursors)})
