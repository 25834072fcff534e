"""Saved plans without servers: the inventory is canonical (the same state read in another order, in another
process, gives the same digests), names the first item that changed, leaves out roles nothing here refers to,
and a saved file is refused when edited, of another format, or when the manifest's bytes changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner.core.conventions import role_comment
from provisioner.core.diff import DiffOptions
from provisioner.core.fingerprint import canonical, digest, first_difference, inventory
from provisioner.core.kinds import ObjectKind
from provisioner.core.model import AclGroup, CurrentState, DatabaseState, ObjectRef, RoleState
from provisioner.core.plan import Plan, TargetPlan
from provisioner.errors import ProvisionerError
from provisioner.manifest import load_sources
from provisioner.pipeline.saved import load, manifest_digest, save

TABLE = ObjectKind.TABLE
REFS = [ObjectRef(TABLE, "app", f"t{i}") for i in range(3)]


def state(grants: dict[str, frozenset[str]], roles: dict[str, RoleState], order: int = 1) -> CurrentState:
    group = AclGroup(TABLE, "app", frozenset(REFS[::order]), dict(sorted(grants.items())[::order]))
    db = DatabaseState("15.4", "admin", dict(sorted(roles.items())[::order]), [group], [], {"app": "admin"})
    return CurrentState(db, {}, {})


ROLES = {"admin": RoleState("admin", True), "app": RoleState("app", True, comment=role_comment(None, "t", False)),
         "other_team": RoleState("other_team", True)}


def test_the_inventory_does_not_depend_on_the_order_things_were_read_in():
    grants = {"app": frozenset({"SELECT", "INSERT"}), "reader": frozenset({"SELECT"})}
    assert inventory(state(grants, ROLES, 1), "t") == inventory(state(grants, ROLES, -1), "t")
    assert canonical(frozenset({"b", "a"})) == ["a", "b"]


def test_digests_are_the_same_in_another_process():
    value = {"z": frozenset({"SELECT", "INSERT", "UPDATE"}), "a": [ObjectRef(TABLE, "s", "t")]}
    code = ("from provisioner.core.fingerprint import digest; from provisioner.core.model import ObjectRef; "
            "from provisioner.core.kinds import ObjectKind; print(digest({'z': frozenset({'SELECT', 'INSERT', "
            "'UPDATE'}), 'a': [ObjectRef(ObjectKind.TABLE, 's', 't')]}))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.strip()
    assert other == digest(value)


def test_the_first_difference_names_the_object_and_roles_of_other_teams_are_left_out():
    before = inventory(state({"app": frozenset({"SELECT"})}, ROLES), "t", {"app"})
    assert "role other_team" not in before and "role app" in before and "table app.t1" in before
    after = inventory(state({"app": frozenset({"SELECT"}), "intruder": frozenset({"SELECT"})},
                            {**ROLES, "intruder": RoleState("intruder", True)}), "t", {"app"})
    assert first_difference(before, after) == "role intruder appeared"
    changed = dict(before)
    changed["table app.t2"] = "0" * 16
    assert first_difference(before, changed) == "table app.t2 changed"
    assert first_difference(before, before) is None
    unrelated = inventory(state({"app": frozenset({"SELECT"})}, {**ROLES, "newcomer": RoleState("newcomer", True)}),
                          "t", {"app"})
    assert unrelated == before  # a role of another team that nothing here refers to


def _saved(tmp_path: Path) -> tuple[Path, Path]:
    manifest_file = tmp_path / "accounts.yaml"
    manifest_file.write_text("version: 1\ntargets:\n  t: {engine: postgres, database: d, admin: {url_env: X}}\n")
    manifest = load_sources([(str(manifest_file), manifest_file.read_text())])
    plan = Plan([TargetPlan("t", "postgres", identity="postgres:1", inventory={"role app": "ab"})])
    path = tmp_path / "plan.json"
    save(path, plan, manifest, DiffOptions(), {"kind": "plan"})
    return path, manifest_file


def test_a_saved_plan_round_trips_and_an_edited_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, manifest_file = _saved(tmp_path)
    saved = load(path)
    assert saved.targets["t"].identity == "postgres:1" and saved.manifest == manifest_digest([str(manifest_file)])
    document = json.loads(path.read_text())
    document["targets"][0]["identity"] = "postgres:2"
    path.write_text(json.dumps(document))
    with pytest.raises(ProvisionerError, match="was changed after it was written"):
        load(path)
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ProvisionerError, match="is not a saved plan"):
        load(path)
    with pytest.raises(ProvisionerError, match="does not exist"):
        load(tmp_path / "missing.json")


def test_the_manifest_digest_follows_the_bytes_and_the_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "accounts.yaml").write_text("version: 1\n")
    first = manifest_digest(["accounts.yaml"])
    assert manifest_digest([str(tmp_path / "accounts.yaml")]) == first  # absolute or relative: the same file
    (tmp_path / "accounts.yaml").write_text("version: 1\n# a comment\n")
    assert manifest_digest(["accounts.yaml"]) != first


def test_a_plan_with_errors_is_not_saved(tmp_path):
    manifest = load_sources([("a.yaml", "version: 1\n")])
    with pytest.raises(ProvisionerError, match="no plan saved"):
        save(tmp_path / "p.json", Plan([TargetPlan("t", "postgres", errors=["boom"])]), manifest, DiffOptions(), {})
    assert not (tmp_path / "p.json").exists()


def test_the_inventory_covers_other_databases_secrets_default_privileges_and_what_no_grant_may_name():
    from datetime import datetime, timezone

    from provisioner.core import changes as c
    from provisioner.core.fingerprint import step_facts, steps_digest
    from provisioner.core.model import DefaultAcl, SecretState
    from provisioner.core.plan import Step

    base = state({"app": frozenset({"SELECT"})}, ROLES)
    lang = ObjectRef(ObjectKind.LANGUAGE, "", "c")
    other = DatabaseState("15.4", "admin", {}, [AclGroup(TABLE, "s", frozenset({REFS[0]}), {})],
                          [DefaultAcl("admin", "s", TABLE, {"app": frozenset({"SELECT"})})], {"s": "admin"},
                          ungrantable={lang: "is not trusted"})
    secret = SecretState("t/app", "arn:1", "t", "app", {}, None, None, {"v1": ("AWSCURRENT",)}, {}, True)
    foreign = SecretState("u/app", "arn:2", "u", "app", {}, None, None, {}, {}, True)
    full = CurrentState(base.database, {"t/app": secret, "u/app": foreign, "named": foreign}, {}, {"billing": other})
    items = inventory(full, "t", {"app"}, {"named"})
    assert "in database billing: table app.t0" in items and "in database billing: owner of schema s" in items
    assert "in database billing: default privileges of admin on table in s" in items
    assert "in database billing: language c (not grantable)" in items
    assert "secret t/app" in items and "secret named" in items and "secret u/app" not in items
    fewer = {k: v for k, v in items.items() if k != "secret t/app"}
    assert first_difference(items, fewer) == "secret t/app is gone"
    change = c.DeleteSecret(action="-", target="t", principal="app", secret="t/app", recovery_days=7)
    assert step_facts([Step(change, ())])[0][:2] == ["-", "delete_secret"]
    assert steps_digest([Step(change, ())]) != steps_digest([])
    assert canonical(datetime(2027, 1, 1, tzinfo=timezone.utc)) == "2027-01-01T00:00:00+00:00"
    assert canonical(ObjectKind.TABLE) == "table"


@pytest.mark.parametrize("damage", [
    lambda d: d.pop("options"),
    lambda d: d["options"].update(now="yesterday"),
    lambda d: d.update(targets=[{"name": "t"}]),
    lambda d: d.update(targets="t"),
])
def test_a_hand_made_file_whose_digest_matches_is_refused_clearly(tmp_path, monkeypatch, damage):
    """The digest guards against accidents, not authors: a file rebuilt with a matching digest but missing what
    plan --out writes is a clear refusal, never an internal error."""
    monkeypatch.chdir(tmp_path)
    path, _ = _saved(tmp_path)
    document = json.loads(path.read_text())
    document.pop("digest")
    damage(document)
    path.write_text(json.dumps({**document, "digest": "sha256:" + digest(document)}))
    with pytest.raises(ProvisionerError, match="lacks what plan --out writes"):
        load(path)
