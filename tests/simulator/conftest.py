"""Fixtures of the simulator tests: a trusted certificate, simulators, a raw client."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

API_KEY = "simulated-key"


@pytest.fixture
def client_ssl(certificate_authority: tuple[trustme.CA, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate_authority[1]))
