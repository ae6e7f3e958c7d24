"""The browser as the kernel's microphone and speaker: `RunningLiveAudio` and `AudioSession`.

    from jupyter_gemini_live import RunningLiveAudio, Audio

    async with RunningLiveAudio() as audio:      # a cell: ipykernel's loop is running
        chunk = await audio.read()               # 40 ms of 16 kHz s16le microphone
        await audio.enqueue(Audio.from_wav("hello.wav"))   # any rate: resampled
        await audio.clear_queue()                # silence what is still queued

    with RunningLiveAudio() as audio:            # plain code: the same, blocking
        chunk = audio.read()

`RunningLiveAudio` creates a relay session on this kernel's own Jupyter server
(`POST gemini-live/api/sessions {"backend": "relay"}`), shows the inline device in the
cell's output (the browser asks for the microphone there), connects to the session's
stream as its `source`, and waits for the device to start. The microphone's PCM comes to
`read()` frame by frame as the browser sends it; what `enqueue()` sends plays through the
browser's playback worklet. No Gemini key is involved: what the kernel does with the audio
is its own business (its own Live loop with its own key, a recorder, a DSP test...).

Bounded both ways: frames the kernel has not read wait here up to `MAX_QUEUED_S` (10 s),
the oldest dropped first (`dropped_ms` counts them); while the kernel's loop is blocked the
server's queue for it does the same (the session's `stats.dropped_in_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import Awaitable, Coroutine
from types import TracebackType
from typing import Any, Final, TypeVar

from ..protocol import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, pcm_ms
from .audio import STANDARD_AUDIO_CONFIG, Audio, AudioConfig, FailedToStartError
from .discovery import find_server
from .rest import LiveError, Rest, server_message

__all__ = [
    "DEVICE_MIME_TYPE",
    "AudioDeviceClosed",
    "AudioSession",
    "BlockingAudioSession",
    "RunningLiveAudio",
]

#: the inline device's MIME type (rendered by the lab extension's device plugin)
DEVICE_MIME_TYPE: Final = "application/vnd.jupyter.gemini-live.device+json"
#: microphone audio kept for a kernel that is not reading; the oldest goes first
MAX_QUEUED_S: Final = 10.0
#: the kernel's audio goes to the device in frames of this length
SEND_FRAME_S: Final = 0.1
#: how close to everything enqueued `drain()` waits the device's played count to come
DRAIN_TOLERANCE_MS: Final = 60.0
CONNECT_TIMEOUT: Final = 15.0
CLOSE_TIMEOUT: Final = 5.0

T = TypeVar("T")
Traceback = TracebackType | None


class AudioDeviceClosed(RuntimeError):
    """The device stopped (Stop pressed, the page closed) or the session ended."""


class AudioSession:
    """The browser's microphone and speaker, from kernel code (from `RunningLiveAudio`).

    `read()` gives microphone PCM at `config`'s rate and channels; `enqueue()` plays bytes
    at that rate, or an `Audio` at any rate; `clear_queue()` silences what is queued.
    """

    def __init__(self, config: AudioConfig, session_id: str) -> None:
        self.config = config
        self.session_id = session_id
        #: the device's running total of audio really played, in ms (from its reports)
        self.played_ms = 0.0
        #: microphone audio dropped here because `read()` was not called, in ms
        self.dropped_ms = 0.0
        #: the latest thing the device said: connected, started, failed, stopped, ...
        self.device_status = "waiting"
        self.failure: str | None = None
        self._ws: Any = None
        self._frames: deque[bytes] = deque()
        self._queued = 0
        self._max_queued = int(MAX_QUEUED_S * config.sample_rate) * config.frame_size
        self._changed = asyncio.Event()
        self._started = False
        self._ended: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._resampler: Any = None
        self._play_target = 0.0  # the played count at which everything enqueued is heard

    # ---- the guide's API -------------------------------------------------------------

    async def read(self) -> bytes:
        """The next microphone frame (40 ms, the server's `audio.frame_ms`) as PCM at
        `config`'s rate and channels, waiting for it; `AudioDeviceClosed` once the device
        has stopped and all is read."""
        while not self._frames:
            if self._ended is not None:
                raise AudioDeviceClosed(self._ended)
            if self.device_status in ("stopped", "failed", "disconnected") and self._started:
                raise AudioDeviceClosed(f"the microphone is {self.device_status}")
            await self._wait_change()
        frame = self._frames.popleft()
        self._queued -= len(frame)
        return frame

    async def enqueue(self, audio: bytes | bytearray | memoryview | Audio) -> None:
        """Play `audio` in the browser after what is queued: bytes at `config`'s rate and
        channels, or an `Audio` at any rate (resampled to 24 kHz mono with soxr)."""
        if not isinstance(audio, Audio):
            audio = Audio(config=self.config, data=bytes(audio))
        pcm = audio.to_mono().resample(OUTPUT_RATE).data
        if not pcm:
            return
        step = int(SEND_FRAME_S * OUTPUT_RATE) * SAMPLE_WIDTH
        for offset in range(0, len(pcm), step):
            await self._send(pcm[offset : offset + step])
        self._play_target = max(self._play_target, self.played_ms) + pcm_ms(len(pcm), OUTPUT_RATE)

    async def clear_queue(self) -> None:
        """Silence what is queued in the browser (within one render quantum)."""
        await self._send(json.dumps({"type": "clear"}))
        self._play_target = self.played_ms

    async def await_start(self) -> None:
        """Wait until the microphone runs; `FailedToStartError` with the browser's reason
        when it cannot (denied, no microphone, not a secure context) or the session ends."""
        while not self._started:
            if self.failure is not None:
                raise FailedToStartError(self.failure)
            if self._ended is not None:
                raise FailedToStartError(self._ended)
            await self._wait_change()

    # ---- beyond the guide --------------------------------------------------------------

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until the device has played everything enqueued (since `clear_queue`)."""

        async def played() -> None:
            while self.played_ms < self._play_target - DRAIN_TOLERANCE_MS:
                if self._ended is not None:
                    raise AudioDeviceClosed(self._ended)
                await self._wait_change()

        await asyncio.wait_for(played(), timeout)

    @property
    def queued_s(self) -> float:
        """Microphone audio received and not read yet, in seconds."""
        return self._queued / self.config.frame_size / self.config.sample_rate

    def __repr__(self) -> str:
        return (
            f"<AudioSession {self.session_id} {self.device_status}, "
            f"{self.config.sample_rate} Hz, played {self.played_ms / 1000:.1f} s>"
        )

    # ---- the source connection ---------------------------------------------------------

    async def _connect(self, rest: Rest) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        url = rest.url("sessions", self.session_id, "stream") + "?mode=source"
        url = "ws" + url[len("http") :]
        try:
            self._ws = await asyncio.wait_for(
                connect(url, additional_headers=rest.headers(), max_size=None),
                CONNECT_TIMEOUT,
            )
        except InvalidStatus as err:
            status = err.response.status_code
            fallback = f"the server refused the source connection: HTTP {status}"
            message = server_message(status, bytes(err.response.body), fallback)
            raise LiveError(message, status) from None
        except (OSError, asyncio.TimeoutError) as err:
            raise LiveError(f"cannot open the stream of session {self.session_id}: {err}") from None
        first = json.loads(await asyncio.wait_for(self._ws.recv(), CONNECT_TIMEOUT))
        if first.get("type") != "ready":
            await self._ws.close()
            raise LiveError(f"expected 'ready' first, got {first!r}")
        self._reader = asyncio.create_task(self._read_forever(), name="gemini-live-source")

    async def _close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._end("the audio session was closed")

    async def _send(self, message: bytes | str) -> None:
        if self._ended is not None:
            raise AudioDeviceClosed(self._ended)
        await self._ws.send(message)

    async def _read_forever(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reason = "the session's stream closed"
        try:
            async for message in self._ws:
                if isinstance(message, bytes):
                    self._on_microphone(message)
                else:
                    self._on_event(json.loads(message))
        except ConnectionClosed as err:
            reason = f"the session's stream closed: {err}"
        finally:
            if self._ws is not None and self._ws.close_reason:
                reason = f"the session ended: {self._ws.close_reason}"
            self._end(reason)

    def _on_microphone(self, pcm: bytes) -> None:
        if not self._started:  # a device that says nothing (the panel) started by talking
            self._started = True
        frame = self._convert(pcm)
        self._frames.append(frame)
        self._queued += len(frame)
        while self._queued > self._max_queued:
            oldest = self._frames.popleft()
            self._queued -= len(oldest)
            self.dropped_ms += len(oldest) / self.config.frame_size / self.config.sample_rate * 1e3
        self._notify()

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "device":
            status = str(event.get("status"))
            self.device_status = status
            if status == "started":
                self._started = True
                self.failure = None
            elif status == "failed":
                self.failure = str(event.get("reason") or "the microphone could not start")
        elif kind == "playback":
            self.played_ms = max(self.played_ms, float(event.get("played_ms") or 0.0))
        elif kind == "error" and event.get("fatal"):
            self._end(f"{event.get('code')}: {event.get('message')}")
        self._notify()

    def _convert(self, pcm: bytes) -> bytes:
        """Microphone PCM (16 kHz mono) at `config`'s rate and channels."""
        rate, channels = self.config.sample_rate, self.config.channels
        if rate == INPUT_RATE and channels == 1:
            return pcm
        import numpy as np

        samples = np.frombuffer(pcm, "<i2")
        if rate != INPUT_RATE:
            if self._resampler is None:
                import soxr

                self._resampler = soxr.ResampleStream(INPUT_RATE, rate, 1, dtype="int16")
            samples = self._resampler.resample_chunk(samples)
        if channels > 1:
            samples = np.repeat(samples, channels)
        return np.ascontiguousarray(samples, dtype="<i2").tobytes()

    def _end(self, reason: str) -> None:
        if self._ended is None:
            self._ended = reason
        self._notify()

    def _notify(self) -> None:
        self._changed.set()

    async def _wait_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()


class RunningLiveAudio:
    """The browser as this kernel's audio device, for the length of a `with` block.

    `async with RunningLiveAudio(config) as audio:` in a cell (ipykernel's running loop), or
    `with RunningLiveAudio(config) as audio:` in plain code (a private loop thread; the
    methods block). Creates a relay session on this kernel's Jupyter server, shows the
    inline device in the cell's output, and waits up to `start_timeout` seconds for its
    microphone (`FailedToStartError` with the browser's reason). Leaving the block closes
    the connection and deletes the session; the browser releases the microphone.

    `url`/`token` name the Jupyter server when discovery cannot (see `connect`).
    """

    def __init__(
        self,
        config: AudioConfig = STANDARD_AUDIO_CONFIG,
        *,
        start_timeout: float = 60.0,
        label: str = "Microphone and speaker for this notebook",
        url: str | None = None,
        token: str | None = None,
    ) -> None:
        self.config = config
        self.start_timeout = start_timeout
        self.label = label
        self._url, self._token = url, token
        self._rest: Rest | None = None
        self._session: AudioSession | None = None
        self._thread: _LoopThread | None = None

    @property
    def session_id(self) -> str | None:
        return self._session.session_id if self._session is not None else None

    # ---- async form ----------------------------------------------------------------

    async def __aenter__(self) -> AudioSession:
        session = await self._open()
        try:
            self._display(session)
            await self._wait_started(session)
        except BaseException:
            await self._shut()
            raise
        return session

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        await self._shut()

    # ---- blocking form ---------------------------------------------------------------

    def __enter__(self) -> BlockingAudioSession:
        self._thread = _LoopThread()
        try:
            session = self._thread.run(self._open())
            self._display(session)  # in the caller's thread: the cell's output
            self._thread.run(self._wait_started(session))
        except BaseException:
            self._thread.run(self._shut())
            self._thread.stop()
            raise
        return BlockingAudioSession(session, self._thread)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        if self._thread is not None:
            try:
                self._thread.run(self._shut())
            finally:
                self._thread.stop()
                self._thread = None

    # ---- steps -------------------------------------------------------------------------

    async def _open(self) -> AudioSession:
        rest = Rest(find_server(self._url, self._token))
        self._rest = rest
        created = await asyncio.to_thread(
            rest.json, "POST", "sessions", body={"backend": "relay", "transcription": False}
        )
        session = AudioSession(self.config, str(created["id"]))
        self._session = session
        await session._connect(rest)
        return session

    def _display(self, session: AudioSession) -> None:
        from IPython.display import display

        data = {
            "session_id": session.session_id,
            "sample_rate": self.config.sample_rate,
            "label": self.label,
        }
        text = (
            f"Gemini Live audio device for session {session.session_id}: open this notebook "
            "in JupyterLab or Notebook 7 (with jupyter_gemini_live installed) and press "
            "'Start microphone' here, or join the session from the Gemini Live panel."
        )
        display({DEVICE_MIME_TYPE: data, "text/plain": text}, raw=True)  # type: ignore[no-untyped-call,unused-ignore]

    async def _wait_started(self, session: AudioSession) -> None:
        try:
            await asyncio.wait_for(session.await_start(), self.start_timeout)
        except asyncio.TimeoutError:
            raise FailedToStartError(
                f"the microphone did not start within {self.start_timeout:g} s: press "
                "'Start microphone' in the cell's output (or Start in the Gemini Live panel "
                f"joined to session {session.session_id}), and allow the microphone"
            ) from None

    async def _shut(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session._close()
            if self._rest is not None:
                with contextlib.suppress(LiveError):
                    rest, session_id = self._rest, session.session_id
                    await asyncio.to_thread(rest.raw, "DELETE", "sessions", session_id)


class BlockingAudioSession:
    """`AudioSession` with blocking methods (the `with RunningLiveAudio()` form)."""

    def __init__(self, session: AudioSession, thread: _LoopThread) -> None:
        self.session = session
        self._thread = thread

    @property
    def config(self) -> AudioConfig:
        return self.session.config

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def played_ms(self) -> float:
        return self.session.played_ms

    @property
    def dropped_ms(self) -> float:
        return self.session.dropped_ms

    @property
    def device_status(self) -> str:
        return self.session.device_status

    def read(self, timeout: float | None = None) -> bytes:
        return self._thread.run(self.session.read(), timeout)

    def enqueue(self, audio: bytes | bytearray | memoryview | Audio) -> None:
        self._thread.run(self.session.enqueue(audio))

    def clear_queue(self) -> None:
        self._thread.run(self.session.clear_queue())

    def await_start(self) -> None:
        self._thread.run(self.session.await_start())

    def drain(self, timeout: float | None = None) -> None:
        self._thread.run(self.session.drain(timeout))

    def __repr__(self) -> str:
        return repr(self.session)


class _LoopThread:
    """An event loop on a daemon thread, for the blocking form."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="gemini-live-audio", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T], timeout: float | None = None) -> T:
        async def wrapped() -> T:
            return await asyncio.wait_for(coro, timeout)

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(CLOSE_TIMEOUT)
        if not self._thread.is_alive():
            self.loop.close()
