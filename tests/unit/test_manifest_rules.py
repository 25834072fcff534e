"""Each semantic rule of the manifest, by the name it is registered under (`manifest/validation/rules`): a manifest
that breaks it, and the problem it reports. A rule registered without a case here fails the last test."""

from __future__ import annotations

import pytest

from provisioner.errors import ValidationError
from provisioner.manifest import load_sources
from provisioner.manifest.validation.rules import RULES

HEADER = """version: 1
targets:
  pg: {engine: postgres, database: filmdb, admin: {url_env: X}}
  mdb: {engine: mariadb, database: billing, host: db.example.com, admin: {url_env: Y}}
"""
CASES = {
    "target-databases": ("targets:\n  m2: {engine: mariadb, databases: [a], admin: {url_env: Z}}\n",
                         "`databases` lists the databases of a PostgreSQL cluster"),
    "target-default-privileges-for": ("targets:\n  m2: {engine: mysql, default_privileges_for: [a], "
                                      "admin: {url_env: Z}}\n", "default_privileges_for applies to PostgreSQL only"),
    "target-public-privileges": ("targets:\n  p2: {engine: postgres, admin: {url_env: Z}, public_privileges: "
                                 "{revoke: [{privileges: [SELECT], schemas: [s]}]}}\n",
                                 "public_privileges: SELECT does not apply here"),
    "target-iam-admin": ("targets:\n  m2: {engine: mariadb, admin: {iam: {user: u}}}\n",
                         "MariaDB has no IAM database authentication"),
    "entry-name": ("accounts:\n  - {name: rds_x, target: pg}\n", "is a system or reserved account name"),
    "entry-engine-keys": ("accounts:\n  - {name: a, target: mdb, attributes: [CREATEDB]}\n",
                          "`attributes` are PostgreSQL role attributes"),
    "entry-settings": ("accounts:\n  - {name: a, target: mdb, settings: {work_mem: 1MB}}\n",
                       "`settings` are PostgreSQL role settings"),
    "entry-memberships": ("accounts:\n  - {name: a, target: pg, member_of: [nobody]}\n",
                          "is a member of 'nobody', which is not a role of target 'pg'"),
    "entry-role-is-not-an-account": ("roles:\n  - {name: a, target: pg}\naccounts:\n  - {name: a, target: pg}\n",
                                     "role 'a' is also declared as an account"),
    "entry-profile": ("accounts:\n  - {name: a, target: pg, profile: nope}\n", "uses the unknown profile 'nope'"),
    "entry-grants": ("accounts:\n  - {name: a, target: pg, grants: [{privileges: [EXECUTE], tables: [s.t]}]}\n",
                     "privilege 'EXECUTE' does not apply to tables"),
    "account-secret-name": ("accounts:\n  - {name: a, target: pg, secret: {name: '{nope}/x'}}\n",
                            "uses unknown placeholder(s) nope"),
    "account-rotation": ("accounts:\n  - {name: a, target: pg, rotation: {strategy: alternating}}\n",
                         "uses alternating rotation, but target 'pg' has no admin secret"),
    "account-iam": ("accounts:\n  - {name: a, target: pg, auth: iam, rotation: {strategy: none}}\n",
                    "uses `auth: iam`: it has no password, so no `rotation`"),
    "entries-declared-once": ("accounts:\n  - {name: a, target: pg}\n  - {name: a, target: pg}\n",
                              "account 'a' is declared twice"),
    "derived-names-free": ("targets:\n  p3: {engine: postgres, admin: {secret: s}}\naccounts:\n"
                           "  - {name: a, target: p3, rotation: {strategy: alternating}}\n"
                           "  - {name: a_clone, target: p3}\n", "has the name provisioner derives for account 'a'"),
    "one-server-one-owner": ("targets:\n  m3: {engine: mariadb, host: DB.example.com, admin: {url_env: Z}}\n"
                             "accounts:\n  - {name: a, target: mdb}\n  - {name: a, target: m3}\n",
                             "and both targets are db.example.com:3306"),
    "one-secret-one-account": ("accounts:\n  - {name: a, target: pg, secret: {name: s}}\n"
                               "  - {name: b, target: pg, secret: {name: s}}\n", "would share the secret 's'"),
    "entry-owns": ("roles:\n  - {name: r, target: mdb, owns: {schemas: [s]}}\n",
                   "`owns` declares PostgreSQL object owners; MariaDB objects have none"),
    "owned-by-one-role": ("roles:\n  - {name: r, target: pg, owns: {tables: [s.t]}}\n"
                          "  - {name: q, target: pg, owns: [{tables: [s.u, s.t]}]}\n",
                          "role 'q' owns table s.t, which role 'r' owns too"),
    "entry-expiry": ("accounts:\n  - {name: a, target: pg, expires: '2027-02-30T00:00:00Z'}\n",
                     "account 'a': expires '2027-02-30T00:00:00Z' is no instant"),
    "grant-except": ("accounts:\n  - {name: a, target: pg, grants: [{privileges: [SELECT], tables: [s.t], "
                     "except: [s.u]}]}\n", "`except` applies to a PostgreSQL schema.* grant"),
    "declared-in-one-file": (None, "target 'pg' is declared again"),
    "defaults-agree-across-files": (None, "defaults.secret.recovery_days is set differently"),
}
SECOND_FILE = {
    "declared-in-one-file": "version: 1\ntargets:\n  pg: {engine: postgres, admin: {url_env: X}}\n",
    "defaults-agree-across-files": "version: 1\ndefaults: {secret: {recovery_days: 9}}\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_rule_reports_what_breaks_it(name):
    body, message = CASES[name]
    body = body or "defaults: {secret: {recovery_days: 8}}\n"
    if body.startswith("targets:"):  # more targets: a file of their own (one file declares each target)
        sources = [("one.yaml", HEADER), ("two.yaml", "version: 1\n" + body)]
    else:
        sources = [("one.yaml", HEADER + body)]
    if name in SECOND_FILE:
        sources.append(("three.yaml", SECOND_FILE[name]))
    with pytest.raises(ValidationError) as info:
        load_sources(sources)
    found = "\n".join(str(p) for p in info.value.problems)
    assert message in found, found


def test_every_registered_rule_has_its_case_here():
    assert set(RULES) == set(CASES), "a rule needs a case in this file (and this file no case of a rule that left)"
    for rule in RULES.values():
        assert rule.check.__doc__ or rule.check.__module__, rule.name


def test_every_problem_of_every_entry_is_reported_in_one_run():
    """An entry the schema refuses a part of is still checked for everything else (issue 24: five mistakes at
    once, five problems)."""
    body = """accounts:
  - {name: a, target: pg, colour: blue}
  - {name: a, target: pg}
  - {name: b, target: pg, grants: [{privileges: [EXECUTE], tables: [s.t]}, {privileges: [SELECT], views: [x]}]}
  - {name: c, target: pg, member_of: [nobody], connection_limit: "ten"}
  - {name: d, target: nowhere}
"""
    with pytest.raises(ValidationError) as info:
        load_sources([("one.yaml", HEADER + body)])
    found = "\n".join(str(p) for p in info.value.problems)
    for message in ("unknown key 'colour'", "account 'a' is declared twice", "privilege 'EXECUTE' does not apply",
                    "unknown key 'views'", "is a member of 'nobody'", "connection_limit must be integer",
                    "names the unknown target 'nowhere'"):
        assert message in found, (message, found)
