"""The admin key in SSM: read decrypted once per container, refused when missing or stored in clear."""

from __future__ import annotations

import os

import boto3
import pytest

from crowdtask.services import auth
from crowdtask.store import parameters
from crowdtask.store.parameters import ParameterUnreadable, secure_string
from tests.conftest import ADMIN_KEY

NAME = os.environ["ADMIN_KEY_PARAMETER"]


def test_the_secure_string_is_read_decrypted_and_then_kept_for_the_container(aws):
    # Given the key stored as a SecureString (the `aws` fixture), read once
    assert secure_string(NAME) == ADMIN_KEY
    # When the parameter goes away, the container still has what it read
    boto3.client("ssm").delete_parameter(Name=NAME)
    assert secure_string(NAME) == ADMIN_KEY
    # And only a new container (a cleared cache) asks SSM again, and is told why it cannot start
    parameters.secure_string.cache_clear()
    with pytest.raises(ParameterUnreadable, match=f"SSM parameter {NAME} does not exist"):
        secure_string(NAME)


def test_a_missing_parameter_is_named_with_how_to_create_it_and_found_once_created(aws):
    missing = "/crowdtask-test/not-there"
    with pytest.raises(ParameterUnreadable) as refused:
        secure_string(missing)
    assert str(refused.value).startswith(f"SSM parameter {missing} does not exist: create it with")
    assert "--type SecureString" in str(refused.value)
    # the failure was not cached: once the operator creates it, the next call finds it
    boto3.client("ssm").put_parameter(Name=missing, Value="now here", Type="SecureString")
    assert secure_string(missing) == "now here"


def test_a_secret_in_a_plain_string_parameter_is_refused(aws):
    boto3.client("ssm").put_parameter(Name="/crowdtask-test/clear", Value="visible", Type="String")
    with pytest.raises(ParameterUnreadable, match="/crowdtask-test/clear is a String, not a SecureString"):
        secure_string("/crowdtask-test/clear")


def test_the_admin_key_is_compared_with_the_stored_one(aws):
    assert auth.is_admin_key(ADMIN_KEY)
    assert not auth.is_admin_key(ADMIN_KEY + "x")
    assert not auth.is_admin_key("")
