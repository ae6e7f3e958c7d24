"""Load generator: N realtime devices through the proxy, or N SDK sessions straight to the
simulator (the baseline). A process of its own, so its CPU and memory are its own.

    python -m benchmarks.load CONFIG.json OUT.json

CONFIG: {"mode": "proxy"|"sdk", "sessions", "seconds", "tag_base", "ping_ms", "tail_s",
"speech_s", "pause_s", "silence_ms", "frame_ms", "aligned", "model"; proxy: "http_url",
"ws_url", "token", and "ramp_ms" for sessions that arrive one by one (run_ramp); sdk:
"sim_url", "ca_file"}. Every session sends the same traffic: marked frames of `frame_ms`
(markers.py) of speech, then quiet, on an absolute real-time clock for `seconds`, the
speech phase staggered across sessions, each session's frame clock on its own phase
(unless "aligned"); the proxy's devices also ping. Protocol on stdout:
`started` (imports done), `warm` (after one utterance and its reply, not measured), then
`window T0 T1` (the streaming window on the shared monotonic clock; the parent samples CPU
and memory at those times), then `done` once OUT is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from websockets.asyncio.client import ClientConnection, connect

from benchmarks import markers
from benchmarks.conversation import FRAME_MS, frames, quiet, speech

INPUT_MIME = "audio/pcm;rate=16000"
CONNECT_CONCURRENCY = 10


def ws_frame_bytes(payload: int, *, masked: bool) -> int:
    """Bytes on the wire of one websocket message (one frame, no extensions)."""
    header = 2 if payload < 126 else 4 if payload < 65536 else 10
    return payload + header + (4 if masked else 0)


TURN_DONE: dict[int, asyncio.Event] = {}  # by tag, for the warm-up


def note(device: Device, kind: str) -> None:
    device.events[kind] = device.events.get(kind, 0) + 1
    if kind == "turn_complete" and device.tag in TURN_DONE:
        TURN_DONE[device.tag].set()


@dataclass
class Device:
    tag: int
    session_id: str = ""
    sent: list[tuple[int, float]] = field(default_factory=list)
    received: list[tuple[int, float]] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    pings: list[float] = field(default_factory=list)
    lost_pings: int = 0
    up_bytes: int = 0  # browser hop, websocket framing included (proxy only)
    down_bytes: int = 0
    down_audio_bytes: int = 0
    events: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: the server's answer when it refused the session (a ramp past its capacity)
    refused: str | None = None


async def talk(
    device: Device,
    send: Callable[[bytes], Awaitable[None]],
    config: dict[str, Any],
    t0: float,
    index: int,
    seconds: float | None = None,
) -> None:
    """Real-time marked frames from t0 for `seconds` (config's by default): speech then
    quiet, staggered."""
    frame_ms = config["frame_ms"]
    cycle = frames(speech(config["speech_s"]), frame_ms)
    cycle += frames(quiet(config["pause_s"], seed=index), frame_ms)
    shift = (index * len(cycle)) // max(1, config["sessions"])
    step = frame_ms / 1000
    # Independent microphones: each device's frame clock has its own phase (config
    # "aligned": every device sends at the same instant, the worst burst).
    phase = 0.0 if config["aligned"] else step * index / max(1, config["sessions"])
    for slot in range(round((seconds or config["seconds"]) / step)):
        due = t0 + phase + slot * step
        delay = due - markers.now()
        if delay > 0:
            await asyncio.sleep(delay)
        start = markers.now()
        device.lag.append(start - due)
        frame = markers.stamp(cycle[(slot + shift) % len(cycle)], device.tag, slot)
        device.sent.append((slot, start))
        try:
            await send(frame)
        except Exception as error:  # a session that dies is reported, the others go on
            device.sent.pop()
            device.error = f"frame {slot}: {error!r}"[:300]
            return


# ---- through the proxy ------------------------------------------------------------------


class ProxyDevice:
    def __init__(self, device: Device, config: dict[str, Any]) -> None:
        self.device = device
        self.config = config
        self.ws: ClientConnection | None = None
        self.ready = asyncio.Event()
        self._pongs: dict[int, float] = {}
        self._reader: asyncio.Task[None] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.config['token']}"}

    async def rest(self, method: str, path: str, body: Any = None) -> Any:
        request = HTTPRequest(
            f"{self.config['http_url']}gemini-live/api/{path}",
            method=method,
            headers={**self.headers, "Content-Type": "application/json"},
            body=json.dumps(body) if method == "POST" else None,
            request_timeout=60,
        )
        response = await AsyncHTTPClient().fetch(request)
        return json.loads(response.body) if response.body else None

    async def open(self) -> None:
        session = await self.rest(
            "POST",
            "sessions",
            {"backend": "gemini", "vad": {"silence_ms": self.config["silence_ms"]}},
        )
        self.device.session_id = session["id"]
        self.ws = await connect(
            f"{self.config['ws_url']}gemini-live/api/sessions/{session['id']}/stream",
            additional_headers=self.headers,
            compression=None,
            proxy=None,
            ping_interval=None,
            max_size=2**22,
            max_queue=None,
        )
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self.ready.wait(), 30)

    async def _read(self) -> None:
        assert self.ws is not None
        device = self.device
        with contextlib.suppress(Exception):
            async for message in self.ws:
                at = markers.now()
                if isinstance(message, bytes):
                    device.down_bytes += ws_frame_bytes(len(message), masked=False)
                    device.down_audio_bytes += len(message)
                    device.received.extend((seq, at) for _, seq in markers.find(message))
                    continue
                device.down_bytes += ws_frame_bytes(len(message.encode()), masked=False)
                event = json.loads(message)
                kind = event.get("type")
                if kind == "pong":
                    sent = self._pongs.pop(int(event["t"]), None)
                    if sent is not None:
                        device.pings.append(at - sent)
                    continue
                note(device, str(kind))
                if kind == "ready":
                    self.ready.set()

    async def send_audio(self, frame: bytes) -> None:
        assert self.ws is not None
        self.device.up_bytes += ws_frame_bytes(len(frame), masked=True)
        await self.ws.send(frame)

    async def pinger(self, t0: float, t1: float) -> None:
        assert self.ws is not None
        interval = self.config["ping_ms"] / 1000
        number = 0
        await asyncio.sleep(max(0.0, t0 - markers.now()) + interval * (self.device.tag % 7) / 7)
        while markers.now() < t1:
            number += 1
            text = json.dumps({"type": "ping", "t": number})
            self._pongs[number] = markers.now()
            self.device.up_bytes += ws_frame_bytes(len(text), masked=True)
            await self.ws.send(text)
            await asyncio.sleep(interval)

    async def finish(self) -> None:
        self.device.lost_pings = len(self._pongs)
        with contextlib.suppress(Exception):
            session = await self.rest("GET", f"sessions/{self.device.session_id}")
            self.device.stats = session.get("stats", {})
            note(self.device, "state_" + str(session.get("state")))
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(Exception):
            await self.rest("DELETE", f"sessions/{self.device.session_id}")


WARM_UP_TAG = 65535


async def warm_up(send: Callable[[bytes], Awaitable[None]], device: Device) -> None:
    """One short utterance and its whole reply before anything is measured: pydantic
    builds the SDK's models' schemas lazily, and the first reply a process parses takes
    hundreds of milliseconds (in the server for the proxy, here for the baseline)."""
    TURN_DONE.setdefault(device.tag, asyncio.Event())
    pcm = frames(speech(0.4)) + frames(quiet(0.8))
    start = markers.now()
    for index, frame in enumerate(pcm):
        await asyncio.sleep(max(0.0, start + index * FRAME_MS / 1000 - markers.now()))
        await send(markers.stamp(frame, device.tag, index))
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(TURN_DONE.setdefault(device.tag, asyncio.Event()).wait(), 30)


async def warm_proxy(config: dict[str, Any]) -> None:
    first = ProxyDevice(Device(WARM_UP_TAG), config)
    await first.open()
    await warm_up(first.send_audio, first.device)
    await first.finish()
    print("warm", flush=True)


async def run_proxy(config: dict[str, Any], devices: list[Device]) -> None:
    await warm_proxy(config)
    clients = [ProxyDevice(d, config) for d in devices]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(client: ProxyDevice) -> None:
        async with gate:
            await client.open()

    await asyncio.gather(*(open_one(c) for c in clients))
    t0, t1 = announce(config)
    pingers = [asyncio.create_task(c.pinger(t0, t1)) for c in clients]
    await asyncio.gather(
        *(talk(c.device, c.send_audio, config, t0, i) for i, c in enumerate(clients))
    )
    await asyncio.gather(*pingers)
    await asyncio.sleep(config["tail_s"])
    await asyncio.gather(*(c.finish() for c in clients))


async def run_ramp(config: dict[str, Any], devices: list[Device]) -> None:
    """Sessions arrive one every `ramp_ms` while the earlier ones talk, as people join a
    shared server one after another. A session the server refuses keeps its answer; the
    measured window starts after the last arrival, with whoever got in."""
    await warm_proxy(config)
    step = config["ramp_ms"] / 1000
    start = markers.now() + 2.0  # the warm-up's work out of the server's 2 s busy window
    t0 = start + len(devices) * step + 1.0
    t1 = t0 + config["seconds"]
    print(f"window {t0} {t1}", flush=True)
    clients = [ProxyDevice(d, config) for d in devices]

    async def arrive(index: int, client: ProxyDevice) -> None:
        await asyncio.sleep(max(0.0, start + index * step - markers.now()))
        try:
            await client.open()
        except HTTPClientError as error:
            body = error.response.body if error.response is not None else b"{}"
            client.device.refused = f"{error.code}: {json.loads(body).get('message')}"
            return
        pinger = asyncio.create_task(client.pinger(t0, t1))
        begun = markers.now()
        await talk(client.device, client.send_audio, config, begun, index, t1 - begun)
        await pinger

    await asyncio.gather(*(arrive(i, c) for i, c in enumerate(clients)))
    await asyncio.sleep(config["tail_s"])
    await asyncio.gather(*(c.finish() for c in clients if c.device.refused is None))


def announce(config: dict[str, Any]) -> tuple[float, float]:
    t0 = markers.now() + 1.0
    t1 = t0 + config["seconds"]
    print(f"window {t0} {t1}", flush=True)
    return t0, t1


# ---- straight from the SDK (the baseline) -----------------------------------------------


def live_config(config: dict[str, Any]) -> Any:
    """What the proxy's gemini backend asks for with default session options."""
    from google.genai import types

    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Puck")
            )
        ),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(
                disabled=False, silence_duration_ms=config["silence_ms"]
            )
        ),
        context_window_compression=types.ContextWindowCompressionConfig(
            sliding_window=types.SlidingWindow()
        ),
        session_resumption=types.SessionResumptionConfig(handle=None),
    )


