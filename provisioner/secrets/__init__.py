"""Secrets: the store (AWS Secrets Manager, counted and redacted) and rotation (the four steps, for the Lambda
handler and `provisioner rotate` alike)."""
