"""The offline conversation engine shared by the echo backend and the simulator."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from speech import silence, speech

from jupyter_gemini_live import offline
from jupyter_gemini_live.protocol import INPUT_RATE, OUTPUT_RATE

# ---- `call NAME {json}` --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ('call get_weather {"city": "Paris"}', "get_weather", {"city": "Paris"}),
        ("call get_time", "get_time", {}),
        ("call get_time {}", "get_time", {}),
        ('call lamp{"on": true}', "lamp", {"on": True}),
        ('  Call lamp {"on": true}  \n', "lamp", {"on": True}),
        ("CALL lamp", "lamp", {}),
        ("call weather.today", "weather.today", {}),
        ("call get-time", "get-time", {}),
        ("call ns:fn", "ns:fn", {}),
        ("call _private", "_private", {}),
        ('call f {\n  "a": [1, 2],\n  "b": {"c": null}\n}', "f", {"a": [1, 2], "b": {"c": None}}),
        ("call " + "f" * 64, "f" * 64, {}),
    ],
)
def test_calls(text: str, name: str, args: dict[str, Any]) -> None:
    assert offline.parse_call(text) == offline.CallRequest(name, args)


@pytest.mark.parametrize(
    "text",
    [
        "hello there",
        "call",
        "call ",
        "callme",
        "recall this",
        "please call lamp",
        "call 1lamp",
        "call my mother",  # more words: ordinary text, not a call
        "call lamp {bad json}",
        'call lamp {"on": true',
        'call lamp {"on": true} {"off": 1}',
        'call lamp {"on": true} and more',
        "call lamp [1, 2]",  # args that are not a JSON object
        'call lamp "on"',
        "call lamp 5",
        "call lamp null",
        "call la mp {}",
        "call café",  # names are ASCII, as the Live API allows them
        "call " + "f" * 65,
    ],
)
def test_not_calls(text: str) -> None:
    assert offline.parse_call(text) is None


def test_what_a_function_returned_is_said_with_sorted_keys() -> None:
    assert offline.returned("f", {"b": 1, "a": [2]}) == 'f returned {"a": [2], "b": 1}'
    assert offline.returned("f", "plain") == 'f returned "plain"'


# ---- voices --------------------------------------------------------------------------------


def samples(pcm: bytes) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768


def test_a_tone_is_as_long_as_asked_at_its_pitch_without_clicks() -> None:
    wave = samples(offline.tone(0.3, 660.0))
    assert len(wave) == 0.3 * OUTPUT_RATE
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.argmax(spectrum) * OUTPUT_RATE / len(wave) == pytest.approx(660, abs=5)
    assert np.max(np.abs(wave)) <= offline.TONE_LEVEL + 1e-3
    assert abs(wave[0]) < 1e-3  # faded in
    assert abs(wave[-1]) < 1e-3  # and out
    assert offline.tone(0.0, 440.0) == b""


def test_speech_is_echoed_at_the_output_rate() -> None:
    pcm = speech(1.0)
    echo = offline.echo_audio(pcm)
    assert len(echo) / 2 / OUTPUT_RATE == pytest.approx(1.0, abs=0.01)
    assert np.sqrt(np.mean(samples(echo) ** 2)) == pytest.approx(
        np.sqrt(np.mean(samples(pcm) ** 2)), rel=0.05
    )
    assert offline.echo_audio(b"") == b""
    assert offline.speech_seconds(pcm) == 1.0


def test_a_loud_echo_is_clipped_not_wrapped() -> None:
    period = 80  # a full-scale 200 Hz square wave: the resampler rings past full scale
    square = np.where(np.arange(INPUT_RATE) % period < period // 2, 32767, -32768)
    echo = samples(offline.echo_audio(square.astype("<i2").tobytes()))
    phase = np.arange(len(echo)) * INPUT_RATE / OUTPUT_RATE % period
    high = (phase > 3) & (phase < period // 2 - 3)  # inside the high halves, off the edges
    assert np.min(echo[high]) > 0.5  # an overshoot wrapped to int16 would be near -1


# ---- replies -------------------------------------------------------------------------------


def test_reply_chunks_and_transcript_pieces() -> None:
    reply = offline.Reply(offline.tone(1.0, 440.0), "one two three four five")
    assert reply.seconds == 1.0
    chunks = reply.chunks(0.24)
    assert [len(c) for c in chunks] == [11520] * 4 + [1920]
    assert b"".join(chunks) == reply.pcm
    pieces = reply.transcript_pieces(len(chunks))
    assert "".join(pieces) == reply.transcript
    assert len(pieces) == 5
    assert offline.Reply(b"", "x").chunks(0.1) == [bytes(OUTPUT_RATE // 100 * 2)]
    assert offline.Reply(b"", "a b c").transcript_pieces(1) == ["a b c"]


# ---- hearing the user ------------------------------------------------------------------------


@pytest.mark.parametrize(("sensitivity", "db"), [("high", -48.0), (None, -42.0), ("low", -36.0)])
def test_start_sensitivity(sensitivity: offline.StartSensitivity | None, db: float) -> None:
    detector = offline.detector(silence_ms=300, prefix_ms=100, start_sensitivity=sensitivity)
    assert detector.start_db == db
    assert detector.rate == INPUT_RATE


def kinds(events: list[Any]) -> list[str]:
    return [event.kind for event in events]


def test_automatic_detection_hears_utterances() -> None:
    listener = offline.Listener(offline.detector(silence_ms=300, prefix_ms=100))
    events = listener.audio(speech(0.5)) + listener.audio(silence(0.4))
    assert kinds(events) == ["start", "end"]
    assert offline.speech_seconds(events[1].pcm) == pytest.approx(0.5, abs=0.1)
    listener.activity_start()  # push-to-talk is not how this session is delimited
    assert listener.activity_end() == b""


def test_the_end_of_the_audio_stream_ends_an_utterance() -> None:
    listener = offline.Listener(offline.detector(silence_ms=300, prefix_ms=100))
    assert kinds(listener.audio(speech(0.5))) == ["start"]
    (pcm,) = listener.stream_end()
    assert offline.speech_seconds(pcm) == pytest.approx(0.5, abs=0.1)
    assert listener.stream_end() == []


def test_push_to_talk_hears_only_between_start_and_end() -> None:
    listener = offline.Listener(offline.detector(silence_ms=300, prefix_ms=100), manual=True)
    assert listener.audio(speech(0.3)) == []  # not pressed: not heard
    listener.activity_start()
    assert listener.audio(speech(0.5) + silence(1.0)) == []  # no pause ends it
    assert listener.audio(speech(0.2)) == []
    assert listener.stream_end() == []
    assert offline.speech_seconds(listener.activity_end()) == pytest.approx(1.7)
    assert listener.activity_end() == b""
    assert listener.audio(speech(0.3)) == []


# ---- playing replies ---------------------------------------------------------------------------


class Recorder:
    """A ReplyOutput that writes down what it was told; `hold` pauses `finished`."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.changed = asyncio.Event()
        self.hold: asyncio.Event | None = None

    def note(self, what: str, text: str = "") -> None:
        self.log.append((what, text))
        self.changed.set()

    async def until(self, what: str, count: int = 1) -> None:
        while sum(1 for w, _ in self.log if w == what) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)

    def kinds(self) -> list[str]:
        return [what for what, _ in self.log]

    async def started(self, reply: offline.Reply) -> None:
        self.note("started", reply.transcript)

    async def chunk(self, reply: offline.Reply, pcm: bytes, words: str) -> None:
        self.note("chunk", words)

    async def sent(self, reply: offline.Reply) -> None:
        self.note("sent", reply.transcript)

    async def finished(self, reply: offline.Reply) -> None:
        if self.hold is not None:
            await self.hold.wait()
        self.note("finished", reply.transcript)

    async def interrupted(self) -> None:
        self.note("interrupted")


