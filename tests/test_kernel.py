"""The magics as a user runs them: in a kernel that a real Jupyter server started, which
finds its server by itself (JPY_PARENT_PID) and never sees the API key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient
from jupyter_process import Lab

WEATHER = '''
def get_weather(city: str) -> dict:
    """The weather now in a city."""
    return {"city": city, "sky": "clear"}
'''


@pytest.fixture
def kernel(start_lab: Callable[..., Lab]) -> Iterator[Callable[[str], str]]:
    """`run(code)` → what the cell printed (errors included), in a kernel of a real server."""
    lab = start_lab("--GeminiLive.api_key=sk-not-for-kernels", app="server")
    kernel_id = lab.request("POST", "api/kernels", {"name": "python3"})["id"]
    client = BlockingKernelClient(connection_file=str(lab.runtime / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=60)

    def run(code: str) -> str:
        outputs: list[str] = []

        def keep(message: dict[str, Any]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                outputs.append(content["text"])
            elif message["msg_type"] in ("display_data", "execute_result"):
                outputs.append(content["data"].get("text/plain", ""))
            elif message["msg_type"] == "error":
                outputs.append(f"{content['ename']}: {content['evalue']}")

        client.execute_interactive(code, timeout=90, output_hook=keep)
        return "".join(outputs)

    yield run
    client.stop_channels()
    lab.request("DELETE", f"api/kernels/{kernel_id}")


def test_a_notebook_talks_to_the_model_through_the_magic(kernel: Callable[[str], str]) -> None:
    kernel("%load_ext jupyter_gemini_live")
    started = kernel("%gemini_live start --backend echo")
    assert "echo" in started
    assert kernel("%gemini_live say hello from the notebook").strip() == (
        "You said: hello from the notebook"
    )
    transcript = kernel("%gemini_live transcript")
    assert "hello from the notebook" in transcript
    assert kernel("import os; print(sorted(k for k in os.environ if 'API_KEY' in k))") == "[]\n"
    assert "sk-not-for-kernels" not in kernel("%gemini_live status")


def test_the_model_calls_a_function_of_the_notebook(kernel: Callable[[str], str]) -> None:
    kernel(WEATHER)
    kernel("%load_ext jupyter_gemini_live")
    kernel("%gemini_live start --backend echo --tools get_weather")
    reply = kernel('%gemini_live say call get_weather {"city": "Paris"}')
    assert reply.strip() == ('get_weather returned {"result": {"city": "Paris", "sky": "clear"}}')
    stopped = kernel("%gemini_live stop")
    assert "stopped" in stopped
