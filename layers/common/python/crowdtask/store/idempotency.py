"""Where Powertools idempotency keeps its records: the idempotency table of template.yaml."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from crowdtask.config import settings
from crowdtask.store import aws


@lru_cache(maxsize=1)
def persistence() -> DynamoDBPersistenceLayer:
    """One persistence layer per container (its client made on first use, from the store's session)."""
    return DynamoDBPersistenceLayer(table_name=settings().idempotency_table_name, boto3_session=aws.session())