FAST = offline.Pacing(chunk_s=0.1, lead_s=0.0, speed=50.0)


def reply(seconds: float, text: str) -> offline.Reply:
    return offline.Reply(offline.tone(seconds, 440.0), text)


async def test_a_reply_plays_in_order_and_the_next_waits_for_it() -> None:
    out = Recorder()
    player = offline.ReplyPlayer(out, FAST, name="test-reply")
    player.play(reply(0.3, "first one"))
    player.play(reply(0.2, "second"))
    assert player.playing
    await out.until("finished", 2)
    assert out.kinds() == [
        "started", "chunk", "chunk", "chunk", "sent", "finished",
        "started", "chunk", "chunk", "sent", "finished",
    ]  # fmt: skip
    assert [text for what, text in out.log if what == "chunk"][:2] == ["first", " one"]
    assert not player.playing
    assert not await player.interrupt()  # nothing to interrupt: nothing said
    assert "interrupted" not in out.kinds()


async def test_barge_in_stops_what_was_not_heard_yet() -> None:
    out = Recorder()
    # all of it is sent at once (a long lead), but it takes a minute to hear
    player = offline.ReplyPlayer(out, offline.Pacing(0.1, lead_s=120.0), name="test-reply")
    player.play(reply(60.0, "long"))
    player.play(reply(0.1, "queued"))
    await out.until("sent")
    assert player.playing
    assert await player.interrupt()
    assert out.kinds()[-1] == "interrupted"
    assert "finished" not in out.kinds()
    assert ("started", "queued") not in out.log
    assert not player.playing
    assert not await player.interrupt()  # said once
    assert out.kinds().count("interrupted") == 1


