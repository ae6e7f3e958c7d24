"""The inline device (issue 9) in Debian's Chromium: a WAV tone is the microphone.

First the frontend on its own: a relay session's source (the kernel's end) is played by a
websocket client, a notebook cell displays the device's MIME bundle (as `RunningLiveAudio`
does), the user presses "Start microphone", and audio crosses both ways: the source hears
the WAV's tone, and 1 s of tone the source sends is played by the browser (its `playback`
reports grow by about 1 s). With the microphone denied, the device shows why and the
source hears `device failed` with what to do. The panel, joined to the relay session by its
id, can be the device instead.

Then `RunningLiveAudio` itself in a cell run from the page: the cell waits while its
output shows the device, "Start microphone" is pressed, and the kernel hears the tone and
plays 1 s; Stop ends the kernel's reads; a denied microphone raises FailedToStartError
saying what to do.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import websocket
from jupyter_process import Lab

from .conftest import MIC_RATE, code_cell, write_notebook_file, write_wav
from .test_panel import open_lab, run_command, wait_for

DEVICE_MIME_TYPE = "application/vnd.jupyter.gemini-live.device+json"
TONE_HZ = 440.0
INPUT_RATE, OUTPUT_RATE = 16000, 24000


@pytest.fixture(scope="module")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 440 Hz tone with a syllable-like swell (a steady tone would be taken for noise by
    the browser's noise suppression), 4 s, looped by Chromium."""
    t = np.arange(4 * MIC_RATE) / MIC_RATE
    tone = 0.3 * np.sin(2 * np.pi * TONE_HZ * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return write_wav(tmp_path_factory.mktemp("mic") / "tone.wav", tone)


class Source:
    """The kernel's end of a relay session: mic PCM and events in, PCM and `clear` out."""

    def __init__(self, lab: Lab, session_id: str) -> None:
        url = "ws" + lab.url[len("http") :]
        self.ws = websocket.create_connection(
            f"{url}gemini-live/api/sessions/{session_id}/stream?mode=source",
            header=[f"Authorization: token {lab.token}"],
            suppress_origin=True,
            enable_multithread=True,
            timeout=15,
        )
        first = json.loads(self.ws.recv())
        assert first["type"] == "ready", first
        assert first["mode"] == "source", first
        self.ws.settimeout(None)
        self.mic = bytearray()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                opcode, data = self.ws.recv_data()
            except (OSError, websocket.WebSocketException):
                return
            if opcode == websocket.ABNF.OPCODE_BINARY:
                with self.lock:
                    self.mic += data
            elif opcode == websocket.ABNF.OPCODE_TEXT:
                event = json.loads(data)
                with self.lock:
                    self.seen.append(event)
            elif opcode == websocket.ABNF.OPCODE_CLOSE:
                return

    def device(self, status: str) -> dict[str, Any] | None:
        """The last `device` event of that status, if any came."""
        with self.lock:
            found = [e for e in self.seen if e["type"] == "device" and e["status"] == status]
        return found[-1] if found else None

    def played_ms(self) -> float:
        with self.lock:
            played = [e["played_ms"] for e in self.seen if e["type"] == "playback"]
        return max(played, default=0.0)

    def mic_bytes(self) -> bytes:
        with self.lock:
            return bytes(self.mic)

    def send_pcm(self, pcm: bytes, frame_ms: int = 20) -> None:
        step = OUTPUT_RATE * frame_ms // 1000 * 2
        for i in range(0, len(pcm), step):
            self.ws.send_binary(pcm[i : i + step])

    def close(self) -> None:
        with suppress(OSError, websocket.WebSocketException):
            self.ws.close(timeout=2)
        self.reader.join(3)


@contextmanager
def relay_source(lab: Lab) -> Iterator[tuple[str, Source]]:
    session = lab.api("POST", "sessions", {"backend": "relay"})
    source = Source(lab, session["id"])
    try:
        yield session["id"], source
    finally:
        source.close()
        with suppress(urllib.error.HTTPError):  # a test may have deleted it already
            lab.api("DELETE", f"sessions/{session['id']}")


def notebook_with_device(lab: Lab, session_id: str, name: str) -> None:
    """A notebook whose cell displays the device for the session, as RunningLiveAudio."""
    bundle = {
        DEVICE_MIME_TYPE: {"session_id": session_id, "sample_rate": 16000, "label": "test"},
        "text/plain": "Open this notebook in JupyterLab to use the Gemini Live device.",
    }
    source = f"from IPython.display import display\ndisplay({bundle!r}, raw=True)"
    write_notebook_file(lab.root / name, code_cell("c1", source))


def show_device(page: Any, command: str = "notebook:run-cell") -> Any:
    """Run the notebook's cell (or `command`: all of them) and wait for the device in its
    output."""
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=60_000)
    wait_for(
        "the kernel to be idle",
        lambda: (
            page.locator(".jp-Notebook").count()
            and page.evaluate(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " const k = w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel;"
                " return !!k && k.status === 'idle'; }"
            )
        ),
        timeout=90,
    )
    page.locator(".jp-Notebook .jp-Cell").first.click()
    # Not awaited: the command's promise settles when the cell has finished, and a cell
    # running RunningLiveAudio finishes only after "Start microphone" is pressed.
    page.evaluate(f"() => {{ void window.jupyterapp.commands.execute('{command}'); }}")
    device = page.locator('[data-testid="gemini-live-device"]')
    device.wait_for(state="visible", timeout=60_000)
    return device


