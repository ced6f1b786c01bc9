"""Schemathesis hooks of `make fuzz` (tests/fuzz/schemathesis.toml loads this file).

`POST /auth/token/discard` would discard the token every other operation runs with: each of its
calls gets a token of the same account from a pool issued before the run (logging in during the
run would meet the per-source login limit the fuzzer's own failed logins fill). Once the pool is
spent, the calls carry an already discarded token and test the 401.

An `Idempotency-Key` names one request: a client sends a fresh key with each new request, and the
same key only to retry that request. Generated cases reuse the few keys the generator draws with
other bodies (a 422 KEY_REUSED, which the header's description promises), so each call of valid
data carries a key of its own. Cases meant to be invalid keep theirs: the key may be what is wrong.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import schemathesis

_POOL = [token for token in os.environ.get("FUZZ_DISCARD_TOKENS", "").split(",") if token]
_MAIN = os.environ.get("FUZZ_AUTH_TOKEN", "")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    fresh_idempotency_key(case, kwargs)
    if case.operation.path != "/auth/token/discard" or not _POOL:
        return
    token = _POOL.pop() if len(_POOL) > 1 else _POOL[0]
    for headers in (case.headers, kwargs.get("headers")):
        if headers is not None and headers.get("X-Auth-Token") == _MAIN:
            headers["X-Auth-Token"] = token


def fresh_idempotency_key(case: Any, kwargs: dict[str, Any]) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    key = f"fuzz-{uuid.uuid4()}"
    for headers in (case.headers, kwargs.get("headers")):
        for name in [name for name in headers or {} if name.lower() == "idempotency-key"]:
            headers[name] = key
