"""The diff's rules for roles and secrets over time, without a server: accounts declared absent (and those another
target owns), roles leaving the file (and markers that may be forged), IAM authentication, PUBLIC, membership
options by server version, retirement, the secret of an account in each state, rotation schedules, and the reader
of secret values."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_diff_rules import PG, TARGET, managed, role, state

from provisioner.core import changes as c
from provisioner.core import schedule
from provisioner.core.binding import BINDING_TAG, endpoint_of, record
from provisioner.core.checks import FAIL, PASS, SKIP, SecretReport
from provisioner.core.conventions import role_comment
from provisioner.core.diff import diff_target
from provisioner.core.engine_facts import traits
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import (
    AclGroup,
    DefaultAcl,
    Grant,
    MembershipOptions,
    ObjectRef,
    RetireSettings,
    RotationSettings,
    SecretSettings,
    SecretState,
    Target,
)
from provisioner.core.secret_value import SecretValueError, conninfo, fields_for, value_problem
from provisioner.render.doctor import doctor_json, doctor_text

MARIA = traits("mariadb")
MDB = Target(name="films", engine="mariadb", admin=TARGET.admin, database="billing")


def types(result) -> list[str]:
    return [type(ch).__name__ for ch in result.changes]


def secret_of(name: str, fields: dict, tags: dict | None = None, **kw) -> SecretState:
    tags = {"provisioner:managed": "true", "provisioner:target": "films", "provisioner:account": name,
            BINDING_TAG: record(endpoint_of(fields, name)), **(tags or {})}
    return SecretState(name=f"films/{name}", arn="arn", target="films", account=name, tags=tags, kms_key=None,
                       description=f"Credentials of database account {name} on target films (managed by "
                                   f"provisioner)", stages={"v1": ("AWSCURRENT",)}, fields=fields,
                       has_password=True, **kw)


FIELDS = {"engine": "postgres", "host": "h", "port": 5432, "username": "app", "dbname": "filmdb"}


# ---------------------------------------------------------------- roles that go


def test_absent_drops_its_own_role_and_refuses_another_targets():
    mine = managed("gone", login=True)
    theirs = replace(managed("theirs"), comment=role_comment(None, "other", False))
    result = diff_target(TARGET, [role("gone", login=True, state="absent"), role("theirs", state="absent")],
                         state([mine, theirs]), traits=PG)
    assert "DropRole" in types(result)
    assert result.errors == ["theirs is declared absent, but it is managed by target 'other' (same server): only "
                             "that target may drop it"]


def test_a_marker_anyone_else_could_write_never_drops_a_role():
    bystander = replace(managed("bystander", login=True), host="%")
    insider = replace(managed("insider", login=True), host="%")
    identity = MARIA.identity
    writable = AclGroup(ObjectKind.TABLE, "pro%", frozenset({ObjectRef(ObjectKind.TABLE, "pro%", "*")}),
                        {identity("insider", "%"): frozenset({"INSERT"})})
    roles = {identity(r.name, "%"): r for r in (bystander, insider)}
    found = state([], groups=[writable])
    found.database.roles = roles
    result = diff_target(MDB, [role("insider", login=True)], found, traits=MARIA)
    assert any("bystander would be dropped" in e and "'insider'@'%' can write provisioner_meta" in e
               for e in result.errors), result.errors
    assert "DropRole" not in types(result)
    # one who may also CREATE USER could drop the account anyway: a marker gives it nothing more
    creator = AclGroup(ObjectKind.GLOBAL, "", frozenset({ObjectRef(ObjectKind.GLOBAL, "", "*")}),
                       {identity("insider", "%"): frozenset({"CREATE USER"})})
    found.database.acl_groups.append(creator)
    assert "DropRole" in types(diff_target(MDB, [role("insider", login=True)], found, traits=MARIA))


def test_an_adopted_role_that_leaves_is_kept_with_a_warning():
    adopted = replace(managed("legacy", login=True), comment=role_comment(None, "films", True))
    result = diff_target(TARGET, [], state([adopted]), traits=PG)
    assert result.changes == [] and "it was adopted, not created, so it is left as is" in result.warnings[0]


def test_a_role_owning_objects_needs_retire_and_retires_to_a_known_heir():
    owner = replace(managed("batch", login=True), owned_objects=3, owned_example="table app.t")
    refused = diff_target(TARGET, [role("batch", login=True, state="absent")], state([owner]), traits=PG)
    assert "batch cannot be dropped: it owns 3 object(s) in database filmdb (e.g. table app.t)" in refused.errors[0]
    retired = diff_target(TARGET, [role("heir"), role("batch", login=True, state="absent",
                                                      retire=RetireSettings("heir", terminate_sessions=True))],
                          state([owner, managed("heir")]), traits=PG)
    steps = ("AlterRole", "TerminateSessions", "ReassignOwned", "DropOwned", "DropRole")
    assert [t for t in types(retired) if t in steps] == list(steps)
    unknown = diff_target(TARGET, [role("batch", login=True, state="absent", retire=RetireSettings("nobody"))],
                          state([owner]), traits=PG)
    assert "batch cannot be retired to nobody: role nobody does not exist" in unknown.errors[0]


def test_a_role_holding_something_in_an_unmanaged_database_is_not_dropped():
    elsewhere = replace(managed("batch", login=True), held_in={"otherdb": 2})
    result = diff_target(TARGET, [], state([elsewhere]), traits=PG)
    assert "databases target films does not manage (2 in database otherdb)" in result.errors[0]


# ---------------------------------------------------------------- memberships, IAM, PUBLIC


def test_membership_options_need_postgresql_16_and_admin_option_widens_power():
    member = role("app", login=True, member_of=("ops",),
                  membership_options=(("ops", MembershipOptions(admin=True, inherit=False)),))
    old = diff_target(TARGET, [role("ops"), member], state([managed("ops")]), traits=PG)
    assert "membership option(s) inherit of ops need PostgreSQL 16" in old.errors[0]
    grant = next(ch for ch in old.changes if isinstance(ch, c.GrantMembership))
    assert grant.widens == "ADMIN OPTION on ops (may grant it to others)"
    now = replace(managed("app", login=True), member_of=frozenset({"ops"}),
                  membership_options={"ops": {"admin": False, "inherit": True}})
    newer = state([managed("ops"), now])
    newer.database.server_version = "16.4"
    altered = [ch for ch in diff_target(TARGET, [role("ops"), member], newer, traits=PG).changes
               if isinstance(ch, c.AlterMembership)]
    assert altered[0].new == (("admin", True), ("inherit", False)) and altered[0].widens


def test_iam_accounts_join_rds_iam_and_need_it():
    iam = role("etl", login=True, auth="iam", rotation=RotationSettings(strategy="none"))
    without = diff_target(TARGET, [iam], state(), traits=PG)
    assert "`auth: iam` needs the role rds_iam" in without.errors[0]
    result = diff_target(TARGET, [iam], state([managed("rds_iam")]), traits=PG)
    assert any(isinstance(ch, c.GrantMembership) and ch.role == "rds_iam" for ch in result.changes)
    assert not any(isinstance(ch, c.CreateSecret) for ch in result.changes)


def test_public_loses_what_revoke_names_and_gets_what_grants_name():
    target = replace(TARGET, public_revoke=(Grant(ObjectRef(ObjectKind.DATABASE, "", "filmdb"),
                                                  frozenset({"CONNECT", "TEMPORARY"})),
                                            Grant(ObjectRef(ObjectKind.FUNCTION, "app", "*"), frozenset({"EXECUTE"}))),
                     public_grants=(Grant(ObjectRef(ObjectKind.SCHEMA, "", "app"), frozenset({"USAGE"})),))
    found = state([managed("app_owner")], groups=[AclGroup(ObjectKind.FUNCTION, "app", frozenset(
        {ObjectRef(ObjectKind.FUNCTION, "app", "f()")}), {"PUBLIC": frozenset({"EXECUTE"})})])
    found.database.acl_groups[0] = AclGroup(ObjectKind.DATABASE, "", frozenset({ObjectRef(ObjectKind.DATABASE, "",
                                                                                          "filmdb")}),
                                            {"PUBLIC": frozenset({"CONNECT", "TEMPORARY"})})
    result = diff_target(target, [], found, traits=PG)
    public = [(type(ch).__name__, ch.kind, ch.privileges) for ch in result.changes if ch.principal == "PUBLIC"]
    assert ("GrantPrivileges", ObjectKind.SCHEMA, ("USAGE",)) in public
    assert ("RevokePrivileges", ObjectKind.DATABASE, ("CONNECT", "TEMPORARY")) in public
    assert ("RevokePrivileges", ObjectKind.FUNCTION, ("EXECUTE",)) in public
    assert ("RevokeDefaultPrivileges", ObjectKind.FUNCTION, ("EXECUTE",)) in public  # future functions too
    missing = replace(target, public_grants=(Grant(ObjectRef(ObjectKind.SCHEMA, "", "nowhere"),
                                                   frozenset({"USAGE"})),))
    assert "public_privileges: schema nowhere does not exist" in diff_target(missing, [], found, traits=PG).errors[0]
    done = state([], defaults=[DefaultAcl("app_owner", "", ObjectKind.FUNCTION, {})])
    assert not any(isinstance(ch, c.RevokeDefaultPrivileges)
                   for ch in diff_target(target, [], done, traits=PG).changes)


# ---------------------------------------------------------------- the secret of an account


def test_each_state_of_a_secret_gets_what_it_needs():
    app = role("app", login=True)
    exists = [managed("app", login=True)]
    assert types(diff_target(TARGET, [app], state(exists, secrets=[secret_of("app", FIELDS)]), traits=PG)) == []
    moved = secret_of("app", {**FIELDS, "host": "elsewhere"})
    assert types(diff_target(TARGET, [app], state(exists, secrets=[moved]), traits=PG)) == [
        "UpdateSecret", "UpdateSecret"]  # the value's fields, and the binding tag
    broken = replace(secret_of("app", {}), problem="the value is not JSON")
    reset = diff_target(TARGET, [app], state(exists, secrets=[broken]), traits=PG)
    assert types(reset) == ["ResetPassword", "UpdateSecret"] and "not JSON" in reset.changes[0].reason
    left = replace(secret_of("app", FIELDS), left_pending="v2")
    assert "left version v2 pending" in diff_target(TARGET, [app], state(exists, secrets=[left]),
                                                    traits=PG).changes[0].reason
    recreated = diff_target(TARGET, [app], state([], secrets=[broken]), traits=PG)
    assert types(recreated)[:2] == ["CreateSecret", "CreateRole"] and recreated.changes[0].reuse_existing
    other = replace(secret_of("app", FIELDS), account="someone")
    assert "belongs to account 'someone'" in diff_target(TARGET, [app], state(exists, secrets=[other]),
                                                         traits=PG).errors[0]
    adopted = diff_target(TARGET, [replace(app, adopted=True)], state(exists), traits=PG)
    assert adopted.changes == [] and "adopted account app has no secret" in adopted.warnings[0]
    without = diff_target(TARGET, [app], state(exists), traits=PG)
    assert types(without) == ["CreateSecret", "SetPassword"] and "exists without a secret" in without.warnings[0]


def test_secret_metadata_and_rotation_follow_the_manifest():
    app = role("app", login=True, secret=SecretSettings(kms_key="alias/k", tags=(("team", "a"),),
                                                       description="mine"),
               rotation=RotationSettings(strategy="single", schedule="rate(30 days)",
                                         function="arn:aws:lambda:us-east-1:123456789012:function:f"))
    result = diff_target(TARGET, [app], state([managed("app", login=True)], secrets=[secret_of("app", FIELDS)]),
                         traits=PG)
    settings = [ch.setting for ch in result.changes if isinstance(ch, c.UpdateSecret)]
    assert settings == ["description", "kms_key", "tags"]
    assert any(isinstance(ch, c.ConfigureRotation) for ch in result.changes)
    enabled = secret_of("app", FIELDS, tags={"provisioner:rotation": "x"}, rotation_enabled=True,
                        rotation_lambda="arn:aws:lambda:us-east-1:123456789012:function:f")
    off = diff_target(TARGET, [role("app", login=True)], state([managed("app", login=True)], secrets=[enabled]),
                      traits=PG)
    assert types(off) == ["DisableRotation"]


def test_secrets_of_accounts_that_went_are_deleted_with_their_recovery_window():
    gone = secret_of("gone", {**FIELDS, "username": "gone"})
    iam = secret_of("now_iam", {**FIELDS, "username": "now_iam"})
    result = diff_target(TARGET, [role("now_iam", login=True, auth="iam", rotation=RotationSettings("none")),
                                  role("gone", login=True, state="absent", secret=SecretSettings(recovery_days=21))],
                         state([managed("rds_iam"), managed("now_iam", login=True)], secrets=[gone, iam]),
                         traits=PG)
    deleted = {ch.secret: ch.recovery_days for ch in result.changes if isinstance(ch, c.DeleteSecret)}
    assert deleted == {"films/gone": 21, "films/now_iam": 7}


def test_fields_and_conninfo_read_a_value_the_one_way():
    app = role("app", login=True, grants=(Grant(ObjectRef(ObjectKind.TABLE, "public", "t"), frozenset({"SELECT"}),
                                                database="other"),))
    assert fields_for(app, TARGET, {"host": "h", "port": 1, "dbname": "filmdb"})["dbname"] == "other"
    info = conninfo({"engine": "aurora-mysql", "host": "h", "username": "u", "password": "p", "ssl": "true"})
    assert (info.engine, info.port, info.dbname, info.tls.mode) == ("mysql", 3306, None, "require")
    assert conninfo({"host": "h", "username": "u", "password": "p", "ssl": False}).tls.mode == "disable"
    for bad, message in [({}, "no host"), ({"host": "h"}, "no username"), ({"host": "h", "username": "u"},
                                                                           "no password"),
                         ({"host": "h", "username": "u", "password": "p", "port": "x"}, "not a number"),
                         ([1], "not a JSON object")]:
        with pytest.raises(SecretValueError, match=message):
            conninfo(bad)  # type: ignore[arg-type]
    assert value_problem(None) == "the value is JSON null, not a JSON object"


# ---------------------------------------------------------------- schedules


def test_schedules_compare_semantically_and_invalid_ones_are_refused():
    settings = RotationSettings(strategy="single", schedule="rate(30 days)", window="4h",
                                function="arn:aws:lambda:us-east-1:123456789012:function:f")
    fn = settings.function
    assert schedule.in_sync(settings, True, fn, {"ScheduleExpression": "rate(30 days)", "Duration": "4h"}, None)
    assert schedule.in_sync(settings, True, fn, {"AutomaticallyAfterDays": 30, "Duration": "4h"}, None)
    assert not schedule.in_sync(settings, True, fn, {"AutomaticallyAfterDays": 7}, None)
    assert not schedule.in_sync(settings, True, fn + "x", {"AutomaticallyAfterDays": 30}, None)
    assert not schedule.in_sync(settings, True, fn, {"AutomaticallyAfterDays": 30, "Duration": "2h"}, None)
    assert schedule.in_sync(settings, False, fn, {}, schedule.fingerprint(settings))
    assert schedule.in_sync(RotationSettings("none"), False, None, {}, None)
    assert not schedule.in_sync(RotationSettings("none"), True, fn, {}, None)
    assert schedule.parse(30) == schedule.parse("rate(30 days)") == schedule.parse("rate(720 hours)")
    assert schedule.parse("rate(6 hours)").expression == "rate(6 hours)"
    assert schedule.parse("rate(1 day)").expression == "rate(1 day)"
    assert schedule.parse("cron(0 0,12 * * ? *)").expression == "cron(0 0,12 * * ? *)"
    assert schedule.parse("cron(0 */6 * * ? *)").cron and schedule.parse("cron(0 1-13/6 * * ? *)").cron
    assert schedule.reported_schedule({"ScheduleExpression": "cron(bad)"}) == schedule.Schedule(cron="cron(bad)")
    assert schedule.reported_schedule({}) is None
    assert schedule.rotation_rules_text(settings) == "Duration=4h ScheduleExpression=rate(30 days)"
    for bad in ("rate(2 hours)", "rate(0 days)", "rate(1001 days)", "1001", "cron(5 4 * * ? *)",
                "cron(0 */2 * * ? *)", "cron(0 4 * *)", "cron(0 4 1 * MON *)", "cron(0 x * * ? *)",
                "cron(0 5-2 * * ? *)", "cron(0 */0 * * ? *)", "cron(0 1-x * * ? *)", "every day"):
        with pytest.raises(schedule.ScheduleError):
            schedule.parse(bad)
    for window in ("0h", "25h", "4m"):
        with pytest.raises(schedule.ScheduleError):
            schedule.window_hours(window)
    assert schedule.window_hours(None) is None and schedule.window_hours("4h") == 4


# ---------------------------------------------------------------- the doctor's report


def test_the_doctor_report_counts_and_says_each_fix():
    report = SecretReport("films/app", "films", "app")
    report.add("rotation-enabled", PASS, "ok")
    report.add("function-exists", FAIL, "missing", "deploy it")
    report.add("vpc-route-to-secrets-manager", SKIP, "no VPC")
    text = doctor_text([report])
    assert "fix: deploy it" in text and "Doctor: 1 passed, 1 failed, 1 skipped." in text and report.failed
    assert '"status": "FAIL"' in doctor_json([report])
    assert "no managed secrets on the selected targets" in doctor_text([])
