"""Accounts: created by an admin or by worker sign-up, credited, read and edited as a profile."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crowdtask import clock, errors, ids, money, store
from crowdtask.models.accounts import AccountCreateIn, Balance, ProfileOut, ProfileUpdateIn, SignupIn
from crowdtask.services import passwords
from crowdtask.store import accounts as account_store
from crowdtask.store import outbox

DEFAULT_COMMISSION_RATE = 0.2
_EDITABLE = ("firstName", "lastName", "phone", "organization", "website", "logo")


def create_account(data: AccountCreateIn) -> ProfileOut:
    if data.role == "worker" and data.balance:
        raise errors.ValidationFailed.one(
            "balance", "worker accounts earn money; they have no balance to fund"
        )
    if data.role != "worker" and data.workerGroups:
        raise errors.ValidationFailed.one("workerGroups", "only worker accounts belong to worker groups")
    return _create(data, role=data.role)


def sign_up_worker(data: SignupIn) -> ProfileOut:
    return _create(data, role="worker")


def _create(data: SignupIn, role: str) -> ProfileOut:
    now = clock.iso(clock.now())
    extra: dict[str, Any] = {}
    if isinstance(data, AccountCreateIn):
        extra = {
            "commissionRate": data.commissionRate
            if data.commissionRate is not None
            else DEFAULT_COMMISSION_RATE,
            "charity": bool(data.charity),
            "balance_available": money.amount(data.balance or 0),
            "customerId": data.customerId,
            "workerGroups": sorted(set(data.workerGroups)) if data.workerGroups else None,
            "taskQuotaPerMinute": data.taskQuotaPerMinute,
            "taskQuotaPerDay": data.taskQuotaPerDay,
        }
    record: dict[str, Any] = {
        "id": ids.new_id(),
        "email": data.email,
        "role": role,
        "password_hash": passwords.hash_password(data.password),
        "commissionRate": DEFAULT_COMMISSION_RATE,
        "charity": False,
        "balance_available": Decimal(0),
        "balance_frozen": Decimal(0),
        "createdAt": now,
        "lastModifiedAt": now,
        **{field: getattr(data, field) for field in _EDITABLE},
        **{k: v for k, v in extra.items() if v is not None},
    }
    record.setdefault("customerId", None)
    if not record["customerId"]:
        record["customerId"] = ids.short_code(8)
    created = outbox.event_item("account.created", {"accountId": record["id"], "role": role}, record["id"])
    try:
        account_store.create(record, [created])
    except account_store.EmailTaken as exc:
        raise errors.Conflict(f"An account with the e-mail {data.email} already exists.") from exc
    return to_profile(record)


def to_profile(record: dict[str, Any]) -> ProfileOut:
    return ProfileOut(
        id=record["id"],
        email=record["email"],
        role=record["role"],
        customerId=record["customerId"],
        commissionRate=float(record.get("commissionRate", DEFAULT_COMMISSION_RATE)),
        charity=bool(record.get("charity", False)),
        balance=Balance(
            available=money.usd(record.get("balance_available", 0)),
            frozen=money.usd(record.get("balance_frozen", 0)),
        ),
        createdAt=record["createdAt"],
        workerGroups=list(record.get("workerGroups") or []) if record["role"] == "worker" else None,
        **{field: record.get(field) for field in _EDITABLE},
    )


def get_profile(account_id: str) -> ProfileOut:
    record = account_store.get(account_id)
    if record is None:
        raise errors.NotFound("The account of this token no longer exists.")
    return to_profile(record)


def update_profile(account_id: str, changes: ProfileUpdateIn) -> ProfileOut:
    """Only the fields present in the body change; `null` clears one; read-only fields are ignored."""
    fields = {name: getattr(changes, name) for name in _EDITABLE if name in changes.model_fields_set}
    if not fields:
        return get_profile(account_id)
    try:
        record = account_store.update_fields(account_id, fields, clock.iso(clock.now()))
    except store.Refused as exc:
        raise errors.NotFound("The account of this token no longer exists.") from exc
    return to_profile(record)


def credit(account_id: str, amount: Decimal) -> ProfileOut:
    existing = account_store.get(account_id)
    if existing is None:
        raise errors.NotFound(f"No account {account_id}.")
    if existing["role"] != "requester":
        raise errors.Conflict("Only requester accounts hold a balance to fund campaigns.")
    try:
        record = account_store.add_available(account_id, money.amount(amount), clock.iso(clock.now()))
    except store.Refused as exc:
        raise errors.NotFound(f"No account {account_id}.") from exc
    return to_profile(record)
