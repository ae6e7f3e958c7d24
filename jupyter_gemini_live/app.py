"""The `GeminiLive` server extension: configuration, the route table and the session manager."""

from __future__ import annotations

import gc
import logging
import os
import ssl
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Enum, Float, Integer, List, Unicode, default, validate
from traitlets.config import Config
from traitlets.config.loader import DeferredConfig

from . import models as model_table
from . import routes, usage
from .activity import ActivityStamp
from .backends.base import Backend, BackendUnavailable, SessionOptions, Upstream
from .capacity import SheddingLimits
from .handler_base import MANAGER_SETTING
from .manager import SessionManager
from .protocol import FRAME_MS, INPUT_RATE, MAX_AUDIO_FRAME, OUTPUT_RATE
from .recording import RecordingSettings
from .session_options import Defaults
from .websocket import ProbeWebSocket, SessionWebSocket

DEFAULT_MODEL = model_table.DEFAULT_MODEL
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
        (rf"{api}/probe", ProbeWebSocket),
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
        config=True,
        help="Models offered in the UI; any other name can still be requested. Default: "
        "the Developer API models of the capability table (docs/gemini.md), and the "
        "Vertex AI ones with vertexai on.",
    )
    vertexai = Bool(
        False,
        config=True,
        help="Use Vertex AI (Gemini Enterprise Agent Platform) instead of the Gemini "
        "Developer API: needs project and location, and Application Default Credentials "
        "(gcloud auth application-default login); api_key is not used.",
    )
    project = Unicode(
        "", config=True, help="Google Cloud project of Vertex AI. Default: $GOOGLE_CLOUD_PROJECT."
    )
    location = Unicode(
        "",
        config=True,
        help="Vertex AI location (region). Default: $GOOGLE_CLOUD_LOCATION, else us-central1.",
    )
    prices = Dict(
        config=True,
        help="Token prices of the cost estimate, in USD per million tokens, by model "
        "('*': every model), e.g. {'*': {'input_audio': 3.0}}; missing fields keep the "
        f"defaults of usage.py (published prices as of {usage.PRICES_CHECKED}, flagged for "
        "checking: compare them with Google's pricing page).",
    )
    budget_tokens = Integer(
        0, min=0, config=True, help="End a session that used more tokens than this; 0: no limit."
    )
    budget_usd = Float(
        0.0,
        min=0.0,
        config=True,
        help="End a session whose estimated cost exceeds this many US dollars; 0: no limit.",
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
    shed_loop_lag_ms = Float(
        100.0,
        config=True,
        help="Refuse new sessions (503 with the reason) while the server's event loop runs "
        "this many ms late (median over ~1 s): past that, one more session makes every "
        "open conversation later. 0 disables.",
    )
    shed_loop_busy = Float(
        0.8,
        min=0.0,
        max=1.0,
        config=True,
        help="Refuse new sessions (503 with the reason) while the server's event loop is busy "
        "more than this share of the time (its thread's CPU over the last 2 s): a full loop "
        "can keep its timers on time while audio queues in its sockets. 0 disables.",
    )
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

    expose_key_to_kernels = Bool(
        False,
        config=True,
        help="Leave $GOOGLE_API_KEY and $GEMINI_API_KEY in the environment of the kernels "
        "and terminals the server starts (by default the extension removes them, so a "
        "notebook cannot read the key).",
    )
    recording_max_mb = Integer(
        500,
        min=0,
        config=True,
        help="Size limit of one recording in MB (about 345 MB per hour); the recording "
        "stops there and the session says so. 0: only the WAV format's limit (4 GB).",
    )
    upstream_compression = Bool(
        False,
        config=True,
        help="Per-message deflate on the websocket to the Live API: saves ~13 kB/s of "
        "upstream per session, costs ~40% more CPU per audio frame (docs/gemini.md).",
    )
    freeze_heap = Bool(
        True,
        config=True,
        help="Move the objects alive at start-up and after the google-genai SDK is loaded "
        "into the garbage collector's permanent generation, so its full passes (150-360 ms "
        "each on a busy machine, during which every conversation waits) skip them.",
    )
    keep_recordings = Bool(
        False,
        config=True,
        help="Keep recordings on disk after their session is forgotten (deleted, or "
        "dropped from the list of ended sessions, or at shutdown); by default they are "
        "deleted with it.",
    )

    @default("api_key")
    def _api_key_default(self) -> str:
        return os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY") or ""

    @default("models")
    def _models_default(self) -> list[str]:
        return model_table.offered(vertexai=self.vertexai)

    @default("project")
    def _project_default(self) -> str:
        return os.environ.get("GOOGLE_CLOUD_PROJECT", "")

    @default("location")
    def _location_default(self) -> str:
        return os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"

    @validate("prices")
    def _check_prices(self, proposal: dict[str, Any]) -> dict[str, Any]:
        value = dict(proposal["value"])
        usage.price_tables(value)  # raises ValueError naming what is wrong
        return value

    @property
    def api(self) -> model_table.Api:
        """Which API the gemini backend talks to."""
        return "vertex" if self.vertexai else "developer"

    def usage_policy(self) -> usage.UsagePolicy:
        """Prices and budget of the sessions' usage meters (`usage.UsageMeter`)."""
        return usage.UsagePolicy(
            prices=usage.price_tables(self.prices),
            budget=usage.Budget(
                max_tokens=self.budget_tokens or None, max_usd=self.budget_usd or None
            ),
        )

    # ---- the key stays in this process: out of kernels, terminals and logs ----------------

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        # The server's config (the command line included) is logged at debug level by
        # every app that reads it ("Config changed: ..."): the key is made to print as
        # <hidden> before this app or any later one logs it.
        hide_key_in_config(serverapp.config)
        super()._link_jupyter_server_extension(serverapp)

    def protect_key(self) -> None:
        """Take the key out of the environment that kernels and terminals inherit
        (they copy os.environ when they start), and out of every log line."""
        key = self.api_key  # read (from the environment by default) before it goes
        if not self.expose_key_to_kernels:
            for name in KEY_VARIABLES:
                os.environ.pop(name, None)
        if key:
            server = getattr(self, "serverapp", None)
            install_redaction(key, [self.log, server.log if server is not None else None])

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
        self.protect_key()
        backends = self.make_backends()
        defaults = Defaults(
            backend=self.resolved_default_backend(),
            model=self.model,
            voice=self.voice,
            backends=frozenset(backends),
            voices=frozenset(VOICES),
        )
        server = self.serverapp
        self.session_manager = SessionManager(
            backends=backends,
            defaults=defaults,
            max_sessions=self.max_sessions,
            idle_timeout=self.idle_timeout,
            reconnect_grace=self.reconnect_grace,
            recording=RecordingSettings(
                self.record_dir, (self.recording_max_mb * 1_000_000) or None
            ),
            keep_recordings=self.keep_recordings,
            usage_policy=self.usage_policy(),
            log=self.log,
            shedding=SheddingLimits(self.shed_loop_lag_ms, self.shed_loop_busy),
            # conversations count as server activity (JupyterHub's idle culling reads it)
            on_activity=ActivityStamp(server.web_app.settings) if server is not None else None,
        )
        self.settings[MANAGER_SETTING] = self.session_manager
        self.settings["gemini_live_app"] = self

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_table())

    def make_backends(self) -> dict[str, Backend]:
        from .backends.echo import EchoBackend
        from .backends.gemini import GeminiBackend
        from .backends.relay import RelayBackend

        gemini = GeminiBackend(
            api_key=self.api_key or None,
            base_url=self.base_url or None,
            api_version=self.api_version,
            ca_file=self.ca_file or None,
            compression=self.upstream_compression,
            log=self.log,
            on_loaded=self.settle_heap,
            vertexai=self.vertexai,
            project=self.project or None,
            location=self.location or None,
        )
        problem = self.ca_file_problem()
        if problem is not None:
            self.log.warning("gemini-live: the gemini backend is off: %s", problem)
            return {
                "gemini": Unavailable("gemini", problem),
                "echo": EchoBackend(),
                "relay": RelayBackend(),
            }
        # relay: a kernel is the model (RunningLiveAudio); never the default backend
        return {"gemini": gemini, "echo": EchoBackend(), "relay": RelayBackend()}

    def ca_file_problem(self) -> str | None:
        """Why c.GeminiLive.ca_file cannot be used (None when unset or good)."""
        if not self.ca_file:
            return None
        try:
            ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError, ValueError) as err:
            problem = getattr(err, "strerror", None) or str(err) or type(err).__name__
            return f"c.GeminiLive.ca_file = {self.ca_file!r} cannot be used: {problem}"
        return None

    def resolved_default_backend(self) -> str:
        if self.default_backend == "auto":
            return "gemini" if self.api_key or self.vertexai else "echo"
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
            "api": self.api,
            "models": list(self.models),
            "default_model": self.model,
            "capabilities": {
                name: model_table.capabilities(name, self.api).to_json()
                for name in dict.fromkeys([*self.models, self.model])
            },
            "unknown_model_capabilities": model_table.conservative("", self.api).to_json(),
            "voices": VOICES,
            "default_voice": self.voice,
            "audio": {
                "input_rate": INPUT_RATE,
                "frame_ms": FRAME_MS,
                "output_rate": OUTPUT_RATE,
                "format": "s16le",
                "channels": 1,
            },
            "limits": {"max_sessions": self.max_sessions, "max_frame_bytes": MAX_AUDIO_FRAME},
        }

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """The server is up, every extension loaded: its objects live as long as it."""
        self.settle_heap()

    def settle_heap(self) -> None:
        """Long-lived objects out of the collector's full passes (`freeze_heap`).

        A full collection walks every tracked object: with jupyter-server, the SDK and its
        pydantic schemas about 260,000, 150-360 ms on the benchmark machine with every
        session's audio waiting on this one loop. Modules, classes and schemas live as long
        as the process, so `gc.freeze()` moves what is alive now out of the collector's
        reach. Called once the server is up and once the SDK is loaded, never per session,
        so what a session allocates stays collectable; garbage in cycles at those two
        moments is never freed (a bounded, one-time amount).
        """
        if self.freeze_heap:
            gc.freeze()

    async def stop_extension(self) -> None:
        await self.session_manager.shutdown()


