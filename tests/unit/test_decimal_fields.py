"""Money and measures: the document states exactly which numbers and texts the API takes."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from pydantic import ValidationError

from crowdtask.models.accounts import AccountCreateIn
from crowdtask.models.bonuses import BonusIn
from tests.support.infra import ROOT

DOCUMENT = json.loads((ROOT / "layers/common/python/crowdtask/openapi.json").read_text())
TEXTS = [
    "12.5",
    "0.000001",
    "0.5",
    "1000000000",
    "1000000000.000000",
    "1000000000.000001",
    "0",
    "0.000000",
    "0x",
    "1e3",
    "+5",
    " 5",
    "5.",
    ".5",
    "5.0000001",
    "0000000012",
    "9999999999",
]


def branches(model: str, field: str) -> dict[str, dict]:
    schema = DOCUMENT["components"]["schemas"][model]["properties"][field]
    return {branch["type"]: branch for branch in schema["anyOf"]}


def accepted(model: type, field: str, value: object) -> bool:
    base = (
        {"worker": "w-1", "reason": "good work"}
        if model is BonusIn
        else {"email": "a@example.com", "password": "a long enough passphrase", "role": "requester"}
    )
    try:
        model.model_validate({**base, field: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("model", "field"), [(BonusIn, "amount"), (AccountCreateIn, "balance")])
def test_a_decimal_text_is_taken_exactly_when_the_documented_pattern_matches(model, field):
    pattern = branches(model.__name__, field)["string"]["pattern"]
    verdicts = {text: (accepted(model, field, text), bool(re.fullmatch(pattern, text))) for text in TEXTS}
    assert {text: api for text, (api, _) in verdicts.items()} == {
        text: doc for text, (_, doc) in verdicts.items()
    }
    assert verdicts["12.5"] == (True, True) and verdicts["0x"] == (False, False)


def test_numbers_are_documented_to_the_micro_dollar_with_their_bounds():
    number = branches("BonusIn", "amount")["number"]
    assert number == {"type": "number", "exclusiveMinimum": 0.0, "maximum": 1e9, "multipleOf": 1e-06}
    assert accepted(BonusIn, "amount", 0.000001) and not accepted(BonusIn, "amount", 5e-324)
    assert accepted(BonusIn, "amount", Decimal("999999999.999999"))


def test_what_each_role_may_carry_is_stated_and_held():
    rules = DOCUMENT["components"]["schemas"]["AccountCreateIn"]
    assert rules["if"] == {"properties": {"role": {"const": "worker"}}, "required": ["role"]}
    assert {"type": "array", "maxItems": 0} in rules["else"]["properties"]["workerGroups"]["anyOf"]
    base = {"email": "a@example.com", "password": "a long enough passphrase"}
    worker = AccountCreateIn.model_validate({**base, "role": "worker", "workerGroups": [7, "g"]})
    assert worker.workerGroups == ["7", "g"]
    with pytest.raises(ValidationError):
        AccountCreateIn.model_validate({**base, "role": "worker", "workerGroups": [2**53]})
    integer = branches("AccountCreateIn", "workerGroups")["array"]["items"]["anyOf"][1]
    assert integer == {"type": "integer", "minimum": -(2**53 - 1), "maximum": 2**53 - 1}


@pytest.mark.parametrize(
    ("field", "value"), [("commissionRate", "0.5"), ("commissionRate", True), ("charity", 1)]
)
def test_account_numbers_and_flags_are_of_the_documented_type(field, value):
    base = {"email": "a@example.com", "password": "a long enough passphrase", "role": "requester"}
    assert AccountCreateIn.model_validate({**base, field: 0.5 if field == "commissionRate" else True})
    with pytest.raises(ValidationError):
        AccountCreateIn.model_validate({**base, field: value})
