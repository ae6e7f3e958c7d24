"""The server's event loop, turn by turn.

    python -m benchmarks.loop_probe OUT [jupyter server arguments]

Runs `jupyter_server` in this process with the selector's `select` timed. A turn of the
loop is busy from one `select` returning to the next being called: that is when it runs
callbacks, reads and writes. A frame that arrives during a turn waits for the rest of it
and then for its own, so the lengths of the turns bound what the server's one loop adds
to a frame's latency; what is left of the latency happened outside it (sockets, the other
processes). Costs two clock reads per turn. At exit, writes every turn to OUT as float64
pairs (CLOCK_MONOTONIC when the turn ended, its busy seconds); `turns()` reads them back.
"""

from __future__ import annotations

import array
import atexit
import runpy
import selectors
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def install(out: Path) -> None:
    """Time every turn of any epoll-based loop of this process; write them at exit."""
    record = array.array("d")
    clock, monotonic = time.clock_gettime, time.CLOCK_MONOTONIC
    last_wake = [clock(monotonic)]
    select = selectors.EpollSelector.select

    def timed(self: selectors.EpollSelector, timeout: float | None = None) -> Any:
        now = clock(monotonic)
        record.extend((now, now - last_wake[0]))
        try:
            return select(self, timeout)
        finally:
            last_wake[0] = clock(monotonic)

    selectors.EpollSelector.select = timed  # type: ignore[method-assign]
    atexit.register(lambda: out.write_bytes(record.tobytes()))


def turns(path: Path, windows: Sequence[tuple[float, float]]) -> list[float]:
    """Busy seconds of the turns that ended inside any of `windows` (monotonic times)."""
    record = array.array("d")
    record.frombytes(path.read_bytes())
    ends, busy = record[0::2], record[1::2]
    return [b for t, b in zip(ends, busy, strict=True) if any(a <= t <= z for a, z in windows)]


def main(argv: Sequence[str]) -> None:
    out, *server_args = argv
    install(Path(out))
    sys.argv = ["jupyter-server", *server_args]
    runpy.run_module("jupyter_server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
