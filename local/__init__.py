"""Local runner: serves template.yaml with DynamoDB Local, moto and Lambda-like worker processes."""
