"""Accounts, their unique e-mail, tokens, the failed-login guard, balances and the platform's revenue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from crowdtask.store import Refused, dynamo, keys
from crowdtask.store.changes import Change


class EmailTaken(Refused):
    """Another account already uses this e-mail."""


def create(record: dict[str, Any], events: Sequence[dict[str, Any]] = ()) -> None:
    """Account and its e-mail claim in one transaction: an e-mail can never belong to two accounts.
    `events` (outbox items) commit with them."""
    pk, sk = keys.account(record["id"])
    email_pk, email_sk = keys.email(record["email"])
    try:
        dynamo.transact(
            [
                dynamo.put_op({"pk": pk, "sk": sk, "type": "account", **record}, "attribute_not_exists(pk)"),
                dynamo.put_op(
                    {"pk": email_pk, "sk": email_sk, "type": "email", "account_id": record["id"]},
                    "attribute_not_exists(pk)",
                ),
                *events,
            ]
        )
    except dynamo.TransactionConflict as exc:
        if len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed":
            raise EmailTaken(record["email"]) from exc
        raise


def get(account_id: str) -> dict[str, Any] | None:
    return dynamo.get(*keys.account(account_id))


def get_many(account_ids: Iterable[str], attributes: list[str]) -> dict[str, dict[str, Any]]:
    """id -> those attributes of each account that exists (one batched read)."""
    wanted = {keys.account(account_id): account_id for account_id in account_ids}
    found = dynamo.batch_get(wanted, attributes=attributes)
    return {wanted[key]: item for key, item in found.items() if key in wanted}


def account_id_for_email(address: str) -> str | None:
    item = dynamo.get(*keys.email(address))
    return item["account_id"] if item else None


def update_fields(account_id: str, fields: dict[str, Any], modified_at: str) -> dict[str, Any]:
    """SET the given fields (None removes them); fails with ConditionFailed if the account is gone."""
    names: dict[str, str] = {"#m": "lastModifiedAt"}
    vals: dict[str, Any] = {":m": modified_at}
    sets, removes = ["#m = :m"], []
    for n, (name, value) in enumerate(sorted(fields.items())):
        names[f"#f{n}"] = name
        if value is None:
            removes.append(f"#f{n}")
        else:
            vals[f":v{n}"] = value
            sets.append(f"#f{n} = :v{n}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return dynamo.update(
        *keys.account(account_id), expression, condition="attribute_exists(pk)", names=names, vals=vals
    )


def add_available(account_id: str, amount: Decimal, modified_at: str) -> dict[str, Any]:
    """Atomic credit: concurrent credits all count (ADD, not read-modify-write)."""
    return dynamo.update(
        *keys.account(account_id),
        "ADD balance_available :a SET lastModifiedAt = :m",
        condition="attribute_exists(pk)",
        vals={":a": amount, ":m": modified_at},
    )


# ---------------------------------------------------------------- tokens
def put_token(token_hash: str, account_id: str, role: str, expires_at: str, expire_epoch: int) -> None:
    pk, sk = keys.token(token_hash)
    due_pk, due_sk = keys.due("token", expires_at, pk)
    dynamo.put(
        {
            "pk": pk,
            "sk": sk,
            "type": "token",
            "account_id": account_id,
            "role": role,
            "expiresAt": expires_at,
            "expire_at": expire_epoch,
            "due_pk": due_pk,
            "due_sk": due_sk,
        },
        condition="attribute_not_exists(pk)",
    )


def get_token(token_hash: str) -> dict[str, Any] | None:
    """Strongly consistent: a discarded token stops working at once."""
    return dynamo.get(*keys.token(token_hash), consistent=True)


def delete_token(token_hash: str) -> None:
    dynamo.delete(*keys.token(token_hash))


# ---------------------------------------------------------------- failed logins
# An attempt is counted *before* its password is checked, by a conditional write: however many
# requests arrive at once, no more than the limit get a guess. A success clears the count; the
# count outlives a lock (the item is forgotten only `forget` after its last attempt), so an
# attempt after the lock that fails locks again at once.
class LoginRefused(Refused):
    """No guess now: the e-mail is locked (until `until`, when known) or at its limit."""

    def __init__(self, address: str, until: str | None):
        super().__init__(address)
        self.until = until


def reserve_login_attempt(
    address: str, *, limit: int, now_iso: str, lock_until_iso: str, forget_iso: str, expire_epoch: int
) -> int:
    """Count one attempt for `address` (as a failure until it succeeds); the count with it.

    Under the limit and not locked: counted. The attempt that reaches the limit, or the first
    after a lock ended, is counted and locks at once, in the same write: a parallel attempt
    never finds the count at the limit and the lock not yet written. Otherwise LoginRefused.
    """
    pk, sk = keys.login_guard(address)
    due_pk, due_sk = keys.due("login", forget_iso, pk)
    vals = {":one": 1, ":e": expire_epoch, ":t": "login_guard", ":below": limit - 1, ":now": now_iso}
    vals |= {":dp": due_pk, ":ds": due_sk}
    names = {"#t": "type"}
    remember = "SET expire_at = :e, #t = :t, due_pk = :dp, due_sk = :ds"
    unlocked = "(attribute_not_exists(locked_until) OR locked_until <= :now)"
    if limit > 1:
        try:
            item = dynamo.update(
                pk,
                sk,
                "ADD failures :one " + remember,
                condition=f"(attribute_not_exists(failures) OR failures < :below) AND {unlocked}",
                names=names,
                vals=vals,
            )
            return int(item["failures"])
        except dynamo.ConditionFailed:
            pass
    try:
        item = dynamo.update(
            pk,
            sk,
            "ADD failures :one " + remember + ", locked_until = :until",
            condition=f"(attribute_not_exists(failures) OR failures >= :below) AND {unlocked}",
            names=names,
            vals={**vals, ":until": lock_until_iso},
        )
        return int(item["failures"])
    except dynamo.ConditionFailed:
        guard = dynamo.get(pk, sk, consistent=True) or {}
        until = guard.get("locked_until")
        raise LoginRefused(address, until if until and until > now_iso else None) from None


def lock_login(address: str, locked_until: str) -> None:
    """The attempt that reached the limit failed: no more guesses until `locked_until`."""
    dynamo.update(*keys.login_guard(address), "SET locked_until = :u", vals={":u": locked_until})


def clear_login_guard(address: str) -> None:
    """A right password: the failures are forgotten."""
    dynamo.delete(*keys.login_guard(address))


def reserve_source_attempt(source: str, window: str, *, limit: int, expire_epoch: int) -> bool:
    """Count one attempt from `source` in `window`; False when the source has used up its attempts."""
    try:
        dynamo.update(
            *keys.login_source(source, window),
            "ADD attempts :one SET expire_at = :e, #t = :t",
            condition="attribute_not_exists(attempts) OR attempts < :max",
            names={"#t": "type"},
            vals={":one": 1, ":e": expire_epoch, ":t": "login_source", ":max": limit},
        )
    except dynamo.ConditionFailed:
        return False
    return True


def release_source_attempt(source: str, window: str) -> None:
    """The attempt was not a failure (a right password, or it got no guess): it does not count."""
    dynamo.update(
        *keys.login_source(source, window),
        "ADD attempts :minus",
        condition="attempts > :zero",
        vals={":minus": -1, ":zero": 0},
    )


# ---------------------------------------------------------------- money (parts of other transactions)
def balance_change(account_id: str) -> Change:
    """The account's part of a transaction that moves its money or its worker totals."""
    return Change(*keys.account(account_id))


