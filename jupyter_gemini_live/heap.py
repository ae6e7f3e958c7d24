"""Keeps the server's long-lived objects out of the cyclic garbage collector's full passes.

A full (generation 2) collection walks every tracked object of the process: a Jupyter
server with the google-genai SDK and its pydantic models holds a quarter of a million,
and one pass took 150-360 ms on the benchmark machine, with every conversation's audio,
the pings and the REST API waiting on the one event loop (issue 11, benchmarks/RESULTS.md).
Modules, classes and schemas live as long as the process, so scanning them finds nothing:
`gc.freeze()` moves everything alive at that moment into the permanent generation, which
the collector never walks. It is called at start-up and once more after the SDK has been
imported, never per session, so a session's objects stay collectable after it ends.
The price: garbage in reference cycles at those two moments is never freed (a one-time,
bounded amount).
"""

from __future__ import annotations

import gc


def freeze() -> None:
    """Move every object alive now into the permanent generation (constant time; counting
    them with `gc.get_freeze_count()` would walk them all)."""
    gc.freeze()
