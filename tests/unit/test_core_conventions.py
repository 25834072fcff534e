"""Naming conventions owned by `core.conventions`, and the one secret name every command agrees on."""

from __future__ import annotations

from provisioner.core import changes as c
from provisioner.core.conventions import (
    alternate_username,
    derived_names,
    parse_marker,
    role_comment,
    secret_database,
    secret_name,
)
from provisioner.core.diff import diff_target
from provisioner.core.model import (
    AdminSource,
    CurrentState,
    DatabaseState,
    Principal,
    RotationSettings,
    SecretSettings,
    Target,
    Traits,
)
from provisioner.pipeline.connect import secret_name_of

TEMPLATE = SecretSettings(name="{target}/{database}/{account}")


def test_marker_round_trip_and_derived_names():
    marker = parse_marker(role_comment("reporting job", "films", adopted=True))
    assert marker is not None and (marker.target, marker.adopted, marker.description) == ("films", True,
                                                                                            "reporting job")
    alternating = Principal(name="app", target="films", login=True, rotation=RotationSettings(strategy="alternating"))
    assert derived_names(alternating, "postgres") == ("app_clone", "app_group")
    assert derived_names(alternating, "mariadb") == ("app_clone",)
    assert alternate_username("app") == "app_clone" and alternate_username("app_clone") == "app"


def test_secret_database_prefers_the_target_then_the_admin_connection():
    with_db = Target(name="films", engine="postgres", admin=AdminSource(url_env="X"), database="filmdb")
    without = Target(name="films", engine="postgres", admin=AdminSource(url_env="X"))
    assert secret_database(with_db, "other") == "filmdb"
    assert secret_database(without, "fromurl") == "fromurl"


def test_rotate_and_onboard_name_the_secret_apply_created(monkeypatch):
    """The reported bug: with `{database}` in the template and no `database:` on the target, apply names the
    secret after the admin connection's database, while rotate and onboard used `target.database` (empty), so
    they looked up `films//app`. Now both ask the same function and get the secret apply made."""
    target = Target(name="films", engine="postgres", admin=AdminSource(url_env="FILMS_URL"))
    account = Principal(name="app", target="films", login=True, secret=TEMPLATE)
    monkeypatch.setenv("FILMS_URL", "postgresql://admin:pw-1234@db.example:5432/filmdb")
    state = CurrentState(DatabaseState("15", "admin", {}, [], [], {}), {},
                         {"host": "db.example", "port": 5432, "dbname": "filmdb"})
    created = next(ch for ch in diff_target(target, [account], state, traits=Traits()).changes
                   if isinstance(ch, c.CreateSecret))
    assert created.secret == "films/filmdb/app"
    assert secret_name_of(account, target, None) == created.secret
    # What the old code computed for rotate and onboard:
    assert secret_name(account, target, target.database) == "films//app" != created.secret


def test_the_drop_scope_holds_this_targets_unkept_roles_and_the_absent_ones_only():
    """Inspection counts what roles own only for these: on a shared cluster, other targets' roles are many."""
    from provisioner.core.conventions import EVERY_ROLE, DropScope, role_comment

    scope = DropScope("films", kept=frozenset({"reader"}), absent=frozenset({"old_etl"}))
    ours, theirs = role_comment(None, "films", False), role_comment("x", "billing", False)
    assert scope.may_drop("gone_reader", ours)
    assert not scope.may_drop("reader", ours)  # kept by the manifest
    assert not scope.may_drop("their_reader", theirs)  # another target's
    assert not scope.may_drop("dba", None)  # never managed
    assert scope.may_drop("old_etl", None)  # declared absent
    assert EVERY_ROLE.may_drop("dba", None)
