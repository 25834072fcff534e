"""Fleet shards (`--shard K/N`): a stable share of the targets by name, so that N CI jobs split a fleet. A target's
shard depends on its name alone (a digest of it, not its place in a list): adding or removing a target moves no
other one, and the N shards partition the targets."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse(text: str) -> tuple[int, int]:
    """`K/N` -> (K, N) with 1 <= K <= N. Raises ValueError with what is wrong."""
    match = _SPEC.match(text)
    if not match:
        raise ValueError(f"{text!r} is not K/N (say 2/4: the second of four shards)")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"{text!r}: K must be between 1 and N (N at least 1)")
    return k, n


def shard_of(name: str, n: int) -> int:
    """The shard (1..n) of a target name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % n + 1


def in_shard(names: Iterable[str], k: int, n: int) -> list[str]:
    """The names of shard k of n, in their order."""
    return [name for name in names if shard_of(name, n) == k]
