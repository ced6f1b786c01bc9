"""`make bench`'s one printer: every part but the cold-start table is announced, kept and summed up by it."""

from __future__ import annotations

import sys
import types

import pytest
from bench import run


def test_every_part_has_a_report_or_the_cold_start_table():
    assert set(run.REPORTS) == set(run.PARTS) - {"coldstart"}


def test_a_part_is_announced_kept_with_its_headline_and_summed_up(monkeypatch, capsys):
    # Given the uploads part measuring these figures
    found = {
        "upload_bytes_through_lambda": 0,
        "media_bytes": 4096,
        "flow_function_payload_bytes": 10,
        "s3_gateway_bytes_in": 4100,
        "s3_gateway_bytes_out": 4096,
    }
    fake = types.ModuleType("bench.uploads")
    fake.GOAL = 0  # type: ignore[attr-defined]
    fake.measure = lambda: dict(found)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.uploads", fake)
    # When it runs
    results: dict = {"machine": {}}
    run.measure_part(results, "uploads")
    # Then results.json keeps its figures, its headline at the top level, and the summary is printed
    assert results["uploads"] == found
    assert results["upload_bytes_through_lambda"] == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("media: function bytes while a recording goes up to S3")
    assert printed[1] == (
        "  0 function bytes while 4096 bytes went up and down (goal 0); the whole flow's functions saw "
        "10 bytes, the S3 endpoint 4100 in and 4096 out"
    )


def test_an_unknown_part_is_refused_by_name(capsys):
    assert run.main(["nope"]) == 2
    assert "unknown parts: nope" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(set(run.PARTS) - {"coldstart"}))
def test_each_part_module_offers_what_its_report_reads(name):
    """The constants a report prints (goals, sizes) exist in the part's module."""
    import importlib
    import inspect
    import re

    module = importlib.import_module(f"bench.{name}")
    assert callable(module.measure)
    report = run.REPORTS[name]
    assert report.heading(module)
    read = {
        constant
        for reader in (report.heading, report.headline, report.summary)
        for constant in re.findall(r"\b(?:m|module)\.([A-Z][A-Z0-9_]*)\b", inspect.getsource(reader))
    }
    assert read, "a report prints its goals"
    assert [constant for constant in sorted(read) if not hasattr(module, constant)] == []
