"""`LiveServer` (the REST API of one Jupyter server) and `KernelSession` (one conversation)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from ..protocol import INPUT_RATE, OUTPUT_RATE
from .device import Device, load_wav
from .discovery import ServerAddress, find_server
from .observer import Events, Observer, Turn
from .rest import LiveError, Rest
from .tools import Tool, Toolbox

if TYPE_CHECKING:
    from .audio import Audio

REPLY_TIMEOUT = 60.0
TOOL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Reply:
    """The model's reply as text and as sound: `say(..., audio=True)` returns it.

    `str(reply)` is the text, as `say` returns without `audio`; `reply.audio` is the
    model's voice (24 kHz mono `Audio`, the audio of an interrupted reply up to where it was
    cut); `reply.turn` the turn it answered.
    """

    text: str
    audio: Audio
    turn: int

    def __str__(self) -> str:
        return self.text

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.text)  # type: ignore[no-untyped-call,unused-ignore]
        display(self.audio)  # type: ignore[no-untyped-call,unused-ignore]


def _model_audio(pcm: bytes) -> Audio:
    from .audio import Audio, AudioConfig

    return Audio(config=AudioConfig(sample_rate=OUTPUT_RATE), data=pcm)


class KernelSession:
    """A conversation on the server, observed by this kernel (which answers its tools).

    Created by `LiveServer.start` or `LiveServer.attach`. The browser panel can be the
    microphone and speaker at the same time; the kernel types, reads and answers tools.
    """

    def __init__(self, rest: Rest, session_id: str, toolbox: Toolbox, tool_timeout: float):
        self.id = session_id
        self._rest = rest
        self._observer = Observer(rest, session_id, toolbox, tool_timeout)
        self._last_turn: int | None = None

    def _open(self) -> KernelSession:
        self._observer.open()
        return self

    # ---- state ---------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The latest state the stream told: connecting, live, reconnecting, closed, error."""
        return (
            "closed"
            if self._observer.ended and self._observer.state == "live"
            else (self._observer.state)
        )

    def info(self) -> dict[str, Any]:
        """The session as the server sees it now (state, device_connected, stats ...)."""
        session: dict[str, Any] = self._rest.json("GET", "sessions", self.id)
        return session

    @property
    def events(self) -> Events:
        """Every event of the stream, bounded (oldest dropped first): for advanced use."""
        return self._observer.events

    def transcript(self) -> list[dict[str, Any]]:
        """`{"role", "text", "turn", "start", "end", "final", "interrupted"}` entries."""
        entries: list[dict[str, Any]] = self._rest.json("GET", "sessions", self.id, "transcript")
        return entries

    # ---- talking -------------------------------------------------------------------

    @overload
    def say(
        self,
        text: str,
        *,
        wait: Literal[True] = ...,
        audio: Literal[False] = ...,
        timeout: float = ...,
    ) -> str: ...

    @overload
    def say(
        self, text: str, *, wait: Literal[True] = ..., audio: Literal[True], timeout: float = ...
    ) -> Reply: ...

    @overload
    def say(
        self, text: str, *, wait: Literal[False], audio: bool = ..., timeout: float = ...
    ) -> None: ...

    def say(
        self, text: str, *, wait: bool = True, audio: bool = False, timeout: float = REPLY_TIMEOUT
    ) -> str | Reply | None:
        """Send `text` as a user turn; with `wait`, the model's reply text of that turn.

        With `audio=True` the answer is a `Reply`: its `text`, and its `audio` (the
        model's voice, 24 kHz mono `Audio`); `str(reply)` is the text.
        """
        answer = self._rest.json("POST", "sessions", self.id, "text", body={"text": text})
        self._last_turn = int(answer["turn"])
        if not wait:
            return None
        turn = self.wait_turn(self._last_turn, timeout)
        if audio:
            return Reply(turn.model, _model_audio(turn.audio), turn.turn)
        return turn.model

    def wait_turn(self, turn: int | None = None, timeout: float = REPLY_TIMEOUT) -> Turn:
        """The complete reply of `turn` (default: what was said last from this kernel)."""
        if turn is None:
            turn = self._last_turn if self._last_turn is not None else self._observer.current_turn()
        return self._observer.wait_turn(turn, timeout)

    def send_audio_file(
        self, path: str | Path, *, realtime: bool = True, timeout: float = REPLY_TIMEOUT
    ) -> str:
        """Speak a WAV file into the session; the model's reply text.

        Only while no browser panel is the session's device: a new device connection
        would take the microphone from it.
        """
        pcm = load_wav(path)
        with Device(self._rest, self.id) as device:
            turn = device.turn  # the server's: what the speech goes into
            device.send_pcm(pcm, realtime=realtime)
            device.end_stream()
            self._last_turn = turn
            # The device stays connected until the reply is complete: leaving earlier
            # would start the server's reconnect-grace clock on a session mid-reply.
            return self._observer.wait_turn(turn, timeout).model

    def send_audio(
        self, audio: Audio, *, realtime: bool = True, timeout: float = REPLY_TIMEOUT
    ) -> Audio:
        """Speak `audio` (any rate: resampled to 16 kHz mono) into the session as its
        microphone; the model's spoken reply (24 kHz mono `Audio`).

        Only while no browser panel is the session's device (as `send_audio_file`).
        `realtime` paces it like a microphone; False sends it as fast as the server takes it.
        """
        pcm = audio.to_mono().resample(INPUT_RATE).data
        with Device(self._rest, self.id) as device:
            turn = device.turn
            device.send_pcm(pcm, realtime=realtime)
            device.end_stream()
            self._last_turn = turn
            return _model_audio(self._observer.wait_turn(turn, timeout).audio)

    def model_audio(self, timeout: float | None = None) -> Iterator[Audio]:
        """The model's audio as it streams (24 kHz mono `Audio` chunks, from this call
        on, not from the first read), until the session ends; TimeoutError after
        `timeout` seconds without any. Chunks are kept for a reader that falls behind up
        to a bound, then the oldest dropped."""
        reader = Events()
        self._observer.audio_readers.add(reader)  # let go with the iterator (a WeakSet)
        return self._read_audio(reader, timeout)

    def _read_audio(self, reader: Events, timeout: float | None) -> Iterator[Audio]:
        try:
            while True:
                chunk = reader.get(timeout)
                if chunk is None:
                    return
                yield _model_audio(chunk["pcm"])
        finally:
            self._observer.audio_readers.discard(reader)

    @overload
    def recording(self, path: None = None) -> Audio: ...

    @overload
    def recording(self, path: str | Path) -> Path: ...

    def recording(self, path: str | Path | None = None) -> Audio | Path:
        """The conversation's recording (sessions started with `record=True`): a stereo
        24 kHz `Audio` (left the user, right the model), or, given `path`, saved there
        as WAV (the path is returned)."""
        wav = self._rest.raw("GET", "sessions", self.id, "recording.wav")
        if path is None:
            from .audio import Audio

            return Audio.from_wav(wav, _stereo_24k())
        target = Path(path)
        target.write_bytes(wav)
        return target

    # ---- ending --------------------------------------------------------------------

    def stop(self) -> None:
        """End the conversation on the server (DELETE) and disconnect."""
        try:
            self._rest.raw("DELETE", "sessions", self.id)
        except LiveError as err:
            if err.status != 404:  # already gone is what we wanted
                raise
        finally:
            self._observer.close()

    def close(self) -> None:
        """Disconnect this kernel and leave the conversation running (e.g. the panel's)."""
        self._observer.close()

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<KernelSession {self.id} {self.state}>"


