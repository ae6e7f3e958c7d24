"""Real-time voice conversations with Gemini inside JupyterLab."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client.audio import STANDARD_AUDIO_CONFIG as STANDARD_AUDIO_CONFIG
    from .client.audio import Audio as Audio
    from .client.audio import AudioConfig as AudioConfig
    from .client.audio import FailedToStartError as FailedToStartError
    from .client.audio_device import AudioDeviceClosed as AudioDeviceClosed
    from .client.audio_device import AudioSession as AudioSession
    from .client.audio_device import RunningLiveAudio as RunningLiveAudio

__version__ = "0.1.0"

# The kernel's audio API, imported (with numpy) on first use only: the server imports this
# package and must stay light.
_LAZY = {
    "Audio": "jupyter_gemini_live.client.audio",
    "AudioConfig": "jupyter_gemini_live.client.audio",
    "FailedToStartError": "jupyter_gemini_live.client.audio",
    "STANDARD_AUDIO_CONFIG": "jupyter_gemini_live.client.audio",
    "AudioDeviceClosed": "jupyter_gemini_live.client.audio_device",
    "AudioSession": "jupyter_gemini_live.client.audio_device",
    "RunningLiveAudio": "jupyter_gemini_live.client.audio_device",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
