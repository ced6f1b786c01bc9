"""Campaign state changes that move money, and the scheduled steps of campaigns.

Every transition is one transaction: the campaign's state (conditioned on the state it was
read in) and the requester's balance move together or not at all, so two concurrent
requests can never both win, and money is never frozen or released twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from crowdtask.store import dynamo, keys, sweeps
from crowdtask.store.collections import Collection


class InsufficientBalance(Exception):
    pass


class StateChanged(Exception):
    """The campaign was not in the state (or version) the caller read: someone else won."""


def _campaign_update(
    campaign_pk: str, campaign_id: str, fields: dict[str, Any], from_states: Iterable[str], version: int
) -> dict[str, Any]:
    names = {"#state": "state", "#version": "version"}
    vals: dict[str, Any] = {":version": version, ":next_version": version + 1}
    sets = ["#version = :next_version"]
    for n, (name, value) in enumerate(sorted(fields.items())):
        names[f"#f{n}"] = name
        vals[f":f{n}"] = value
        sets.append(f"#f{n} = :f{n}")
    allowed = []
    for n, state in enumerate(sorted(from_states)):
        vals[f":s{n}"] = state
        allowed.append(f":s{n}")
    condition = f"#state IN ({', '.join(allowed)}) AND #version = :version"
    return dynamo.update_op(
        campaign_pk, campaign_id, "SET " + ", ".join(sets), condition, names=names, vals=vals
    )


def transition(
    campaign_pk: str,
    campaign_id: str,
    *,
    from_states: Iterable[str],
    version: int,
    fields: dict[str, Any],
    account_id: str,
    freeze: Decimal = Decimal(0),
    release: Decimal = Decimal(0),
    extra: list[dict[str, Any]] | None = None,
) -> None:
    """Move the campaign to new `fields` (state included) and, with it, freeze or release money."""
    operations = [_campaign_update(campaign_pk, campaign_id, fields, from_states, version)]
    account_pk, account_sk = keys.account(account_id)
    if freeze:
        operations.append(
            dynamo.update_op(
                account_pk,
                account_sk,
                "SET balance_available = balance_available - :amount, "
                "balance_frozen = if_not_exists(balance_frozen, :zero) + :amount",
                "balance_available >= :amount",
                vals={":amount": freeze, ":zero": Decimal(0)},
            )
        )
    if release:
        operations.append(
            dynamo.update_op(
                account_pk,
                account_sk,
                "SET balance_available = balance_available + :amount, "
                "balance_frozen = balance_frozen - :amount",
                "balance_frozen >= :amount",
                vals={":amount": release},
            )
        )
    operations.extend(extra or [])
    try:
        dynamo.transact(operations)
    except dynamo.TransactionConflict as exc:
        if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
            raise StateChanged(campaign_id) from exc
        if len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed":
            raise InsufficientBalance(campaign_id) from exc
        raise


# ---------------------------------------------------------------- scheduled steps
def due_marker_op(account_id: str, campaign_id: str, kind: str, at_iso: str) -> dict[str, Any]:
    pk, sk = keys.campaign_due_marker(account_id, campaign_id, kind)
    due_pk, due_sk = keys.due(f"campaign-{kind}", at_iso, pk)
    return dynamo.put_op(
        {"pk": pk, "sk": sk, "type": "due", "due_pk": due_pk, "due_sk": due_sk, "at": at_iso}
    )


def set_due(account_id: str, campaign_id: str, kind: str, at_iso: str | None) -> None:
    """Schedule (or with None, unschedule) a step of the campaign."""
    pk, sk = keys.campaign_due_marker(account_id, campaign_id, kind)
    if at_iso is None:
        dynamo.delete(pk, sk)
        return
    dynamo.transact([due_marker_op(account_id, campaign_id, kind, at_iso)])


def clear_due(account_id: str, campaign_id: str, kind: str) -> None:
    dynamo.delete(*keys.campaign_due_marker(account_id, campaign_id, kind))


def due_steps(kind: str, before_iso: str, limit: int = 200) -> list[tuple[str, str, str]]:
    """(account, campaign, kind) of the steps of `kind` due before the time, from the due index only."""
    return [
        keys.parse_campaign_due_marker(pk, sk)
        for pk, sk in sweeps.due_keys(f"campaign-{kind}", before_iso, limit)
    ]


# ---------------------------------------------------------------- locks on jobs and tasks
def lock(
    collection: Collection, account_id: str, item_ids: Iterable[str], campaign_id: str, on: bool
) -> None:
    """Add (or remove) the campaign in each item's `locked_by` set; idempotent, so safe to repeat."""
    from concurrent.futures import ThreadPoolExecutor

    expression = ("ADD" if on else "DELETE") + " locked_by :campaign"

    def apply(item_id: str) -> None:
        with contextlib.suppress(dynamo.ConditionFailed):  # the item is gone: nothing to lock
            dynamo.update(
                collection.pk(account_id, item_id),
                item_id,
                expression,
                condition="attribute_exists(pk)",
                vals={":campaign": {campaign_id}},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(apply, list(dict.fromkeys(item_ids))))