WATCH_MICROPHONE = """() => {
  window.__micStreams = [];
  const devices = navigator.mediaDevices;
  const open = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async constraints => {
    const stream = await open(constraints);
    window.__micStreams.push(stream);
    return stream;
  };
}"""

MICROPHONE_RELEASED = """() => window.__micStreams.length > 0 && window.__micStreams.every(
  stream => stream.getTracks().every(track => track.readyState === 'ended'))"""


def dominant_hz(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def tone_pcm(seconds: float, rate: int = OUTPUT_RATE) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 660 * t) * 32767).astype("<i2").tobytes()


def audio_crosses_both_ways(
    launch_chromium: Callable[[Path], Any], tone_wav: Path, lab: Lab, page_path: str, name: str
) -> None:
    with relay_source(lab) as (session_id, source):
        notebook_with_device(lab, session_id, name)
        page = open_lab(launch_chromium(tone_wav), lab, page_path=page_path)
        device = show_device(page)
        assert device.get_attribute("data-session-id") == session_id
        assert device.get_attribute("data-state") == "idle"
        start = page.locator('[data-testid="gemini-live-device-start"]')
        assert start.inner_text() == "Start microphone"
        page.evaluate(WATCH_MICROPHONE)
        start.click()
        wait_for("the device to be live", lambda: device.get_attribute("data-state") == "live")
        assert wait_for("device started at the source", lambda: source.device("started"))
        assert source.device("connected")

        # The microphone: 2 s of the WAV's tone, at 16 kHz s16le, in order.
        wait_for("2 s of microphone", lambda: len(source.mic_bytes()) >= 2 * INPUT_RATE * 2 + 8000)
        heard = source.mic_bytes()[-2 * INPUT_RATE * 2 :]
        assert abs(dominant_hz(heard, INPUT_RATE) - TONE_HZ) < 5
        level = np.sqrt(np.mean((np.frombuffer(heard, "<i2") / 32768.0) ** 2))
        assert level > 0.01  # the tone, not silence (the browser's gain control moves it)

        # The speaker: 1 s of tone played, as the device's reports say.
        before = source.played_ms()
        source.send_pcm(tone_pcm(1.0))
        wait_for("1 s played", lambda: source.played_ms() - before >= 900, timeout=20)
        wait_for(
            "the device's played count",
            lambda: float(device.get_attribute("data-played-ms") or 0) >= 900,
        )
        stats = lab.api("GET", f"sessions/{session_id}")["stats"]
        assert 900 <= stats["audio_out_ms"] <= 1100
        assert source.played_ms() - before <= 1100

        page.locator('[data-testid="gemini-live-device-stop"]').click()
        wait_for("the device to stop", lambda: device.get_attribute("data-state") == "stopped")
        assert wait_for("device stopped at the source", lambda: source.device("stopped"))
        assert page.evaluate(MICROPHONE_RELEASED)
        page.context.close()


