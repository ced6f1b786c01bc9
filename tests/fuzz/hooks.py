"""Schemathesis hooks of `make fuzz` (tests/fuzz/schemathesis.toml loads this file).

`POST /auth/token/discard` would discard the token every other operation runs with: each of its
calls gets a token of the same account from a pool issued before the run (logging in during the
run would meet the per-source login limit the fuzzer's own failed logins fill). Once the pool is
spent, the calls carry an already discarded token and test the 401.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

_POOL = [token for token in os.environ.get("FUZZ_DISCARD_TOKENS", "").split(",") if token]
_MAIN = os.environ.get("FUZZ_AUTH_TOKEN", "")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path != "/auth/token/discard" or not _POOL:
        return
    token = _POOL.pop() if len(_POOL) > 1 else _POOL[0]
    for headers in (case.headers, kwargs.get("headers")):
        if headers is not None and headers.get("X-Auth-Token") == _MAIN:
            headers["X-Auth-Token"] = token
