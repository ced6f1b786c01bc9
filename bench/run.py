"""`make bench`: runs the benchmarks and merges their figures into bench/results.json."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"


PARTS = ("coldstart", "sweep", "ingest", "quality", "answers", "uploads", "webhooks", "app")
Figures = dict[str, Any]


@dataclass(frozen=True)
class Report:
    """How one part is announced and summed up: `heading(module)` before it runs; after it, the figures
    `headline(module, found)` copies to the top level of results.json and the lines of `summary`."""

    heading: Callable[[Any], str]
    headline: Callable[[Any, Figures], Figures]
    summary: Callable[[Any, Figures], list[str]]


def _keys(*names: str) -> Callable[[Any, Figures], Figures]:
    """A headline of figures the part reports under these names."""
    return lambda module, found: {name: found[name] for name in names}


def _answers_headline(module: Any, found: Figures) -> Figures:
    accuracy = found["dawid_skene_accuracy"]
    return {
        "dawid_skene_seconds_per_100k_results": found["dawid_skene_run"][
            "dawid_skene_seconds_per_100k_results"
        ],
        "dawid_skene_accuracy_vs_majority": {k: accuracy[k] for k in ("dawid_skene", "majority", "margin")},
        "overlap_saved_fraction": found["overlap"]["overlap_saved_fraction"],
        "aggregation_extra_writes_per_result": found["live_aggregation_writes"][
            "aggregation_extra_writes_per_result"
        ],
    }


def _answers_summary(module: Any, found: Figures) -> list[str]:
    run, accuracy = found["dawid_skene_run"], found["dawid_skene_accuracy"]
    writes = found["live_aggregation_writes"]["aggregation_extra_writes_per_result"]
    return [
        f"Dawid-Skene: {run['dawid_skene_seconds_per_100k_results']} s per 100k results "
        f"(goal <= {module.SECONDS_GOAL}; {run['em_iterations']} EM iterations, all "
        f"{run['em_seconds_all_100_iterations']} s); accuracy {accuracy['dawid_skene']} vs majority "
        f"{accuracy['majority']}; dynamic overlap saved {found['overlap']['overlap_saved_fraction']} of the "
        f"results; live aggregation adds {writes} writes per result (goal <= {module.WRITES_GOAL})"
    ]


def _webhooks_summary(module: Any, found: Figures) -> list[str]:
    crash, goal = found["webhook_lost_or_doubled"], module.GOALS["webhook_lost_or_doubled"]
    return [
        f"committed -> received: p50 {found['webhook_delivery_p50_ms']} ms, "
        f"p99 {found['webhook_delivery_p99_ms']} ms ({found['commit_rate_per_s']} events/s); "
        f"lost {crash['lost']}, duplicates {crash['duplicates_same_id']} with the same webhook-id "
        f"and {crash['duplicates_other_id']} under another ({crash['workers_killed']} workers killed; "
        f"goal {goal})"
    ]


_INGEST_MORE = ("raw_batch_write_items_per_s", "write_units_floor_per_task", "consumer_peak_memory_mb")

REPORTS: dict[str, Report] = {
    "sweep": Report(
        lambda m: "auto-approval sweep: 100,000 results in review, 1,000 due, on DynamoDB Local ...",
        _keys("sweep_reads_per_due_item"),
        lambda m, f: [f"{f['sweep_reads_per_due_item']} items read per due result (goal <= {m.GOAL})"],
    ),
    "ingest": Report(
        lambda m: f"bulk ingest: {m.TASKS:,} tasks through the local stack on DynamoDB Local ...",
        lambda m, f: {name: f[name] for name in (*m.GOALS, *_INGEST_MORE)},
        lambda m, f: (
            [f"{name:42} {f[name]}  (goal {m.GOALS[name]})" for name in m.GOALS]
            + [f"{name:42} {f[name]}" for name in _INGEST_MORE]
        ),
    ),
    "quality": Report(
        lambda m: (
            "quality control: write units a judged submission adds, claims with requirements, "
            "on DynamoDB Local ..."
        ),
        _keys("quality_writes_per_submission", "claim_latency_ratio_with_requirements"),
        lambda m, f: [
            f"{f['quality_writes_per_submission']} more write request units per submission "
            f"({f['quality_items_per_submission']} more items; goal <= {m.WRITES_GOAL}); "
            f"claim p50 {f['required_claim_p50_ms']} ms with three "
            f"requirements and controls vs {f['plain_claim_p50_ms']} ms plain: "
            f"{f['claim_latency_ratio_with_requirements']}x (goal <= {m.LATENCY_GOAL})"
        ],
    ),
    "answers": Report(
        lambda m: (
            "answers: Dawid-Skene over 100,000 results and its accuracy, dynamic overlap, live "
            "aggregation ..."
        ),
        _answers_headline,
        _answers_summary,
    ),
    "uploads": Report(
        lambda m: (
            "media: function bytes while a recording goes up to S3 and comes back, on the local stack ..."
        ),
        _keys("upload_bytes_through_lambda"),
        lambda m, f: [
            f"{f['upload_bytes_through_lambda']} function bytes while {f['media_bytes']} bytes went up "
            f"and down (goal {m.GOAL}); the whole flow's functions saw "
            f"{f['flow_function_payload_bytes']} bytes, the S3 endpoint "
            f"{f['s3_gateway_bytes_in']} in and {f['s3_gateway_bytes_out']} out"
        ],
    ),
    "webhooks": Report(
        lambda m: (
            f"webhooks: {m.EVENTS:,} events committed -> a receiver on the loopback, then as many with "
            "a receiver failing each id's first two attempts and the workers killed mid-run ..."
        ),
        _keys("webhook_delivery_p50_ms", "webhook_delivery_p99_ms", "webhook_lost_or_doubled"),
        _webhooks_summary,
    ),
    "app": Report(
        lambda m: "worker app: every byte of the first page's load in headless Chromium, uncompressed ...",
        _keys("app_first_load_kb"),
        lambda m, f: [f"{f['app_first_load_kb']} KB in {f['responses']} responses (goal <= {m.GOAL_KB})"],
    ),
}


def measure_part(results: dict[str, Any], name: str) -> None:
    """Run one part: announce it, keep its figures (and its headline at the top level), sum it up."""
    report = REPORTS[name]
    module = importlib.import_module(f"bench.{name}")
    print(report.heading(module), flush=True)
    results[name] = found = module.measure()
    results.update(report.headline(module, found))
    for line in report.summary(module, found):
        print(f"  {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """All parts (`make bench`), or the ones named: `python -m bench.run coldstart`."""
    wanted = set(argv if argv is not None else sys.argv[1:]) or set(PARTS)
    unknown = wanted - set(PARTS)
    if unknown:
        print(f"unknown parts: {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {
        "python": platform.python_version(),
        "cpus": __import__("os").cpu_count(),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for name in PARTS:
        if name not in wanted:
            continue
        if name == "coldstart":
            _coldstart(results)
        else:
            measure_part(results, name)
    parts = results.setdefault("measured_at_by_part", {})
    for part in wanted:  # results.json may hold parts of different runs: each says when it was measured
        parts[part] = results["machine"]["measured_at"]
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


def _coldstart(results: dict[str, Any]) -> None:
    from bench import coldstart

    print(
        f"cold start: each function's import and first request in fresh interpreters, {coldstart.RUNS} "
        "rounds on DynamoDB Local ...",
        flush=True,
    )
    started = time.monotonic()
    results["coldstart"] = found = coldstart.measure()
    took = time.monotonic() - started
    floor = found["floor"]
    print(f"  {'':26} {'import':>8} {'':7} {'+ first request':>15}")
    print(
        f"  {'floor (bench/floor)':26} {floor['coldstart_import_ms']:6.1f} ms {'':7} "
        f"{floor['coldstart_first_request_ms']:7.1f} ms"
    )
    for name, figures in found["functions"].items():
        print(
            f"  {name:26} {figures['coldstart_import_ms']:6.1f} ms ({figures['ratio_to_boto3']:4.2f}x boto3) "
            f"{figures['coldstart_first_request_ms']:7.1f} ms ({figures['ratio_to_floor']:4.2f}x floor, "
            f"{figures['cpu_ratio_to_floor']:4.2f}x in CPU time)  "
            f"{figures['route']}"
        )
    over = found["api_functions_over_first_request_goal"]
    goal = found["goal_max_first_request_ratio_to_floor"]
    print(f"  API functions over {goal}x the floor: {', '.join(over) if over else 'none'}")
    print(f"  ({found['samples_note']}; {took / 60:.1f} minutes)")


if __name__ == "__main__":
    raise SystemExit(main())
