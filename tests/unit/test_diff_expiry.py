"""Expiry and exclusions (SPEC 11) as the pure diff sees them: an expired account, membership or grant is treated as
absent from its instant (dropped, revoked, or never created), the plan says what expired and what expires within
a week, `diff` refuses an addition that has already expired, and `except:` keeps a `schema.*` grant off the
objects it names."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from provisioner.core import changes as c
from provisioner.core.conventions import role_comment
from provisioner.core.diff import DiffOptions, diff_target
from provisioner.core.diff.expiry import expired_additions
from provisioner.core.engine_facts import traits
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import (
    AclGroup,
    AdminSource,
    CurrentState,
    DatabaseState,
    Grant,
    ObjectRef,
    Principal,
    RoleState,
    RotationSettings,
    Target,
)
from provisioner.manifest import load_sources
from provisioner.pipeline.offline import offline_plan

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=timezone.utc)
PAST, SOON, LATER = NOW - timedelta(seconds=1), NOW + timedelta(days=3), NOW + timedelta(days=30)
TARGET = Target(name="films", engine="postgres", admin=AdminSource(url_env="X"), database="filmdb")
PG = traits("postgres", "15.4")
TABLE, SCHEMA, DATABASE = ObjectKind.TABLE, ObjectKind.SCHEMA, ObjectKind.DATABASE
T = {name: ObjectRef(TABLE, "app", name) for name in ("films", "audit_log", "tmp_1", "tmp_2")}


def state(roles=(), groups=()) -> CurrentState:
    base = [AclGroup(DATABASE, "", frozenset({ObjectRef(DATABASE, "", "filmdb")}), {}),
            AclGroup(SCHEMA, "", frozenset({ObjectRef(SCHEMA, "", "app")}), {})]
    db = DatabaseState("15.4", "dbadmin", {r.name: r for r in roles}, base + list(groups), [], {"app": "dbadmin"},
                       name="filmdb")
    return CurrentState(db, {}, {"host": "h", "port": 5432, "dbname": "filmdb"})


def managed(name: str, login: bool = False, **kw) -> RoleState:
    return RoleState(name=name, login=login, comment=role_comment(None, "films", False), **kw)


def account(name: str, *grants: Grant, **kw) -> Principal:
    return Principal(name=name, target="films", login=True, grants=grants, rotation=RotationSettings("none"), **kw)


def diff(principals, current) -> object:
    return diff_target(TARGET, principals, current, DiffOptions(now=NOW), PG)


def test_an_expired_account_is_dropped_and_one_that_does_not_exist_is_not_created():
    expired = account("contractor", Grant(T["films"], frozenset({"SELECT"})), expires=PAST)
    result = diff([expired], state(roles=[managed("contractor", True)]))
    assert [type(ch) for ch in result.changes if isinstance(ch, c.DropRole)] == [c.DropRole]
    assert any("account contractor expired at 2027-03-01T11:59:59Z: treated as absent" in w for w in result.warnings)
    nothing = diff([expired], state())
    assert nothing.changes == []
    alive = diff([replace(expired, expires=LATER)], state())
    assert any(isinstance(ch, c.CreateRole) for ch in alive.changes) and not alive.warnings


def test_an_expired_grant_is_revoked_or_never_made_and_a_soon_one_is_announced():
    films = AclGroup(TABLE, "app", frozenset({T["films"]}), {"app": frozenset({"SELECT"})})
    expired = account("app", Grant(T["films"], frozenset({"SELECT"}), expires=PAST))
    result = diff([expired], state(roles=[managed("app", True)], groups=[films]))
    [revoke] = [ch for ch in result.changes if isinstance(ch, c.RevokePrivileges) and ch.kind == TABLE]
    assert revoke.privileges == ("SELECT",)
    assert any("SELECT on table app.films expired" in w for w in result.warnings)
    soon = diff([account("app", Grant(T["films"], frozenset({"SELECT"}), expires=SOON))],
                state(roles=[managed("app", True)], groups=[films]))
    assert not [ch for ch in soon.changes if isinstance(ch, c.PrivilegeChange) and ch.kind == TABLE]
    assert "app: SELECT on table app.films expires at 2027-03-04T12:00:00Z (in 3 days)" in soon.warnings


def test_an_expired_membership_is_revoked():
    member = account("app", member_of=("readers", "writers"), membership_expiry=(("writers", PAST),))
    roles = [managed("app", True, member_of=frozenset({"readers", "writers"})), managed("readers"), managed("writers")]
    result = diff([member, Principal("readers", "films", False), Principal("writers", "films", False)],
                  state(roles=roles))
    assert [(ch.role, ch.member) for ch in result.changes if isinstance(ch, c.RevokeMembership)] == [("writers", "app")]


def test_diff_refuses_adding_what_has_already_expired_but_not_keeping_it():
    before = [account("app", Grant(T["films"], frozenset({"SELECT"})))]
    after = [account("app", Grant(T["films"], frozenset({"SELECT"}), expires=PAST),
                     Grant(T["audit_log"], frozenset({"SELECT"}), expires=PAST)),
             account("temp", expires=PAST, member_of=("r",), membership_expiry=(("r", PAST),))]
    found = expired_additions(before, after, NOW)
    assert found == ["app: SELECT on table app.audit_log is added with `expires: 2027-03-01T11:59:59Z`, which is past",
                     "account temp is added with `expires: 2027-03-01T11:59:59Z`, which is past",
                     "temp: the membership in r is added with `expires: 2027-03-01T11:59:59Z`, which is past"]


def test_the_offline_diff_is_an_error_for_an_expired_addition():
    head = load_sources([("a.yaml", "version: 1\ntargets:\n  films: {engine: postgres, database: filmdb, admin: "
                                    "{url_env: X}}\naccounts:\n  - {name: temp, target: films, expires: "
                                    "'2020-01-01T00:00:00Z'}\n")])
    base = load_sources([("a.yaml", "version: 1\ntargets:\n  films: {engine: postgres, database: filmdb, admin: "
                                    "{url_env: X}}\n")])
    plan = offline_plan(base, head, now=NOW)
    assert plan.errors == ["account temp is added with `expires: 2020-01-01T00:00:00Z`, which is past"]


def test_except_keeps_a_schema_wildcard_off_the_objects_it_names_and_takes_back_what_they_hold():
    tables = AclGroup(TABLE, "app", frozenset(T.values()), {"app": frozenset({"SELECT"})})
    wildcard = Grant(ObjectRef(TABLE, "app", "*"), frozenset({"SELECT", "INSERT"}), excluded=("audit_log", "tmp_*"))
    result = diff([account("app", wildcard)], state(roles=[managed("app", True)], groups=[tables]))
    changes = [(type(ch).__name__, sorted(str(o) for o in ch.objects), ch.privileges, ch.all_in_schema)
               for ch in result.changes if isinstance(ch, c.PrivilegeChange) and ch.kind == TABLE]
    assert changes == [("GrantPrivileges", ["app.films"], ("INSERT",), False),
                       ("RevokePrivileges", ["app.audit_log", "app.tmp_1", "app.tmp_2"], ("SELECT",), False)]
    # default privileges cannot except: later objects get them, and the next apply takes them back
    assert [ch.privileges for ch in result.changes if isinstance(ch, c.GrantDefaultPrivileges)] == [
        ("INSERT", "SELECT")]


def test_an_object_another_wildcard_grant_covers_keeps_that_grant():
    tables = AclGroup(TABLE, "app", frozenset(T.values()), {})
    grants = (Grant(ObjectRef(TABLE, "app", "*"), frozenset({"SELECT"}), excluded=("audit_log",)),
              Grant(ObjectRef(TABLE, "app", "*"), frozenset({"SELECT", "UPDATE"}), excluded=("tmp_*",)))
    result = diff([account("app", *grants)], state(roles=[managed("app", True)], groups=[tables]))
    held = {}
    for ch in result.changes:
        if isinstance(ch, c.GrantPrivileges) and ch.kind == TABLE:
            for ref in ch.objects:
                held.setdefault(ref.name, set()).update(ch.privileges)
    assert held == {"films": {"SELECT", "UPDATE"}, "tmp_1": {"SELECT"}, "tmp_2": {"SELECT"},
                    "audit_log": {"SELECT", "UPDATE"}}
