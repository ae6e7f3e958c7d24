"""Audio as data in the kernel: the Colab guide's `AudioConfig` and `Audio`, and more.

    from jupyter_gemini_live import Audio, AudioConfig, STANDARD_AUDIO_CONFIG

    tone = Audio.from_wav("tone.wav")          # any rate, 8/16/24/32-bit PCM, any channels
    tone.duration, tone.config.sample_rate      # seconds, Hz
    tone[0.5:1.5].resample(16000)               # a second of it at 16 kHz (soxr)
    tone                                        # a player with a waveform in the notebook

The names, signatures and behaviour of `AudioConfig`, `Audio` (`silence`, `as_numpy`,
`as_wav_bytes`, the inline player, `astream_realtime`, `+`), `FailedToStartError` and
`STANDARD_AUDIO_CONFIG` are the guide's, so its cells run with only the import changed.
Audio is always signed 16-bit little-endian PCM (`S16_LE`), interleaved by frame.
"""

from __future__ import annotations

import asyncio
import base64
import html
import io
import math
import os
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_EMBED_BYTES",
    "MAX_EMBED_SECONDS",
    "MAX_WAV_BYTES",
    "STANDARD_AUDIO_CONFIG",
    "Audio",
    "AudioConfig",
    "FailedToStartError",
]

#: `Audio.from_wav` refuses larger inputs (file size, or the data size its header declares)
#: unless given a larger `max_bytes`: 256 MiB is 23 minutes of 48 kHz stereo 16-bit.
MAX_WAV_BYTES: Final = 256 * 1024 * 1024
#: The notebook player embeds at most this much audio in the output (the notebook keeps
#: it); longer audio gets the waveform and a note instead of the `<audio>` element.
MAX_EMBED_SECONDS: Final = 10 * 60
MAX_EMBED_BYTES: Final = 32 * 1024 * 1024
#: Channels an `AudioConfig` may have (WAVE_FORMAT_EXTENSIBLE's speaker mask has 18).
MAX_CHANNELS: Final = 32
#: Sample rates an `AudioConfig` may have, in Hz.
MAX_SAMPLE_RATE: Final = 768_000

_FORMATS: Final = ("S16_LE",)
_FULL_SCALE: Final = 32768.0
_THUMBNAIL_COLUMNS: Final = 240
_THUMBNAIL_WIDTH: Final = 240
_THUMBNAIL_HEIGHT: Final = 40

Int16Array = npt.NDArray[np.int16]


class FailedToStartError(Exception):
    """The audio device could not start (e.g. the microphone was denied); says why."""


@dataclass(frozen=True)
class AudioConfig:
    """How PCM bytes are laid out: sample rate (Hz), sample format, channels per frame.

    Only `S16_LE` (signed 16-bit little-endian) exists, as in the guide; anything else is a
    `ValueError` here rather than garbage later.
    """

    sample_rate: int
    format: str = "S16_LE"
    channels: int = 1

    def __post_init__(self) -> None:
        rate, channels = self.sample_rate, self.channels
        if isinstance(rate, bool) or not isinstance(rate, int):
            raise ValueError(f"sample_rate must be an int (Hz), not {type(rate).__name__}")
        if not 1 <= rate <= MAX_SAMPLE_RATE:
            raise ValueError(f"sample_rate must be 1..{MAX_SAMPLE_RATE} Hz, not {rate}")
        if self.format not in _FORMATS:
            raise ValueError(
                f"unsupported audio format {self.format!r}: only 'S16_LE' "
                "(signed 16-bit little-endian PCM) is supported"
            )
        if isinstance(channels, bool) or not isinstance(channels, int):
            raise ValueError(f"channels must be an int, not {type(channels).__name__}")
        if not 1 <= channels <= MAX_CHANNELS:
            raise ValueError(f"channels must be 1..{MAX_CHANNELS}, not {channels}")

    @property
    def sample_size(self) -> int:
        """Bytes per sample of one channel (2 for S16_LE)."""
        return 2

    @property
    def frame_size(self) -> int:
        """Bytes per frame: one sample of every channel."""
        return self.channels * self.sample_size

    @property
    def numpy_dtype(self) -> np.dtype[np.int16]:
        """The samples' numpy dtype: little-endian int16 (`<i2`) on every machine."""
        return np.dtype("<i2")