# ---- helpers of the app ----------------------------------------------------------------

KEY_VARIABLES = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
HIDDEN = "<hidden>"
#: shorter values are not redacted from logs (they would blank out ordinary words)
MIN_REDACTED = 8


class HiddenStr(str):
    """A config value that prints as <hidden> (in `repr` of the config, as logged)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(HIDDEN)


def hide_key_in_config(config: Config) -> None:
    section = config.get("GeminiLive")
    if not isinstance(section, Config) or "api_key" not in section:
        return
    value = section["api_key"]
    if isinstance(value, DeferredConfig):  # from the command line, still a string
        value = value.get_value(GeminiLive.class_traits()["api_key"])
    if isinstance(value, str) and not isinstance(value, HiddenStr):
        section["api_key"] = HiddenStr(value)


class KeyRedactor(logging.Filter):
    """Replaces the key by <hidden> in every record a handler emits."""

    def __init__(self, key: str) -> None:
        super().__init__("gemini-live-key")
        self.key = key

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the handler's business
            return True
        if self.key in message:
            record.msg, record.args = message.replace(self.key, HIDDEN), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.key in record.exc_text:
            record.exc_text = record.exc_text.replace(self.key, HIDDEN)
        if record.stack_info and self.key in record.stack_info:
            record.stack_info = record.stack_info.replace(self.key, HIDDEN)
        return True


def install_redaction(key: str, logs: list[Any]) -> None:
    """A `KeyRedactor` on every handler there is (the server's, the root's, any app's)."""
    if len(key) < MIN_REDACTED:
        return
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [log for log in logs if isinstance(log, logging.Logger)]
    loggers += [
        log for log in logging.Logger.manager.loggerDict.values() if isinstance(log, logging.Logger)
    ]
    for log in loggers:
        for handler in log.handlers:
            if not any(isinstance(f, KeyRedactor) and f.key == key for f in handler.filters):
                handler.addFilter(KeyRedactor(key))


class Unavailable(Backend):
    """A backend switched off by its configuration; `status` shows why."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def unavailable_reason(self) -> str | None:
        return self.reason

    async def connect(self, options: SessionOptions) -> Upstream:
        raise BackendUnavailable(f"{self.name}_unavailable", self.reason)
