"""The magics as a user runs them: in a kernel that a real Jupyter server started, which
finds its server by itself (JPY_PARENT_PID) and never sees the API key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jupyter_process import WEATHER, Lab, Run


@pytest.fixture
def kernel(start_lab: Callable[..., Lab], start_kernel: Callable[[Lab], Run]) -> Run:
    """A kernel of a real Jupyter server that holds a key the kernel must never see."""
    return start_kernel(start_lab("--GeminiLive.api_key=sk-not-for-kernels", app="server"))


def test_a_notebook_talks_to_the_model_through_the_magic(kernel: Run) -> None:
    kernel("%load_ext jupyter_gemini_live")
    started = kernel("%gemini_live start --backend echo")
    # The session line is the text/plain of the card's display_data, not a print.
    assert "(echo, " in started
    assert "open JupyterLab to talk to it" in started
    assert kernel("%gemini_live say hello from the notebook").strip() == (
        "You said: hello from the notebook"
    )
    transcript = kernel("%gemini_live transcript")
    assert "hello from the notebook" in transcript
    assert kernel("import os; print(sorted(k for k in os.environ if 'API_KEY' in k))") == "[]\n"
    assert "sk-not-for-kernels" not in kernel("%gemini_live status")


def test_the_model_calls_a_function_of_the_notebook(kernel: Run) -> None:
    kernel(WEATHER)
    kernel("%load_ext jupyter_gemini_live")
    kernel("%gemini_live start --backend echo --tools get_weather")
    reply = kernel('%gemini_live say call get_weather {"city": "Paris"}')
    assert reply.strip() == ('get_weather returned {"result": {"city": "Paris", "sky": "clear"}}')
    stopped = kernel("%gemini_live stop")
    assert "stopped" in stopped
