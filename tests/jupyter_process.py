"""JupyterLab, Notebook 7 or a plain Jupyter server with the extension, in a process of its
own, as a user starts it (a pytest plugin, registered in tests/conftest.py)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Lab:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    root: Path
    runtime: Path
    #: the server's output (stdout and stderr)
    log: Path

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """The extension's REST API: `lab.api("GET", "sessions")`."""
        return self.request(method, f"gemini-live/api/{path}", body)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
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

    def start(*options: str, app: str = "lab", env: dict[str, str] | None = None) -> Lab:
        """`env`: variables added to the server's environment (a key, say)."""
        port, token = free_port(), secrets.token_hex(16)
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        runtime = tmp_path / "runtime"
        full_env = {
            k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY")
        }
        full_env.update(env or {})
        full_env["JUPYTER_RUNTIME_DIR"] = str(runtime)
        command = [
            sys.executable, "-m", "jupyter", app, "--no-browser", "--allow-root",
            f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}",
        ]  # fmt: skip
        if app != "server":
            command += [
                "--expose-app-in-browser",
                f"--LabServerApp.workspaces_dir={tmp_path / 'workspaces'}",
                f"--LabServerApp.user_settings_dir={quiet_settings(tmp_path / 'settings')}",
            ]
        command += options
        log_path = tmp_path / f"lab-{port}.log"
        log = open(log_path, "wb")  # noqa: SIM115 -- closed with the process
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=full_env)
        lab = Lab(f"http://127.0.0.1:{port}/", token, process, root, runtime, log_path)
        started.append(lab)
        wait_until_up(lab, log_path)
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


#: a function a notebook gives the model
WEATHER = '''
def get_weather(city: str) -> dict:
    """The weather now in a city."""
    return {"city": city, "sky": "clear"}
'''

Run = Callable[[str], str]


@pytest.fixture
def start_kernel() -> Iterator[Callable[[Lab], Run]]:
    """`run = start_kernel(lab)`: a python3 kernel started by that server (so it finds the
    server through JPY_PARENT_PID, as in a notebook); `run(code)` → what the cell printed."""
    from jupyter_client import BlockingKernelClient

    started: list[tuple[Lab, str, BlockingKernelClient]] = []

    def start(lab: Lab) -> Run:
        kernel_id = lab.request("POST", "api/kernels", {"name": "python3"})["id"]
        client = BlockingKernelClient(connection_file=str(lab.runtime / f"kernel-{kernel_id}.json"))
        client.load_connection_file()
        client.start_channels()
        wait_for_kernel(client)
        started.append((lab, kernel_id, client))
        return lambda code: _run(client, code)

    yield start
    for lab, kernel_id, client in started:
        client.stop_channels()
        lab.request("DELETE", f"api/kernels/{kernel_id}")


def wait_for_kernel(client: Any, timeout: float = 120.0) -> None:
    """Wait until a new kernel answers. A kernel still importing on a busy machine misses
    its first heartbeats, and `wait_for_ready` then says it died: ask again until the
    deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.wait_for_ready(timeout=timeout)
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _run(client: Any, code: str) -> str:
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