#: 16 kHz mono S16_LE: what Gemini Live takes from a microphone.
STANDARD_AUDIO_CONFIG: Final = AudioConfig(sample_rate=16000, channels=1)


@dataclass(frozen=True)
class Audio:
    """PCM audio: `data` holds whole frames laid out as `config` says.

    `a + b` concatenates audio of the same config; `audio[0.5:1.5]` is the audio from 0.5 s
    to 1.5 s (whole frames; negative times count from the end). Shown in a notebook, it is a
    player with its duration and a waveform.
    """

    config: AudioConfig
    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.config, AudioConfig):
            raise TypeError(f"config must be an AudioConfig, not {type(self.config).__name__}")
        data: Any = self.data
        if isinstance(data, (bytearray, memoryview)):
            object.__setattr__(self, "data", bytes(data))
        elif not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if len(self.data) % self.config.frame_size:
            raise ValueError(
                f"data is {len(self.data)} bytes, not whole frames of "
                f"{self.config.frame_size} bytes ({self.config.channels} channel(s) x 16 bits)"
            )

    # -- the guide's API ------------------------------------------------------------------

    @staticmethod
    def silence(config: AudioConfig, length_seconds: float) -> Audio:
        """`int(length_seconds * sample_rate)` frames of zeros (none when negative)."""
        frames = max(0, int(length_seconds * config.sample_rate))
        return Audio(config=config, data=bytes(frames * config.frame_size))

    def as_numpy(self) -> Int16Array:
        """The samples as a read-only little-endian int16 array, interleaved (1-D)."""
        return np.frombuffer(self.data, dtype=self.config.numpy_dtype)

    def as_wav_bytes(self) -> bytes:
        """A complete WAV file (PCM 16-bit, the config's rate and channels)."""
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(self.config.channels)
            wav.setsampwidth(self.config.sample_size)
            wav.setframerate(self.config.sample_rate)
            wav.writeframes(self.data)
        return buffer.getvalue()

    async def astream_realtime(self, expected_delta_sec: float = 0.1) -> AsyncIterator[bytes]:
        """Yield the data in chunks as if it were being played now, about every
        `expected_delta_sec` seconds: each chunk holds the whole frames that real time
        (monotonic clock x sample rate) has reached since the last one.
        """
        if not (expected_delta_sec > 0 and math.isfinite(expected_delta_sec)):
            raise ValueError(f"expected_delta_sec must be > 0, not {expected_delta_sec}")
        frame_size, rate = self.config.frame_size, self.config.sample_rate
        start = time.monotonic()
        position = 0
        while position < len(self.data):
            await asyncio.sleep(expected_delta_sec)
            played = int((time.monotonic() - start) * rate) * frame_size
            end = min(len(self.data), played)
            if end > position:
                yield self.data[position:end]
                position = end

    def __add__(self, other: Audio) -> Audio:
        if not isinstance(other, Audio):
            return NotImplemented
        if other.config != self.config:
            raise ValueError(
                f"cannot concatenate audio of different configs: {self.config} + "
                f"{other.config}; convert one first (resample(), to_mono())"
            )
        return Audio(config=self.config, data=self.data + other.data)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle = {"text/html": self._repr_html_(), "text/plain": repr(self)}
        # IPython 8 has no types for display(), IPython 9 does
        display(bundle, raw=True)  # type: ignore[no-untyped-call,unused-ignore]

    # -- beyond the guide -----------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        """Frames (samples per channel)."""
        return len(self.data) // self.config.frame_size

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.config.sample_rate

    @staticmethod
    def from_numpy(array: npt.ArrayLike, sample_rate: int, channels: int | None = None) -> Audio:
        """Audio from samples: int16, or floats in [-1, 1] (clipped; NaN becomes 0).

        `array` is 1-D (mono, or interleaved when `channels` is given) or frames x channels.
        """
        samples = np.asarray(array)
        if samples.ndim == 2:
            if channels is not None and channels != samples.shape[1]:
                raise ValueError(
                    f"array has {samples.shape[1]} columns (channels) but channels={channels}"
                )
            channels = int(samples.shape[1])
        elif samples.ndim == 1:
            channels = 1 if channels is None else channels
        else:
            raise ValueError(f"array must be 1-D or frames x channels (2-D), not {samples.ndim}-D")
        config = AudioConfig(sample_rate=sample_rate, channels=channels)
        if samples.size % channels:
            raise ValueError(f"{samples.size} samples are not whole frames of {channels}")
        if samples.dtype.kind == "i" and samples.dtype.itemsize == 2:
            pcm = samples.astype("<i2", copy=False)
        elif np.issubdtype(samples.dtype, np.floating):
            pcm = _float_to_pcm(samples)
        else:
            raise TypeError(
                f"samples must be int16 or floats in [-1, 1], not {samples.dtype}: "
                "convert with array.astype(np.int16), or scale to floats"
            )
        return Audio(config=config, data=np.ascontiguousarray(pcm).tobytes())

    @staticmethod
    def from_wav(
        source: str | os.PathLike[str] | bytes | bytearray | memoryview,
        config: AudioConfig | None = None,
        *,
        max_bytes: int = MAX_WAV_BYTES,
    ) -> Audio:
        """Audio from a WAV file (a path, or the file's bytes): PCM 8/16/24/32-bit, any rate
        and channel count.

        Without `config` the result is mono S16_LE at the file's rate (channels averaged);
        with `config` it has that rate (soxr) and channel count (mixed down from any count,
        or mono copied to every channel). Inputs over `max_bytes` (256 MiB by default) are
        refused with a ValueError before they are read.
        """
        if isinstance(source, (bytes, bytearray, memoryview)):
            size = memoryview(source).nbytes
            if size > max_bytes:
                raise ValueError(f"WAV data is {size} bytes, over max_bytes={max_bytes}")
            rate, channels, pcm = _read_wav(io.BytesIO(source), "WAV data", max_bytes)
        else:
            path = Path(source)
            with path.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size > max_bytes:
                    raise ValueError(f"{path} is {size} bytes, over max_bytes={max_bytes}")
                rate, channels, pcm = _read_wav(file, str(path), max_bytes)
        if not 1 <= channels <= MAX_CHANNELS or not 1 <= rate <= MAX_SAMPLE_RATE:
            raise ValueError(f"unsupported WAV: {channels} channels at {rate} Hz")
        pcm = pcm[: pcm.size - pcm.size % channels].reshape(-1, channels)
        audio = Audio.from_numpy(pcm, rate)
        if config is None:
            return audio.to_mono()
        return audio._with_channels(config.channels).resample(config.sample_rate)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the audio as a WAV file (PCM 16-bit, the config's rate and channels)."""
        Path(path).write_bytes(self.as_wav_bytes())

    def resample(self, rate: int) -> Audio:
        """The same audio at `rate` Hz, through soxr's band-limited (HQ) resampler."""
        config = AudioConfig(
            sample_rate=rate, format=self.config.format, channels=self.config.channels
        )
        if rate == self.config.sample_rate or not self.data:
            return Audio(config=config, data=self.data)
        import soxr

        samples = self._frames().astype(np.float32) / np.float32(_FULL_SCALE)
        out = np.asarray(soxr.resample(samples, self.config.sample_rate, rate))
        return Audio(config=config, data=_float_to_pcm(out).tobytes())

    def to_mono(self) -> Audio:
        """One channel, the average of all of them."""
        return self._with_channels(1)

    def __getitem__(self, index: slice) -> Audio:
        """`audio[start:stop]` in seconds (either may be omitted or negative), whole frames."""
        if not isinstance(index, slice):
            raise TypeError("Audio is sliced by seconds, e.g. audio[0.5:1.5]")
        if index.step is not None:
            raise ValueError("Audio slices take no step; use resample() to change the rate")
        frames = self.num_frames
        start = self._frame_at(index.start, 0)
        stop = max(start, self._frame_at(index.stop, frames))
        size = self.config.frame_size
        return Audio(config=self.config, data=self.data[start * size : stop * size])

    def __repr__(self) -> str:
        return (
            f"Audio({_format_duration(self.duration)}, {self.config.sample_rate} Hz, "
            f"{_channel_name(self.config.channels)}, {len(self.data)} bytes)"
        )

    def _repr_html_(self) -> str:
        """A player: the duration, a waveform thumbnail (SVG) and an `<audio>` element."""
        caption = (
            f"{_format_duration(self.duration)} · {self.config.sample_rate} Hz · "
            f"{_channel_name(self.config.channels)}"
        )
        wav_size = 44 + len(self.data)
        if self.duration > MAX_EMBED_SECONDS:
            player = (
                f"<div>Not embedded: longer than {MAX_EMBED_SECONDS // 60} minutes. "
                "Use save(path) to listen to it.</div>"
            )
        elif wav_size > MAX_EMBED_BYTES:
            player = (
                f"<div>Not embedded: over {MAX_EMBED_BYTES // (1024 * 1024)} MiB. "
                "Use save(path) to listen to it.</div>"
            )
        else:
            encoded = base64.b64encode(self.as_wav_bytes()).decode("ascii")
            player = (
                '<audio controls preload="metadata" style="display:block;height:32px" '
                f'src="data:audio/wav;base64,{encoded}"></audio>'
            )
        return (
            '<div class="jupyter-gemini-live-audio" data-testid="gemini-live-audio" '
            f'data-duration="{self.duration:.3f}" '
            'style="display:inline-block;font:12px sans-serif">'
            f"{self._waveform_svg()}"
            f"<div>{html.escape(caption)}</div>"
            f"{player}</div>"
        )

    # -- helpers ----------------------------------------------------------------------------

    def _frames(self) -> Int16Array:
        """The samples as frames x channels."""
        return self.as_numpy().reshape(-1, self.config.channels)

    def _with_channels(self, channels: int) -> Audio:
        if channels == self.config.channels:
            return self
        config = AudioConfig(
            sample_rate=self.config.sample_rate, format=self.config.format, channels=channels
        )
        frames = self._frames()
        if channels == 1:
            mixed = np.round(frames.mean(axis=1, dtype=np.float64))
            pcm = mixed.astype("<i2")
        elif self.config.channels == 1:
            pcm = np.repeat(frames, channels, axis=1)
        else:
            raise ValueError(
                f"cannot turn {self.config.channels} channels into {channels}: "
                "only down to mono, or mono up to any count"
            )
        return Audio(config=config, data=np.ascontiguousarray(pcm).tobytes())

    def _frame_at(self, seconds: float | None, default: int) -> int:
        if seconds is None:
            return default
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"slice bounds are seconds (numbers), not {type(seconds).__name__}")
        frames = self.num_frames
        frame = round(seconds * self.config.sample_rate)
        if seconds < 0:
            frame += frames
        return min(max(frame, 0), frames)

    def _waveform_svg(self) -> str:
        """The peak envelope (all channels) as a polyline: top edge, then bottom back."""
        width, height = _THUMBNAIL_WIDTH, _THUMBNAIL_HEIGHT
        samples = self.as_numpy()
        frames = self.num_frames
        columns = min(_THUMBNAIL_COLUMNS, frames)
        middle = height / 2
        if columns == 0:
            points = f"0,{middle:g} {width},{middle:g}"
        else:
            channels = self.config.channels
            starts = (np.arange(columns) * frames // columns) * channels
            high = np.maximum.reduceat(samples, starts).astype(np.float64)
            low = np.minimum.reduceat(samples, starts).astype(np.float64)
            peak = np.maximum(high, -low) / _FULL_SCALE
            x = (np.arange(columns) + 0.5) * width / columns
            top = [f"{a:.1f},{middle - p * middle:.1f}" for a, p in zip(x, peak, strict=True)]
            bottom = [
                f"{a:.1f},{middle + p * middle:.1f}"
                for a, p in zip(x[::-1], peak[::-1], strict=True)
            ]
            points = " ".join(top + bottom)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="waveform">'
            f'<polyline points="{points}" fill="none" stroke="currentColor" '
            'stroke-width="1" opacity="0.8"/></svg>'
        )


