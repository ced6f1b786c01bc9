"""An account's collection of one kind of resource, sharded so no partition runs hot.

Items live at pk `A#<account>#<KIND>#<shard>`, sk `<id>`; the shard comes from the id, so a
read by id is one GetItem, and another account's id simply is not there (a 404, never a 403).
A list merges the shards: each shard is queried from the cursor, the answers are merged by
the sort key, and the page is cut. Sort keys end with the id, so they are unique and a
cursor is a position that concurrent writes cannot shift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from crowdtask import parallel
from crowdtask.ids import MAX_ID
from crowdtask.models.listing import ListQuery, Page, words
from crowdtask.numbers import refuse_unstorable
from crowdtask.store import dynamo, keys

_SEPARATOR = "\x1f"  # sorts before any printable character: "ab" < "ab c"
_POOL = ThreadPoolExecutor(max_workers=16)
# Items a filtered list (search, archived) may read for one page, over all shards: a filter that
# matches little answers a short page (or none) with a cursor to go on, at a bounded cost.
READ_BUDGET = 1600

# order field -> (index name or None for the table, sort-key attribute)
SORT_KEYS: dict[str, tuple[str | None, str]] = {
    "id": (None, "sk"),
    "createdAt": (None, "sk"),  # ids are time-sortable: creation order is id order
    "name": ("by_name", "name_key"),
    "lastModifiedAt": ("by_modified", "modified_key"),
}


def name_key(name: str, item_id: str) -> str:
    return f"{name.casefold()[:400]}{_SEPARATOR}{item_id}"


def modified_key(modified_precise: str, item_id: str) -> str:
    return f"{modified_precise}{_SEPARATOR}{item_id}"


@dataclass(frozen=True)
class Collection:
    kind: str
    shards: int = 1

    # ------------------------------------------------------------ keys
    def pk(self, account_id: str, item_id: str) -> str:
        return keys.collection_pk(account_id, self.kind, keys.shard_of(item_id, self.shards))

    def shard_pks(self, account_id: str) -> list[str]:
        return [keys.collection_pk(account_id, self.kind, n) for n in range(self.shards)]

    def item(self, account_id: str, item_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """The stored form: data plus keys, index keys and search words."""
        stored = {"pk": self.pk(account_id, item_id), "sk": item_id, "type": self.kind.lower(), **data}
        stored["account_id"] = account_id
        if "name" in data:
            stored["name_key"] = name_key(str(data["name"]), item_id)
            found = words(str(data["name"]))
            stored["search_words"] = found or None
        if "modified_precise" in data:
            stored["modified_key"] = modified_key(str(data["modified_precise"]), item_id)
        return stored

    def key(self, account_id: str, item_id: str) -> tuple[str, str]:
        return self.pk(account_id, item_id), item_id

    def keys_of(self, account_id: str, item_ids: Iterable[str]) -> dict[tuple[str, str], str]:
        """key -> id of those of `item_ids` that can name an item (an empty or overlong id names none)."""
        return {self.key(account_id, i): i for i in item_ids if can_name_item(i)}

    # ------------------------------------------------------------ reads and writes
    def get(self, account_id: str, item_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        """The item with its `id`, or None (another account's id is simply not there)."""
        if not can_name_item(item_id):
            return None
        return with_id(dynamo.get(self.pk(account_id, item_id), item_id, consistent=consistent))

    def get_many(
        self,
        account_id: str,
        item_ids: Iterable[str],
        *,
        attributes: Sequence[str] | None = None,
        consistent: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """id -> item for those of `item_ids` that exist (one batched read; `attributes` projects)."""
        found = dynamo.batch_get(
            self.keys_of(account_id, item_ids), attributes=attributes, consistent=consistent
        )
        return {sk: {**item, "id": sk} for (_, sk), item in found.items()}

    def in_order(self, account_id: str, item_ids: Sequence[str], **read: Any) -> list[dict[str, Any]]:
        """The items of `item_ids` that exist, in that order."""
        found = self.get_many(account_id, item_ids, **read)
        return [found[i] for i in item_ids if i in found]

    def put_new(
        self, account_id: str, item_id: str, data: Mapping[str, Any], also: Sequence[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        """Create the item (with `also`, such as outbox events, in one transaction); Refused when one
        with this id exists."""
        stored = self.item(account_id, item_id, data)
        dynamo.put(stored, condition="attribute_not_exists(pk)", also=also)
        return {**stored, "id": item_id}

    def update(
        self,
        account_id: str,
        item_id: str,
        fields: Mapping[str, Any],
        *,
        condition: str = "attribute_exists(pk)",
        vals: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """SET fields (None removes), keeping the index keys in step; ConditionFailed if refused."""
        derived = self.item(account_id, item_id, fields)
        for fixed in ("pk", "sk", "type", "account_id"):
            derived.pop(fixed)
        if "name" in fields and not derived.get("search_words"):
            derived["search_words"] = None
        all_names: dict[str, str] = dict(names or {})
        all_vals: dict[str, Any] = dict(vals or {})
        sets, removes = [], []
        for n, (attr, value) in enumerate(sorted(derived.items())):
            all_names[f"#u{n}"] = attr
            if value is None:
                removes.append(f"#u{n}")
            else:
                all_vals[f":u{n}"] = value
                sets.append(f"#u{n} = :u{n}")
        expression = ("SET " + ", ".join(sets) if sets else "") + (
            " REMOVE " + ", ".join(removes) if removes else ""
        )
        try:
            updated = dynamo.update(
                self.pk(account_id, item_id),
                item_id,
                expression.strip(),
                condition=condition,
                names=all_names,
                vals=all_vals or None,
            )
        except dynamo.UNSTORABLE:
            refuse_unstorable(derived)  # named by attribute, as to_item names them
            raise
        return {**updated, "id": item_id}

    def update_if_version(
        self, account_id: str, item_id: str, fields: Mapping[str, Any], version: int
    ) -> dict[str, Any]:
        """update() while the item's `version` is still `version` (absent counts as 0); Refused if not."""
        return self.update(
            account_id,
            item_id,
            {**fields, "version": version + 1},
            condition="attribute_exists(pk) AND (attribute_not_exists(#v) OR #v = :v)",
            names={"#v": "version"},
            vals={":v": version},
        )

    def mark(
        self, account_id: str, item_ids: Iterable[str], attribute: str, value: str, on: bool
    ) -> dict[str, dict[str, Any]]:
        """Add `value` to (or remove it from) each item's string set `attribute`; idempotent.

        Returns id -> the item as marking it left it (whole: each update answers it). Items that
        are gone are skipped: there is nothing to mark.
        """
        expression = ("ADD" if on else "DELETE") + " #set :value"

        def apply(item_id: str) -> Any:
            try:
                marked = dynamo.update(
                    self.pk(account_id, item_id),
                    item_id,
                    expression,
                    condition="attribute_exists(pk)",
                    names={"#set": attribute},
                    vals={":value": {value}},
                )
            except dynamo.ConditionFailed:
                return None
            return with_id(marked)

        marked = parallel.each(apply, list(dict.fromkeys(item_ids)))
        return {item["id"]: item for item in marked if item is not None}

    def list(self, account_id: str, query: ListQuery) -> Page:
        index, sort_attr = SORT_KEYS[query.order]
        # With both cursors the page runs forward from `after` and ends before `before`.
        backwards = query.before is not None and query.after is None
        # Direction of the reads: the page order, flipped when paging backwards.
        forward = query.descending == backwards
        cursor = query.before if backwards else query.after
        filter_expression, names, vals = _filters(query)
        wanted = query.limit + 1
        budget = max(wanted, READ_BUDGET // self.shards)

        def read_shard(pk: str) -> tuple[list[dict[str, Any]], str | None]:
            return _read_shard(
                index=index,
                sort_attr=sort_attr,
                pk=pk,
                cursor=cursor,
                forward=forward,
                wanted=wanted,
                budget=budget,
                filter_expression=filter_expression,
                names=names,
                vals=vals,
            )

        shards = list(_POOL.map(read_shard, self.shard_pks(account_id)))
        rows = sorted(
            (row for rows, _ in shards for row in rows), key=lambda r: r[sort_attr], reverse=not forward
        )
        # A shard that used up its budget was read up to `stopped`: beyond the nearest such position
        # another shard's rows may still be preceded by unread ones, so the page ends there.
        stops = [stopped for _, stopped in shards if stopped is not None]
        boundary = (min(stops) if forward else max(stops)) if stops else None
        if boundary is not None:
            rows = [r for r in rows if (r[sort_attr] <= boundary if forward else r[sort_attr] >= boundary)]
        if query.after is not None and query.before is not None:
            end = query.before
            rows = [r for r in rows if (r[sort_attr] < end if forward else r[sort_attr] > end)]
            if boundary is not None and not (boundary < end if forward else boundary > end):
                boundary = None  # the reads went past the range's end: nothing of it is left unread
        has_more = len(rows) > query.limit or boundary is not None
        cut_short = boundary is not None and len(rows) <= query.limit
        rows = rows[: query.limit]
        ends = [r[sort_attr] for r in rows]
        if cut_short:  # the next page goes on from where the reads stopped, not from the last match
            ends.append(str(boundary))
        if backwards:
            rows.reverse()
            ends.reverse()
        if index is not None:
            found = dynamo.batch_get((r["pk"], r["sk"]) for r in rows)
            items = [with_id(found[(r["pk"], r["sk"])]) for r in rows if (r["pk"], r["sk"]) in found]
        else:
            items = [with_id(r) for r in rows]
        return Page(
            items=items,
            has_more=has_more,
            first_key=ends[0] if ends else None,
            last_key=ends[-1] if ends else None,
        )


def can_name_item(item_id: str) -> bool:
    """Could this id name a stored item? Ids are at most 64 characters, so a longer one is not read."""
    return bool(item_id) and len(item_id) <= MAX_ID


def with_id(item: dict[str, Any] | None) -> Any:
    """A collection item as services see it: its id under `id` (the sort key holds it)."""
    if item is None:
        return None
    return {**item, "id": item["sk"]}


def _filters(query: ListQuery) -> tuple[str | None, dict[str, str], dict[str, Any]]:
    clauses: list[str] = []
    names: dict[str, str] = {}
    vals: dict[str, Any] = {}
    for n, word in enumerate(sorted(query.search)):
        names["#w"] = "search_words"
        vals[f":w{n}"] = word
        clauses.append(f"contains(#w, :w{n})")
    for n, (attr, value) in enumerate(sorted(query.equals.items())):
        names[f"#e{n}"] = attr
        vals[f":e{n}"] = value
        clauses.append(f"#e{n} = :e{n}")
    return (" AND ".join(clauses) or None), names, vals


def _read_shard(
    *,
    index: str | None,
    sort_attr: str,
    pk: str,
    cursor: str | None,
    forward: bool,
    wanted: int,
    budget: int,
    filter_expression: str | None,
    names: Mapping[str, str],
    vals: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `wanted` rows of one shard past the cursor, reading on while a filter thins pages, but at
    most `budget` items; with them, the position the reads stopped at when the budget ran out first."""
    condition = "pk = :pk"
    all_vals: dict[str, Any] = {":pk": pk, **vals}
    all_names: dict[str, str] = dict(names)
    if cursor is not None:
        all_names["#s"] = sort_attr
        all_vals[":c"] = cursor
        condition += " AND #s > :c" if forward else " AND #s < :c"
    rows: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    read = 0
    while len(rows) < wanted:
        if read >= budget:
            assert start is not None
            return rows[:wanted], str(start[sort_attr]["S"])
        limit = wanted if filter_expression is None else min(max(wanted, 100), budget - read)
        page, start = dynamo.query(
            index=index,
            key_condition=condition,
            vals=all_vals,
            names=all_names or None,
            forward=forward,
            limit=limit,
            filter_expression=filter_expression,
            start_key=start,
        )
        read += limit
        rows.extend(page)
        if start is None:
            break
    return rows[:wanted], None
