"""`crowdtask upload tasks.jsonl`: send a file of tasks in chunks, follow them, report what was refused.
(`crowdtask results export CAMPAIGN` writes a campaign's results out: crowdtask_cli/export.py.)

Each chunk is an asynchronous upload with an operation id derived from the file's content and
the chunk's place in it, so running the same command again after an interruption creates
nothing twice: finished chunks answer with their operation, the rest are sent. Progress is
shown over tasks, not requests: first as they are accepted, then as they are stored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from crowdtask_cli.api import ApiError, Client
from crowdtask_cli.export import export
from crowdtask_cli.files import FileProblem, chunks, read_tasks

DEFAULT_URL = "http://127.0.0.1:3000"
CHUNK_ITEMS = 10_000
CHUNK_BYTES = 4 * 1024 * 1024  # under the API's 5 MiB body limit
_NAMESPACE = uuid.UUID("6f1c9e9a-43a5-4c1f-9a51-1e2b0c7d5a10")
_ENDED = {"SUCCESS", "FAIL"}


@dataclass
class Summary:
    total: int = 0
    created: int = 0
    rejected: int = 0
    failed: int = 0
    operations: list[tuple[int, str]] = field(default_factory=list)
    rejected_path: Path | None = None

    def text(self) -> str:
        line = (
            f"{self.total} tasks: {self.created} created, {self.rejected} rejected, {self.failed} not stored"
        )
        if self.rejected_path is not None:
            line += f"\nrejected tasks and their errors: {self.rejected_path}"
        return line


def _operation_id(digest: str, first: int, query: dict[str, str]) -> str:
    return str(uuid.uuid5(_NAMESPACE, json.dumps([digest, first, query], sort_keys=True)))


def _file_digest(path: Path) -> str:
    found = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            found.update(block)
    return found.hexdigest()


def upload(
    client: Client,
    path: Path,
    *,
    pool: str | None = None,
    allow_defaults: bool = False,
    open_pool: bool = False,
    chunk_items: int = CHUNK_ITEMS,
    parallel: int = 4,
    rejected_path: Path | None = None,
    quiet: bool = False,
    poll_seconds: float = 0.5,
) -> Summary:
    """Send every task of the file, wait until all are stored or refused, write the refused ones out."""
    digest = _file_digest(path)
    query = {
        "async_mode": "true",
        "skip_invalid_items": "true",
        "allow_defaults": str(allow_defaults).lower(),
        "open_pool": str(open_pool).lower(),
    }
    total = sum(1 for _ in read_tasks(path, pool))
    summary = Summary(total=total)
    sent = tqdm(total=total, unit="task", desc="uploaded", disable=quiet)
    stored = tqdm(total=total, unit="task", desc="stored  ", disable=quiet)

    def send(part: tuple[int, list[dict[str, Any]]]) -> tuple[int, str]:
        first, tasks = part
        params = {**query, "operation_id": _operation_id(digest, first, query)}
        operation = client.call("POST", "/tasks", params=params, json=tasks)
        sent.update(len(tasks))
        return first, str(operation["id"])

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool_of_senders:
        summary.operations = list(
            pool_of_senders.map(send, chunks(read_tasks(path, pool), chunk_items, CHUNK_BYTES))
        )
    sent.close()
    finals = _follow(client, summary.operations, stored, poll_seconds)
    stored.close()
    for operation in finals.values():
        details = operation["details"]
        summary.created += int(details["success_count"])
        summary.rejected += int(details["not_valid_count"])
        summary.failed += int(details["failed_count"]) - int(details["not_valid_count"])
    if summary.rejected or summary.failed:
        summary.rejected_path = rejected_path or path.with_name(path.stem + ".rejected.jsonl")
        _write_rejected(client, summary.operations, finals, summary.rejected_path)
    return summary


def _follow(
    client: Client, operations: list[tuple[int, str]], bar: Any, poll_seconds: float
) -> dict[str, dict[str, Any]]:
    """Poll every operation until it ends; the bar counts tasks handled (stored or refused)."""
    finals: dict[str, dict[str, Any]] = {}
    shown = 0
    while len(finals) < len(operations):
        handled = 0
        for _, operation_id in operations:
            operation = finals.get(operation_id) or client.call("GET", f"/operations/{operation_id}")
            if operation["status"] in _ENDED:
                finals[operation_id] = operation
            details = operation["details"]
            handled += int(details["success_count"]) + int(details["failed_count"])
        bar.update(max(0, handled - shown))
        shown = max(shown, handled)
        if len(finals) < len(operations):
            time.sleep(poll_seconds)
    return finals


def _write_rejected(
    client: Client, operations: list[tuple[int, str]], finals: dict[str, dict[str, Any]], target: Path
) -> None:
    """One line per task that was not created: its index in the file, the task, and why."""
    with target.open("w", encoding="utf-8") as out:
        for first, operation_id in operations:
            if not int(finals[operation_id]["details"]["failed_count"]):
                continue
            for entry in _log(client, operation_id):
                if not entry["success"]:
                    line = {
                        "index": first + entry["index"],
                        "task": entry.get("input"),
                        "errors": entry["output"],
                    }
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _log(client: Client, operation_id: str) -> Iterator[dict[str, Any]]:
    """Every entry of the operation's log, page after page."""
    params: dict[str, Any] = {"limit": 10_000}
    while True:
        page = client.call("GET", f"/operations/{operation_id}/log", params=params)
        yield from page["log"]
        if page.get("next") is None:
            return
        params["after"] = page["next"]


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    if os.environ.get("CROWDTASK_TOKEN"):
        return os.environ["CROWDTASK_TOKEN"]
    if args.email and args.password:
        reply = requests.post(
            args.url.rstrip("/") + "/auth/token/request",
            json={"email": args.email, "password": args.password},
            timeout=30,
        )
        if reply.status_code != 200:
            raise ApiError(f"could not get a token: {reply.status_code} {reply.text[:300]}")
        return str(reply.json()["accessToken"])
    raise ApiError("give --token (or CROWDTASK_TOKEN), or --email and --password")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="crowdtask", description="crowdtask's command-line client")
    top.add_argument("--url", default=os.environ.get("CROWDTASK_URL", DEFAULT_URL), help="API base URL")
    top.add_argument("--token", help="access token (default: $CROWDTASK_TOKEN)")
    top.add_argument("--email", help="sign in with this e-mail instead of a token")
    top.add_argument("--password", help="... and this password")
    commands = top.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upload", help="create the tasks of a .jsonl or .csv file")
    up.add_argument("file", type=Path, help="tasks: JSON Lines, or CSV whose columns are input values")
    up.add_argument("--pool", help="campaign id for tasks that name none (pool_id)")
    up.add_argument("--allow-defaults", action="store_true", help="tasks without overlap take the campaign's")
    up.add_argument(
        "--open-pool", action="store_true", help="publish the campaigns once the tasks are stored"
    )
    up.add_argument("--chunk", type=int, default=CHUNK_ITEMS, help="tasks per request (default 10000)")
    up.add_argument("--parallel", type=int, default=4, help="requests at a time (default 4)")
    up.add_argument(
        "--rejected", type=Path, help="where to list rejected tasks (default <file>.rejected.jsonl)"
    )
    up.add_argument("--quiet", action="store_true", help="no progress bars")
    results = commands.add_parser("results", help="a campaign's results")
    results_commands = results.add_subparsers(dest="results_command", required=True)
    out = results_commands.add_parser(
        "export", help="write a campaign's results (one row per task result) or aggregates to a file"
    )
    out.add_argument("campaign", help="id of the campaign")
    out.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="csv (default) or jsonl")
    out.add_argument("--aggregated", action="store_true", help="one row per task: its aggregated answer")
    out.add_argument("--method", help="with --aggregated: dawid-skene for the last Dawid-Skene run's")
    out.add_argument("-o", "--output", type=Path, help="the file to write (default: standard output)")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    return top


def _export(client: Client, args: argparse.Namespace) -> int:
    def run(target: Any) -> int:
        return export(
            client,
            args.campaign,
            target,
            fmt=args.format,
            aggregated=args.aggregated,
            method=args.method,
            quiet=args.quiet,
        )

    if args.output is None:
        rows = run(sys.stdout)
    else:
        with args.output.open("w", encoding="utf-8", newline="") as target:
            rows = run(target)
    print(f"{rows} rows", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        client = Client(args.url, _token(args))
        if args.command == "results":
            return _export(client, args)
        summary = upload(
            client,
            args.file,
            pool=args.pool,
            allow_defaults=args.allow_defaults,
            open_pool=args.open_pool,
            chunk_items=max(1, args.chunk),
            parallel=args.parallel,
            rejected_path=args.rejected,
            quiet=args.quiet,
        )
    except (ApiError, FileProblem, OSError, requests.RequestException) as problem:
        print(f"crowdtask: {problem}", file=sys.stderr)
        return 1
    print(summary.text())
    return 0 if not (summary.rejected or summary.failed) else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
