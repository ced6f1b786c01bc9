"""Jobs in the table: an account's JOB collection (4 shards); `locked_by` as for tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crowdtask.models.listing import ListQuery, Page
from crowdtask.store.collections import Collection

JOBS = Collection("JOB", shards=4)


def get(account_id: str, job_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    return JOBS.get(account_id, job_id, consistent=consistent)


def get_many(
    account_id: str,
    job_ids: Iterable[str],
    *,
    attributes: Sequence[str] | None = None,
    consistent: bool = False,
) -> dict[str, dict[str, Any]]:
    return JOBS.get_many(account_id, job_ids, attributes=attributes, consistent=consistent)


def in_order(account_id: str, job_ids: Sequence[str]) -> list[dict[str, Any]]:
    return JOBS.in_order(account_id, job_ids)


def list_page(account_id: str, query: ListQuery) -> Page:
    return JOBS.list(account_id, query)


def put_new(account_id: str, job_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return JOBS.put_new(account_id, job_id, data)


def replace(account_id: str, job_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Set the job's fields; Refused unless it exists and is neither locked nor archived."""
    return JOBS.update(
        account_id,
        job_id,
        fields,
        condition="attribute_exists(pk) AND attribute_not_exists(locked_by) AND archived <> :true",
        vals={":true": True},
    )


def set_archived(account_id: str, job_id: str, archived: bool, fields: Mapping[str, Any]) -> dict[str, Any]:
    """(Un)archive with `fields`; Refused when the job is gone or (archiving) locked."""
    condition = "attribute_exists(pk)" + (" AND attribute_not_exists(locked_by)" if archived else "")
    return JOBS.update(account_id, job_id, {"archived": archived, **fields}, condition=condition)


def lock(account_id: str, job_ids: Iterable[str], campaign_id: str, on: bool) -> dict[str, dict[str, Any]]:
    """The campaign uses (or no longer uses) these jobs; idempotent. id -> each job as it is then."""
    return JOBS.mark(account_id, job_ids, "locked_by", campaign_id, on)


def update_if_version(
    account_id: str, job_id: str, fields: Mapping[str, Any], version: int
) -> dict[str, Any]:
    """Set fields while the job is still at `version` (it moves on by one); Refused if it is not."""
    return JOBS.update_if_version(account_id, job_id, fields, version)
