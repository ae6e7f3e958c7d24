"""`SessionManager`: every session of the server, its limits, lookup, reaping, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from . import protocol
from .backends.base import Backend, BackendUnavailable, SessionOptions
from .capacity import LoopMonitor, SheddingLimits
from .recording import RecordingSettings
from .session import LiveSession
from .session_options import Defaults
from .usage import UsagePolicy

#: ended sessions kept so their transcript and error can still be read
ENDED_KEPT = 20
#: how long a shutting-down server waits for its clients' close frames to be written (s)
SHUTDOWN_FLUSH = 2.0
#: sessions described per turn of the event loop in a listing (which open panels poll):
#: 50 in one turn took 3-5 ms, which every session's audio waited behind
LISTING_BATCH = 8


class TooManySessions(Exception):
    pass


class UnknownSession(KeyError):
    pass


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
        shedding: SheddingLimits | None = None,
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
        #: when new sessions are refused (503) because the event loop is full
        self.shedding = shedding or SheddingLimits()
        self.loop = LoopMonitor()
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
        self.loop.start()
        self._ensure_reaper()  # it pauses the probe again once no session is open
        refusal = self.shedding.refusal(self.loop, self.open_count())
        if refusal is not None:
            # Another session would make every open one later still: refuse it, visibly.
            self.log.warning("gemini-live: refusing a session: %s", refusal.message)
            raise refusal
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

    async def listing(self) -> list[protocol.Session]:
        """Every session's JSON, a few per turn of the event loop (audio goes in between)."""
        listed: list[protocol.Session] = []
        for n, session in enumerate(self.list()):
            if n and n % LISTING_BATCH == 0:
                await asyncio.sleep(0)
            listed.append(session.as_json())
        return listed

    def list(self) -> list[LiveSession]:
        return list(self._sessions.values())

    async def delete(self, session_id: str) -> None:
        session = self.get(session_id)
        await session.close("session deleted")
        await self._forget(session)

    async def shutdown(self) -> None:
        await self.loop.stop()
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
        """While a session is open; then it ends, and pauses the loop's probe, so that an
        idle server does not wake up for nothing (`create` starts both again)."""
        while True:
            await asyncio.sleep(min(1.0, max(0.05, self.reconnect_grace / 4)))
            await self.reap()
            if not self.open_count():  # nothing awaited from here on: no create between
                self.loop.pause()
                return

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
