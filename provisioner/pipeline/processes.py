"""Planning targets in forked worker processes: the per-target work after the shared reads (connecting,
inspecting, the diff) is CPU-bound Python, which threads would run one at a time under the GIL.

Workers are forked once the manifest is loaded and the secrets are read, so they inherit both and read
neither again; each returns its target's plan, pickled. Where the platform cannot fork, threads do it.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Generic, TypeVar

from provisioner.errors import ProvisionerError
from provisioner.redact import redact

T = TypeVar("T")
R = TypeVar("R")

# The work of the pool being forked: a worker inherits it (a closure cannot be pickled to it).
_WORK: _Job[Any, Any] | None = None


class _Job(Generic[T, R]):
    def __init__(self, work: Callable[[T], R], items: Sequence[T], in_worker: Callable[[], None]) -> None:
        self.work, self.items, self.in_worker = work, items, in_worker


@functools.cache
def can_fork() -> bool:
    """Fork is there and so are the semaphores a process pool needs (a container without /dev/shm has none)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        multiprocessing.get_context("fork").Lock()
    except (OSError, ImportError):
        return False
    return True


def run_in_processes(work: Callable[[Sequence[T]], R], items: Sequence[T], processes: int, per_process: int,
                     in_worker: Callable[[], None] = lambda: None) -> list[R]:
    """`work` for each run of `per_process` items, in up to `processes` forked processes; results in item
    order; the first error (in item order) is raised. `in_worker` runs first in each worker (to drop what must
    not be shared)."""
    global _WORK
    size = max(1, per_process)
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    _WORK = _Job(work, chunks, in_worker)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=max(1, min(processes, len(chunks))), mp_context=context,
                                 initializer=_start_worker) as pool:
            outcomes = list(pool.map(_run_one, range(len(chunks))))
    finally:
        _WORK = None
    results: list[R] = []
    for ok, value in outcomes:
        if not ok:
            raise value
        results.append(value)
    return results


def _start_worker() -> None:
    assert _WORK is not None
    _WORK.in_worker()


def _run_one(index: int) -> tuple[bool, Any]:
    assert _WORK is not None
    try:
        return True, _WORK.work(_WORK.items[index])
    except Exception as exc:  # handed to the parent, which raises it
        return False, _portable(exc)


def _portable(exc: Exception) -> Exception:
    """The error redacted here, where the passwords this worker learnt (an admin secret it read) are registered:
    a ProvisionerError as itself when it survives pickling, anything else as a RuntimeError naming its type."""
    if isinstance(exc, ProvisionerError):
        exc.message, exc.hint = redact(exc.message), redact(exc.hint)
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # a subclass whose constructor takes other arguments
            pass
    return RuntimeError(redact(f"{type(exc).__name__} in worker {os.getpid()}: {exc}"))
