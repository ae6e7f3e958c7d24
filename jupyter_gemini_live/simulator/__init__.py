"""A local stand-in for the Gemini Live API: tests, benchmarks and offline tries.

Run it with `python -m jupyter_gemini_live.simulator --self-signed DIR`; see
docs/simulator.md.
"""

from __future__ import annotations

from .conversation import Conversation
from .faults import Faults
from .server import Simulator
from .tls import CertificateFiles, server_context, write_self_signed

__all__ = [
    "CertificateFiles",
    "Conversation",
    "Faults",
    "Simulator",
    "server_context",
    "write_self_signed",
]
