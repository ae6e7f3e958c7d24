"""`python -m jupyter_gemini_live.simulator` starts, says where it is, and serves."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[2]
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


async def read_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), 20)).decode()


async def test_cli_prints_its_url_and_serves(tmp_path: Path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jupyter_gemini_live.simulator",
        "--port", "0", "--self-signed", str(tmp_path), "--api-key", "cli-key",
        stdout=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        url = (await read_line(process)).split()[-1]
        ca = (await read_line(process)).split()[-1]
        assert url.startswith("https://127.0.0.1:")
        assert Path(ca) == tmp_path / "ca.pem"
        context = ssl.create_default_context(cafile=ca)
        uri = url.replace("https://", "wss://") + PATH
        async with connect(
            uri, ssl=context, additional_headers={"x-goog-api-key": "cli-key"}
        ) as ws:
            await ws.send(json.dumps({"setup": {"model": "models/any"}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 20)) == {"setupComplete": {}}
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0


def test_cli_needs_a_certificate():
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_gemini_live.simulator"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 2
    assert "--self-signed" in result.stderr


def test_fault_flags_reach_the_faults():
    from jupyter_gemini_live.simulator.__main__ import faults_from, parse_args

    flags = "--go-away-after 20 --go-away-time-left 3 --repeat-faults --refuse-resumption"
    more = "--handle-lifetime 60 --read-delay 0.01"
    args = parse_args(["--self-signed", "/tmp/x", *flags.split(), *more.split()])
    faults = faults_from(args)
    assert (faults.go_away_after, faults.go_away_time_left, faults.repeat) == (20, 3, True)
    assert (faults.refuse_resumption, faults.handle_lifetime, faults.read_delay) == (
        True,
        60,
        0.01,
    )
