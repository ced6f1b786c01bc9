"""Where Powertools idempotency keeps its records: the idempotency table of template.yaml."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from crowdtask.config import settings


@lru_cache(maxsize=1)
def persistence() -> DynamoDBPersistenceLayer:
    """One persistence layer per container (its boto3 client is made on first use)."""
    return DynamoDBPersistenceLayer(table_name=settings().idempotency_table_name)
