"""The rotation Lambda's entry point, kept at its published path (`provisioner.rotation.lambda_handler`) so that
functions deployed from earlier zips keep working; the implementation lives in `provisioner.secrets.rotation`."""

from provisioner.secrets.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
