"""Fixtures of the gemini backend tests: the real SDK against the local simulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from jupyter_process import free_port
from simulated_service import API_KEY

from jupyter_gemini_live.backends.gemini import GeminiBackend, ReconnectPolicy
from jupyter_gemini_live.simulator import Simulator

FAST_POLICY = ReconnectPolicy(attempts=3, first_delay_s=0.05, max_delay_s=0.2, connect_timeout_s=5)


@pytest.fixture
def make_backend(
    certificate_authority: tuple[trustme.CA, Path],
) -> Callable[..., GeminiBackend]:
    def make(simulator: Simulator, **kwargs: Any) -> GeminiBackend:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("policy", FAST_POLICY)
        return GeminiBackend(
            base_url=simulator.url, ca_file=str(certificate_authority[1]), **kwargs
        )

    return make


@pytest.fixture
def simulator_port() -> int:
    return free_port()


@pytest.fixture
def simulated_config(
    simulator_port: int, certificate_authority: tuple[trustme.CA, Path]
) -> dict[str, Any]:
    """`c.GeminiLive` of a server whose gemini backend is the simulator on `simulator_port`;
    a module opts in by returning it from its `gemini_live_config`."""
    return {
        "api_key": API_KEY,
        "base_url": f"https://127.0.0.1:{simulator_port}",
        "ca_file": str(certificate_authority[1]),
    }
