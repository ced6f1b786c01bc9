"""SSM Parameter Store: the SecureString values a function needs (the admin key), read once per container."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from crowdtask.store import aws


class ParameterUnreadable(RuntimeError):
    """A parameter the function needs is missing or cannot be read; the message names it and says why."""


@lru_cache(maxsize=1)
def _client() -> Any:
    return aws.client("ssm")


@lru_cache(maxsize=8)
def secure_string(name: str) -> str:
    """The decrypted value of the SecureString `name`, cached for the container's life.

    A failure is not cached: the next call asks again (a parameter created after the failure is found).
    A plain String is refused: a secret stored in clear text is the mistake this parameter replaces.
    """
    try:
        parameter = _client().get_parameter(Name=name, WithDecryption=True)["Parameter"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ParameterUnreadable(_why(name, str(error.get("Code")), str(error.get("Message")))) from None
    except BotoCoreError as exc:
        raise ParameterUnreadable(f"SSM parameter {name} cannot be read: {exc}") from None
    if parameter.get("Type") != "SecureString":
        raise ParameterUnreadable(
            f"SSM parameter {name} is a {parameter.get('Type')}, not a SecureString: delete it and "
            "create it again with --type SecureString (README, Deploy)."
        )
    return str(parameter["Value"])


def _why(name: str, code: str, message: str) -> str:
    if code == "ParameterNotFound":
        return (
            f"SSM parameter {name} does not exist: create it with `aws ssm put-parameter --name {name} "
            "--type SecureString --value <secret>` (README, Deploy)."
        )
    if code in {"AccessDeniedException", "AccessDenied"}:
        return (
            f"SSM parameter {name} cannot be read by this function's role: it needs ssm:GetParameter on "
            f"the parameter (and kms:Decrypt on its key, if that is not aws/ssm). {message}"
        )
    return f"SSM parameter {name} cannot be read: {code}: {message}"