def _float_to_pcm(samples: npt.NDArray[Any]) -> Int16Array:
    """Floats in [-1, 1] as int16: scaled by 32768, rounded, clipped; NaN becomes 0."""
    scaled = np.nan_to_num(samples.astype(np.float64, copy=False), nan=0.0) * _FULL_SCALE
    return np.clip(np.round(scaled), -32768, 32767).astype("<i2")


_WAVE_FORMAT_PCM: Final = 1
_WAVE_FORMAT_IEEE_FLOAT: Final = 3
_WAVE_FORMAT_EXTENSIBLE: Final = 0xFFFE
_MAX_FMT_CHUNK: Final = 1024


def _read_wav(file: BinaryIO, name: str, max_bytes: int) -> tuple[int, int, Int16Array]:
    """(rate, channels, interleaved int16 samples) of a RIFF/WAVE file.

    Reads PCM (8-bit unsigned, 16/24/32-bit signed), IEEE float (32/64-bit) and their
    WAVE_FORMAT_EXTENSIBLE forms; skips other chunks without reading them; reads at most
    `max_bytes` of audio. A data chunk cut short (a file still being written) gives what
    is there.
    """
    header = file.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise ValueError(f"{name} is not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None  # tag, channels, rate, bytes per sample
    while True:
        chunk = file.read(8)
        if len(chunk) < 8:
            raise ValueError(f"{name} has no audio data (no 'data' chunk)")
        kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if kind == b"fmt ":
            if not 16 <= size <= _MAX_FMT_CHUNK:
                raise ValueError(f"{name}: malformed 'fmt ' chunk of {size} bytes")
            body = file.read(size + size % 2)
            if len(body) < size:
                raise ValueError(f"{name}: truncated 'fmt ' chunk")
            tag = int.from_bytes(body[0:2], "little")
            channels = int.from_bytes(body[2:4], "little")
            rate = int.from_bytes(body[4:8], "little")
            block_align = int.from_bytes(body[12:14], "little")
            if tag == _WAVE_FORMAT_EXTENSIBLE and size >= 40:
                tag = int.from_bytes(body[24:26], "little")  # the sub-format GUID's head
            if channels < 1 or block_align % channels:
                raise ValueError(f"{name}: malformed 'fmt ' chunk ({channels} channels)")
            fmt = (tag, channels, rate, block_align // channels)
        elif kind == b"data":
            if fmt is None:
                raise ValueError(f"{name}: 'data' chunk before its 'fmt ' chunk")
            if size > max_bytes and size != 0xFFFFFFFF:  # 0xFFFFFFFF: streamed, to the end
                raise ValueError(
                    f"{name} declares {size} bytes of audio, over max_bytes={max_bytes}"
                )
            raw = file.read(min(size, max_bytes + 1))
            if len(raw) > max_bytes:
                raise ValueError(f"{name} has over max_bytes={max_bytes} of audio")
            tag, channels, rate, width = fmt
            raw = raw[: len(raw) - len(raw) % (width * channels)]
            return rate, channels, _decode_samples(raw, tag, width, name)
        else:
            file.seek(size + size % 2, os.SEEK_CUR)


def _decode_samples(raw: bytes, tag: int, width: int, name: str) -> Int16Array:
    """WAV samples as int16: 8-bit PCM is unsigned; wider PCM keeps its top 16 bits."""
    if tag == _WAVE_FORMAT_PCM:
        if width == 1:
            shifted = (np.frombuffer(raw, np.uint8).astype(np.int16) - 128) << 8
            return shifted.astype("<i2")
        if width == 2:
            return np.frombuffer(raw, "<i2")
        if width == 3:  # the top two bytes of each little-endian 24-bit sample
            top = np.frombuffer(raw, np.uint8).reshape(-1, 3)[:, 1:].copy()
            wide: Int16Array = top.view("<i2").ravel()
            return wide
        if width == 4:
            high: Int16Array = np.frombuffer(raw, "<i4").view("<i2")[1::2].copy()
            return high
    if tag == _WAVE_FORMAT_IEEE_FLOAT and width in (4, 8):
        return _float_to_pcm(np.frombuffer(raw, "<f4" if width == 4 else "<f8"))
    raise ValueError(
        f"{name}: unsupported WAV encoding (format tag {tag}, {8 * width}-bit samples); "
        "PCM 8/16/24/32-bit and 32/64-bit float are supported"
    )


def _format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def _channel_name(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels} channels")
