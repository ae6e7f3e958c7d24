"""The example notebooks, run in a kernel of a real Jupyter server, with Chromium as the
device: audio really crosses browser → server → kernel → server → browser.

The kernel is started by the server (so `RunningLiveAudio` finds it); the notebook's code
cells run there one by one on a thread, while the page (the Gemini Live panel, joined to
the notebook's relay session by its id) is the microphone and the speaker. The microphone
is a WAV file: a 440 Hz tone, then a pause.
"""

from __future__ import annotations

import json
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from jupyter_process import Lab, Run

from .test_panel import open_lab, run_command, wait_for

EXAMPLES = Path(__file__).parents[2] / "examples"
TONE_HZ, TONE_LEVEL, RATE = 440.0, 0.3, 48000
TONE_S, PAUSE_S = 1.0, 2.0
DONE = "--cell ran--"
#: how far the level may be off: the panel as the device captures with the browser's voice
#: processing on (noise suppression turns a steady tone down a few dB; measured -4.6 dB).
#: The inline device's raw capture should bring this to ~1 dB.
LEVEL_TOLERANCE_DB = 8.0


@pytest.fixture(scope="module")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    t = np.arange(int(TONE_S * RATE)) / RATE
    ramp = np.minimum(1, np.minimum(t, t[::-1]) / 0.01)
    burst = TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t) * ramp
    pcm = np.concatenate([burst, np.zeros(int(PAUSE_S * RATE))])
    path = tmp_path_factory.mktemp("mic") / "tone.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((pcm * 32767).astype("<i2").tobytes())
    return path


class NotebookRun:
    """The notebook's code cells, run in order on a thread; each cell's output kept."""

    def __init__(self, run: Run, notebook: Path) -> None:
        self.cells = [c.source for c in nbformat.read(notebook, 4).cells if c.cell_type == "code"]
        self.outputs: list[str] = []
        self.error: str | None = None
        self._run = run
        self._thread = threading.Thread(target=self._run_all, daemon=True)
        self._thread.start()

    def _run_all(self) -> None:
        for source in self.cells:
            output = self._run(f"{source}\nprint({DONE!r})")
            self.outputs.append(output)
            if DONE not in output:
                self.error = output
                return

    def finished(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float = 120) -> list[str]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the notebook is still running: {self.outputs}"
        assert self.error is None, f"a cell failed:\n{self.error}"
        return self.outputs


def join_relay_session(page: Any, lab: Lab, run: NotebookRun) -> str:
    """The panel becomes the device of the notebook's relay session."""

    def relay() -> str | None:
        assert run.error is None, run.error
        sessions = lab.api("GET", "sessions")
        live = [s for s in sessions if s["backend"] == "relay" and s["state"] == "live"]
        return str(live[0]["id"]) if live else None

    session_id = wait_for("the notebook's relay session", relay, timeout=90)
    options = page.locator("details.jp-GeminiLive-options")
    if options.get_attribute("open") is None:
        options.locator("summary").click()
    page.locator('[data-testid="gemini-live-session"]').select_option(session_id, timeout=30_000)
    run_command(page, "gemini-live:start")
    panel = page.locator('[data-testid="gemini-live-panel"]')
    wait_for("the panel in the relay session", lambda: panel.get_attribute("data-joined"))
    return session_id


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[np.argmax(spectrum)])


def loudest_db(samples: np.ndarray, rate: int, window_s: float = 0.5) -> float:
    """The level of the loudest `window_s` (the tone, wherever it fell in the recording)."""
    size = int(window_s * rate)
    windows = samples[: samples.size // size * size].reshape(-1, size)
    return float(20 * np.log10(np.sqrt(np.mean(windows**2, axis=1)).max() + 1e-12))


def test_record_and_play(
    launch_chromium: Callable[[Path], Any],
    tone_wav: Path,
    start_lab: Callable[..., Lab],
    start_kernel: Callable[[Lab], Run],
) -> None:
    lab = start_lab()
    run = start_kernel(lab)
    run(f"import os; os.chdir({str(lab.root)!r})")  # where the notebook would be
    page = open_lab(launch_chromium(tone_wav), lab)
    run_command(page, "gemini-live:open")
    page.locator('[data-testid="gemini-live-panel"]').wait_for(state="visible")

    notebook = NotebookRun(run, EXAMPLES / "record_and_play.ipynb")
    join_relay_session(page, lab, notebook)
    outputs = notebook.wait()
    assert "recorded 3.00 s" in outputs[1], outputs

    with wave.open(str(lab.root / "recording.wav"), "rb") as wav:
        assert wav.getframerate() == 16000
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32768
    assert samples.size == 3 * 16000
    assert dominant_frequency(samples, 16000) == pytest.approx(TONE_HZ, abs=3)
    expected_db = 20 * np.log10(TONE_LEVEL / np.sqrt(2))
    assert loudest_db(samples, 16000) == pytest.approx(expected_db, abs=LEVEL_TOLERANCE_DB)

    figures = "[played_back_ms, stopped_at_ms, after_stop_ms]"
    played_back, stopped_at, after_stop = json.loads(
        run(f"import json; print(json.dumps({figures}))")
    )
    assert played_back == pytest.approx(3000, abs=250)  # the device played it all
    assert stopped_at >= 1000
    assert after_stop < 2000  # cleared well short of the 6 s enqueued
    assert after_stop - stopped_at < 300  # and it stayed silent


def test_own_live_loop_against_the_simulator(
    launch_chromium: Callable[[Path], Any],
    tone_wav: Path,
    start_lab: Callable[..., Lab],
    start_kernel: Callable[[Lab], Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from .simulator_process import running_simulator

    with running_simulator(tmp_path) as (url, ca_file, key):
        # The kernel's environment (from the server's): the user's own key in the kernel.
        monkeypatch.setenv("EXAMPLE_GEMINI_API_KEY", key)
        monkeypatch.setenv("EXAMPLE_GEMINI_BASE_URL", url)
        monkeypatch.setenv("EXAMPLE_GEMINI_CA_FILE", ca_file)
        monkeypatch.setenv("EXAMPLE_TALK_SECONDS", "8")
        lab = start_lab()
        run = start_kernel(lab)
        page = open_lab(launch_chromium(tone_wav), lab)
        run_command(page, "gemini-live:open")
        page.locator('[data-testid="gemini-live-panel"]').wait_for(state="visible")

        notebook = NotebookRun(run, EXAMPLES / "own_live_loop.ipynb")
        join_relay_session(page, lab, notebook)
        notebook.wait()
        spoken, played = json.loads(
            run("import json; print(json.dumps([model_audio_s, played_ms]))")
        )
    # The simulator echoes each 1 s tone it heard; the browser played what the kernel sent.
    assert spoken >= TONE_S * 0.8
    assert played / 1000 == pytest.approx(spoken, abs=0.3)
