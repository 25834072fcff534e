"""Every reachable rotation state converges (SPEC 8): seeded random walks over rotation states (which user is
current, what is pending after a rotation killed mid-way, a value broken by someone else) and manifest changes
(strategy switches in every direction, password resets, `state: absent` and back, renames). After every step one
apply runs, and then: the plan is empty, AWSCURRENT logs in (as the server answers), a dropped account is gone,
and no output says `internal error`.

CI runs PROVISIONER_STATE_WALKS walks (default 4 on PostgreSQL, 3 on MariaDB) of PROVISIONER_STATE_STEPS steps
(default 9); a failure prints the seed and the steps so far: a reproduction.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field

import pytest
from support.recorders import PASSWORDS, sm_client

WALKS = {"postgres": int(os.environ.get("PROVISIONER_STATE_WALKS", "4")),
         "mariadb": int(os.environ.get("PROVISIONER_STATE_WALKS", "3"))}
STEPS = int(os.environ.get("PROVISIONER_STATE_STEPS", "9"))
FIRST_SEED = int(os.environ.get("PROVISIONER_STATE_SEED", "1"))
STRATEGIES = ("single", "alternating", "none")
ACTIONS = ("switch", "switch", "rotate", "interrupt", "interrupt", "reset", "absent", "rename", "break")


@dataclass
class Walk:
    seed: int
    name: str = "walker"
    strategy: str = "single"
    present: bool = True
    renamed: int = 0
    steps: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"seed {self.seed} (PROVISIONER_STATE_SEED={self.seed} PROVISIONER_STATE_WALKS=1): " + " -> ".join(
            self.steps)


def _manifest(env, walk: Walk) -> None:
    table = "public.films" if env.engine == "postgres" else f"{env.database}.films"
    entry = (f"{{name: {walk.name}, target: {env.target}, rotation: {{strategy: {walk.strategy}}}, "
             f"grants: [{{privileges: [SELECT], tables: [{table}]}}]}}" if walk.present
             else f"{{name: {walk.name}, target: {env.target}, state: absent}}")
    env.manifest(f"accounts:\n  - {entry}\n", admin_secret=True)


def _converged(env, walk: Walk, outputs: list[str]) -> None:
    apply = env.cli("apply", "--yes", "-f", "accounts.yaml", expect=None)
    outputs.append(apply.text)
    assert apply.code == 0, f"apply failed\n{apply.text}\n{walk}"
    plan = env.cli("plan", "-f", "accounts.yaml", "--detailed-exitcode", expect=None)
    outputs.append(plan.text)
    assert plan.code == 0, f"the plan after one apply is not empty\n{plan.text}\n{walk}"
    if walk.present:
        assert env.logs_in(walk.name), f"AWSCURRENT of {walk.name} does not log in\n{walk}"
        PASSWORDS.add(env.secret(walk.name)["password"])  # for the suite's leak check (the secret goes later)
        users = {walk.name, f"{walk.name}_clone"} if walk.strategy == "alternating" else {walk.name}
        assert env.secret(walk.name)["username"] in users, walk
        assert env.role_exists(f"{walk.name}_clone") == (walk.strategy == "alternating"), walk
    else:
        assert not env.role_exists(walk.name) and not env.role_exists(f"{walk.name}_clone"), walk
    assert not any("internal error" in text for text in outputs), walk


def _act(env, walk: Walk, rng: random.Random) -> str:
    """One step: a manifest change or something done to the live state; returns what it was."""
    action = rng.choice(ACTIONS)
    rotating = walk.present and walk.strategy != "none"
    if action == "switch" or not walk.present:
        walk.present = True
        walk.strategy = rng.choice([s for s in STRATEGIES if s != walk.strategy])
        return f"strategy {walk.strategy}"
    if action == "rotate" and rotating:
        env.cli("rotate", "-f", "accounts.yaml", walk.name)
        return "rotate"
    if action == "interrupt" and rotating:
        step = rng.choice(("createSecret", "setSecret", "testSecret"))
        killed = env.cli_process("rotate", "-f", "accounts.yaml", walk.name,
                                 env={"PROVISIONER_FAULT": f"after-{step}"}, expect=None)
        assert killed.code == -9, killed.text
        return f"rotation killed after {step}"
    if action == "reset":
        env.cli("apply", "--yes", "-f", "accounts.yaml", "--reset-password", walk.name)
        return "reset"
    if action == "absent":
        walk.present = False
        return "absent"
    if action == "rename":
        walk.renamed += 1
        walk.name = f"walker{walk.renamed}"
        return f"rename to {walk.name}"
    if action == "break":
        sm_client().put_secret_value(SecretId=f"{env.target}/{walk.name}", VersionStages=["AWSCURRENT"],
                                     SecretString=rng.choice(["not json", json.dumps(["a"]), json.dumps({})]))
        return "value broken"
    return "nothing"


@pytest.mark.parametrize("engine_env", ["env", "menv"])
def test_every_rotation_state_and_manifest_change_converges(engine_env, request):
    env = request.getfixturevalue(engine_env)
    env.sql("CREATE TABLE public.films (id int)" if env.engine == "postgres" else "CREATE TABLE films (id INT)")
    outputs: list[str] = []
    for seed in range(FIRST_SEED, FIRST_SEED + WALKS[env.engine]):
        rng = random.Random(seed)
        walk = Walk(seed, name=f"walker_s{seed}", strategy=rng.choice(STRATEGIES))
        walk.steps.append(f"start {walk.strategy}")
        _manifest(env, walk)
        _converged(env, walk, outputs)
        for _ in range(STEPS):
            walk.steps.append(_act(env, walk, rng))
            _manifest(env, walk)
            _converged(env, walk, outputs)
        walk.present = False  # leave nothing behind for the next walk
        _manifest(env, walk)
        _converged(env, walk, outputs)
