"""Domain logic: no HTTP events here, no DynamoDB keys either."""
