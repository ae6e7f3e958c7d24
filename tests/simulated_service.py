"""Fixtures for everything that talks to the Live API simulator over TLS (a pytest plugin,
registered in tests/conftest.py): a private CA, the server's TLS context, simulators."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from google.genai import _live_converters, types

from jupyter_gemini_live.simulator import Faults, Simulator

#: the key simulators accept by default in tests
API_KEY = "simulated-key"


@pytest.fixture(scope="session")
def certificate_authority(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return authority, ca_file


@pytest.fixture(scope="session")
def server_ssl(certificate_authority: tuple[trustme.CA, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority[0].issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def make_simulator(server_ssl: ssl.SSLContext) -> Iterator[Callable[..., Simulator]]:
    """Simulators (not started: `async with`); every message they sent is validated after."""
    made: list[Simulator] = []

    def make(**kwargs: Any) -> Simulator:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("faults", Faults())
        simulator = Simulator(server_ssl, **kwargs)
        made.append(simulator)
        return simulator

    yield make
    for simulator in made:
        for text in simulator.sent:
            message = types.LiveServerMessage.model_validate(json.loads(text))
            assert message.model_dump(exclude_none=True), text
        for text in simulator.sent_vertex:  # as the SDK reads Vertex AI's messages
            converted = _live_converters._LiveServerMessage_from_vertex(json.loads(text))
            message = types.LiveServerMessage.model_validate(converted)
            assert message.model_dump(exclude_none=True), text
