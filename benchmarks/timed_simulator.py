"""The Live API simulator, wrapped to timestamp marked audio: a process of its own.

    python -m benchmarks.timed_simulator CERT_DIR

Starts `jupyter_gemini_live.simulator.Simulator` (unchanged; only its per-connection
`Link` is subclassed here) on 127.0.0.1 with a self-signed certificate written to
CERT_DIR, prints `url URL` and `ca PATH`, then obeys commands on stdin, one a line:
`dump PATH` writes what was recorded since the last dump as JSON and answers `dumped`;
`quit` stops it.

Recorded: for every marked uplink frame (markers.py) the time its message was read
(before the simulator decodes it), and for every reply burst the time just before it is
sent, with the burst's marker written into its first samples (tag = the sender's, taken
from the audio it spoke, sequence = a per-tag count). Also counted per tag:
interruptions, turns completed, audio bursts.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection

from benchmarks import markers
from jupyter_gemini_live.simulator import Simulator, server_context, write_self_signed
from jupyter_gemini_live.simulator.server import Link


class Records:
    def __init__(self) -> None:
        self.up: dict[int, list[tuple[int, float]]] = defaultdict(list)
        self.down: dict[int, list[tuple[int, float]]] = defaultdict(list)
        self.counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def to_json(self) -> dict[str, Any]:
        return {
            "up": {str(tag): rows for tag, rows in self.up.items()},
            "down": {str(tag): rows for tag, rows in self.down.items()},
            "counts": {str(tag): dict(c) for tag, c in self.counts.items()},
        }


class TimedLink(Link):
    records: Records
    tag: int | None = None
    _arrived: float = 0.0
    _down_seq: int = 0

    async def _on_message(self, raw: str | bytes) -> None:
        self._arrived = markers.now()
        await super()._on_message(raw)

    async def _audio_in(self, pcm: bytes) -> None:
        # the markers are read from the audio the simulator decoded, before its engine
        for tag, seq in markers.find(pcm):
            self.tag = tag
            self.records.up[tag].append((seq, self._arrived))
        await super()._audio_in(pcm)

    async def send(self, message: dict[str, Any]) -> None:
        content = message.get("serverContent")
        if content and self.tag is not None:
            counts = self.records.counts[self.tag]
            if content.get("interrupted"):
                counts["interrupted"] += 1
            if content.get("turnComplete"):
                counts["turn_complete"] += 1
        await super().send(message)

    async def send_audio(self, pcm: bytes) -> None:
        # marked before the simulator encodes it: no second base64 pass per burst
        tag = self.tag
        if tag is not None and len(pcm) > markers.SIZE:
            self._down_seq += 1
            pcm = markers.stamp(pcm, tag, self._down_seq)
            self.records.counts[tag]["bursts"] += 1
            self.records.down[tag].append((self._down_seq, markers.now()))
        await super().send_audio(pcm)


class TimedSimulator(Simulator):
    records = Records()

    async def _serve_link(self, connection: ServerConnection) -> None:
        link = TimedLink(self, connection, next(self._connection_count))
        link.records = self.records
        self._links.add(link)
        try:
            await link.run()
        finally:
            self._links.discard(link)
            self.close_codes.append(link.close_code())


async def serve(cert_dir: Path) -> None:
    files = write_self_signed(cert_dir)
    simulator = TimedSimulator(server_context(files.cert, files.key), record_limit=1)
    async with simulator:
        print(f"url {simulator.url}\nca {files.ca}", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().strip():
            command, _, arg = line.partition(" ")
            if command == "dump":
                records, simulator.records = simulator.records, Records()
                for link in simulator.links():
                    if isinstance(link, TimedLink):
                        link.records = simulator.records
                Path(arg).write_text(json.dumps(records.to_json()))  # noqa: ASYNC240 (idle)
                print("dumped", flush=True)
            elif command == "quit":
                break


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
