"""record=true: the conversation comes back as a stereo WAV, user left, model right."""

from __future__ import annotations

import io
import stat
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from speech import frames, silence, speech
from waiting import until_true

from jupyter_gemini_live.backends.base import BackendError
from jupyter_gemini_live.recording import Recorder, RecordingSettings, RecordingUnavailable


def active_seconds(channel: np.ndarray, rate: int) -> tuple[float, float, float]:
    """(first, last, total) seconds where 20 ms blocks are louder than -40 dBFS."""
    block = rate // 50
    blocks = channel[: len(channel) // block * block].reshape(-1, block).astype(np.float64)
    loud = np.sqrt(np.mean(blocks**2, axis=1)) / 32768 > 0.01
    where = np.flatnonzero(loud)
    if not where.size:
        return 0.0, 0.0, 0.0
    return where[0] * 0.02, (where[-1] + 1) * 0.02, loud.sum() * 0.02


async def test_recording_has_both_voices_in_time_order(api: Any, open_stream: Any) -> None:
    code, session = await api("POST", "sessions", body={"record": True})
    assert code == 201
    stream = await open_stream(session["id"])
    await stream.until("ready")
    await stream.talk(speech(1.0) + silence(0.8))
    await stream.until("turn_complete", turn=1)
    samples = np.zeros((0, 2), dtype="<i2")

    async def reply_recorded() -> bool:
        """The file holds what has been played up to now; a reply whose chunks came late
        (a busy machine) is laid out later, and its end is written once it is past."""
        nonlocal samples
        code, body = await api("GET", "sessions", session["id"], "recording.wav")
        assert code == 200
        with wave.open(io.BytesIO(body)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 24000)
            pcm = wav.readframes(wav.getnframes())
        samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2)
        return active_seconds(samples[:, 1], 24000)[2] >= 0.85

    await until_true(reply_recorded, "the whole reply in the recording", timeout=5)
    _user_start, user_end, user_total = active_seconds(samples[:, 0], 24000)
    model_start, _, model_total = active_seconds(samples[:, 1], 24000)
    assert abs(user_total - 1.0) < 0.1
    assert abs(model_total - 1.0) < 0.15
    assert model_start >= user_end, "the reply is placed after the user stopped talking"


async def test_a_new_recording_is_already_a_valid_wav(api: Any) -> None:
    """Regression: recording.wav right after creation answered 200 with 0 bytes."""
    code, session = await api("POST", "sessions", body={"record": True})
    assert code == 201
    code, body = await api("GET", "sessions", session["id"], "recording.wav")
    assert code == 200
    with wave.open(io.BytesIO(body)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 24000)


async def test_an_unwritable_record_dir_is_a_503_and_frees_the_slot(
    api: Any, jp_serverapp: Any, tmp_path: Path
) -> None:
    """Regression: 500, and the session slot stayed taken until the idle reaper."""
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    manager.recording = RecordingSettings(str(blocker / "recordings"))
    for _ in range(manager.max_sessions + 1):
        code, body = await api("POST", "sessions", body={"record": True})
        assert code == 503, body
        assert "c.GeminiLive.record_dir" in body["message"]
    code, _session = await api("POST", "sessions", body={})
    assert code == 201


async def test_a_deleted_session_takes_its_recording_with_it(api: Any, jp_serverapp: Any) -> None:
    """Regression: recordings were never deleted (~345 MB an hour each)."""
    code, session = await api("POST", "sessions", body={"record": True})
    assert code == 201
    folder = Path(jp_serverapp.web_app.settings["gemini_live_sessions"].recording.folder)
    path = folder / f"{session['id']}.wav"
    assert path.exists()
    code, _ = await api("DELETE", "sessions", session["id"])
    assert code == 204
    assert not path.exists()


async def test_a_recording_that_reaches_its_size_limit_says_so(
    api: Any, open_stream: Any, jp_serverapp: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    manager.recording = RecordingSettings(manager.recording.folder, max_bytes=48_000)
    code, session = await api("POST", "sessions", body={"record": True})
    assert code == 201
    stream = await open_stream(session["id"])
    await stream.until("ready")
    await stream.talk(speech(1.0) + silence(0.8))
    error = await stream.until("error")
    assert error["code"] == "recording_stopped"
    assert error["fatal"] is False
    await stream.until("turn_complete", turn=1)  # the conversation goes on
    code, body = await api("GET", "sessions", session["id"], "recording.wav")
    assert code == 200
    assert len(body) <= 48_000


# ---- the Recorder on its own, on a clock the test moves -----------------------------------


class Clock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path)) as wav:
        params = wav.getparams()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return params, samples.reshape(-1, 2)


