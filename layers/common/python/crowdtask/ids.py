"""Opaque, time-sortable identifiers (ULID layout: 48-bit milliseconds + 80 random bits)."""

from __future__ import annotations

import hashlib
import os

from crowdtask import clock

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: sorts like the number
MAX_ID = 64  # the longest id a request may name (ours are 26; clients' own ids, e.g. datasets, longer)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(millis: int | None = None) -> str:
    """A 26-character id; ids made later sort after ids made earlier (to the millisecond)."""
    if millis is None:
        millis = int(clock.now().timestamp() * 1000)
    randomness = int.from_bytes(os.urandom(10), "big")
    return _encode(millis, 10) + _encode(randomness, 16)


def from_parts(millis: int, randomness: int) -> str:
    """The id of these two parts (80-bit `randomness`): for ids that count up within a millisecond."""
    return _encode(millis, 10) + _encode(randomness, 16)


def derived_id(base_id: str, index: int) -> str:
    """A stable id for item `index` of a batch identified by `base_id` (same inputs, same id)."""
    return base_id[:20] + _encode(index, 6)


def named_id(millis: int, name: str) -> str:
    """An id made at `millis` whose random part is drawn from `name`: doing a thing again under the
    same name writes the same id, where new_id would write a second one."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:10], "big")
    return _encode(millis, 10) + _encode(digest, 16)


def short_code(length: int = 8) -> str:
    """A random upper-case code such as a customer id (AB12CD34)."""
    value = int.from_bytes(os.urandom(8), "big")
    return _encode(value, 13)[-length:]


def first_id_at(millis: int) -> str:
    """The smallest id made at `millis`: ids made then or later sort at or after it (for `since`)."""
    return _encode(millis, 10) + _ALPHABET[0] * 16
