"""A real JupyterLab with the extension, and Debian's Chromium with a WAV file as microphone."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(MIC_RATE)
        wav.writeframes((pcm * 32767).astype("<i2").tobytes())
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


@dataclass
class Lab:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    root: Path

    def api(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}gemini-live/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data = response.read()
            return json.loads(data) if data else None


@pytest.fixture
def start_lab(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    started: list[Lab] = []

    def start(*options: str, app: str = "lab") -> Lab:
        port, token = free_port(), secrets.token_hex(16)
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY")}
        env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
        command = [
            sys.executable, "-m", "jupyter", app, "--no-browser", "--allow-root",
            f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}", "--expose-app-in-browser",
            f"--LabServerApp.workspaces_dir={tmp_path / 'workspaces'}",
            f"--LabServerApp.user_settings_dir={quiet_settings(tmp_path / 'settings')}",
            *options,
        ]  # fmt: skip
        log = open(tmp_path / f"lab-{port}.log", "wb")  # noqa: SIM115 -- closed with the process
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        lab = Lab(f"http://127.0.0.1:{port}/", token, process, root)
        started.append(lab)
        wait_until_up(lab, tmp_path / f"lab-{port}.log")
        return lab

    yield start
    for lab in started:
        lab.process.terminate()
        try:
            lab.process.wait(20)
        except subprocess.TimeoutExpired:
            lab.process.kill()


def quiet_settings(folder: Path) -> Path:
    """User settings in which JupyterLab does not ask about news (its toast covers the panel)."""
    notification = folder / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    return folder


def wait_until_up(lab: Lab, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise AssertionError(f"jupyter lab exited:\n{log.read_text()[-3000:]}")
        try:
            lab.api("GET", "status")
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"jupyter lab did not start in {timeout} s:\n{log.read_text()[-3000:]}")


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
def launch_chromium(playwright: Any) -> Iterator[Callable[[Path], Any]]:
    """Chromium whose microphone is the given WAV file."""
    browsers: list[Any] = []

    def launch(microphone: Path) -> Any:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-quic",
            ],
        )  # fmt: skip
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
