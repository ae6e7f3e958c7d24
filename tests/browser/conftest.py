"""Debian's Chromium with a WAV file as its microphone (JupyterLab runs in its own process,
from the `start_lab` fixture of tests/jupyter_process.py)."""

from __future__ import annotations

import json
import os
import wave
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
MIC_RATE = 48000
SPEECH_S, PAUSE_S = 1.0, 3.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in str(item.path):
            item.add_marker(pytest.mark.browser)
            # Real-time audio through Chromium: one xdist worker runs these (and the hub's)
            # one after another while the other worker takes the rest of the suite.
            item.add_marker(pytest.mark.xdist_group("realtime"))


def voiced(seconds: float) -> np.ndarray:
    """A voiced burst with a syllable rhythm and 10 ms ramps."""
    t = np.arange(int(seconds * MIC_RATE)) / MIC_RATE
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    voice = 0.35 * voice / np.max(np.abs(voice)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    return np.asarray(voice * np.minimum(1, np.minimum(t, t[::-1]) / 0.01))


def write_mic(path: Path, *parts: tuple[str, float]) -> Path:
    """A 48 kHz mono WAV of ("speech"|"pause", seconds) parts; Chromium loops it."""
    pcm = np.concatenate(
        [voiced(s) if kind == "speech" else np.zeros(int(s * MIC_RATE)) for kind, s in parts]
    )
    return write_wav(path, pcm)


def code_cell(
    cell_id: str, source: str, outputs: Sequence[dict[str, Any]] = (), count: int | None = None
) -> dict[str, Any]:
    """A code cell (nbformat 4.5), with the outputs it shows when the notebook opens."""
    return {
        "cell_type": "code", "execution_count": count, "id": cell_id, "metadata": {},
        "source": source, "outputs": list(outputs),
    }  # fmt: skip


def write_notebook_file(path: Path, *cells: dict[str, Any]) -> Path:
    """A notebook of `cells` on the Python 3 kernel."""
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = {
        "cells": list(cells), "metadata": {"kernelspec": kernel},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    path.write_text(json.dumps(notebook))
    return path


def write_wav(path: Path, signal: np.ndarray) -> Path:
    """`signal` (floats in [-1, 1] at MIC_RATE) as a 16-bit mono WAV, Chromium's microphone."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(MIC_RATE)
        wav.writeframes((signal * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="session")
def mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One spoken burst, then a pause long enough for the echo to answer before the next."""
    folder = tmp_path_factory.mktemp("mic")
    return write_mic(folder / "mic.wav", ("speech", SPEECH_S), ("pause", PAUSE_S))


@pytest.fixture(scope="session")
def barge_in_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A long utterance, then talking again while its 2.5 s echo is still playing."""
    folder = tmp_path_factory.mktemp("mic")
    parts = [("speech", 2.5), ("pause", 1.2), ("speech", 0.6), ("pause", 4.0)]
    return write_mic(folder / "barge-in.wav", *parts)


def chromium_args(
    microphone: Path, *, grant: bool = True, extra: tuple[str, ...] = ()
) -> list[str]:
    """Chromium off the network, with the WAV file as its microphone; `grant=False`
    leaves out the fake permission prompt, so headless Chromium denies the microphone
    (getUserMedia's NotAllowedError), as a user pressing Block would."""
    return [
        "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
        *(["--use-fake-ui-for-media-stream"] if grant else []),
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """Module-scoped: Playwright's loop runs while it lives, and must be gone before the
    tests of other modules, whose pytest-jupyter loop would otherwise collide with it."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture
def launch_chromium(playwright: Any) -> Iterator[Callable[..., Any]]:
    """Chromium whose microphone is the given WAV file (`grant` and `extra` as in
    `chromium_args`); closed after the test."""
    browsers: list[Any] = []

    def launch(microphone: Path, *, grant: bool = True, extra: tuple[str, ...] = ()) -> Any:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=chromium_args(microphone, grant=grant, extra=extra)
        )
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()


@pytest.fixture
def chromium(launch_chromium: Callable[[Path], Any], mic_wav: Path) -> Any:
    return launch_chromium(mic_wav)


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Browser tests are synchronous and Playwright runs its own loop: pytest-jupyter's
    per-test loop (closed after each test) must stay out of its way."""


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process server here (JupyterLab runs in its own process)."""
