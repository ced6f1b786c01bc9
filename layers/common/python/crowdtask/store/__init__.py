"""The only package that talks to DynamoDB, SQS and EventBridge."""
