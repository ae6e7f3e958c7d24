"""Real-time voice conversations with Gemini inside JupyterLab."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-gemini-live"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import GeminiLive

    return [{"module": "jupyter_gemini_live", "app": GeminiLive}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_gemini_live`: the `%gemini_live` magics (imported only then)."""
    from .client.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .client.magics import unload_ipython_extension as unload

    unload(ipython)
