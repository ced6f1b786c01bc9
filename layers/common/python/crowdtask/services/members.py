"""Ordered id lists owned by a resource: a job's tasks, a campaign's jobs.

The list lives on the owner item; every change is a conditional write on the owner's
`version`, so concurrent appends never lose each other's ids or slip in a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crowdtask import clock, errors
from crowdtask.store import dynamo
from crowdtask.store.collections import Collection

_ATTEMPTS = 8


@dataclass(frozen=True)
class MemberList:
    owners: Collection
    members: Collection
    attribute: str
    owner_noun: str
    member_noun: str
    limit: int
    # why the owner's list may not change now (None when it may), e.g. a published campaign
    frozen_reason: Callable[[dict[str, Any]], str | None]

    def require_members(self, account_id: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The member items, or a 422 naming every unknown, foreign, archived or repeated id."""
        problems: list[dict[str, str]] = []
        seen: set[str] = set()
        for position, member_id in enumerate(ids):
            if member_id in seen:
                problems.append(
                    {
                        "field": f"[{position}]",
                        "message": f"{self.member_noun} {member_id} is listed twice",
                        "code": "DUPLICATE",
                    }
                )
            seen.add(member_id)
        found = dynamo.batch_get(
            ((self.members.pk(account_id, member_id), member_id) for member_id in seen),
            attributes=["archived"],
        )
        by_id = {sk: item for (_, sk), item in found.items()}
        for position, member_id in enumerate(ids):
            item = by_id.get(member_id)
            if item is None:
                problems.append(
                    {
                        "field": f"[{position}]",
                        "message": f"no {self.member_noun} {member_id} in your account",
                        "code": "NOT_FOUND",
                    }
                )
            elif item.get("archived"):
                problems.append(
                    {
                        "field": f"[{position}]",
                        "message": f"{self.member_noun} {member_id} is archived",
                        "code": "ARCHIVED",
                    }
                )
        if problems:
            raise errors.ValidationFailed(problems)
        return by_id

    def change(self, account_id: str, owner_id: str, ids: Sequence[str], *, append: bool) -> dict[str, Any]:
        """Replace (PUT) or extend (POST) the owner's list; returns the owner item as stored."""
        self.require_members(account_id, ids)
        for _ in range(_ATTEMPTS):
            owner = self.owners.get(account_id, owner_id, consistent=True)
            if owner is None:
                raise errors.NotFound(f"No {self.owner_noun} {owner_id} in your account.")
            reason = self.frozen_reason(owner)
            if reason:
                raise errors.Conflict(
                    f"The {self.member_noun}s of {self.owner_noun} {owner_id} cannot change: {reason}."
                )
            current = list(owner.get(self.attribute, []))
            wanted = [*current, *ids] if append else list(ids)
            repeated = sorted(set(current) & set(ids)) if append else []
            if repeated:
                raise errors.ValidationFailed(
                    [
                        {
                            "field": f"[{list(ids).index(r)}]",
                            "message": f"{self.member_noun} {r} is already in the {self.owner_noun}",
                            "code": "DUPLICATE",
                        }
                        for r in repeated
                    ]
                )
            if len(wanted) > self.limit:
                raise errors.ValidationFailed.one(
                    "body", f"a {self.owner_noun} holds at most {self.limit} {self.member_noun}s", "TOO_MANY"
                )
            now = clock.now()
            try:
                return self.owners.update(
                    account_id,
                    owner_id,
                    {
                        self.attribute: wanted,
                        "version": int(owner.get("version", 0)) + 1,
                        "lastModifiedAt": clock.iso(now),
                        "modified_precise": clock.iso_precise(now),
                    },
                    condition="attribute_exists(pk) AND (attribute_not_exists(#v) OR #v = :v)",
                    names={"#v": "version"},
                    vals={":v": int(owner.get("version", 0))},
                )
            except dynamo.ConditionFailed:
                continue  # someone else changed the owner first: read again and redo
        raise errors.Conflict(f"The {self.owner_noun} is changing too often right now; retry.")

    def page(self, owner: dict[str, Any], limit: int, after: str | None) -> tuple[list[str], bool]:
        """One page of member ids in order, after the member `after` (a position that survives edits)."""
        ids = list(owner.get(self.attribute, []))
        start = 0
        if after is not None:
            if after not in ids:
                raise errors.ValidationFailed.one(
                    "after", f"{after} is no longer in the list; start again", "INVALID_CURSOR"
                )
            start = ids.index(after) + 1
        chunk = ids[start : start + limit]
        return chunk, start + limit < len(ids)