async def test_a_reply_queued_before_it_starts_is_interrupted_too() -> None:
    out = Recorder()
    player = offline.ReplyPlayer(out, FAST, name="test-reply")
    player.play(reply(0.1, "not yet started"))
    assert await player.interrupt()
    assert out.kinds() == ["interrupted"]


async def test_a_reply_heard_in_full_finishes_its_turn_and_the_next_follows() -> None:
    out = Recorder()
    out.hold = asyncio.Event()
    player = offline.ReplyPlayer(out, FAST, name="test-reply")
    player.play(reply(0.1, "heard"))
    await out.until("sent")
    await asyncio.sleep(2 * 0.1 / FAST.speed)  # the playback clock passes the reply's end
    assert not player.playing
    assert not await player.interrupt()  # nothing left to hear: no barge-in
    player.play(reply(0.1, "next"))
    out.hold.set()
    await out.until("finished", 2)
    assert [text for what, text in out.log if what in ("started", "finished")] == [
        "heard", "heard", "next", "next",
    ]  # fmt: skip
    assert "interrupted" not in out.kinds()


async def test_stop_is_silent_and_leaves_no_task() -> None:
    out = Recorder()
    player = offline.ReplyPlayer(out, offline.Pacing(0.1, 0.0), name="test-reply-stop")
    player.play(reply(30.0, "long"))
    await out.until("chunk")
    await player.stop()
    assert "interrupted" not in out.kinds()
    assert not player.playing
    running = [t for t in asyncio.all_tasks() if t.get_name() == "test-reply-stop"]
    assert [t for t in running if not t.done()] == []


# ---- the user's side ---------------------------------------------------------------------------


class Turns:
    def __init__(self, *, manual: bool = False) -> None:
        self.out = Recorder()
        self.player = offline.ReplyPlayer(self.out, FAST, name="test-reply")
        listener = offline.Listener(offline.detector(silence_ms=300, prefix_ms=100), manual=manual)
        self.said: list[str | float] = []
        self.engine = offline.Engine(
            listener, self.player, on_utterance=self.utterance, on_text=self.text
        )

    async def utterance(self, pcm: bytes) -> None:
        self.said.append(round(offline.speech_seconds(pcm), 1))

    async def text(self, text: str) -> None:
        self.said.append(text)
        self.player.play(reply(10.0, text))


async def test_speech_and_text_barge_in() -> None:
    turns = Turns()
    await turns.engine.text("hello")
    await turns.out.until("started")
    await turns.engine.audio(speech(0.3))  # speech starts: the reply stops
    assert turns.out.kinds()[-1] == "interrupted"
    await turns.engine.audio(silence(0.4))
    assert turns.said == ["hello", 0.3]
    await turns.engine.text("again")
    await turns.engine.text("and again")  # typed over the reply to "again"
    assert turns.out.kinds().count("interrupted") == 2
    await turns.engine.audio(speech(0.2))
    await turns.engine.audio_stream_end()
    assert turns.said[:4] == ["hello", 0.3, "again", "and again"]
    assert turns.said[4] == pytest.approx(0.2, abs=0.15)  # with the prefix padding
    await turns.player.stop()


async def test_push_to_talk_barges_in_and_hands_over_what_was_held() -> None:
    turns = Turns(manual=True)
    await turns.engine.text("hello")
    await turns.engine.activity_start()
    assert turns.out.kinds() == ["interrupted"]
    await turns.engine.audio(speech(0.5) + silence(0.5))
    await turns.engine.activity_end()
    await turns.engine.activity_start()
    await turns.engine.activity_end()  # pressed and released, nothing said: no turn
    assert turns.said == ["hello", 1.0]
