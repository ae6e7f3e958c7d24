"""Which CPUs the benchmark's processes run on.

The simulator stands in for Google's service, which runs on other machines. On a small
machine it and the traffic generator take as much CPU as the process under test, and
the scheduler interleaves them: then the figures measure the contention, not the proxy.
Pinned (the default), the process under test (the jupyter server in a proxy load, the
SDK process in a baseline load) has the first CPU to itself, and the simulator, the
proxy's clients and this orchestrator share the others. Both sides get the same: one
CPU of their own, as a Jupyter server's one event loop can use one CPU at most.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Placement:
    #: the process under test; None: wherever the scheduler puts it
    tested: frozenset[int] | None = None
    #: the simulator, the proxy's clients, the orchestrator
    rest: frozenset[int] | None = None

    @property
    def pinned(self) -> bool:
        return self.tested is not None

    def describe(self) -> str:
        if self.tested is None or self.rest is None:
            return "not pinned: every process on every CPU"
        return (
            f"process under test on CPU {_cpus(self.tested)}; simulator, clients and "
            f"orchestrator on CPU {_cpus(self.rest)}"
        )


def placement(pin: bool) -> Placement:
    """The split, or no pinning where there is one CPU or no affinity call."""
    if not pin or not hasattr(os, "sched_getaffinity"):
        return Placement()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return Placement()
    return Placement(frozenset(cpus[:1]), frozenset(cpus[1:]))


def on(cpus: frozenset[int] | None) -> Callable[[], None] | None:
    """A `preexec_fn` that puts a child (and every thread it starts) on `cpus`."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


@contextlib.contextmanager
def pinned(cpus: frozenset[int] | None) -> Iterator[None]:
    """This process on `cpus` for the block (then where it was)."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))
