"""`Audio` and `AudioConfig` behave as the Colab guide's did, plus conversions and a player."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jupyter_gemini_live.client.audio import (
    MAX_EMBED_SECONDS,
    STANDARD_AUDIO_CONFIG,
    Audio,
    AudioConfig,
    FailedToStartError,
)

MONO_16K = AudioConfig(sample_rate=16000)
STEREO_16K = AudioConfig(sample_rate=16000, channels=2)


def tone(
    seconds: float, rate: int, frequency: float = 1000.0, level: float = 0.5, channels: int = 1
) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    wave_ = level * np.sin(2 * np.pi * frequency * t)
    return Audio.from_numpy(np.repeat(wave_[:, None], channels, axis=1), rate)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    windowed = samples.astype(np.float64) * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(windowed))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[np.argmax(spectrum)])


def rms_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) / 32768))


def riff(fmt: bytes, data: bytes, extra: bytes = b"") -> bytes:
    """A WAV file built by hand: fmt chunk, an optional chunk to skip, data chunk."""
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + extra
    body += b"data" + len(data).to_bytes(4, "little") + data + b"\0" * (len(data) % 2)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def fmt_chunk(tag: int, channels: int, rate: int, width: int, extensible_tag: int = 0) -> bytes:
    align = channels * width
    fmt = tag.to_bytes(2, "little") + channels.to_bytes(2, "little")
    fmt += rate.to_bytes(4, "little") + (rate * align).to_bytes(4, "little")
    fmt += align.to_bytes(2, "little") + (8 * width).to_bytes(2, "little")
    if extensible_tag:
        guid_tail = bytes.fromhex("000000001000800000aa00389b71")
        fmt += (22).to_bytes(2, "little") + (8 * width).to_bytes(2, "little")
        fmt += (0).to_bytes(4, "little") + extensible_tag.to_bytes(2, "little") + guid_tail
    return fmt


# -- AudioConfig ------------------------------------------------------------------------


def test_config_sizes_and_dtype() -> None:
    assert AudioConfig(sample_rate=16000, format="S16_LE", channels=1) == STANDARD_AUDIO_CONFIG
    assert MONO_16K.sample_size == 2
    assert MONO_16K.frame_size == 2
    assert STEREO_16K.frame_size == 4
    assert MONO_16K.numpy_dtype == np.int16
    assert MONO_16K.numpy_dtype.str == "<i2"  # little-endian on every machine


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_rate": 16000, "format": "F32_LE"}, "only 'S16_LE'"),
        ({"sample_rate": 16000, "format": "S16_BE"}, "only 'S16_LE'"),
        ({"sample_rate": 16000, "channels": 0}, "channels"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"sample_rate": 16000.0}, "sample_rate must be an int"),
    ],
)
def test_config_refuses_what_it_cannot_describe(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        AudioConfig(**kwargs)


def test_failed_to_start_is_an_exception() -> None:
    with pytest.raises(FailedToStartError, match="denied"):
        raise FailedToStartError("microphone denied")


# -- the guide's Audio -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "frames"),
    [(0, 0), (1, 16000), (0.5, 8000), (1 / 3, 5333), (0.00001, 0), (-1, 0), (-0.5, 0)],
)
def test_silence_lengths(seconds: float, frames: int) -> None:
    audio = Audio.silence(MONO_16K, seconds)
    assert audio.data == bytes(2 * frames)
    assert audio.num_frames == frames
    assert audio.duration == frames / 16000


def test_silence_is_whole_frames_of_every_channel() -> None:
    audio = Audio.silence(STEREO_16K, 0.25)
    assert len(audio.data) == 4000 * 4
    assert audio.as_numpy().shape == (8000,)


def test_as_numpy_is_little_endian_int16() -> None:
    audio = Audio(MONO_16K, b"\x01\x00\xff\x7f\x00\x80\xfe\xff")
    samples = audio.as_numpy()
    assert samples.dtype.str == "<i2"
    assert samples.tolist() == [1, 32767, -32768, -2]


def test_data_must_be_whole_frames() -> None:
    with pytest.raises(ValueError, match="whole frames"):
        Audio(MONO_16K, b"\x00\x00\x00")
    with pytest.raises(ValueError, match="whole frames"):
        Audio(STEREO_16K, b"\x00\x00")
    assert Audio(MONO_16K, bytearray(4)).data == bytes(4)  # type: ignore[arg-type]


@pytest.mark.parametrize("config", [MONO_16K, STEREO_16K, AudioConfig(sample_rate=24000)])
def test_wav_headers(config: AudioConfig) -> None:
    audio = Audio(config, np.arange(-400, 400, dtype="<i2").tobytes())
    with wave.open(io.BytesIO(audio.as_wav_bytes()), "rb") as wav:
        assert wav.getframerate() == config.sample_rate
        assert wav.getsampwidth() == 2
        assert wav.getnchannels() == config.channels
        assert wav.getnframes() == audio.num_frames
        assert wav.readframes(wav.getnframes()) == audio.data


def test_wav_round_trip_through_from_wav(tmp_path: Path) -> None:
    mono = tone(0.3, 16000)
    assert Audio.from_wav(mono.as_wav_bytes()) == mono
    stereo = Audio(STEREO_16K, np.arange(-800, 800, dtype="<i2").tobytes())
    stereo.save(tmp_path / "stereo.wav")
    assert Audio.from_wav(tmp_path / "stereo.wav", config=STEREO_16K) == stereo
    assert Audio.from_wav(str(tmp_path / "stereo.wav")).config == MONO_16K  # mixed by default


def test_plus_concatenates_matching_configs() -> None:
    first, second = tone(0.1, 16000), Audio.silence(MONO_16K, 0.2)
    both = first + second
    assert both.data == first.data + second.data
    assert both.config == MONO_16K
    assert both.duration == pytest.approx(0.3)


@pytest.mark.parametrize(
    "other",
    [
        Audio.silence(AudioConfig(sample_rate=24000), 0.1),
        Audio.silence(STEREO_16K, 0.1),
    ],
)
def test_plus_refuses_mismatched_configs(other: Audio) -> None:
    with pytest.raises(ValueError, match="different configs"):
        Audio.silence(MONO_16K, 0.1) + other


def test_plus_refuses_bytes() -> None:
    with pytest.raises(TypeError):
        Audio.silence(MONO_16K, 0.1) + b"\0\0"  # type: ignore[operator]


def test_astream_realtime_paces_as_if_played() -> None:
    """2 s of audio arrive in many chunks, never ahead of real time, all of it in order."""
    audio = tone(2.0, 16000)
    bytes_per_second = 16000 * 2
    received: list[tuple[float, bytes]] = []

    async def listen() -> float:
        start = time.monotonic()
        async for chunk in audio.astream_realtime(expected_delta_sec=0.1):
            received.append((time.monotonic() - start, chunk))
        return time.monotonic() - start

    elapsed = asyncio.run(listen())
    chunks = [chunk for _, chunk in received]
    assert b"".join(chunks) == audio.data
    assert all(chunk and len(chunk) % 2 == 0 for chunk in chunks)  # whole frames
    # Paced, not delivered at once: about one chunk per 0.1 s (an order of magnitude)...
    assert 2 <= len(chunks) <= 25
    assert len(chunks[0]) < len(audio.data)
    # ...never ahead of real time, so the whole stream takes at least the audio's length
    delivered = 0
    for at, chunk in received:
        delivered += len(chunk)
        assert delivered <= at * bytes_per_second + 2
    assert elapsed >= audio.duration


def test_astream_realtime_of_nothing_yields_nothing() -> None:
    async def collect() -> list[bytes]:
        return [chunk async for chunk in Audio(MONO_16K, b"").astream_realtime()]

    assert asyncio.run(collect()) == []


# -- beyond the guide --------------------------------------------------------------------


def test_from_numpy_clips_floats_and_keeps_int16() -> None:
    floats = Audio.from_numpy(np.array([2.0, -2.0, 0.5, -0.25, 0.0, np.nan]), 16000)
    assert floats.as_numpy().tolist() == [32767, -32768, 16384, -8192, 0, 0]
    ints = Audio.from_numpy(np.array([1, -1, 32767], dtype=np.int16), 8000)
    assert ints.as_numpy().tolist() == [1, -1, 32767]
    assert ints.config == AudioConfig(sample_rate=8000)
    swapped = Audio.from_numpy(np.array([1, -2], dtype=">i2"), 8000)
    assert swapped.as_numpy().tolist() == [1, -2]


def test_from_numpy_frames_by_channels_interleaves() -> None:
    frames = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.int16)
    audio = Audio.from_numpy(frames, 16000)
    assert audio.config == STEREO_16K
    assert audio.as_numpy().tolist() == [1, 2, 3, 4, 5, 6]
    assert audio.num_frames == 3
    interleaved = Audio.from_numpy(np.array([1, 2, 3, 4], dtype=np.int16), 16000, channels=2)
    assert interleaved.config == STEREO_16K


def test_from_numpy_refuses_ambiguous_input() -> None:
    with pytest.raises(TypeError, match="int16 or floats"):
        Audio.from_numpy(np.array([1, 2], dtype=np.int32), 16000)
    with pytest.raises(ValueError, match="channels=3"):
        Audio.from_numpy(np.zeros((4, 2), dtype=np.int16), 16000, channels=3)
    with pytest.raises(ValueError, match="whole frames"):
        Audio.from_numpy(np.zeros(5, dtype=np.int16), 16000, channels=2)
    with pytest.raises(ValueError, match="3-D"):
        Audio.from_numpy(np.zeros((2, 2, 2)), 16000)


@pytest.mark.parametrize(("width", "dtype"), [(1, np.uint8), (2, "<i2"), (3, None), (4, "<i4")])
def test_from_wav_reads_every_pcm_width(width: int, dtype: Any) -> None:
    expected = np.array([0, 256, -256, 32512, -32768], dtype=np.int16)
    if width == 1:
        raw = (expected // 256 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        raw = b"".join((int(v) * 256).to_bytes(3, "little", signed=True) for v in expected)
    else:
        raw = (expected.astype(np.int64) << (8 * (width - 2))).astype(dtype).tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(width)
        wav.setframerate(22050)
        wav.writeframes(raw)
    audio = Audio.from_wav(buffer.getvalue())
    assert audio.config == AudioConfig(sample_rate=22050)
    assert audio.as_numpy().tolist() == expected.tolist()


def test_from_wav_reads_extensible_and_float_files_and_skips_other_chunks() -> None:
    samples = np.array([[1000, -1000], [3000, -3000]], dtype="<i2")
    data24 = b"".join((int(v) * 256).to_bytes(3, "little", signed=True) for v in samples.ravel())
    extensible = riff(
        fmt_chunk(0xFFFE, 2, 48000, 3, extensible_tag=1), data24, b"LIST\3\0\0\0abc\0"
    )
    audio = Audio.from_wav(extensible, config=AudioConfig(sample_rate=48000, channels=2))
    assert audio.as_numpy().tolist() == samples.ravel().tolist()
    assert Audio.from_wav(extensible).as_numpy().tolist() == [0, 0]  # mixed to mono

    floats = np.array([0.5, -0.5, 1.5], dtype="<f4").tobytes()
    assert Audio.from_wav(riff(fmt_chunk(3, 1, 8000, 4), floats)).as_numpy().tolist() == [
        16384,
        -16384,
        32767,
    ]


def test_from_wav_converts_to_a_given_config() -> None:
    source = tone(1.0, 44100, channels=2)
    audio = Audio.from_wav(source.as_wav_bytes(), config=STANDARD_AUDIO_CONFIG)
    assert audio.config == STANDARD_AUDIO_CONFIG
    assert audio.duration == pytest.approx(1.0, abs=0.01)
    assert dominant_frequency(audio.as_numpy(), 16000) == pytest.approx(1000, abs=2)
    up = Audio.from_wav(tone(0.1, 16000).as_wav_bytes(), config=STEREO_16K)
    left, right = up.as_numpy().reshape(-1, 2).T
    assert left.tolist() == right.tolist()


def test_from_wav_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a WAV file"):
        Audio.from_wav(b"ID3 this is an mp3")
    with pytest.raises(ValueError, match="unsupported WAV encoding"):
        Audio.from_wav(riff(fmt_chunk(0x55, 1, 8000, 2), b"\0\0"))  # MPEG layer 3
    with pytest.raises(ValueError, match="no audio data"):
        Audio.from_wav(riff(fmt_chunk(1, 1, 8000, 2), b"")[:-8])
    wav = tone(0.5, 16000).as_wav_bytes()
    with pytest.raises(ValueError, match="max_bytes"):
        Audio.from_wav(wav, max_bytes=1000)
    (tmp_path / "big.wav").write_bytes(wav)
    with pytest.raises(ValueError, match="max_bytes"):
        Audio.from_wav(tmp_path / "big.wav", max_bytes=1000)
    # a header that claims more than the limit is refused before the data is read
    liar = riff(fmt_chunk(1, 1, 8000, 2), b"\0" * 100)
    liar = liar.replace(
        b"data" + (100).to_bytes(4, "little"), b"data" + (10**9).to_bytes(4, "little")
    )
    with pytest.raises(ValueError, match="declares 1000000000 bytes"):
        Audio.from_wav(liar, max_bytes=10_000)


@pytest.mark.parametrize(("source_rate", "target_rate"), [(16000, 24000), (48000, 16000)])
def test_resample_keeps_a_tone(source_rate: int, target_rate: int) -> None:
    source = tone(1.0, source_rate, frequency=1000.0, level=0.5)
    out = source.resample(target_rate)
    assert out.config == AudioConfig(sample_rate=target_rate)
    assert out.duration == pytest.approx(1.0, abs=0.01)
    middle = out.as_numpy()[target_rate // 10 : -target_rate // 10]  # away from the edges
    assert dominant_frequency(middle, target_rate) == pytest.approx(1000, abs=2)
    level = rms_db(source.as_numpy()[source_rate // 10 : -source_rate // 10])
    assert abs(rms_db(middle) - level) < 0.5


def test_resample_to_the_same_rate_changes_nothing() -> None:
    audio = tone(0.1, 16000)
    assert audio.resample(16000) == audio
    assert Audio(MONO_16K, b"").resample(8000) == Audio(AudioConfig(sample_rate=8000), b"")


def test_slicing_by_seconds() -> None:
    audio = Audio.from_numpy(np.arange(16000, dtype=np.int16), 16000)
    part = audio[0.5:0.75]
    assert part.config == MONO_16K
    assert part.as_numpy().tolist() == list(range(8000, 12000))
    assert audio[:0.25].as_numpy().tolist() == list(range(4000))
    assert audio[-0.25:].as_numpy().tolist() == list(range(12000, 16000))
    assert audio[:] == audio
    assert audio[0.9:5.0].duration == pytest.approx(0.1)  # clamped to the end
    assert audio[0.75:0.5].data == b""
    assert audio[0:0.5] + audio[0.5:] == audio
    stereo = Audio.from_numpy(np.arange(200, dtype=np.int16).reshape(-1, 2), 1000)
    assert stereo[0.01:0.02].as_numpy().tolist() == list(range(20, 40))  # whole frames
    with pytest.raises(ValueError, match="step"):
        audio[0:1:2]
    with pytest.raises(TypeError, match="seconds"):
        audio[3]  # type: ignore[index]


def test_to_mono_averages_channels() -> None:
    stereo = Audio.from_numpy(np.array([[100, 300], [-1, -2], [32767, 32767]], np.int16), 8000)
    mono = stereo.to_mono()
    assert mono.config == AudioConfig(sample_rate=8000)
    assert mono.as_numpy().tolist() == [200, -2, 32767]
    assert mono.to_mono() is mono


def test_repr_is_short() -> None:
    assert repr(Audio.silence(MONO_16K, 60.0)) == "Audio(1:00.00, 16000 Hz, mono, 1920000 bytes)"


def test_player_shows_duration_waveform_and_audio() -> None:
    audio = tone(1.5, 16000)
    player = audio._repr_html_()
    assert "1.50 s" in player
    assert "<svg" in player
    assert "<polyline" in player
    assert "<audio controls" in player
    embedded = re.search(r'src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"', player)
    assert embedded is not None
    assert base64.b64decode(embedded.group(1)) == audio.as_wav_bytes()


def test_player_of_empty_audio() -> None:
    player = Audio(MONO_16K, b"")._repr_html_()
    assert "0.00 s" in player
    assert "<svg" in player
    assert "<audio controls" in player


def test_player_does_not_embed_long_audio() -> None:
    config = AudioConfig(sample_rate=100)
    player = Audio.silence(config, MAX_EMBED_SECONDS + 1)._repr_html_()
    assert "<audio" not in player
    assert "Not embedded: longer than 10 minutes" in player
    assert "10:01.00" in player
    assert "<svg" in player


def test_ipython_display_shows_the_player(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    audio = tone(0.2, 16000)
    audio._ipython_display_()
    [(args, kwargs)] = shown
    assert kwargs == {"raw": True}
    assert args[0]["text/html"] == audio._repr_html_()
    assert args[0]["text/plain"] == repr(audio)


def test_save_writes_a_wav(tmp_path: Path) -> None:
    audio = tone(0.2, 24000)
    audio.save(tmp_path / "out.wav")
    assert (tmp_path / "out.wav").read_bytes() == audio.as_wav_bytes()


def test_package_exports_the_api_lazily() -> None:
    """`import jupyter_gemini_live` (the server does) imports no numpy; the names work."""
    code = (
        "import sys, jupyter_gemini_live as j\n"
        "assert 'numpy' not in sys.modules, 'numpy imported eagerly'\n"
        "from jupyter_gemini_live import (\n"
        "    Audio, AudioConfig, FailedToStartError, STANDARD_AUDIO_CONFIG)\n"
        "from jupyter_gemini_live.client import audio\n"
        "assert Audio is audio.Audio and j.AudioConfig is audio.AudioConfig\n"
        "assert STANDARD_AUDIO_CONFIG.sample_rate == 16000\n"
        "assert issubclass(FailedToStartError, Exception)\n"
    )
    cwd = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, timeout=120)
