"""End-of-utterance detection: what counts as one utterance, and what it returns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from speech import silence, speech

from jupyter_gemini_live.vad import SpeechDetector, frame_dbfs, frames_dbfs


def run(detector: SpeechDetector, pcm: bytes, chunk: int) -> list[tuple[str, float]]:
    events = []
    for i in range(0, len(pcm), chunk):
        for event in detector.feed(pcm[i : i + chunk]):
            events.append((event.kind, len(event.pcm) / 2 / 16000))
    return events


def test_one_utterance_ends_after_the_silence() -> None:
    pcm = silence(0.3) + speech(1.0) + silence(0.7)
    events = run(SpeechDetector(silence_ms=600), pcm, chunk=640)
    assert [kind for kind, _ in events] == ["start", "end"]
    assert abs(events[1][1] - 1.0) < 0.15  # the utterance, without the trailing silence


def test_odd_chunk_sizes_give_the_same_result() -> None:
    pcm = speech(0.8) + silence(0.7)
    assert run(SpeechDetector(), pcm, chunk=640) == run(SpeechDetector(), pcm, chunk=1234)


def test_a_short_pause_does_not_split_an_utterance() -> None:
    pcm = speech(0.5) + silence(0.3) + speech(0.5) + silence(0.7)
    events = run(SpeechDetector(silence_ms=600), pcm, chunk=640)
    assert [kind for kind, _ in events] == ["start", "end"]
    assert abs(events[1][1] - 1.3) < 0.15


def test_background_hiss_is_not_speech() -> None:
    noise = (np.random.default_rng(1).normal(0, 60, 16000 * 2)).astype("<i2").tobytes()
    assert frame_dbfs(noise) < -50
    assert run(SpeechDetector(), noise, chunk=640) == []


def test_flush_ends_an_utterance_in_progress() -> None:
    detector = SpeechDetector()
    assert [e.kind for e in detector.feed(speech(0.5))] == ["start"]
    (end,) = detector.flush()
    assert end.kind == "end"
    assert abs(len(end.pcm) / 32000 - 0.5) < 0.1
    assert detector.flush() == []


@settings(max_examples=60, deadline=None)
@given(
    samples=st.lists(st.integers(-32768, 32767), min_size=0, max_size=1300),
    frame=st.sampled_from([2, 320, 640]),
)
def test_frame_levels_are_the_rms_of_each_whole_frame(samples: list[int], frame: int) -> None:
    """The one-pass levels the detector uses agree with the level of each frame alone."""
    pcm = np.array(samples, dtype="<i2").tobytes()
    levels = frames_dbfs(pcm, frame)
    assert len(levels) == len(pcm) // frame
    for index, level in enumerate(levels):
        chunk = np.frombuffer(pcm[index * frame : (index + 1) * frame], "<i2").astype(float)
        rms = max(float(np.sqrt(np.mean(chunk * chunk))) / 32768.0, 1e-6)
        assert level == pytest.approx(20.0 * np.log10(rms), abs=1e-9)
        assert level == pytest.approx(frame_dbfs(pcm[index * frame : (index + 1) * frame]))
