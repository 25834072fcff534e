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


def test_json_built_one_change_at_a_time_is_the_text_of_the_whole_document():
    """`render.as_json` writes each change separately (memory); the text is what json.dumps(indent=2) makes
    of the whole document, for targets with and without changes."""
    import json

    from provisioner import redact, render

    targets = ("targets:\n  billing: {engine: postgres, database: billing, admin: {url_env: BILLING_URL}}\n"
               "  quiet: {engine: mariadb, database: q, admin: {url_env: Q_URL}}\n"
               "  films: {engine: postgres, database: films, admin: {url_env: FILMS_URL}}\n")
    head = ("version: 1\n" + targets + "accounts:\n"
            "  - {name: refunds, target: billing, description: 'it is \"quoted\"\\n and multi-line',"
            " grants: [{privileges: [SELECT, INSERT], tables: [public.a, public.b]}]}\n"
            "  - {name: viewer, target: films, grants: [{privileges: [SELECT], tables: ['public.*']}]}\n")
    plan = offline_plan(load_sources([("base.yaml", "version: 1\n" + targets)]), load_sources([("head.yaml", head)]))
    assert [len(t.steps) > 0 for t in plan.targets] == [True, True, False]
    whole = redact.redact(json.dumps(render.plan_document(plan), indent=2, sort_keys=False)) + "\n"
    assert render.as_json(plan) == whole
    assert json.loads(render.apply_json(plan, {"add": 1}, 3))["result"] == {
        "applied": {"add": 1}, "secrets_manager_calls": 3}
