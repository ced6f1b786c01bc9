"""Ordered id lists owned by a resource: a job's tasks, a campaign's jobs.

The list lives on the owner item; every change is a conditional write on the owner's
`version`, so concurrent appends never lose each other's ids or slip in a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from crowdtask import clock, errors, store

_ATTEMPTS = 8


class Owners(Protocol):
    """The store of the owning resource (store.jobs, store.campaigns)."""

    def get(self, account_id: str, item_id: str, *, consistent: bool = False) -> dict[str, Any] | None: ...

    def update_if_version(
        self, account_id: str, item_id: str, fields: Mapping[str, Any], version: int
    ) -> dict[str, Any]: ...


class Members(Protocol):
    """The store of the listed resource (store.tasks, store.jobs)."""

    def get_many(
        self,
        account_id: str,
        item_ids: Iterable[str],
        *,
        attributes: Sequence[str] | None = None,
        consistent: bool = False,
    ) -> dict[str, dict[str, Any]]: ...


@dataclass(frozen=True)
class MemberList:
    owners: Owners
    members: Members
    attribute: str
    owner_noun: str
    member_noun: str
    limit: int
    # why the owner's list may not change now (None when it may), e.g. a published campaign
    frozen_reason: Callable[[dict[str, Any]], str | None]

    def require_members(self, account_id: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The member items. A repeated id is a 422 (the document says the items are unique); ids that
        name nothing of the account a 404 naming each; an archived member a 409 naming each."""
        repeated = [
            {
                "field": f"[{n}]",
                "message": f"{self.member_noun} {member_id} is listed twice",
                "code": "DUPLICATE",
            }
            for n, member_id in enumerate(ids)
            if member_id in ids[:n]
        ]
        if repeated:
            raise errors.ValidationFailed(repeated)
        by_id = self.members.get_many(account_id, set(ids), attributes=["archived"])
        unknown = [(n, member_id) for n, member_id in enumerate(ids) if member_id not in by_id]
        if unknown:
            noun = self.member_noun
            raise errors.NotFound(
                f"No {noun} {', '.join(member_id for _, member_id in unknown)} in your account.",
                errors=[
                    {
                        "field": f"[{n}]",
                        "message": f"no {noun} {member_id} in your account",
                        "code": "NOT_FOUND",
                    }
                    for n, member_id in unknown
                ],
            )
        archived = [(n, member_id) for n, member_id in enumerate(ids) if by_id[member_id].get("archived")]
        if archived:
            raise errors.Conflict(
                f"Archived {self.member_noun}s cannot be added: {', '.join(m for _, m in archived)}.",
                errors=[
                    {
                        "field": f"[{n}]",
                        "message": f"{self.member_noun} {member_id} is archived",
                        "code": "ARCHIVED",
                    }
                    for n, member_id in archived
                ],
            )
        return by_id

    def change(self, account_id: str, owner_id: str, ids: Sequence[str], *, append: bool) -> dict[str, Any]:
        """Replace (PUT) or extend (POST) the owner's list; returns the owner item as stored.

        A list longer than the limit is refused before any id is looked up.
        """
        self._check_length(len(ids))
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
                raise errors.Conflict(
                    f"Already in the {self.owner_noun}: {', '.join(repeated)}.",
                    errors=[
                        {
                            "field": f"[{list(ids).index(r)}]",
                            "message": f"{self.member_noun} {r} is already in the {self.owner_noun}",
                            "code": "DUPLICATE",
                        }
                        for r in repeated
                    ],
                )
            self._check_length(len(wanted))
            now = clock.now()
            try:
                return self.owners.update_if_version(
                    account_id,
                    owner_id,
                    {
                        self.attribute: wanted,
                        "lastModifiedAt": clock.iso(now),
                        "modified_precise": clock.iso_precise(now),
                    },
                    int(owner.get("version", 0)),
                )
            except store.Refused:
                continue  # someone else changed the owner first: read again and redo
        raise errors.Conflict(f"The {self.owner_noun} is changing too often right now; retry.")

    def _check_length(self, count: int) -> None:
        if count > self.limit:
            raise errors.ValidationFailed.one(
                "body", f"a {self.owner_noun} holds at most {self.limit} {self.member_noun}s", "TOO_MANY"
            )

    def page(self, owner: dict[str, Any], limit: int, after: str | None) -> tuple[list[str], bool]:
        """One page of member ids in order, after the member `after` (a position that survives edits)."""
        ids = list(owner.get(self.attribute, []))
        start = 0
        if after is not None:
            if after not in ids:
                raise errors.NotFound.of_field("after", f"{after} is not (or no longer) in the list")
            start = ids.index(after) + 1
        chunk = ids[start : start + limit]
        return chunk, start + limit < len(ids)
