"""What receiving realtime audio frames costs a Python server at all, before any work.

    python -m benchmarks.floor [--sessions 10,50] [--frame-ms 20,40] [--seconds 8]

Servers that read every frame and do nothing with it, each in a process of its own: a bare
asyncio `Protocol` (no websocket framing), a `websockets` server, a tornado
`WebSocketHandler` (what jupyter-server runs); the extension itself is what
`python -m benchmarks` measures. N clients in this process
send binary frames of `frame-ms` of 16 kHz s16le on an absolute clock, staggered across
the frame period like independent microphones. Printed: each server's CPU, % of a core per
session (psutil, user + system, over the window). It bounds what the proxy can cost per
session: each frame wakes the event loop and is read from a socket whatever is done next.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

import psutil
import tornado.web
import tornado.websocket
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

KINDS = ("asyncio", "websockets", "tornado")
BYTES_PER_MS = 32  # 16 kHz s16le mono


class _Sink(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        pass


class _TornadoSink(tornado.websocket.WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        pass


async def _drain(connection: ServerConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in connection:
            pass


async def serve_forever(kind: str, port: int) -> None:
    if kind == "asyncio":
        await asyncio.get_running_loop().create_server(_Sink, "127.0.0.1", port)
    elif kind == "websockets":
        await serve(_drain, "127.0.0.1", port, compression=None)
    else:
        tornado.web.Application([("/", _TornadoSink)]).listen(port, "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _senders(kind: str, port: int, n: int) -> list[Callable[[bytes], Awaitable[None]]]:
    if kind == "asyncio":
        writers = [(await asyncio.open_connection("127.0.0.1", port))[1] for _ in range(n)]
        return [_raw_send(w) for w in writers]
    sockets = [await connect(f"ws://127.0.0.1:{port}/", compression=None) for _ in range(n)]
    return [s.send for s in sockets]


def _raw_send(writer: asyncio.StreamWriter) -> Callable[[bytes], Awaitable[None]]:
    async def send(frame: bytes) -> None:
        writer.write(frame)

    return send


async def load(
    kind: str, server: psutil.Process, port: int, sessions: int, frame_ms: int, seconds: float
) -> float:
    """Stream for `seconds`; the server's CPU over it, % of a core."""
    senders = await _senders(kind, port, sessions)
    frame = bytes(BYTES_PER_MS * frame_ms)
    period = frame_ms / 1000
    t0 = time.monotonic() + 0.5
    before = server.cpu_times()

    async def device(send: Callable[[bytes], Awaitable[None]], index: int) -> None:
        start = t0 + period * index / sessions
        for slot in range(round(seconds / period)):
            await asyncio.sleep(max(0.0, start + slot * period - time.monotonic()))
            await send(frame)

    await asyncio.gather(*(device(send, i) for i, send in enumerate(senders)))
    after = server.cpu_times()
    busy = (after.user + after.system) - (before.user + before.system)
    return float(100.0 * busy / (time.monotonic() - t0))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def measure(kind: str, sessions: int, frame_ms: int, seconds: float) -> float:
    port = _free_port()
    command = [sys.executable, "-m", "benchmarks.floor", "serve", kind, str(port)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            if proc.stdout is None or proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {kind} server did not start")
            server = psutil.Process(proc.pid)
            return asyncio.run(load(kind, server, port, sessions, frame_ms, seconds))
        finally:
            proc.terminate()


def main(argv: Sequence[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["serve"]:
        asyncio.run(serve_forever(args[1], int(args[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", default="10,50", help="levels, comma-separated")
    parser.add_argument("--frame-ms", default="20,40", help="frame lengths, comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="streaming window per load")
    options = parser.parse_args(args)
    print("| server | sessions | frame ms | CPU % of a core | % per session |")
    print("|---|---|---|---|---|")
    for sessions in (int(s) for s in options.sessions.split(",")):
        for frame_ms in (int(f) for f in options.frame_ms.split(",")):
            for kind in KINDS:
                cpu = measure(kind, sessions, frame_ms, options.seconds)
                print(f"| {kind} | {sessions} | {frame_ms} | {cpu:.1f} | {cpu / sessions:.2f} |")


if __name__ == "__main__":
    main()
