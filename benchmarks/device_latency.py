"""The browser as the kernel's audio device: one-way latency through a relay session.

A real `jupyter server`; a relay session; the device is a websocket client here (what the
browser's stream does), the kernel is `AudioSession` (the client `RunningLiveAudio`
yields), both in this process so one clock times both ends:

1. microphone → kernel: a 20 ms frame written by the device (real-time pace) → the
   same frame returned by `await audio.read()`;
2. kernel → speaker: `await audio.enqueue(100 ms)` called → the first byte of it read
   at the device socket.

Beside them, the Colab guide's transport by construction: the kernel polls the browser
every 100 ms (`eval_js`) and audio travels in 50 ms batches, so a sample waits for its
batch to fill (uniform 0-50 ms) and then for the next poll (uniform 0-100 ms): 75 ms on
average one way, before any cost of the poll itself.

    python benchmarks/device_latency.py [--frames 1000] [--enqueues 100] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import time
from typing import Any

import numpy as np
from report import add_json_option, percentiles, table, write_json
from server_process import JupyterServer, RestClient, StreamClient

from jupyter_gemini_live.client.audio import STANDARD_AUDIO_CONFIG
from jupyter_gemini_live.client.audio_device import AudioSession
from jupyter_gemini_live.client.discovery import ServerAddress
from jupyter_gemini_live.client.rest import Rest

FRAME_S = 0.02
FRAME_BYTES = 640
POLL_S, BATCH_S = 0.1, 0.05


def guide_transport(samples: int = 1_000_000) -> dict[str, float | int]:
    """One-way delay of the guide's polling transport: batch fill + wait for the poll."""
    rng = np.random.default_rng(0)
    delays = rng.uniform(0, BATCH_S, samples) + rng.uniform(0, POLL_S, samples)
    return percentiles(delays.tolist())


async def microphone_to_read(device: StreamClient, audio: AudioSession, count: int) -> list[float]:
    sent: dict[int, float] = {}
    delays: list[float] = []

    async def kernel() -> None:
        while len(delays) < count:
            frame = await audio.read()
            arrived = time.perf_counter()
            (number,) = struct.unpack_from("<I", frame)
            delays.append(arrived - sent[number])

    reader = asyncio.create_task(kernel())
    start = time.perf_counter()
    for number in range(count):
        # On an absolute clock, like a microphone: lateness does not add up.
        await asyncio.sleep(max(0.0, start + number * FRAME_S - time.perf_counter()))
        frame = struct.pack("<I", number) + bytes(FRAME_BYTES - 4)
        sent[number] = time.perf_counter()
        await device.send_audio(frame)
    await asyncio.wait_for(reader, 10)
    return delays


async def enqueue_to_device(device: StreamClient, audio: AudioSession, count: int) -> list[float]:
    chunk = bytes(int(0.1 * STANDARD_AUDIO_CONFIG.sample_rate) * 2)  # 100 ms at 16 kHz
    delays: list[float] = []
    for _ in range(count):
        first = device.expect_audio()
        start = time.perf_counter()
        await audio.enqueue(chunk)
        delays.append(await asyncio.wait_for(first, 10) - start)
        await asyncio.sleep(0.15)  # let it "play" before the next
    return delays


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with JupyterServer() as server:
        rest = RestClient(server)
        session_id = await rest.create_session(backend="relay", transcription=False)
        audio = AudioSession(STANDARD_AUDIO_CONFIG, session_id)
        await audio._connect(Rest(ServerAddress(server.http_url, server.token)))
        device = await StreamClient.open(server, session_id)
        await device.send_json({"type": "device_status", "status": "started", "reason": None})
        await audio.await_start()
        mic = await microphone_to_read(device, audio, args.frames)
        out = await enqueue_to_device(device, audio, args.enqueues)
        stats = await rest.stats(session_id)
        await device.close()
        await audio._close()
        await rest.delete(session_id)
    return {
        "microphone_to_read_ms": percentiles(mic),
        "enqueue_to_device_ms": percentiles(out),
        "guide_poll_100ms_batch_50ms_ms": guide_transport(),
        "session_stats": stats,
    }


def show(results: dict[str, Any]) -> None:
    rows = [
        {"path": "mic frame at device socket → read()", **results["microphone_to_read_ms"]},
        {"path": "enqueue() → first byte at device", **results["enqueue_to_device_ms"]},
        {
            "path": "guide: 100 ms poll + 50 ms batch",
            **results["guide_poll_100ms_batch_50ms_ms"],
        },
    ]
    print(table("one-way latency (ms)", rows))
    stats = results["session_stats"]
    print(f"\ndropped in {stats['dropped_in_ms']} ms, out {stats['dropped_out_ms']} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000, help="20 ms microphone frames")
    parser.add_argument("--enqueues", type=int, default=100, help="100 ms enqueues to time")
    add_json_option(parser)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    write_json(args.json, "device_latency", results)


if __name__ == "__main__":
    main()
