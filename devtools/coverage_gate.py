"""`make coverage`: fail when a file under the given paths is covered below the given percentage of lines by
the unit suite (coverage.py's JSON report), naming each such file with its figure."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def below(report: dict, floor: float, prefixes: list[str]) -> list[tuple[str, float]]:
    """The files under `prefixes` covered below `floor` percent, lowest first."""
    files = report["files"]
    chosen = {name: data["summary"]["percent_covered"] for name, data in files.items()
              if any(name == prefix or name.startswith(prefix) for prefix in prefixes)}
    if not chosen:
        raise SystemExit(f"no file of {', '.join(prefixes)} in the coverage report")
    return sorted(((name, percent) for name, percent in chosen.items() if percent < floor), key=lambda x: x[1])


def main(argv: list[str]) -> int:
    path, floor, *prefixes = argv
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    failing = below(report, float(floor), prefixes)
    for name, percent in failing:
        print(f"{name}: {percent:.0f}% of lines covered by tests/unit (at least {floor}% wanted)")
    lowest = min((data["summary"]["percent_covered"], name) for name, data in report["files"].items()
                 if any(name.startswith(prefix) for prefix in prefixes))
    print(f"unit coverage of {', '.join(prefixes)}: lowest {lowest[1]} ({lowest[0]:.0f}%)")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