async def sdk_receive(session: Any, device: Device) -> None:
    with contextlib.suppress(Exception):
        while True:
            async for message in session.receive():
                at = markers.now()
                content = message.server_content
                if content is None:
                    continue
                for part in (content.model_turn.parts or []) if content.model_turn else []:
                    data = part.inline_data.data if part.inline_data else None
                    if data:
                        device.down_audio_bytes += len(data)
                        device.received.extend((seq, at) for _, seq in markers.find(data))
                if content.interrupted:
                    note(device, "interrupted")
                if content.turn_complete:
                    note(device, "turn_complete")


async def run_sdk(config: dict[str, Any], devices: list[Device]) -> None:
    from google import genai
    from google.genai import types

    context = ssl.create_default_context(cafile=config["ca_file"])
    client = genai.Client(
        api_key="simulated",
        http_options=types.HttpOptions(
            base_url=config["sim_url"],
            api_version="v1beta",
            async_client_args={"ssl": context},
        ),
    )
    setup = live_config(config)

    def sender(session: Any) -> Callable[[bytes], Awaitable[None]]:
        async def send(frame: bytes) -> None:
            await session.send_realtime_input(audio=types.Blob(data=frame, mime_type=INPUT_MIME))

        return send

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    async with contextlib.AsyncExitStack() as stack:

        async def open_one(device: Device) -> Any:
            async with gate:
                return await stack.enter_async_context(
                    client.aio.live.connect(model=config["model"], config=setup)
                )

        first = Device(WARM_UP_TAG)
        async with client.aio.live.connect(model=config["model"], config=setup) as session:
            reader = asyncio.create_task(sdk_receive(session, first))
            await warm_up(sender(session), first)
            reader.cancel()
        print("warm", flush=True)
        sessions = await asyncio.gather(*(open_one(d) for d in devices))
        readers = [
            asyncio.create_task(sdk_receive(s, d)) for s, d in zip(sessions, devices, strict=True)
        ]
        t0, _ = announce(config)

        await asyncio.gather(
            *(
                talk(d, sender(s), config, t0, i)
                for i, (s, d) in enumerate(zip(sessions, devices, strict=True))
            )
        )
        await asyncio.sleep(config["tail_s"])
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def main(config_path: Path, out_path: Path) -> None:
    config = json.loads(config_path.read_text())  # noqa: ASYNC240 (before any load)
    if config["mode"] == "sdk":
        import google.genai.live  # noqa: F401  (its memory is the process's, not a session's)
    print("started", flush=True)
    devices = [Device(config["tag_base"] + i) for i in range(config["sessions"])]
    runner = run_proxy if config["mode"] == "proxy" else run_sdk
    if config.get("ramp_ms"):
        runner = run_ramp
    await runner(config, devices)
    out_path.write_text(json.dumps([asdict(d) for d in devices]))  # noqa: ASYNC240 (after)
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
