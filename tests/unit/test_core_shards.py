"""Fleet shards (`--shard K/N`): the N shards partition the targets, a target's shard depends on its name alone (so
adding targets moves no other), K outside 1..N is a usage error, and each command narrows to its share."""

from __future__ import annotations

import argparse

import pytest

from provisioner.cli import main
from provisioner.cli.output import Output
from provisioner.cli.runs import shard_holds_targets
from provisioner.core import shards
from provisioner.manifest import load_sources

NAMES = [f"target-{i:02d}" for i in range(20)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_the_shards_partition_twenty_targets(n):
    parts = [shards.in_shard(NAMES, k, n) for k in range(1, n + 1)]
    assert sorted(name for part in parts for name in part) == sorted(NAMES)
    assert sum(len(part) for part in parts) == len(NAMES)  # no target in two shards
    if n in (2, 4):
        assert all(part for part in parts)  # 20 names spread over every shard


def test_a_targets_shard_depends_on_its_name_alone():
    before = {name: shards.shard_of(name, 4) for name in NAMES}
    more = NAMES + [f"new-{i}" for i in range(10)]
    after = {name: shards.shard_of(name, 4) for name in more}
    assert all(after[name] == shard for name, shard in before.items())
    assert before == {name: shards.shard_of(name, 4) for name in reversed(NAMES)}


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "two/4", "1"])
def test_k_outside_one_to_n_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--shard", text])
    assert exit_.value.code == 1 and "argument --shard" in capsys.readouterr().err


def test_each_command_takes_its_share_of_the_targets_or_of_those_named():
    body = "version: 1\ntargets:\n" + "".join(f"  {name}: {{engine: postgres, admin: {{url_env: X}}}}\n"
                                               for name in NAMES)
    manifest = load_sources([("a.yaml", body)])
    seen: list[str] = []
    for k in (1, 2, 3):
        args = argparse.Namespace(shard=(k, 3), targets=None)
        if shard_holds_targets(args, manifest, Output("text")):
            seen += args.targets
    assert sorted(seen) == NAMES
    named = argparse.Namespace(shard=(1, 2), targets=NAMES[:4])
    shard_holds_targets(named, manifest, Output("text"))
    assert set(named.targets) <= set(NAMES[:4])
