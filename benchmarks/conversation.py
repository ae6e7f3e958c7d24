"""Talking to a session like a microphone does: speech-like audio, then silence, in real time.

`speech()` is voiced harmonics at 140 Hz with a 4 Hz syllable rhythm (never silent, like
running speech, well above the echo VAD's start threshold); `quiet()` is faint noise at
about -70 dBFS (below its stop threshold). `converse()` sends both as microphone frames
(`FRAME_MS`, as the browser sends them) on an absolute clock (no drift) and measures, per
utterance, how long after the end-of-speech silence the first model audio came back.
`pinger()` measures ping → pong meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from jupyter_gemini_live.protocol import FRAME_MS

if TYPE_CHECKING:
    from benchmarks.server_process import StreamClient

INPUT_RATE = 16000


def samples(seconds: float, rate: int, frame_ms: int = FRAME_MS) -> int:
    """Whole frames' worth of samples (a partial frame would shift the server's VAD frames
    against ours and delay every later end of speech by one frame)."""
    per_frame = rate * frame_ms // 1000
    return round(seconds * 1000 / frame_ms) * per_frame


def speech(seconds: float, rate: int = INPUT_RATE, level: float = 0.3) -> bytes:
    t = np.arange(samples(seconds, rate)) / rate
    voice = sum(np.sin(2 * np.pi * 140.0 * k * t) / k for k in range(1, 8))
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t)
    wave = level * voice / np.max(np.abs(voice)) * syllables
    pcm: bytes = (wave * 32767).astype("<i2").tobytes()
    return pcm


def quiet(seconds: float, rate: int = INPUT_RATE, seed: int = 0) -> bytes:
    noise = np.random.default_rng(seed).normal(0.0, 10.0, samples(seconds, rate))
    return noise.astype("<i2").tobytes()


def frames(pcm: bytes, frame_ms: int = FRAME_MS) -> list[bytes]:
    size = INPUT_RATE * frame_ms // 1000 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


@dataclass
class Conversation:
    """What one device said and heard."""

    spoken_ms: float = 0.0
    sent_ms: float = 0.0
    #: first model audio after (last speech frame sent + configured silence), seconds
    reply_overheads: list[float] = field(default_factory=list)
    #: first model audio after the silence frame that completes the silence was sent
    after_trigger: list[float] = field(default_factory=list)
    #: how late frames left compared with their real-time slot (client health), seconds
    send_lag: list[float] = field(default_factory=list)
    #: time spent inside `send` for one frame, seconds
    send_cost: list[float] = field(default_factory=list)
    missing_replies: int = 0
    turns: int = 0


async def converse(
    client: StreamClient,
    *,
    utterances: int,
    speech_s: float,
    silence_ms: int,
    pause_s: float,
    start_delay_s: float = 0.0,
    reply_timeout_s: float = 10.0,
) -> Conversation:
    """`utterances` times: `speech_s` of speech, then `pause_s` of quiet (which must cover
    the VAD's `silence_ms` and the echo's reply), all in real-time 20 ms frames."""
    result = Conversation()
    voiced = frames(speech(speech_s))
    silent = frames(quiet(pause_s))
    trigger = silence_ms // FRAME_MS  # the quiet frame after which the VAD ends the turn
    if trigger > len(silent):
        raise ValueError("pause_s must be longer than the end-of-speech silence")
    await asyncio.sleep(start_delay_s)
    clock = time.perf_counter()
    slot = 0
    for _ in range(utterances):
        turn_done = client.expect("turn_complete", turn=client_turn(client) + 1)
        reply: asyncio.Future[float] | None = None
        last_speech = trigger_sent = 0.0
        for index, frame in enumerate(voiced + silent):
            due = clock + slot * FRAME_MS / 1000
            slot += 1
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            start = time.perf_counter()
            result.send_lag.append(max(0.0, start - due))
            if index == len(voiced) + trigger - 1:
                reply = client.expect_audio()  # armed just before the deciding frame
            await client.send_audio(frame)
            done = time.perf_counter()
            result.send_cost.append(done - start)
            if index == len(voiced) - 1:
                last_speech = done
            elif index == len(voiced) + trigger - 1:
                trigger_sent = done
        result.spoken_ms += len(voiced) * FRAME_MS
        result.sent_ms += (len(voiced) + len(silent)) * FRAME_MS
        assert reply is not None
        try:
            arrived = await asyncio.wait_for(asyncio.shield(reply), reply_timeout_s)
        except asyncio.TimeoutError:
            result.missing_replies += 1
            continue
        result.reply_overheads.append(arrived - last_speech - silence_ms / 1000)
        result.after_trigger.append(arrived - trigger_sent)
        try:
            await asyncio.wait_for(turn_done, reply_timeout_s)
            result.turns += 1
        except asyncio.TimeoutError:
            pass
        # if waiting took longer than the pause, restart the clock rather than burst
        if time.perf_counter() > clock + slot * FRAME_MS / 1000:
            clock, slot = time.perf_counter(), 0
    return result


def client_turn(client: StreamClient) -> int:
    """The last turn the client has seen completed."""
    done = [e["turn"] for _, e in client.events if e["type"] == "turn_complete"]
    return max(done, default=0)


async def pinger(client: StreamClient, interval_s: float, stop: asyncio.Event) -> list[float]:
    """Ping every `interval_s` until `stop` is set; the round trips in seconds."""
    rtts: list[float] = []
    while not stop.is_set():
        rtts.append(await client.ping())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
    return rtts
