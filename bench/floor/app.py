"""The cold-start floor: the least an API function of ours does, a validated body and one DynamoDB call.

A plain Powertools resolver with OpenAPI validation, one route taking a small pydantic body, one
GetItem. bench/coldstart.py measures its fresh import plus first request against each function's.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel, Field

app = APIGatewayRestResolver(enable_validation=True)
dynamodb = boto3.client("dynamodb")


class ItemKey(BaseModel):
    pk: str = Field(min_length=1, max_length=200, description="partition key of the item")
    sk: str = Field(min_length=1, max_length=200, description="sort key of the item")


class Found(BaseModel):
    found: bool = Field(description="whether the table holds the item")


@app.post("/floor")
def look_up(key: ItemKey) -> Found:
    answer = dynamodb.get_item(
        TableName=os.environ["TABLE_NAME"], Key={"pk": {"S": key.pk}, "sk": {"S": key.sk}}
    )
    return Found(found="Item" in answer)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
