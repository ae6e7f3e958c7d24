"""Talk to gemini-live sessions from a kernel: a synchronous client safe in notebook cells.

    from jupyter_gemini_live.client import connect
    live = connect()                      # the Jupyter server that runs this kernel
    with live.start(tools=[get_weather]) as session:
        print(session.say("What's the weather in Paris?"))

REST goes through urllib and the session's events through a websocket on a daemon
thread, so nothing here touches (or blocks) the kernel's own asyncio loop. The Gemini API
key stays on the server. See docs/kernel.md.
"""

from __future__ import annotations

from .audio import STANDARD_AUDIO_CONFIG, Audio, AudioConfig, FailedToStartError
from .audio_device import AudioDeviceClosed, AudioSession, RunningLiveAudio
from .discovery import ServerAddress, ServerNotFound
from .observer import Events, ToolCall, Turn
from .rest import LiveError
from .session import KernelSession, LiveServer, Reply, connect
from .tools import LiveTool, ToolError, ToolResult, tool

__all__ = [
    "STANDARD_AUDIO_CONFIG",
    "Audio",
    "AudioConfig",
    "AudioDeviceClosed",
    "AudioSession",
    "Events",
    "FailedToStartError",
    "KernelSession",
    "LiveError",
    "LiveServer",
    "LiveTool",
    "Reply",
    "RunningLiveAudio",
    "ServerAddress",
    "ServerNotFound",
    "ToolCall",
    "ToolError",
    "ToolResult",
    "Turn",
    "connect",
    "tool",
]
