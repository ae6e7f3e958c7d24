"""Event-loop stall trace of a jupyter server started by the benchmark (diagnostic only).

    GL_DIAG_OUT=/tmp/trace.jsonl PYTHONPATH=benchmarks/stall_trace \\
        python -m benchmarks --sessions 10 --reps 2 --seconds 8 --startup-reps 0 \\
        --no-server-per-level --profile-sessions 0

Python imports `sitecustomize` at start-up in every process of the run; only a process
that has imported `jupyter_server.serverapp` 4 s later is traced. It appends JSON lines
(each with the pid) to $GL_DIAG_OUT: every generation-2 collection (and any collection
over 5 ms) from `gc.callbacks`, every `gc.freeze()`, and every event-loop callback that
ran over $GL_DIAG_MS (15) ms, with the thread CPU it used and the main thread's stacks
sampled every 4 ms meanwhile. Times are CLOCK_MONOTONIC, as the benchmark's.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import sys
import threading
import time
from typing import Any

OUT = os.environ.get("GL_DIAG_OUT")
THRESHOLD_S = float(os.environ.get("GL_DIAG_MS", "15")) / 1000


def _install() -> None:
    time.sleep(4)
    if "jupyter_server.serverapp" not in sys.modules:
        return
    import asyncio.events

    main_id = threading.main_thread().ident
    samples: collections.deque[tuple[float, tuple[str, ...]]] = collections.deque(maxlen=20000)
    stalls: list[tuple[float, float, str]] = []
    collections_seen: list[tuple[float, float, int, int]] = []
    started: dict[str, float] = {}

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
        elif "t" in started:
            t = started["t"]
            collections_seen.append(
                (t, time.perf_counter() - t, info["generation"], info["collected"])
            )

    gc.callbacks.append(on_gc)
    freeze = gc.freeze

    def traced_freeze() -> None:
        collections_seen.append((time.perf_counter(), 0.0, 9, 0))  # 9: a freeze
        freeze()

    gc.freeze = traced_freeze
    run = asyncio.events.Handle._run

    def traced_run(self: asyncio.events.Handle) -> None:
        t, cpu = time.perf_counter(), time.thread_time()
        try:
            run(self)
        finally:
            took = time.perf_counter() - t
            if took > THRESHOLD_S:
                used = (time.thread_time() - cpu) * 1000
                stalls.append((t, took, f"cpu {used:.1f} ms {self!r}"[:300]))

    asyncio.events.Handle._run = traced_run  # type: ignore[method-assign]

    def sample() -> None:
        while True:
            time.sleep(0.004)
            frame = sys._current_frames().get(main_id or 0)
            stack = []
            while frame is not None and len(stack) < 40:
                code = frame.f_code
                where = code.co_filename.split("site-packages/")[-1]
                stack.append(f"{code.co_name} ({where}:{frame.f_lineno})")
                frame = frame.f_back
            samples.append((time.perf_counter(), tuple(stack)))

    def write() -> None:
        stalls_done = gc_done = 0
        pid = os.getpid()
        while True:
            time.sleep(2)
            assert OUT is not None
            with open(OUT, "a") as out:
                for t, took, what in stalls[stalls_done:]:
                    inside = [s for ts, s in list(samples) if t <= ts <= t + took]
                    top = collections.Counter(s[:12] for s in inside).most_common(3)
                    row = {"pid": pid, "stall_ms": round(took * 1000, 1), "t": t, "handle": what}
                    out.write(json.dumps(row | {"stacks": [[n, list(s)] for s, n in top]}) + "\n")
                stalls_done = len(stalls)
                for t, took, generation, collected in collections_seen[gc_done:]:
                    if generation >= 2 or took > 0.005:
                        row = {"pid": pid, "gc_gen": generation, "gc_ms": round(took * 1000, 2)}
                        out.write(json.dumps(row | {"t": t, "collected": collected}) + "\n")
                gc_done = len(collections_seen)

    threading.Thread(target=sample, daemon=True).start()
    threading.Thread(target=write, daemon=True).start()


if OUT:
    threading.Thread(target=_install, daemon=True).start()
