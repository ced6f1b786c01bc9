"""`make bench`: runs the benchmarks and merges their figures into bench/results.json."""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"


PARTS = ("coldstart", "sweep", "ingest", "quality", "answers", "uploads", "webhooks", "app")


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
    if "coldstart" in wanted:
        _coldstart(results)
    if "sweep" in wanted:
        print("auto-approval sweep: 100,000 results in review, 1,000 due, on DynamoDB Local ...", flush=True)
        from bench import sweep

        results["sweep"] = sweep.measure()
        results["sweep_reads_per_due_item"] = results["sweep"]["sweep_reads_per_due_item"]
        print(f"  {results['sweep_reads_per_due_item']} items read per due result (goal <= {sweep.GOAL})")
    if "ingest" in wanted:
        _ingest(results)
    if "quality" in wanted:
        _quality(results)
    if "answers" in wanted:
        _answers(results)
    if "uploads" in wanted:
        _uploads(results)
    if "webhooks" in wanted:
        _webhooks(results)
    if "app" in wanted:
        _app(results)
    parts = results.setdefault("measured_at_by_part", {})
    for part in wanted:  # results.json may hold parts of different runs: each says when it was measured
        parts[part] = results["machine"]["measured_at"]
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


def _app(results: dict[str, Any]) -> None:
    from bench import app

    print(
        "worker app: every byte of the first page's load in headless Chromium, uncompressed ...", flush=True
    )
    results["app"] = found = app.measure()
    results["app_first_load_kb"] = found["app_first_load_kb"]
    print(f"  {found['app_first_load_kb']} KB in {found['responses']} responses (goal <= {app.GOAL_KB})")


def _quality(results: dict[str, Any]) -> None:
    from bench import quality

    print(
        "quality control: write units a judged submission adds, claims with requirements, "
        "on DynamoDB Local ..."
    )
    results["quality"] = found = quality.measure()
    for name in ("quality_writes_per_submission", "claim_latency_ratio_with_requirements"):
        results[name] = found[name]
    print(
        f"  {found['quality_writes_per_submission']} more write request units per submission "
        f"({found['quality_items_per_submission']} more items; goal <= {quality.WRITES_GOAL}); "
        f"claim p50 {found['required_claim_p50_ms']} ms with three "
        f"requirements and controls vs {found['plain_claim_p50_ms']} ms plain: "
        f"{found['claim_latency_ratio_with_requirements']}x (goal <= {quality.LATENCY_GOAL})",
        flush=True,
    )


def _answers(results: dict[str, Any]) -> None:
    from bench import answers

    print("answers: Dawid-Skene over 100,000 results and its accuracy, dynamic overlap, live aggregation ...")
    results["answers"] = found = answers.measure()
    run, accuracy = found["dawid_skene_run"], found["dawid_skene_accuracy"]
    results["dawid_skene_seconds_per_100k_results"] = run["dawid_skene_seconds_per_100k_results"]
    compared = ("dawid_skene", "majority", "margin")
    results["dawid_skene_accuracy_vs_majority"] = {k: accuracy[k] for k in compared}
    results["overlap_saved_fraction"] = found["overlap"]["overlap_saved_fraction"]
    writes = found["live_aggregation_writes"]["aggregation_extra_writes_per_result"]
    results["aggregation_extra_writes_per_result"] = writes
    print(
        f"  Dawid-Skene: {run['dawid_skene_seconds_per_100k_results']} s per 100k results "
        f"(goal <= {answers.SECONDS_GOAL}; {run['em_iterations']} EM iterations, all "
        f"{run['em_seconds_all_100_iterations']} s); accuracy {accuracy['dawid_skene']} vs majority "
        f"{accuracy['majority']}; dynamic overlap saved {results['overlap_saved_fraction']} of the results; "
        f"live aggregation adds {writes} writes per result (goal <= {answers.WRITES_GOAL})",
        flush=True,
    )


def _uploads(results: dict[str, Any]) -> None:
    from bench import uploads

    print("media: function bytes while a recording goes up to S3 and comes back, on the local stack ...")
    results["uploads"] = found = uploads.measure()
    results["upload_bytes_through_lambda"] = found["upload_bytes_through_lambda"]
    print(
        f"  {found['upload_bytes_through_lambda']} function bytes while {found['media_bytes']} bytes went up "
        f"and down (goal {uploads.GOAL}); the whole flow's functions saw "
        f"{found['flow_function_payload_bytes']} bytes, the S3 endpoint "
        f"{found['s3_gateway_bytes_in']} in and {found['s3_gateway_bytes_out']} out",
        flush=True,
    )


def _webhooks(results: dict[str, Any]) -> None:
    from bench import webhooks

    print(
        f"webhooks: {webhooks.EVENTS:,} events committed -> a receiver on the loopback, then as many with a "
        "receiver failing each id's first two attempts and the workers killed mid-run ...",
        flush=True,
    )
    results["webhooks"] = found = webhooks.measure()
    for name in ("webhook_delivery_p50_ms", "webhook_delivery_p99_ms", "webhook_lost_or_doubled"):
        results[name] = found[name]
    crash, goal = found["webhook_lost_or_doubled"], webhooks.GOALS["webhook_lost_or_doubled"]
    print(
        f"  committed -> received: p50 {found['webhook_delivery_p50_ms']} ms, "
        f"p99 {found['webhook_delivery_p99_ms']} ms ({found['commit_rate_per_s']} events/s); "
        f"lost {crash['lost']}, duplicates {crash['duplicates_same_id']} with the same webhook-id "
        f"and {crash['duplicates_other_id']} under another ({crash['workers_killed']} workers killed; "
        f"goal {goal})",
        flush=True,
    )


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


def _ingest(results: dict[str, Any]) -> None:
    print(f"bulk ingest: {100_000:,} tasks through the local stack on DynamoDB Local ...", flush=True)
    from bench import ingest

    results["ingest"] = ingest.measure()
    for name in ingest.GOALS:
        results[name] = results["ingest"][name]
        print(f"  {name:42} {results[name]}  (goal {ingest.GOALS[name]})")
    for name in ("raw_batch_write_items_per_s", "write_units_floor_per_task", "consumer_peak_memory_mb"):
        results[name] = results["ingest"][name]
        print(f"  {name:42} {results[name]}")


if __name__ == "__main__":
    raise SystemExit(main())
