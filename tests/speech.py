"""Synthetic speech-like audio for tests: voiced harmonics with a syllable rhythm."""

from __future__ import annotations

import numpy as np


def speech(seconds: float, rate: int = 16000, level: float = 0.3, pitch: float = 140.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 8))
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t)  # never silent, like running speech
    wave = level * voice / np.max(np.abs(voice)) * syllables
    return (wave * 32767).astype("<i2").tobytes()


def silence(seconds: float, rate: int = 16000) -> bytes:
    return bytes(int(seconds * rate) * 2)


def frames(pcm: bytes, rate: int = 16000, ms: int = 20) -> list[bytes]:
    size = rate * ms // 1000 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def seconds_of(pcm: bytes | bytearray, rate: int) -> float:
    return len(pcm) / 2 / rate


def rms(pcm: bytes | bytearray) -> float:
    samples = np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) / 32768 if samples.size else 0.0