def _stereo_24k() -> Any:
    from .audio import AudioConfig

    return AudioConfig(sample_rate=OUTPUT_RATE, channels=2)


class LiveServer:
    """The gemini-live API of one Jupyter server (found by `connect`)."""

    def __init__(self, address: ServerAddress) -> None:
        self.address = address
        self._rest = Rest(address)

    @property
    def url(self) -> str:
        return self.address.url

    def status(self) -> dict[str, Any]:
        """Backends (and why one is unavailable), models, voices, audio formats."""
        status: dict[str, Any] = self._rest.json("GET", "status")
        return status

    def sessions(self) -> list[dict[str, Any]]:
        sessions: list[dict[str, Any]] = self._rest.json("GET", "sessions")
        return sessions

    def start(
        self,
        *,
        backend: str | None = None,
        model: str | None = None,
        voice: str | None = None,
        system_instruction: str | None = None,
        language: str | None = None,
        tools: Sequence[Tool] = (),
        transcription: bool = True,
        activity_detection: Literal["auto", "manual"] = "auto",
        record: bool = False,
        notebook: bool = False,
        tool_timeout: float = TOOL_TIMEOUT,
    ) -> KernelSession:
        """Create a session; this kernel observes it and answers calls of `tools`.
        `notebook=True` adds the notebook tools (read, edit and run the open notebook),
        which the browser panel answers once it talks in the session (the card's Talk)."""
        toolbox = Toolbox(tools)
        body: dict[str, Any] = {
            "transcription": transcription,
            "activity_detection": activity_detection,
            "record": record,
        }
        optional = {
            "backend": backend,
            "model": model,
            "voice": voice,
            "system_instruction": system_instruction,
            "language": language,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if toolbox:
            body["tools"] = toolbox.declarations
        if notebook:
            body["notebook"] = True
        created = self._rest.json("POST", "sessions", body=body)
        session = KernelSession(self._rest, str(created["id"]), toolbox, tool_timeout)
        try:
            return session._open()
        except BaseException:
            session.stop()  # created but unusable: do not leave it open on the server
            raise

    def attach(
        self,
        session_id: str | None = None,
        *,
        tools: Sequence[Tool] = (),
        tool_timeout: float = TOOL_TIMEOUT,
    ) -> KernelSession:
        """Observe an existing session; None picks the one a browser panel is talking in."""
        if session_id is None:
            session_id = self._panel_session()
        return KernelSession(self._rest, session_id, Toolbox(tools), tool_timeout)._open()

    def _panel_session(self) -> str:
        live = [s for s in self.sessions() if s["state"] not in ("closed", "error")]
        talking = [s for s in live if s.get("device_connected")]
        if len(talking) == 1:
            return str(talking[0]["id"])
        if not talking:
            raise LiveError("no session has a device: press Start in the Gemini Live panel")
        ids = ", ".join(s["id"] for s in talking)
        raise LiveError(f"several sessions have a device ({ids}): pass attach(session_id)")

    def __repr__(self) -> str:
        return f"<LiveServer {self.url}>"


def connect(url: str | None = None, token: str | None = None) -> LiveServer:
    """The Jupyter server of this kernel (or `url` with `token`), checked to answer."""
    server = LiveServer(find_server(url, token))
    server.status()  # fail here, with the server's words, rather than at the first call
    return server