async def test_a_recorded_conversation_of_20_ms_frames_streams_without_breaking(
    tmp_path: Path,
) -> None:
    """Regression: the device streams its microphone all along (also while the model
    speaks) in 20 ms frames; the resampler hands its output out in bursts, so the user's
    track ends a little before now, and once model audio ahead of now was written up to
    now the next microphone chunk fell wholly before the file's end: `_mix` raised
    "operands could not be broadcast" about 2 s in and the session dropped its socket."""
    clock = Clock(0.3)  # the device connects a moment after the session opened
    recorder = Recorder(str(tmp_path), "s1", clock)
    await recorder.open()
    mic = frames(speech(10.0))
    for index, frame in enumerate(mic):
        clock.now = 0.3 + index * 0.02 + (0.004 if index % 3 else 0.0)  # network jitter
        recorder.user(frame)
        if index % 150 == 60:  # the model answers with 2 s of audio, ahead of real time
            recorder.model(speech(2.0, rate=24000))
        if index % 50 == 49:  # what the flusher does every second
            await recorder.flush()
    clock.now += 3.0
    await recorder.close()

    params, samples = read_wav(recorder.path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, 24000)
    first, _last, total = active_seconds(samples[:, 0], 24000)
    assert abs(total - 10.0) < 0.1, "no microphone audio is lost"
    assert abs(first - 0.3) < 0.05, "the microphone starts when it arrived"
    assert abs(active_seconds(samples[:, 1], 24000)[2] - 2.0 * len(range(60, 500, 150))) < 0.2


async def test_a_recording_is_a_valid_wav_from_its_creation(tmp_path: Path) -> None:
    clock = Clock()
    recorder = Recorder(str(tmp_path), "s2", clock)
    await recorder.open()
    params, samples = read_wav(recorder.path)
    assert (params.nchannels, params.framerate, len(samples)) == (2, 24000, 0)

    for frame in frames(speech(1.0)):
        clock.now += 0.02
        recorder.user(frame)
    clock.now += 1.0
    await recorder.flush()
    params, samples = read_wav(recorder.path)  # readable while the session goes on
    assert len(samples) > 0.9 * 24000
    await recorder.close()


async def test_recordings_are_private_files_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "recordings"
    recorder = Recorder(str(folder), "s3", Clock())
    await recorder.open()
    await recorder.close()
    assert recorder.path.parent == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(recorder.path.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="not a session id"):
        Recorder(str(folder), "../escape", Clock())


async def test_a_symlink_in_the_folder_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "s4.wav").symlink_to(target)
    recorder = Recorder(str(folder), "s4", Clock())
    with pytest.raises(RecordingUnavailable, match="exists already"):
        await recorder.open()
    assert target.read_text() == "keep me"

    await recorder.discard()  # removes the link, never what it points to
    assert target.read_text() == "keep me"


async def test_an_unwritable_folder_is_a_503_that_names_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    recorder = Recorder(str(blocker / "recordings"), "s5", Clock())
    with pytest.raises(RecordingUnavailable) as caught:
        await recorder.open()
    assert isinstance(caught.value, BackendError)
    assert caught.value.status == 503
    assert str(blocker / "recordings") in caught.value.message
    assert "c.GeminiLive.record_dir" in caught.value.message


async def test_a_recording_stops_at_its_size_limit_and_says_so(tmp_path: Path) -> None:
    clock = Clock()
    stops: list[str] = []
    limit = 44 + 24000 * 4  # one second of stereo
    recorder = Recorder(str(tmp_path), "s6", clock, max_bytes=limit, on_stop=stops.append)
    await recorder.open()
    for frame in frames(speech(3.0)):
        clock.now += 0.02
        recorder.user(frame)
        if len(frame) and int(clock.now * 50) % 25 == 0:
            await recorder.flush()
    await recorder.close()
    assert recorder.stopped is not None
    assert stops == [recorder.stopped]
    assert "recording_max_mb" in stops[0]
    assert recorder.path.stat().st_size <= limit
    _params, samples = read_wav(recorder.path)
    assert len(samples) == 24000


async def test_discard_deletes_the_recording(tmp_path: Path) -> None:
    clock = Clock()
    recorder = Recorder(str(tmp_path), "s7", clock)
    await recorder.open()
    recorder.user(speech(0.02))
    await recorder.discard()
    assert not recorder.path.exists()
    await recorder.discard()  # twice is fine
