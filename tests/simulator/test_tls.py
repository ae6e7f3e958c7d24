"""The simulator's certificates: a CA kept in its folder, so restarts stay trusted."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

from websockets.asyncio.client import connect

from jupyter_gemini_live.simulator import Simulator, server_context, write_self_signed

PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


async def answers_setup(folder: Path, client: ssl.SSLContext) -> bool:
    """Start the simulator's TLS set-up on `folder`, serve, and open one conversation."""
    files = write_self_signed(folder)
    async with Simulator(server_context(files.cert, files.key)) as sim:
        uri = f"wss://127.0.0.1:{sim.port}{PATH}"
        async with connect(uri, ssl=client, additional_headers={"x-goog-api-key": "k"}) as ws:
            await ws.send(json.dumps({"setup": {"model": "models/any"}}))
            return json.loads(await asyncio.wait_for(ws.recv(), 20)) == {"setupComplete": {}}


async def test_a_restarted_simulator_keeps_its_ca(tmp_path: Path) -> None:
    first = write_self_signed(tmp_path)
    ca = first.ca.read_bytes()
    # a client started against the first simulator, and never restarted
    client = ssl.create_default_context(cadata=ca.decode())
    assert await answers_setup(tmp_path, client)
    assert first.ca.read_bytes() == ca
    assert await answers_setup(tmp_path, client)  # and once more
    assert first.ca.read_bytes() == ca


async def test_a_lost_certificate_is_issued_again_by_the_same_ca(tmp_path: Path) -> None:
    first = write_self_signed(tmp_path)
    ca, cert = first.ca.read_bytes(), first.cert.read_bytes()
    client = ssl.create_default_context(cadata=ca.decode())
    first.cert.unlink()
    assert await answers_setup(tmp_path, client)
    assert first.ca.read_bytes() == ca
    assert first.cert.read_bytes() != cert
    assert first.key.stat().st_mode & 0o077 == 0
    assert (tmp_path / "ca-key.pem").stat().st_mode & 0o077 == 0


async def test_a_broken_ca_is_replaced(tmp_path: Path) -> None:
    first = write_self_signed(tmp_path)
    (tmp_path / "ca-key.pem").write_text("not a key")
    first.cert.unlink()  # a new certificate is needed, and the CA cannot sign it
    write_self_signed(tmp_path)
    client = ssl.create_default_context(cafile=str(first.ca))
    assert await answers_setup(tmp_path, client)
