"""`SessionManager`: every session of the server, its limits, lookup, reaping, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections import deque
from collections.abc import Callable, Mapping

from .backends.base import Backend, BackendError, BackendUnavailable, SessionOptions
from .recording import RecordingSettings
from .session import LiveSession
from .session_options import Defaults
from .usage import UsagePolicy

#: ended sessions kept so their transcript and error can still be read
ENDED_KEPT = 20
#: how long a shutting-down server waits for its clients' close frames to be written (s)
SHUTDOWN_FLUSH = 2.0


class TooManySessions(Exception):
    pass


class UnknownSession(KeyError):
    pass


class OverCapacity(BackendError):
    """The server is past what it can carry: a new session is refused (503) with the reason."""

    status = 503


#: the event loop's lag is probed this often, and judged over this many probes (~1 s)
LAG_PROBE_S = 0.05
LAG_PROBES = 20


class LagMonitor:
    """How late the event loop runs: the median lag of a sleep over the last ~1 s.

    Every session's audio, pings and REST requests share this one loop; when it runs
    late, all of them are late by as much. The median of about a second of probes is
    sustained overload, not one slow callback.
    """

    def __init__(self) -> None:
        self._lags: deque[float] = deque(maxlen=LAG_PROBES)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._probe_forever(), name="gemini-live-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def record(self, lag_s: float) -> None:
        self._lags.append(max(0.0, lag_s))

    def lag_ms(self) -> float:
        return statistics.median(self._lags) * 1000 if self._lags else 0.0

    async def _probe_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_PROBE_S)
            self.record(loop.time() - start - LAG_PROBE_S)


class SessionManager:
    """Owns every session of the server: creation limits, lookup, reaping, shutdown."""

    def __init__(
        self,
        *,
        backends: Mapping[str, Backend],
        defaults: Defaults,
        max_sessions: int,
        idle_timeout: float,
        reconnect_grace: float,
        recording: RecordingSettings,
        keep_recordings: bool = False,
        log: logging.Logger,
        on_activity: Callable[[], None] | None = None,
        usage_policy: UsagePolicy | None = None,
        shed_loop_lag_ms: float = 0.0,
    ) -> None:
        self.backends = dict(backends)
        #: what a session gets for the fields its request leaves out, and what is allowed
        self.defaults = defaults
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.reconnect_grace = reconnect_grace
        self.recording = recording
        self.keep_recordings = keep_recordings
        self.log = log
        #: called on every sign of life of a session (server activity, for JupyterHub)
        self.on_activity = on_activity
        #: prices and budget of every session's usage meter
        self.usage_policy = usage_policy or UsagePolicy()
        #: refuse new sessions (503) while the event loop lags more than this; 0: never
        self.shed_loop_lag_ms = shed_loop_lag_ms
        self.lag = LagMonitor()
        self._sessions: dict[str, LiveSession] = {}
        self._reaper: asyncio.Task[None] | None = None

    def availability(self) -> dict[str, str | None]:
        return {name: backend.unavailable_reason() for name, backend in self.backends.items()}

    def open_count(self) -> int:
        return sum(not s.ended for s in self._sessions.values())

    async def create(self, options: SessionOptions) -> LiveSession:
        if self.open_count() >= self.max_sessions:
            raise TooManySessions(
                f"{self.max_sessions} sessions are open already; close one "
                "(DELETE gemini-live/api/sessions/ID) or raise c.GeminiLive.max_sessions"
            )
        self.lag.start()
        lag = self.lag.lag_ms()
        if self.shed_loop_lag_ms > 0 and lag > self.shed_loop_lag_ms:
            # Another session would make every open one later still: refuse it, visibly.
            self.log.warning("gemini-live: refusing a session: the event loop lags %.0f ms", lag)
            raise OverCapacity(
                "over_capacity",
                f"the server is over capacity: its event loop runs {lag:.0f} ms late "
                f"(limit c.GeminiLive.shed_loop_lag_ms = {self.shed_loop_lag_ms:g} ms) with "
                f"{self.open_count()} sessions open; try again later",
            )
        backend = self.backends[options.backend]
        reason = backend.unavailable_reason()
        if reason is not None:
            raise BackendUnavailable("backend_unavailable", f"{options.backend}: {reason}")
        recording = self.recording if options.record else None
        session = LiveSession(
            options,
            backend,
            recording=recording,
            log=self.log,
            on_activity=self.on_activity,
            usage_policy=self.usage_policy,
        )
        self._sessions[session.id] = session
        self._ensure_reaper()
        try:
            await session.open()
        except BaseException:  # BackendError, or cancelled: the session ended, forget it
            self._sessions.pop(session.id, None)
            raise
        self.log.info("gemini-live: session %s opened (%s)", session.id, options.backend)
        return session

    def get(self, session_id: str) -> LiveSession:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise UnknownSession(session_id) from None

    def list(self) -> list[LiveSession]:
        return list(self._sessions.values())

    async def delete(self, session_id: str) -> None:
        session = self.get(session_id)
        await session.close("session deleted")
        await self._forget(session)

    async def shutdown(self) -> None:
        await self.lag.stop()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        sessions = list(self._sessions.values())
        clients = [client for session in sessions for client in session.clients()]
        await asyncio.gather(
            *(s.close("server shutting down") for s in sessions), return_exceptions=True
        )
        # Let every client get its close frame before the server's loop stops.
        if clients:
            await asyncio.wait(
                [asyncio.ensure_future(c.wait_closed()) for c in clients], timeout=SHUTDOWN_FLUSH
            )
        await asyncio.gather(*(self._forget(s) for s in sessions), return_exceptions=True)

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_forever(), name="gemini-live-reaper")

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, max(0.05, self.reconnect_grace / 4)))
            await self.reap()

    async def reap(self) -> None:
        """Close sessions past their idle timeout or device grace; forget old ended ones."""
        now = time.monotonic()
        for session in list(self._sessions.values()):
            reason = self._expiry(session, now)
            if reason is not None:
                self.log.info("gemini-live: closing session %s: %s", session.id, reason)
                await session.close(reason)
        ended = [s for s in self._sessions.values() if s.ended]
        for session in ended[: max(0, len(ended) - ENDED_KEPT)]:
            await self._forget(session)

    async def _forget(self, session: LiveSession) -> None:
        self._sessions.pop(session.id, None)
        if not self.keep_recordings:
            await session.discard_recording()

    def _expiry(self, session: LiveSession, now: float) -> str | None:
        if session.ended:
            return None
        if self.idle_timeout > 0 and now - session.last_activity > self.idle_timeout:
            return f"idle for {self.idle_timeout:.0f} s"
        left = session.device_left_at
        if left is not None and not session.clients() and now - left > self.reconnect_grace:
            return f"device gone for {self.reconnect_grace:.0f} s"
        return None