def freeze(change: Change, amount: Decimal) -> Change:
    """Available -> frozen; refused when the available balance cannot cover it."""
    return (
        change.add("balance_available", -amount)
        .add("balance_frozen", amount)
        .require("{balance_available} >= :amount", amount=amount)
    )


def unfreeze(change: Change, amount: Decimal) -> Change:
    """Frozen -> available."""
    return (
        change.add("balance_frozen", -amount)
        .add("balance_available", amount)
        .require("{balance_frozen} >= :amount", amount=amount)
    )


def spend_frozen(change: Change, amount: Decimal) -> Change:
    """Frozen money leaves the account (paid to a worker and the platform)."""
    return change.add("balance_frozen", -amount).require("{balance_frozen} >= :amount", amount=amount)


def revenue_change(result_id: str) -> Change:
    """The platform revenue shard a result's commission goes to."""
    return Change(*keys.platform_revenue(keys.platform_revenue_shard(result_id)))


def platform_revenue() -> Decimal:
    """Commission earned so far: the sum of the revenue shards."""
    shards = [keys.platform_revenue(n) for n in range(keys.REVENUE_SHARDS)]
    found = dynamo.batch_get(shards, attributes=["commission"], consistent=True)
    return sum((Decimal(str(item.get("commission", 0))) for item in found.values()), Decimal(0))
