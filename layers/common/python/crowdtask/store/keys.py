"""Every DynamoDB key of the single table, built in one place.

Layout (pk / sk):
  ACCOUNT#<id>            / ACCOUNT         the account, its profile and balance
  EMAIL#<email>           / EMAIL           unique e-mail -> account id
  TOKEN#<sha256>          / TOKEN           an access token (hash only), expiring
  LOGIN#<email>           / LOGIN           failed-login counter and lock
  A#<account>#<KIND>#<nn> / <id>            a resource of an account, spread over nn shards
Sweep index (by_due): due_pk DUE#<kind>#<nn>, due_sk <iso time>#<pk>.
"""

from __future__ import annotations

import zlib

ACCOUNT_SK = "ACCOUNT"


def account(account_id: str) -> tuple[str, str]:
    return f"ACCOUNT#{account_id}", ACCOUNT_SK


def email(address: str) -> tuple[str, str]:
    return f"EMAIL#{address.lower()}", "EMAIL"


def token(token_hash: str) -> tuple[str, str]:
    return f"TOKEN#{token_hash}", "TOKEN"


def login_guard(address: str) -> tuple[str, str]:
    return f"LOGIN#{address.lower()}", "LOGIN"


def shard_of(item_id: str, shards: int) -> int:
    """Stable shard of an id; crc32 spreads sequential (time-sortable) ids evenly."""
    return zlib.crc32(item_id.encode()) % shards if shards > 1 else 0


def collection_pk(account_id: str, kind: str, shard: int) -> str:
    return f"A#{account_id}#{kind}#{shard:02d}"


def due(kind: str, moment_iso: str, pk: str, shards: int = 4) -> tuple[str, str]:
    """Sweep-index key: which partition a due item sits in and where it sorts."""
    return f"DUE#{kind}#{shard_of(pk, shards):02d}", f"{moment_iso}#{pk}"


def due_partitions(kind: str, shards: int = 4) -> list[str]:
    return [f"DUE#{kind}#{n:02d}" for n in range(shards)]
