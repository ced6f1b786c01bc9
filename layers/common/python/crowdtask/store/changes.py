"""One item's part of a transaction, built up by several contributors, then written as one Update.

A transaction may touch an item only once, yet a review moves several things on the same
campaign item (money, counters, version): each contributor adds its part to one `Change`.
Conditions name attributes as `{attr}` and values as `:name`; both are renamed to placeholders
unique within the change, so contributors never collide.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from crowdtask.store import dynamo

_ATTR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_VALUE = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


class Change:
    def __init__(self, pk: str, sk: str):
        self.pk, self.sk = pk, sk
        self._names: dict[str, str] = {}
        self._vals: dict[str, Any] = {}
        self._adds: dict[str, Any] = {}
        self._sets: dict[str, tuple[str, Any]] = {}  # attr -> (value, copy or absent, what)
        self._removes: list[str] = []
        self._deletes: dict[str, set[str]] = {}
        self._conditions: list[str] = []

    @property
    def key(self) -> tuple[str, str]:
        return self.pk, self.sk

    def _name(self, attr: str) -> str:
        placeholder = f"#n{len(self._names)}"
        for existing, name in self._names.items():
            if name == attr:
                return existing
        self._names[placeholder] = attr
        return placeholder

    def _value(self, value: Any) -> str:
        placeholder = f":v{len(self._vals)}"
        self._vals[placeholder] = value
        return placeholder

    def add(self, attr: str, amount: int | Decimal) -> Change:
        """ADD to a number (created at 0 when absent); amounts to the same attribute add up."""
        self._adds[attr] = self._adds.get(attr, 0) + amount
        return self

    def add_to_set(self, attr: str, members: set[str]) -> Change:
        """ADD members to a string set (created when absent)."""
        self._adds[attr] = set(self._adds.get(attr, set())) | set(members)
        return self

    def remove_from_set(self, attr: str, members: set[str]) -> Change:
        """DELETE members from a string set (the attribute goes when it empties)."""
        self._deletes[attr] = set(self._deletes.get(attr, set())) | set(members)
        return self

    def set(self, attr: str, value: Any) -> Change:
        self._sets[attr] = ("value", value)
        return self

    def set_if_absent(self, attr: str, value: Any) -> Change:
        """SET attr = value unless the item has it already."""
        self._sets[attr] = ("absent", value)
        return self

    def copy(self, attr: str, source: str) -> Change:
        """SET attr = source (another attribute of the same item)."""
        self._sets[attr] = ("copy", source)
        return self

    def remove(self, *attrs: str) -> Change:
        self._removes.extend(a for a in attrs if a not in self._removes)
        return self

    def require(self, condition: str, **vals: Any) -> Change:
        """Add a condition: `{attr}` names an attribute, `:name` one of `vals`."""
        renamed = {name: self._value(value) for name, value in vals.items()}
        text = _ATTR.sub(lambda m: self._name(m.group(1)), condition)
        text = _VALUE.sub(lambda m: renamed[m.group(1)], text)
        self._conditions.append(f"({text})")
        return self

    def op(self) -> dict[str, Any]:
        """The Update (or, with nothing to write, the ConditionCheck) for `dynamo.transact`.

        Pure: a retried transaction builds the same operation again.
        """
        names, vals = dict(self._names), dict(self._vals)

        def name(attr: str) -> str:
            for placeholder, existing in names.items():
                if existing == attr:
                    return placeholder
            placeholder = f"#n{len(names)}"
            names[placeholder] = attr
            return placeholder

        def value(item: Any) -> str:
            placeholder = f":v{len(vals)}"
            vals[placeholder] = item
            return placeholder

        parts = []
        adds = [f"{name(a)} {value(v)}" for a, v in self._adds.items() if v not in (0, set())]
        if adds:
            parts.append("ADD " + ", ".join(adds))
        sets = []
        for attr, (mode, what) in self._sets.items():
            if mode == "copy":
                sets.append(f"{name(attr)} = {name(what)}")
            elif mode == "absent":
                sets.append(f"{name(attr)} = if_not_exists({name(attr)}, {value(what)})")
            else:
                sets.append(f"{name(attr)} = {value(what)}")
        if sets:
            parts.append("SET " + ", ".join(sets))
        if self._removes:
            parts.append("REMOVE " + ", ".join(name(a) for a in self._removes))
        deletes = [f"{name(a)} {value(v)}" for a, v in self._deletes.items() if v]
        if deletes:
            parts.append("DELETE " + ", ".join(deletes))
        condition = " AND ".join(self._conditions) or None
        if not parts:  # nothing to write: a pure check
            assert condition is not None, "a change with neither updates nor conditions"
            return dynamo.condition_op(self.pk, self.sk, condition, names=names, vals=vals or None)
        return dynamo.update_op(self.pk, self.sk, " ".join(parts), condition, names=names, vals=vals or None)
