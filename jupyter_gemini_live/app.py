"""The `GeminiLive` server extension: configuration, the route table and the session manager."""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Float, Integer, List, Unicode, default, validate

from . import routes
from .backends.base import Backend
from .handler_base import MANAGER_SETTING
from .manager import SessionManager
from .protocol import INPUT_RATE, MAX_AUDIO_FRAME, OUTPUT_RATE
from .session_options import Defaults
from .websocket import SessionWebSocket

DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
KNOWN_MODELS = [
    DEFAULT_MODEL,
    "gemini-2.5-flash-native-audio-preview-09-2025",
    "gemini-live-2.5-flash-preview",
]
VOICES = [
    "Puck", "Zephyr", "Kore", "Orus", "Autonoe", "Umbriel", "Erinome", "Laomedeia",
    "Schedar", "Achird", "Sadachbia", "Fenrir", "Aoede", "Enceladus", "Algieba",
    "Algenib", "Achernar", "Gacrux", "Zubenelgenubi", "Sadaltager", "Charon", "Leda",
    "Callirrhoe", "Iapetus", "Despina", "Rasalgethi", "Alnilam", "Pulcherrima",
    "Vindemiatrix", "Sulafat",
]  # fmt: skip


SESSION = r"(?P<session_id>[^/]+)"


def route_table() -> list[tuple[str, type]]:
    api = "/gemini-live/api"
    return [
        (rf"{api}/status", routes.StatusHandler),
        (rf"{api}/sessions/?", routes.SessionsHandler),
        (rf"{api}/sessions/{SESSION}", routes.SessionHandler),
        (rf"{api}/sessions/{SESSION}/text", routes.TextHandler),
        (rf"{api}/sessions/{SESSION}/transcript", routes.TranscriptHandler),
        (rf"{api}/sessions/{SESSION}/recording\.wav", routes.RecordingHandler),
        (rf"{api}/sessions/{SESSION}/stream", SessionWebSocket),
    ]


class GeminiLive(ExtensionApp):
    """Proxy the Gemini Live API for JupyterLab; the API key never leaves the server."""

    name = "jupyter_gemini_live"
    load_other_extensions = True

    api_key = Unicode(
        "",
        config=True,
        help="Gemini API key. Defaults to $GOOGLE_API_KEY, then $GEMINI_API_KEY.",
    )
    model = Unicode(DEFAULT_MODEL, config=True, help="Default Live model for new sessions.")
    models = List(
        Unicode(),
        default_value=KNOWN_MODELS,
        config=True,
        help="Models offered in the UI; any other name can still be requested.",
    )
    voice = Unicode("Puck", config=True, help="Default prebuilt voice for new sessions.")
    base_url = Unicode(
        "",
        config=True,
        help="Override the Gemini API endpoint (a gateway, or the local simulator).",
    )
    api_version = Unicode("v1beta", config=True, help="Gemini API version of the Live endpoint.")
    ca_file = Unicode(
        "",
        config=True,
        help="PEM file of extra CAs to trust for base_url (simulator, corporate proxy).",
    )
    default_backend = Enum(
        ["auto", "gemini", "echo"],
        default_value="auto",
        config=True,
        help="Backend of sessions that do not name one; auto = gemini with a key, else echo.",
    )
    max_sessions = Integer(4, config=True, help="Open sessions allowed at once (429 beyond).")
    idle_timeout = Float(
        600.0,
        config=True,
        help="Close a session after this many seconds without traffic; 0 disables.",
    )
    reconnect_grace = Float(
        30.0,
        config=True,
        help="Seconds a session waits for its device to come back after a disconnect.",
    )
    record_dir = Unicode(
        "",
        config=True,
        help="Folder for recordings of sessions created with record=true "
        "(default: a folder in the Jupyter runtime dir).",
    )

    @default("api_key")
    def _api_key_default(self) -> str:
        return os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY") or ""

    @default("record_dir")
    def _record_dir_default(self) -> str:
        from jupyter_core.paths import jupyter_runtime_dir

        return os.path.join(jupyter_runtime_dir(), "gemini-live-recordings")

    @validate("voice")
    def _check_voice(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if value not in VOICES:
            raise ValueError(f"unknown voice {value!r}; choose one of {', '.join(VOICES)}")
        return value

    def initialize_settings(self) -> None:
        backends = self.make_backends()
        defaults = Defaults(
            backend=self.resolved_default_backend(),
            model=self.model,
            voice=self.voice,
            backends=frozenset(backends),
            voices=frozenset(VOICES),
        )
        self.session_manager = SessionManager(
            backends=backends,
            defaults=defaults,
            max_sessions=self.max_sessions,
            idle_timeout=self.idle_timeout,
            reconnect_grace=self.reconnect_grace,
            record_dir=self.record_dir,
            log=self.log,
        )
        self.settings[MANAGER_SETTING] = self.session_manager
        self.settings["gemini_live_app"] = self

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_table())

    def make_backends(self) -> dict[str, Backend]:
        from .backends.echo import EchoBackend
        from .backends.gemini import GeminiBackend

        gemini = GeminiBackend(
            api_key=self.api_key or None,
            base_url=self.base_url or None,
            api_version=self.api_version,
            ca_file=self.ca_file or None,
            log=self.log,
        )
        return {"gemini": gemini, "echo": EchoBackend()}

    def resolved_default_backend(self) -> str:
        if self.default_backend == "auto":
            return "gemini" if self.api_key else "echo"
        return str(self.default_backend)

    def status(self) -> dict[str, Any]:
        """What the status route answers; never includes the key."""
        from . import __version__

        backends = {
            name: {"available": reason is None, "reason": reason}
            for name, reason in self.session_manager.availability().items()
        }
        return {
            "version": __version__,
            "backends": backends,
            "default_backend": self.session_manager.defaults.backend,
            "models": list(self.models),
            "default_model": self.model,
            "voices": VOICES,
            "default_voice": self.voice,
            "audio": {
                "input_rate": INPUT_RATE,
                "output_rate": OUTPUT_RATE,
                "format": "s16le",
                "channels": 1,
            },
            "limits": {"max_sessions": self.max_sessions, "max_frame_bytes": MAX_AUDIO_FRAME},
        }

    async def stop_extension(self) -> None:
        await self.session_manager.shutdown()
