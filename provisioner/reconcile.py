"""The reconcile Lambda's entry point, at its published path (`provisioner.reconcile.lambda_handler`), which the AWS
stack's function names; the implementation lives in `provisioner.commands.reconcile`."""

from provisioner.commands.reconcile import lambda_handler

__all__ = ["lambda_handler"]
