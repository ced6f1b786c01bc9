"""An account's collection of one kind of resource, sharded so no partition runs hot.

Items live at pk `A#<account>#<KIND>#<shard>`, sk `<id>`; the shard comes from the id, so a
read by id is one GetItem, and another account's id simply is not there (a 404, never a 403).
A list merges the shards: each shard is queried from the cursor, the answers are merged by
the sort key, and the page is cut. Sort keys end with the id, so they are unique and a
cursor is a position that concurrent writes cannot shift.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from crowdtask.models.listing import ListQuery, Page, words
from crowdtask.store import dynamo, keys

_SEPARATOR = "\x1f"  # sorts before any printable character: "ab" < "ab c"
_POOL = ThreadPoolExecutor(max_workers=16)

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

    # ------------------------------------------------------------ reads and writes
    def get(self, account_id: str, item_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        if not item_id or len(item_id) > 64:
            return None
        return dynamo.get(self.pk(account_id, item_id), item_id, consistent=consistent)

    def put_new(self, account_id: str, item_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        stored = self.item(account_id, item_id, data)
        dynamo.put(stored, condition="attribute_not_exists(pk)")
        return stored

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
            return dynamo.update(
                self.pk(account_id, item_id),
                item_id,
                expression.strip(),
                condition=condition,
                names=all_names,
                vals=all_vals or None,
            )
        except dynamo.UNSTORABLE:
            dynamo.refuse_unstorable(derived)  # named by attribute, as to_item names them
            raise

    def list(self, account_id: str, query: ListQuery) -> Page:
        index, sort_attr = SORT_KEYS[query.order]
        backwards = query.before is not None
        # Direction of the reads: the page order, flipped when paging backwards.
        forward = query.descending == backwards
        cursor = query.before if backwards else query.after
        filter_expression, names, vals = _filters(query)
        wanted = query.limit + 1

        def read_shard(pk: str) -> list[dict[str, Any]]:
            return _read_shard(
                index=index,
                sort_attr=sort_attr,
                pk=pk,
                cursor=cursor,
                forward=forward,
                wanted=wanted,
                filter_expression=filter_expression,
                names=names,
                vals=vals,
            )

        shard_rows = list(_POOL.map(read_shard, self.shard_pks(account_id)))
        rows = sorted(
            (row for rows in shard_rows for row in rows), key=lambda r: r[sort_attr], reverse=not forward
        )
        has_more = len(rows) > query.limit
        rows = rows[: query.limit]
        if backwards:
            rows.reverse()
        if index is not None:
            found = dynamo.batch_get((r["pk"], r["sk"]) for r in rows)
            items = [found[(r["pk"], r["sk"])] for r in rows if (r["pk"], r["sk"]) in found]
        else:
            items = rows
        return Page(
            items=items,
            has_more=has_more,
            first_key=rows[0][sort_attr] if rows else None,
            last_key=rows[-1][sort_attr] if rows else None,
        )


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
    filter_expression: str | None,
    names: Mapping[str, str],
    vals: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Up to `wanted` rows of one shard past the cursor; keeps reading while a filter thins pages."""
    condition = "pk = :pk"
    all_vals: dict[str, Any] = {":pk": pk, **vals}
    all_names: dict[str, str] = dict(names)
    if cursor is not None:
        all_names["#s"] = sort_attr
        all_vals[":c"] = cursor
        condition += " AND #s > :c" if forward else " AND #s < :c"
    rows: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while len(rows) < wanted:
        page, start = dynamo.query(
            index=index,
            key_condition=condition,
            vals=all_vals,
            names=all_names or None,
            forward=forward,
            limit=wanted if filter_expression is None else max(wanted, 100),
            filter_expression=filter_expression,
            start_key=start,
        )
        rows.extend(page)
        if start is None:
            break
    return rows[:wanted]
