"""CPU cost of the gemini backend's uplink per 20 ms of microphone audio.

    python -m benchmarks.uplink [--frames 2000] [--reps 3]

One `GeminiUpstream` (the real SDK, TLS) against the simulator in a process of its own;
this process sends silent 20 ms frames as fast as the connection takes them and reads
its own CPU time (user + system: what the server's event loop would spend), so a busy
machine changes the wall time, not the figure. Silence: the simulator never replies, so
only the uplink is measured. Interleaved, per repetition:

- `sdk`: every frame through `AsyncSession.send_realtime_input` (pydantic model,
  converters, dict walk, json), as before issue 11;
- `prebuilt`: the realtimeInput message built here and written on the SDK's websocket
  (`backends.gemini.audio_sender`, the default now);
- `prebuilt-40ms`: the same with two frames joined per message (what the session's
  forwarder does when frames queue up behind a slow write), cost per 20 ms of audio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_gemini_live.backends import gemini
from jupyter_gemini_live.backends.base import SessionOptions
from jupyter_gemini_live.models import DEFAULT_MODEL

FRAME = 640
MODES = ("sdk", "prebuilt", "prebuilt-40ms")


def sdk_sender(pcm: bytes) -> Callable[[Any], Awaitable[None]]:
    from google.genai import types

    blob = types.Blob(data=pcm, mime_type=gemini.INPUT_MIME)

    async def deliver(session: Any) -> None:
        await session.send_realtime_input(audio=blob)

    return deliver


async def simulator(certs: str) -> tuple[asyncio.subprocess.Process, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.timed_simulator", certs,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    url = (await proc.stdout.readline()).decode().split()[1]
    ca = (await proc.stdout.readline()).decode().split()[1]
    return proc, url, ca


async def one(upstream: Any, mode: str, frames: int) -> float:
    """CPU µs per 20 ms of audio sent."""
    gemini_sender = gemini.audio_sender
    size = 2 * FRAME if mode == "prebuilt-40ms" else FRAME
    pcm = bytes(size)
    if mode == "sdk":
        gemini.audio_sender = sdk_sender
    try:
        n = frames * FRAME // size
        cpu = time.process_time()
        for _ in range(n):
            await upstream.send_audio(pcm)
        cpu = time.process_time() - cpu
    finally:
        gemini.audio_sender = gemini_sender
    return cpu / frames * 1e6


async def main(frames: int, reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as certs:
        proc, url, ca = await simulator(certs)
        try:
            backend = gemini.GeminiBackend(api_key="simulated", base_url=url, ca_file=ca)
            options = SessionOptions(backend="gemini", model=DEFAULT_MODEL, voice="Kore")
            upstream = await backend.connect(options)
            drain = asyncio.create_task(_drain(upstream))
            await one(upstream, "sdk", 100)  # warm-up: pydantic builds its schemas once
            await one(upstream, "prebuilt", 100)
            runs: dict[str, list[float]] = {m: [] for m in MODES}
            for rep in range(reps):
                order = MODES if rep % 2 == 0 else tuple(reversed(MODES))
                for mode in order:
                    runs[mode].append(await one(upstream, mode, frames))
            drain.cancel()
            await upstream.close()
        finally:
            assert proc.stdin is not None
            proc.stdin.write(b"quit\n")
            await proc.stdin.drain()
            await proc.wait()
    out: dict[str, Any] = {"frames": frames, "reps": reps, "modes": {}}
    for mode, values in runs.items():
        us = statistics.median(values)
        # 50 frames of 20 ms per second of realtime audio
        out["modes"][mode] = {
            "cpu_us_per_20ms": round(us, 1),
            "pct_core_per_realtime_session": round(us * 50 / 1e4, 3),
            "runs": [round(v, 1) for v in values],
        }
    return out


async def _drain(upstream: Any) -> None:
    async for _ in upstream.events():
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(main(args.frames, args.reps))
    print(json.dumps(result, indent=1))
    for mode, figures in result["modes"].items():
        print(
            f"{mode:14s} {figures['cpu_us_per_20ms']:7.1f} µs CPU per 20 ms of audio = "
            f"{figures['pct_core_per_realtime_session']:.3f} % of a core per realtime session"
        )
