"""Settings fail fast: a function whose environment lacks a variable does not start, and says which."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crowdtask.config import Settings, SettingsError, from_environment
from tests.support.infra import ROOT

COMPLETE = {
    "TABLE_NAME": "main",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "EVENT_BUS_NAME": "bus",
    "API_VERSION": "1.0",
}


def test_a_complete_environment_gives_typed_settings_with_the_documented_defaults():
    settings = from_environment({**COMPLETE, "MAX_BODY_BYTES": "1024"})
    assert (settings.table_name, settings.max_body_bytes, settings.token_lifetime_seconds) == (
        "main",
        1024,
        86400,
    )
    assert settings.bulk_queue_url is None


@pytest.mark.parametrize("missing", sorted(COMPLETE))
def test_a_missing_resource_name_is_named(missing):
    given = {k: v for k, v in COMPLETE.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        from_environment(given)


def test_a_blank_variable_counts_as_missing():
    with pytest.raises(SettingsError, match="TABLE_NAME"):
        from_environment({**COMPLETE, "TABLE_NAME": "  "})


def test_a_bad_value_is_named():
    with pytest.raises(SettingsError, match="MAX_BODY_BYTES"):
        from_environment({**COMPLETE, "MAX_BODY_BYTES": "lots"})
    with pytest.raises(SettingsError, match="PASSWORD_HASH_COST"):
        from_environment({**COMPLETE, "PASSWORD_HASH_COST": "free"})


def test_a_setting_a_function_needs_is_required_by_name():
    settings = from_environment(COMPLETE)
    with pytest.raises(SettingsError, match="BULK_QUEUE_URL, ADMIN_KEY_PARAMETER"):
        settings.require("bulk_queue_url", "admin_key_parameter")
    named = from_environment({**COMPLETE, "ADMIN_KEY_PARAMETER": "/crowdtask/admin-key"})
    assert named.require("admin_key_parameter").admin_key_parameter == "/crowdtask/admin-key"


def test_there_is_no_default_resource_name():
    for name, field in Settings.model_fields.items():
        if name.endswith(("_name", "_url")):
            assert field.is_required() or field.default is None, name


@pytest.mark.parametrize(
    ("function", "lacking", "named"),
    [("tasks", "BULK_QUEUE_URL", "BULK_QUEUE_URL"), ("profile", "TABLE_NAME", "TABLE_NAME")],
)
def test_a_function_without_a_variable_fails_its_init_naming_it(function, lacking, named):
    environment = {k: v for k, v in os.environ.items() if k != lacking}
    code = f"import sys; sys.path[:0] = ['layers/common/python', 'functions/{function}']; import app"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "SettingsError" in done.stderr
    assert named in done.stderr
