"""The example notebooks, run as they are in JupyterLab with Chromium as the device: audio
really crosses browser → server → kernel → server → browser.

The notebook is opened in the page and its cells run in its own kernel (started by the
server, so `RunningLiveAudio` finds it); the cell's inline device is the microphone and
the speaker once "Start microphone" is pressed, as a user would. The microphone is a WAV
file: a 440 Hz tone, then a pause. A last cell, added to the copy the test runs, prints
the figures the test checks.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from jupyter_process import Lab

from .conftest import MIC_RATE, write_wav
from .test_device import printed, show_device
from .test_panel import open_lab, wait_for

EXAMPLES = Path(__file__).parents[2] / "examples"
TONE_HZ, TONE_LEVEL = 440.0, 0.3
TONE_S, PAUSE_S = 1.0, 2.0
#: how far the level may be off: the device captures with the browser's voice processing
#: on (noise suppression and auto gain move a steady tone a few dB; measured +3.8 dB with
#: the inline device, -4.6 dB with the panel).
LEVEL_TOLERANCE_DB = 8.0


@pytest.fixture(scope="module")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    t = np.arange(int(TONE_S * MIC_RATE)) / MIC_RATE
    ramp = np.minimum(1, np.minimum(t, t[::-1]) / 0.01)
    burst = TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t) * ramp
    pcm = np.concatenate([burst, np.zeros(int(PAUSE_S * MIC_RATE))])
    return write_wav(tmp_path_factory.mktemp("mic") / "tone.wav", pcm)


def run_example(browser: Any, lab: Lab, example: str, figures: str) -> Any:
    """Open a copy of the example (plus a cell printing `figures` as JSON), run all its
    cells, press the inline device's "Start microphone", and return the figures."""
    notebook = nbformat.read(EXAMPLES / example, 4)
    check = f"import json\nprint('FIGURES', json.dumps({figures}))"
    notebook.cells.append(nbformat.v4.new_code_cell(check))
    nbformat.write(notebook, lab.root / example)
    page = open_lab(browser, lab, page_path=f"lab/tree/{example}")
    device = show_device(page, "notebook:run-all-cells")
    page.locator('[data-testid="gemini-live-device-start"]').click()

    def figures_or_error() -> str:
        texts = page.locator(".jp-OutputArea-output").all_inner_texts()
        failure = [t for t in texts if "Traceback" in t or "Error" in t.split("\n", 1)[0]]
        assert not failure, failure
        return printed(page, "FIGURES")

    line = wait_for("the notebook's figures", figures_or_error, timeout=180)
    # Leaving the block deleted the session: the device ended and let the microphone go.
    wait_for("the device to end", lambda: device.get_attribute("data-state") == "ended")
    return json.loads(line[len("FIGURES") :])


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[np.argmax(spectrum)])


def loudest_db(samples: np.ndarray, rate: int, window_s: float = 0.5) -> float:
    """The level of the loudest `window_s` (the tone, wherever it fell in the recording)."""
    size = int(window_s * rate)
    windows = samples[: samples.size // size * size].reshape(-1, size)
    return float(20 * np.log10(np.sqrt(np.mean(windows**2, axis=1)).max() + 1e-12))


def test_record_and_play(
    launch_chromium: Callable[[Path], Any], tone_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    browser = launch_chromium(tone_wav)
    figures = "[recording.duration, played_back_ms, stopped_at_ms, after_stop_ms]"
    duration, played_back, stopped_at, after_stop = run_example(
        browser, lab, "record_and_play.ipynb", figures
    )
    assert duration == 3.0

    with wave.open(str(lab.root / "recording.wav"), "rb") as wav:
        assert wav.getframerate() == 16000
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32768
    assert samples.size == 3 * 16000
    assert dominant_frequency(samples, 16000) == pytest.approx(TONE_HZ, abs=3)
    expected_db = 20 * np.log10(TONE_LEVEL / np.sqrt(2))
    assert loudest_db(samples, 16000) == pytest.approx(expected_db, abs=LEVEL_TOLERANCE_DB)

    assert played_back == pytest.approx(3000, abs=250)  # the device played it all
    assert stopped_at >= 1000
    assert after_stop < 2000  # cleared well short of the 6 s enqueued
    assert after_stop - stopped_at < 300  # and it stayed silent


def test_own_live_loop_against_the_simulator(
    launch_chromium: Callable[[Path], Any],
    tone_wav: Path,
    start_lab: Callable[..., Lab],
    tmp_path: Path,
) -> None:
    from .simulator_process import running_simulator

    with running_simulator(tmp_path) as (url, ca_file, key):
        # The kernel's environment (from the server's): the user's own key in the kernel.
        env = {
            "EXAMPLE_GEMINI_API_KEY": key,
            "EXAMPLE_GEMINI_BASE_URL": url,
            "EXAMPLE_GEMINI_CA_FILE": ca_file,
            "EXAMPLE_TALK_SECONDS": "8",
        }
        lab = start_lab(env=env)
        spoken, played = run_example(
            launch_chromium(tone_wav), lab, "own_live_loop.ipynb", "[model_audio_s, played_ms]"
        )
    # The simulator echoes each 1 s tone it heard; the browser played what the kernel sent.
    assert spoken >= TONE_S * 0.8
    assert played / 1000 == pytest.approx(spoken, abs=0.3)
