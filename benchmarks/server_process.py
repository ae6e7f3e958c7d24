"""A real `jupyter server` with the extension, started for a benchmark, and its clients.

`JupyterServer` starts `python -m jupyter_server` as a subprocess on 127.0.0.1 (a free
port, a temporary root dir, a random token, a non-root `base_url` so nothing assumes
`/`), importing `jupyter_gemini_live` from this checkout, and stops it again.
`RestClient` talks to the REST routes; `StreamClient` is a device connection to a
session's stream websocket that timestamps what comes back (model audio, events, pongs).
Everything stays on loopback; no key from the environment reaches the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import DEVNULL, PIPE, STDOUT
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from websockets.asyncio.client import ClientConnection, connect

from benchmarks.placement import on

REPO = Path(__file__).resolve().parent.parent
BASE_URL = "/bench/"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class JupyterServer:
    """`async with JupyterServer(max_sessions=8) as server:` — a running server."""

    def __init__(
        self,
        *,
        max_sessions: int = 4,
        extra_args: tuple[str, ...] = (),
        extension: bool = True,
        backend: str = "echo",
        cpus: frozenset[int] | None = None,
        loop_probe: Path | None = None,
    ) -> None:
        self.max_sessions = max_sessions
        #: the CPUs it runs on (benchmarks/placement.py); None: any
        self.cpus = cpus
        #: where benchmarks.loop_probe writes the loop's turns at exit; None: no probe
        self.loop_probe = loop_probe
        self.extra_args = extra_args
        self.extension = extension
        self.backend = backend
        #: seconds from spawning the process to its first answer of `api/status`
        self.start_s = 0.0
        self.token = secrets.token_hex(24)
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None
        self._tmp: Path | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_URL}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{BASE_URL}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    @property
    def log_path(self) -> Path:
        assert self._tmp is not None
        return self._tmp / "server.log"

    async def __aenter__(self) -> JupyterServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="gemini-live-bench-"))
        root = self._tmp / "root"
        root.mkdir()
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        config = self._tmp / "config"  # instead of the user's: only what is set here
        config.mkdir()
        # With extension=False it is disabled explicitly (it may be enabled system wide).
        enable = {"ServerApp": {"jpserver_extensions": {"jupyter_gemini_live": self.extension}}}
        (config / "jupyter_server_config.json").write_text(json.dumps(enable))
        env["JUPYTER_CONFIG_DIR"] = str(config)
        env["JUPYTER_RUNTIME_DIR"] = str(self._tmp / "runtime")
        env["JUPYTER_DATA_DIR"] = str(self._tmp / "data")
        run = ["jupyter_server"]
        if self.loop_probe is not None:
            run = ["benchmarks.loop_probe", str(self.loop_probe)]
        args = [
            sys.executable,
            "-m",
            *run,
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.base_url={BASE_URL}",
            f"--ServerApp.token={self.token}",
            f"--GeminiLive.default_backend={self.backend}",
            "--GeminiLive.idle_timeout=0",
            f"--GeminiLive.max_sessions={self.max_sessions}",
            f"--GeminiLive.record_dir={self._tmp / 'recordings'}",
            *self.extra_args,
        ]
        await _check_import(env)
        spawned = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *args, cwd=REPO, env=env, stdout=log, stderr=STDOUT, stdin=DEVNULL,
                preexec_fn=on(self.cpus),
            )  # fmt: skip
        try:
            await self._wait_ready()
            self.start_s = time.perf_counter() - spawned
            if self.extension:
                await self._check_backend()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        """Until jupyter-server's own `api/status` answers (polled every 20 ms)."""
        http = AsyncHTTPClient()
        request = HTTPRequest(f"{self.http_url}api/status", headers=self.headers)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.returncode is not None:
                raise RuntimeError(f"jupyter server exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError, HTTPClientError):
                await http.fetch(request)
                return
            await asyncio.sleep(0.02)
        raise RuntimeError(f"jupyter server not ready in {START_TIMEOUT_S:.0f} s")

    async def _check_backend(self) -> None:
        status = await RestClient(self).get("status")
        backend = status["backends"][self.backend]
        if not backend["available"]:
            raise RuntimeError(f"{self.backend} backend unavailable: {backend}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


async def _check_import(env: dict[str, str]) -> None:
    """The server must import jupyter_gemini_live from this checkout."""
    check = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import jupyter_gemini_live as m; print(m.__file__)",
        cwd=REPO,
        env=env,
        stdout=PIPE,
        stderr=STDOUT,
    )
    out, _ = await check.communicate()
    where = out.decode(errors="replace").strip()
    if not where.startswith(str(REPO)):
        raise RuntimeError(f"jupyter_gemini_live would be imported from {where!r}, not {REPO}")


class RestClient:
    """JSON over the extension's REST routes (tornado's client: no proxy, loopback only)."""

    def __init__(self, server: JupyterServer) -> None:
        self.server = server
        self.http = AsyncHTTPClient()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        payload = json.dumps(body if body is not None else {}) if method == "POST" else None
        request = HTTPRequest(
            f"{self.server.http_url}gemini-live/api/{path}",
            method=method,
            headers={**self.server.headers, "Content-Type": "application/json"},
            body=payload,
            request_timeout=30,
        )
        response = await self.http.fetch(request)
        return json.loads(response.body) if response.body else None

    async def get(self, path: str) -> Any:
        return await self.call("GET", path)

    async def create_session(self, backend: str = "echo", **options: Any) -> str:
        session = await self.call("POST", "sessions", {"backend": backend, **options})
        return str(session["id"])

    async def stats(self, session_id: str) -> dict[str, Any]:
        session = await self.get(f"sessions/{session_id}")
        stats: dict[str, Any] = session["stats"]
        return stats

    async def delete(self, session_id: str) -> None:
        await self.call("DELETE", f"sessions/{session_id}")


@dataclass
class Waiter:
    predicate: Callable[[dict[str, Any]], bool]
    future: asyncio.Future[tuple[float, dict[str, Any]]]


@dataclass
class StreamClient:
    """A device connection; a reader task timestamps (perf_counter) all that arrives."""

    ws: ClientConnection
    audio_bytes: int = 0
    audio_frames: int = 0
    first_audio_after: float | None = None  # set by expect_audio(); cleared on arrival
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _audio_waiter: asyncio.Future[float] | None = None
    _waiters: list[Waiter] = field(default_factory=list)
    _pongs: dict[int, asyncio.Future[float]] = field(default_factory=dict)
    _next_ping: int = 0
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, server: JupyterServer, session_id: str) -> StreamClient:
        ws = await connect(
            f"{server.ws_url}gemini-live/api/sessions/{session_id}/stream",
            additional_headers=server.headers,
            compression=None,
            proxy=None,
            ping_interval=None,
            max_size=2**22,
            max_queue=None,
        )
        client = cls(ws)
        client._reader = asyncio.create_task(client._read_forever())
        await client.wait_for("ready", timeout=10)
        return client

    async def _read_forever(self) -> None:
        with contextlib.suppress(Exception):
            async for message in self.ws:
                now = time.perf_counter()
                if isinstance(message, bytes):
                    self.audio_bytes += len(message)
                    self.audio_frames += 1
                    waiter, self._audio_waiter = self._audio_waiter, None
                    if waiter is not None and not waiter.done():
                        waiter.set_result(now)
                    continue
                event = json.loads(message)
                if event["type"] == "pong":
                    pong = self._pongs.pop(int(event["t"]), None)
                    if pong is not None and not pong.done():
                        pong.set_result(now)
                    continue
                self.events.append((now, event))
                for waiter_ in list(self._waiters):
                    if not waiter_.future.done() and waiter_.predicate(event):
                        waiter_.future.set_result((now, event))
                        self._waiters.remove(waiter_)

    def expect_audio(self) -> asyncio.Future[float]:
        """A future resolved with the arrival time of the next binary (model audio) frame."""
        self._audio_waiter = asyncio.get_running_loop().create_future()
        return self._audio_waiter

    def expect(self, kind: str, **match: Any) -> asyncio.Future[tuple[float, dict[str, Any]]]:
        future: asyncio.Future[tuple[float, dict[str, Any]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(
            Waiter(
                lambda e: e["type"] == kind and all(e.get(k) == v for k, v in match.items()),
                future,
            )
        )
        return future

    async def wait_for(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        for _, event in self.events:
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event
        _, event = await asyncio.wait_for(self.expect(kind, **match), timeout)
        return event

    async def send_audio(self, pcm: bytes) -> None:
        await self.ws.send(pcm)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def ping(self, timeout: float = 10.0) -> float:
        """Round trip of one `ping` → `pong` through the stream websocket, in seconds."""
        self._next_ping += 1
        number = self._next_ping
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._pongs[number] = future
        sent = time.perf_counter()
        await self.send_json({"type": "ping", "t": number})
        arrived = await asyncio.wait_for(future, timeout)
        return arrived - sent

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


@dataclass(frozen=True)
class Usage:
    """CPU seconds (user + system) and resident memory of a process at one moment."""

    cpu_s: float
    rss_bytes: int
    at: float


def usage(pid: int) -> Usage:
    """psutil when installed, else /proc/PID/stat and /proc/PID/status (Linux)."""
    at = time.perf_counter()
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        return Usage(cpu, rss, at)
    process = psutil.Process(pid)
    times = process.cpu_times()
    return Usage(times.user + times.system, process.memory_info().rss, at)
