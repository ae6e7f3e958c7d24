"""How long a full garbage collection holds the server's event loop, with and without
`gc.freeze()`.

    python -m benchmarks.heap [--reps 3]

Imports what a Jupyter server with this extension and a gemini session holds (jupyter
server, the extension, google-genai with its message schemas built), then times
`gc.collect()` (a full, generation 2 pass: what the collector runs now and then on its
own) before and after `GeminiLive.settle_heap` (`gc.freeze()`). Wall and CPU time, median of `reps`.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from jupyter_gemini_live.app import GeminiLive
from jupyter_gemini_live.backends import gemini


def full_pass_ms(reps: int) -> tuple[float, float, int]:
    walls, cpus = [], []
    for _ in range(reps):
        wall, cpu = time.perf_counter(), time.process_time()
        gc.collect()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus), len(gc.get_objects())


def main(reps: int) -> None:
    import jupyter_server.serverapp  # noqa: F401

    app = GeminiLive()
    app.make_backends()
    gemini.load_sdk(gemini.SessionOptions(backend="gemini", model="m", voice="Puck"))
    for label in ("before gc.freeze()", "after gc.freeze()"):
        if label.startswith("after"):
            app.settle_heap()
        wall, cpu, tracked = full_pass_ms(reps)
        timing = f"{wall:7.2f} ms wall, {cpu:7.2f} ms CPU"
        print(f"{label:22s} full collection {timing}; {tracked} objects to walk")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    main(parser.parse_args().reps)
