"""`make bench`: runs the benchmarks and merges their figures into bench/results.json."""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"


PARTS = ("coldstart", "sweep", "ingest")


def main(argv: list[str] | None = None) -> int:
    """All parts (`make bench`), or the ones named: `python -m bench.run coldstart`."""
    wanted = set(argv if argv is not None else sys.argv[1:]) or set(PARTS)
    unknown = wanted - set(PARTS)
    if unknown:
        print(f"unknown parts: {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from bench import coldstart

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {
        "python": platform.python_version(),
        "cpus": __import__("os").cpu_count(),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if "coldstart" in wanted:
        print("cold start: importing each function's module in fresh interpreters ...", flush=True)
        results["coldstart"] = coldstart.measure()
        for name, figures in results["coldstart"]["functions"].items():
            print(
                f"  {name:24} {figures['coldstart_import_ms']:7.1f} ms  ({figures['ratio_to_boto3']}x boto3)"
            )
    if "sweep" in wanted:
        print("auto-approval sweep: 100,000 results in review, 1,000 due, on DynamoDB Local ...", flush=True)
        from bench import sweep

        results["sweep"] = sweep.measure()
        results["sweep_reads_per_due_item"] = results["sweep"]["sweep_reads_per_due_item"]
        print(f"  {results['sweep_reads_per_due_item']} items read per due result (goal <= {sweep.GOAL})")
    if "ingest" in wanted:
        _ingest(results)
    parts = results.setdefault("measured_at_by_part", {})
    for part in wanted:  # results.json may hold parts of different runs: each says when it was measured
        parts[part] = results["machine"]["measured_at"]
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


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
