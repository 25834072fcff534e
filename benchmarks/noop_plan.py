"""The no-op plan at fleet scale, this tree against another checkout (`--against PATH`): one server and one
workload (the benchmark's 1,000 roles x 2,000 tables by default), built once by a first apply, then the no-op
plan of each tree in turn, interleaved so that both see the same machine. Prints the median of each and the
ratio (`make bench-noop AGAINST=PATH`; the object-kinds issue's budget: at most 5% slower).

    PYTHONPATH=. python benchmarks/noop_plan.py --against /tmp/provisioner-before --runs 7
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload
from bench import Provisioner, Server

from devtools import sandbox

ROOT = Path(__file__).resolve().parent.parent


class At(Provisioner):
    """The provisioner of one checkout: its package first on the path of `python -m provisioner`."""

    def __init__(self, tree: Path, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.tree = tree

    def env(self) -> dict[str, str]:
        return {**super().env(), "PYTHONPATH": str(self.tree)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, required=True, help="another checkout of provisioner")
    parser.add_argument("--size", default="1000x2000", help="ROLESxTABLES")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    roles, tables = (int(n) for n in args.size.split("x"))
    server = Server()
    server.aws = sandbox.start_secrets_manager()  # type: ignore[attr-defined]
    work = Path(tempfile.mkdtemp(prefix="provisioner-noop-"))
    try:
        server.reset("bench", tables)
        here, there = (At(tree, server, "bench", roles, tables, work) for tree in (ROOT, args.against))
        here.configure()
        here.run(True)  # the first apply, by this tree: both trees then plan the same state
        samples: dict[str, list[float]] = {"this tree": [], str(args.against): []}
        for _ in range(args.runs):
            for name, tool in (("this tree", here), (str(args.against), there)):
                seconds, _, changes = tool.run(False)
                if changes:
                    raise SystemExit(f"{name}: the no-op plan has {changes} change(s)")
                samples[name].append(seconds)
        rows = workload.mismatches(server.sql("bench", workload.CHECK_SQL,
                                              (workload.table_name(workload.WRITE_TABLES),)), roles, tables)
        assert not rows, f"the state is not the workload's: {rows[:3]}"
        medians = {name: statistics.median(values) for name, values in samples.items()}
        for name, median in medians.items():
            print(f"no-op plan at {args.size}, {name}: median {median:.2f} s of {args.runs} "
                  f"({', '.join(f'{v:.2f}' for v in samples[name])})")
        ratio = medians["this tree"] / medians[str(args.against)]
        print(f"this tree / {args.against}: {ratio:.3f}")
    finally:
        server.aws.stop()  # type: ignore[attr-defined]
        server.pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
