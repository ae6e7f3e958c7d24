"""The API key stays in the server process: not in the environment of the kernels and
terminals it starts (unless c.GeminiLive.expose_key_to_kernels), never in its log."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable

import pytest
from jupyter_process import Lab, wait_for_kernel
from jupyter_process import _run as run_code
from traitlets.config.loader import KVArgParseConfigLoader

from jupyter_gemini_live.app import GeminiLive, KeyRedactor, hide_key_in_config

ENV_KEY = "AIzaENVKEY" + secrets.token_hex(12)
OTHER_KEY = "AIzaOTHERKEY" + secrets.token_hex(12)
CLI_KEY = "AIzaCLIKEY" + secrets.token_hex(12)


def test_the_key_leaves_the_environment_and_stays_in_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", ENV_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", OTHER_KEY)
    app = GeminiLive()
    app.protect_key()
    assert app.api_key == ENV_KEY
    assert "GOOGLE_API_KEY" not in os.environ
    assert "GEMINI_API_KEY" not in os.environ


def test_expose_key_to_kernels_leaves_the_environment_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", ENV_KEY)
    app = GeminiLive(expose_key_to_kernels=True)
    app.protect_key()
    assert os.environ["GOOGLE_API_KEY"] == ENV_KEY == app.api_key


def test_the_config_prints_the_key_hidden() -> None:
    """traitlets logs the whole config at debug level ("Config changed: ...")."""
    config = KVArgParseConfigLoader([f"--GeminiLive.api_key={CLI_KEY}"]).load_config()
    hide_key_in_config(config)
    assert CLI_KEY not in repr(config)
    assert CLI_KEY not in str(config)
    assert GeminiLive(config=config).api_key == CLI_KEY


def test_log_records_carrying_the_key_are_redacted() -> None:
    redactor = KeyRedactor(CLI_KEY)
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "key=%s", (CLI_KEY,), None)
    assert redactor.filter(record)
    assert record.getMessage() == "key=<hidden>"
    try:
        raise ValueError(f"bad key {CLI_KEY}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    redactor.filter(record)
    assert CLI_KEY not in logging.Formatter().format(record)


# ---- a real server, its kernels and terminals ---------------------------------------------


def kernel_output(lab: Lab, code: str, timeout: float = 120.0) -> str:
    """What `code` prints in a new python3 kernel of the server."""
    from jupyter_client import BlockingKernelClient

    kernel_id = lab.request("POST", "api/kernels", {"name": "python3"})["id"]
    client = BlockingKernelClient(connection_file=str(lab.runtime / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    try:
        wait_for_kernel(client, timeout)
        return run_code(client, code)
    finally:
        client.stop_channels()
        lab.request("DELETE", f"api/kernels/{kernel_id}")


def terminal_output(lab: Lab, command: str, until: str, timeout: float = 30.0) -> str:
    """Run a shell command in a new terminal of the server; its output up to `until`."""
    websocket = pytest.importorskip("websocket")
    name = lab.request("POST", "api/terminals")["name"]
    url = lab.url.replace("http", "ws", 1) + f"terminals/websocket/{name}"
    ws = websocket.create_connection(
        url, header=[f"Authorization: token {lab.token}"], timeout=timeout
    )
    output = ""
    try:
        ws.send(json.dumps(["stdin", command + "\r"]))
        deadline = time.monotonic() + timeout
        while until not in output and time.monotonic() < deadline:
            message = json.loads(ws.recv())
            if message[0] == "stdout":
                output += message[1]
    finally:
        ws.close()
        lab.request("DELETE", f"api/terminals/{name}")
    return output


def test_kernels_terminals_and_the_debug_log_never_see_the_key(
    start_lab: Callable[..., Lab],
) -> None:
    lab = start_lab(
        "--debug",
        f"--GeminiLive.api_key={CLI_KEY}",
        app="server",
        env={"GOOGLE_API_KEY": ENV_KEY, "GEMINI_API_KEY": OTHER_KEY},
    )
    seen = kernel_output(
        lab,
        "import os\n"
        "print([os.environ.get(n) for n in ('GOOGLE_API_KEY', 'GEMINI_API_KEY')])\n"
        "print(os.environ.get('JPY_PARENT_PID') is not None)",
    )
    assert seen.split() == ["[None,", "None]", "True"], seen

    pytest.importorskip("jupyter_server_terminals")
    output = terminal_output(
        lab,
        'printf \'K%sY=%s/%s\\n\' E "${GOOGLE_API_KEY:-none}" "${GEMINI_API_KEY:-none}"',
        until="KEY=",
    )
    assert "KEY=none/none" in output, output

    assert lab.api("GET", "status")["backends"]["gemini"]["available"]
    lab.process.terminate()
    lab.process.wait(20)
    text = lab.log.read_text(errors="replace")
    assert "Config changed" in text, "the log is at debug level"
    for key in (CLI_KEY, ENV_KEY, OTHER_KEY):
        assert key not in text
