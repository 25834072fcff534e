"""The offline diff (`provisioner diff`) compiles like a live plan: engines hold no state from an inspection, so
what the manifest says of an object (a procedure, not a function) is all it needs."""

from __future__ import annotations

import pytest

from provisioner.errors import ValidationError
from provisioner.manifest import load_sources
from provisioner.pipeline.offline import offline_plan

HEAD = """\
version: 1
targets:
  billing: {engine: ENGINE, database: billing, admin: {url_env: BILLING_URL}}
accounts:
  - name: refunds
    target: billing
    grants:
      - {privileges: [EXECUTE], procedures: [billing.refund]}
      - {privileges: [EXECUTE], functions: [billing.invoice_total]}
"""
BASE = "version: 1\ntargets:\n  billing: {engine: ENGINE, database: billing, admin: {url_env: BILLING_URL}}\n"


@pytest.mark.parametrize("engine", ["mariadb", "mysql"])
def test_offline_diff_renders_a_procedure_as_procedure(engine):
    plan = offline_plan(load_sources([("base.yaml", BASE.replace("ENGINE", engine))]),
                        load_sources([("head.yaml", HEAD.replace("ENGINE", engine))]))
    lines = [line for step in plan.targets[0].steps for line in step.lines]
    assert "GRANT EXECUTE ON PROCEDURE `billing`.`refund` TO 'refunds'@'%'" in lines
    assert "GRANT EXECUTE ON FUNCTION `billing`.`invoice_total` TO 'refunds'@'%'" in lines


def test_postgres_has_no_procedures_key():
    text = HEAD.replace("ENGINE", "postgres").replace("billing.refund", "public.refund")
    with pytest.raises(ValidationError) as problems:
        load_sources([("head.yaml", text)])
    assert "postgres has no procedures" in str(problems.value)
