"""`make lint`: no module of the product over MAX_LINES lines and no function over MAX_COMPLEXITY (cyclomatic, as
radon counts it), so that the code stays one others can read and extend. Prints the figures it checks."""

from __future__ import annotations

import sys
from pathlib import Path

from radon.complexity import cc_visit

MAX_LINES = 400
MAX_COMPLEXITY = 20


def main(roots: list[str]) -> int:
    failures = []
    worst = (0, "")
    files = sorted(p for root in roots for p in Path(root).rglob("*.py"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_LINES:
            failures.append(f"{path}: {lines} lines (at most {MAX_LINES})")
        for block in cc_visit(text):
            if block.complexity > worst[0]:
                worst = (block.complexity, f"{path}:{block.lineno} {block.name}")
            if block.complexity > MAX_COMPLEXITY:
                failures.append(f"{path}:{block.lineno}: {block.name} has cyclomatic complexity {block.complexity} "
                                f"(at most {MAX_COMPLEXITY})")
    longest = max(files, key=lambda p: len(p.read_text(encoding="utf-8").splitlines()))
    print(f"complexity of {', '.join(roots)}: {len(files)} modules, the longest {longest} "
          f"({len(longest.read_text(encoding='utf-8').splitlines())} lines), the most complex function {worst[1]} "
          f"({worst[0]})")
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["provisioner"]))