def test_audio_crosses_both_ways_in_jupyterlab(
    launch_chromium: Callable[[Path], Any], tone_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    audio_crosses_both_ways(launch_chromium, tone_wav, lab, "lab/tree/device.ipynb", "device.ipynb")


def test_audio_crosses_both_ways_in_notebook_7(
    launch_chromium: Callable[[Path], Any], tone_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab(app="notebook")
    audio_crosses_both_ways(
        launch_chromium, tone_wav, lab, "notebooks/device.ipynb", "device.ipynb"
    )


def test_the_panel_can_be_the_device_instead(
    launch_chromium: Callable[[Path], Any], tone_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    with relay_source(lab) as (session_id, source):
        page = open_lab(launch_chromium(tone_wav), lab)
        run_command(page, "gemini-live:open")
        panel = page.locator('[data-testid="gemini-live-panel"]')
        panel.wait_for(state="visible")
        options = page.locator("details.jp-GeminiLive-options")
        if options.get_attribute("open") is None:
            options.locator("summary").click()
        page.locator('[data-testid="gemini-live-session"]').select_option(
            session_id, timeout=30_000
        )
        run_command(page, "gemini-live:start")
        wait_for("the panel in the relay session", lambda: panel.get_attribute("data-joined"))
        assert wait_for("device started at the source", lambda: source.device("started"))
        wait_for("1 s of microphone", lambda: len(source.mic_bytes()) >= INPUT_RATE * 2 + 8000)
        heard = source.mic_bytes()[-INPUT_RATE * 2 :]
        assert abs(dominant_hz(heard, INPUT_RATE) - TONE_HZ) < 5
        run_command(page, "gemini-live:stop")
        assert wait_for("device stopped at the source", lambda: source.device("stopped"))
        page.context.close()


def test_the_session_ending_releases_the_device(
    launch_chromium: Callable[[Path], Any], tone_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    with relay_source(lab) as (session_id, source):
        notebook_with_device(lab, session_id, "ending.ipynb")
        page = open_lab(launch_chromium(tone_wav), lab, page_path="lab/tree/ending.ipynb")
        device = show_device(page)
        page.evaluate(WATCH_MICROPHONE)
        page.locator('[data-testid="gemini-live-device-start"]').click()
        wait_for("the device to be live", lambda: source.device("started"))
        assert not page.evaluate(MICROPHONE_RELEASED)
        lab.api("DELETE", f"sessions/{session_id}")  # as the kernel leaving its block
        wait_for("the device to end", lambda: device.get_attribute("data-state") == "ended")
        # The microphone is released: no live audio track is left on the page.
        assert wait_for("the microphone released", lambda: page.evaluate(MICROPHONE_RELEASED))
        status = page.locator('[data-testid="gemini-live-device-status"]').inner_text()
        assert "microphone is off" in status
        page.context.close()


def test_a_denied_microphone_fails_with_what_to_do(
    launch_chromium: Callable[..., Any], tone_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    browser = launch_chromium(tone_wav, grant=False)
    lab = start_lab()
    with relay_source(lab) as (session_id, source):
        notebook_with_device(lab, session_id, "denied.ipynb")
        page = open_lab(browser, lab, page_path="lab/tree/denied.ipynb")
        device = show_device(page)
        page.locator('[data-testid="gemini-live-device-start"]').click()
        wait_for("the device to fail", lambda: device.get_attribute("data-state") == "failed")
        status = page.locator('[data-testid="gemini-live-device-status"]').inner_text()
        assert "Microphone access was denied" in status
        assert "Start microphone" in status
        failed = wait_for("device failed at the source", lambda: source.device("failed"))
        assert failed["reason"] == status
        assert "Allow the microphone" in failed["reason"]
        assert source.device("started") is None
        # The device let go of the session: the kernel's session goes on without it.
        wait_for("the device to leave", lambda: source.device("disconnected"))


# ---- the kernel's own API: RunningLiveAudio in a cell run from the page -----------------

KERNEL_CELL = """\
import numpy as np
from jupyter_gemini_live import FailedToStartError, RunningLiveAudio
try:
    async with RunningLiveAudio(start_timeout=60) as audio:
        mic = bytearray()
        while len(mic) < 2 * 16000 * 2:
            mic += await audio.read()
        before = audio.played_ms
        t = np.arange(16000) / 16000
        await audio.enqueue((0.3 * np.sin(2 * np.pi * 660 * t) * 32767).astype('<i2').tobytes())
        await audio.drain(timeout=30)
        played = audio.played_ms - before
    x = np.frombuffer(bytes(mic), '<i2').astype(float)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    print('RESULT', round(np.argmax(spectrum) * 16000 / len(x)), round(played))
except FailedToStartError as error:
    print('FAILED', type(error).__name__, error)
"""


def kernel_notebook(lab: Lab, name: str, source: str = KERNEL_CELL) -> None:
    write_notebook_file(lab.root / name, code_cell("k1", source))


def printed(page: Any, marker: str) -> str:
    """The cell's printed line that starts with `marker` ('' until it is there)."""
    texts = page.locator(".jp-OutputArea-output").all_inner_texts()
    lines = [line for text in texts for line in text.splitlines() if line.startswith(marker)]
    return lines[0] if lines else ""


@pytest.mark.parametrize(("app", "page_path"), [("lab", "lab/tree"), ("notebook", "notebooks")])
def test_running_live_audio_in_a_cell_hears_and_plays(
    launch_chromium: Callable[[Path], Any],
    tone_wav: Path,
    start_lab: Callable[..., Lab],
    app: str,
    page_path: str,
) -> None:
    lab = start_lab(app=app)
    kernel_notebook(lab, "kernel.ipynb")
    page = open_lab(launch_chromium(tone_wav), lab, page_path=f"{page_path}/kernel.ipynb")
    device = show_device(page)
    page.evaluate(WATCH_MICROPHONE)
    page.locator('[data-testid="gemini-live-device-start"]').click()
    result = wait_for(
        "the cell's result", lambda: printed(page, "RESULT") or printed(page, "FAILED"), 90
    )
    status = page.locator('[data-testid="gemini-live-device-status"]').inner_text()
    assert result.startswith("RESULT"), (result, device.get_attribute("data-state"), status)
    _, hz, played = result.split()
    assert abs(int(hz) - TONE_HZ) < 5
    assert 900 <= int(played) <= 1100
    # Leaving the block deleted the session: the device ended and let the microphone go.
    wait_for("the device to end", lambda: device.get_attribute("data-state") == "ended")
    assert wait_for("the microphone released", lambda: page.evaluate(MICROPHONE_RELEASED))
    page.context.close()


STOP_CELL = """\
from jupyter_gemini_live import AudioDeviceClosed, RunningLiveAudio
async with RunningLiveAudio(start_timeout=60) as audio:
    frames = 0
    try:
        while True:
            await audio.read()
            frames += 1
    except AudioDeviceClosed:
        print('STOPPED', audio.device_status, frames)
"""


def test_stop_ends_the_kernels_reads(
    launch_chromium: Callable[[Path], Any], tone_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    kernel_notebook(lab, "stop.ipynb", STOP_CELL)
    page = open_lab(launch_chromium(tone_wav), lab, page_path="lab/tree/stop.ipynb")
    device = show_device(page)
    page.evaluate(WATCH_MICROPHONE)
    page.locator('[data-testid="gemini-live-device-start"]').click()
    wait_for("the device to be live", lambda: device.get_attribute("data-state") == "live", 60)
    page.locator('[data-testid="gemini-live-device-stop"]').click()
    stopped = wait_for("the cell's reads to end", lambda: printed(page, "STOPPED"), 60)
    _, status, frames = stopped.split()
    # The device says `stopped`, then leaves the session (`disconnected`).
    assert status in ("stopped", "disconnected")
    assert int(frames) > 0  # it heard the microphone before Stop
    assert device.get_attribute("data-state") == "stopped"
    assert wait_for("the microphone released", lambda: page.evaluate(MICROPHONE_RELEASED))
    page.context.close()


def test_running_live_audio_with_a_denied_microphone_raises(
    launch_chromium: Callable[..., Any], tone_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    browser = launch_chromium(tone_wav, grant=False)
    lab = start_lab()
    kernel_notebook(lab, "denied-kernel.ipynb")
    page = open_lab(browser, lab, page_path="lab/tree/denied-kernel.ipynb")
    device = show_device(page)
    page.locator('[data-testid="gemini-live-device-start"]').click()
    failed = wait_for("the cell's failure", lambda: printed(page, "FAILED"), 90)
    assert failed.startswith("FAILED FailedToStartError Microphone access was denied")
    assert "Allow the microphone" in failed
    assert "Start microphone" in failed
    assert device.get_attribute("data-state") == "failed"
