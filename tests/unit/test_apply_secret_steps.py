"""The secret protocol (`pipeline.secret_steps`) and `apply_target`'s three passes over it, driven against a fake
store and a fake database session: the order of calls for each change type, and what a fault at each checkpoint
leaves behind (secret written before any password; pending versions promoted only after the commit)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from provisioner import faults
from provisioner.core import changes as c
from provisioner.core.conventions import SYNC_TAG, role_comment
from provisioner.core.diff import DiffOptions
from provisioner.core.model import (
    AclGroup,
    AdminSource,
    ConnInfo,
    DatabaseState,
    Manifest,
    ObjectRef,
    Principal,
    RoleState,
    SecretState,
    Target,
    Traits,
)
from provisioner.engines.base import Engine, Session, Statement
from provisioner.errors import ApplyError
from provisioner.pipeline.apply import apply_target
from provisioner.pipeline.connect import Connection
from provisioner.pipeline.secret_steps import PROTOCOL

TARGET = Target(name="films", engine="postgres", admin=AdminSource(url_env="X"), database="filmdb")
CHECKPOINTS = ["after-secret-write", "before-database", "between-statements", "before-commit", "after-commit",
               "after-secret-finish"]


class FakeStore:
    """Secrets Manager in memory; every call is recorded as (operation, secret)."""

    def __init__(self, secrets: dict[str, SecretState] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.values: dict[tuple[str, str], dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.secrets = secrets or {}
        self.counter = 0

    def managed(self, refresh: bool = False, targets: Any = None) -> dict[str, SecretState]:
        return self.secrets

    def random_password(self, length: int, exclude_characters: str) -> str:
        self.counter += 1
        self.calls.append(("random_password", ""))
        return f"pw-{self.counter}-" + "x" * 8

    def create(self, name: str, value: Any, kms_key: Any, description: str, tags: Any) -> str:
        self.calls.append(("create", name))
        self.values[(name, "AWSCURRENT")] = dict(value)
        self.tags[name] = dict(tags)
        return f"arn:{name}"

    def get_value(self, secret_id: str, stage: str = "AWSCURRENT", version: str | None = None) -> dict[str, Any]:
        self.calls.append(("get_value", secret_id))
        return dict(self.values[(secret_id, version or stage)])

    def put_value(self, secret_id: str, value: Any, stages: list[str], token: str | None = None) -> str:
        self.calls.append(("put_value:" + "+".join(stages), secret_id))
        version = f"v{len(self.calls)}"
        self.values[(secret_id, version)] = dict(value)
        for stage in stages:
            self.values[(secret_id, stage)] = dict(value)
        return version

    def promote(self, secret_id: str, version: str) -> None:
        self.calls.append(("promote", secret_id))
        self.values[(secret_id, "AWSCURRENT")] = self.values[(secret_id, version)]

    def tag(self, secret_id: str, tags: Any) -> None:
        self.calls.append(("tag", secret_id))
        self.tags.setdefault(secret_id, {}).update(tags)

    def untag(self, secret_id: str, keys: list[str]) -> None:
        self.calls.append(("untag", secret_id))
        for key in keys:
            self.tags.get(secret_id, {}).pop(key, None)

    def update(self, secret_id: str, description: str | None = None, kms_key: str | None = None) -> None:
        self.calls.append(("update", secret_id))

    def configure_rotation(self, secret_id: str, function: str, rules: Any, rotate_immediately: bool) -> None:
        self.calls.append(("configure_rotation", secret_id))

    def cancel_rotation(self, secret_id: str) -> None:
        self.calls.append(("cancel_rotation", secret_id))

    def delete(self, secret_id: str, recovery_days: int) -> None:
        self.calls.append(("delete", secret_id))


class FakeSession(Session):
    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log
        self.committed: list[str] = []
        self.open: list[str] = []

    def query(self, sql: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return []

    def execute(self, statement: Statement) -> None:
        self.log.append(("execute", statement.display))
        self.open.append(statement.display)

    def close(self) -> None:
        pass

    @contextmanager
    def target_lock(self, target: str, timeout_seconds: int | None = None) -> Iterator[None]:
        yield

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.open = []
        yield  # an exception here rolls back: nothing of `open` is committed
        self.committed += self.open
        self.log.append(("commit", ""))


class FakeEngine(Engine):
    """Statements name the change and the password they would set; one transaction per target."""

    name = "postgres"
    family = "postgres"
    default_port = 5432

    def __init__(self, state: DatabaseState, log: list[tuple[str, str]]) -> None:
        self.state = state
        self.log = log

    def connect(self, info: ConnInfo, connect_timeout: int = 10) -> Session:
        raise NotImplementedError

    def inspect(self, session: Session, kept: frozenset[str] = frozenset()) -> DatabaseState:
        return self.state

    def server_identity(self, session: Session) -> str:
        return "fake"

    def statements(self, change: c.AnyChange, password: str | None = None, session: Session | None = None,
                   server_version: str | None = None) -> list[Statement]:
        name = getattr(change, "name", getattr(change, "grantee", ""))
        return [Statement(display=f"{change.type_name} {name}" + (f" password={password}" if password else ""))]

    def set_password(self, session: Session, user: str, host: str | None, password: str) -> None:
        raise NotImplementedError

    @property
    def traits(self) -> Traits:
        return Traits(implied_grants=True, schema_wildcards=True)


def world(roles: dict[str, RoleState] | None = None, secrets: dict[str, SecretState] | None = None
          ) -> tuple[Connection, FakeStore, list[tuple[str, str]]]:
    groups = [AclGroup("database", "", frozenset({ObjectRef("database", "", "filmdb")}), {"PUBLIC": frozenset({
        "CONNECT"})})]
    state = DatabaseState(server_version="15", admin_user="admin", roles=roles or {}, acl_groups=groups,
                          default_acls=[], schema_owners={})
    store = FakeStore(secrets)
    log = store.calls  # one timeline for the store and the database
    engine = FakeEngine(state, log)
    info = ConnInfo("postgres", "db.example", 5432, "admin", "admin-password", "filmdb")
    return Connection(TARGET, engine, info, FakeSession(log)), store, log


def manifest(*principals: Principal) -> Manifest:
    return Manifest(targets={"films": TARGET}, principals=principals)


ACCOUNT = Principal(name="app", target="films", login=True)


def secret_state(**kw: Any) -> SecretState:
    base = dict(name="films/app", arn="arn:films/app", target="films", account="app",
                tags={"provisioner:managed": "true", "provisioner:target": "films", "provisioner:account": "app"},
                kms_key=None, description=None, stages={"v0": ("AWSCURRENT",)},
                fields={"engine": "postgres", "host": "db.example", "port": 5432, "username": "app",
                        "dbname": "filmdb"}, has_password=True)
    base.update(kw)
    return SecretState(**base)  # type: ignore[arg-type]


def test_every_secret_touching_change_type_has_a_protocol_row():
    touching = [t for group in c.ORDER for t in group if issubclass(t, c.SecretChange)]
    assert set(touching) <= set(PROTOCOL)
    assert {c.CreateRole, c.SetPassword} <= set(PROTOCOL)  # they take passwords


def test_new_account_secret_written_before_the_role_and_sync_tag_cleared_after_commit():
    conn, store, log = world()
    report = apply_target(conn, manifest(ACCOUNT), store, DiffOptions())  # type: ignore[arg-type]
    ops = [op for op, _ in log]
    assert ops.index("create") < ops.index("execute") < ops.index("commit") < ops.index("untag")
    created = next(d for op, d in log if op == "execute" and d.startswith("create_role"))
    assert created == f"create_role app password={store.values[('films/app', 'AWSCURRENT')]['password']}"
    assert SYNC_TAG not in store.tags["films/app"]
    assert len(report.completed) == len(report.plan.steps)


def test_reset_password_pending_first_promoted_after_commit():
    roles = {"app": RoleState(name="app", login=True, comment=role_comment(None, "films", False))}
    conn, store, log = world(roles, {"films/app": secret_state()})
    store.values[("films/app", "AWSCURRENT")] = {"username": "app", "password": "old-password"}
    apply_target(conn, manifest(ACCOUNT), store, DiffOptions(reset_passwords=frozenset({"app"})))  # type: ignore[arg-type]
    ops = [op for op, _ in log]
    assert ops.index("put_value:AWSPENDING") < ops.index("tag") < ops.index("execute") < ops.index("commit")
    assert ops.index("commit") < ops.index("promote") < ops.index("untag")
    pending = store.values[("films/app", "AWSCURRENT")]["password"]
    assert pending != "old-password" and any(d.endswith(f"password={pending}") for op, d in log if op == "execute")


def test_interrupted_reset_is_finished_with_the_pending_version():
    roles = {"app": RoleState(name="app", login=True, comment=role_comment(None, "films", False))}
    tagged = secret_state(tags={**secret_state().tags, SYNC_TAG: "version:v9"})
    conn, store, log = world(roles, {"films/app": tagged})
    store.values[("films/app", "v9")] = {"username": "app", "password": "pending-password"}
    apply_target(conn, manifest(ACCOUNT), store, DiffOptions())  # type: ignore[arg-type]
    ops = [op for op, _ in log]
    assert ("execute", "finish_pending_password app password=pending-password") in log
    assert ops.index("commit") < ops.index("promote") < ops.index("untag")


def test_dropped_account_secret_deleted_only_after_the_drop_committed():
    roles = {"app": RoleState(name="app", login=True, comment=role_comment(None, "films", False))}
    conn, store, log = world(roles, {"films/app": secret_state()})
    apply_target(conn, manifest(), store, DiffOptions())  # type: ignore[arg-type]
    ops = [op for op, _ in log]
    assert ("execute", "drop_role app") in log
    assert ops.index("commit") < ops.index("delete")


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_a_fault_at_each_checkpoint_never_leaves_a_role_without_its_secret(checkpoint, monkeypatch):
    """A new account: whatever the checkpoint, a committed role always has its secret, with the password the
    role was given; before the commit nothing reached the database; the sync tag stays until the end."""
    conn, store, log = world()

    def boom() -> None:
        raise RuntimeError(f"fault at {checkpoint}")

    monkeypatch.setitem(faults.HOOKS, checkpoint, boom)
    with pytest.raises(ApplyError) as failure:
        apply_target(conn, manifest(ACCOUNT), store, DiffOptions())  # type: ignore[arg-type]
    assert f"fault at {checkpoint}" in str(failure.value)
    assert isinstance(conn.session, FakeSession)
    committed = conn.session.committed
    assert ("create", "films/app") in log  # every checkpoint comes after the secret write
    if checkpoint in ("after-commit", "after-secret-finish"):
        password = store.values[("films/app", "AWSCURRENT")]["password"]
        assert f"create_role app password={password}" in committed
    else:
        assert committed == []
        assert "not applied:" in str(failure.value)
    if checkpoint != "after-secret-finish":
        assert store.tags["films/app"].get(SYNC_TAG) == "pending"  # the next run confirms the password
