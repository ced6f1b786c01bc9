"""The repository layer: the only package that talks to DynamoDB, SQS, EventBridge and SSM.

One module per aggregate owns its key schema, indexes, conditions and transactions, behind
functions named for what they mean. What services may catch is defined here.
"""


class Refused(Exception):
    """A conditional write was refused: the item is absent, or not in the state the write requires."""


class Contended(Exception):
    """Concurrent writes on the same items kept cancelling this one; it can be tried again later."""
